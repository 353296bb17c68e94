// Keys and tokens made by the tests themselves: valid Cognito-shaped access tokens and every kind
// of broken one.
import { createHmac, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signAccessToken, type AccessTokenOptions, type PublicJwk } from '../local/keys.ts';

export interface TestKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: PublicJwk;
}

export function makeKey(kid = randomUUID()): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const { n, e } = publicKey.export({ format: 'jwk' }) as { n: string; e: string };
  return { kid, privateKey, publicKey, jwk: { kty: 'RSA', n, e, kid, alg: 'RS256', use: 'sig' } };
}

/** Writes a JWKS of `keys` to a fresh temporary file and returns its path. */
export function writeJwksFile(keys: TestKey[]): string {
  const file = join(mkdtempSync(join(tmpdir(), 'jwks-')), 'jwks.json');
  writeFileSync(file, JSON.stringify({ keys: keys.map((k) => k.jwk) }));
  return file;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Signs with any header: RS256 with `key`, HS256 with `secret`, or no signature for alg none. */
export function signToken(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  signer: { key?: KeyObject; secret?: Buffer } = {},
): string {
  const input = `${b64(header)}.${b64(payload)}`;
  if (header.alg === 'none') return `${input}.`;
  if (header.alg === 'HS256') {
    return `${input}.${createHmac('sha256', signer.secret!).update(input).digest('base64url')}`;
  }
  return `${input}.${sign('sha256', Buffer.from(input), signer.key!).toString('base64url')}`;
}

export interface PoolSettings {
  region: string;
  userPoolId: string;
  clientId: string;
}

export const TEST_POOL: PoolSettings = {
  region: 'us-east-1',
  userPoolId: 'us-east-1_TestPool1',
  clientId: 'testclient123',
};

export function accessToken(
  key: TestKey,
  options: Partial<AccessTokenOptions> & { sub: string },
  pool: PoolSettings = TEST_POOL,
): string {
  return signAccessToken(key, { ...pool, ...options });
}
