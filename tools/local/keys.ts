// The local stack's stand-in for a Cognito user pool's signing key: an RSA key pair kept in the
// state directory, its public half published as a JWKS file the handler trusts
// (COGNITO_JWKS_FILE), and a signer for tokens shaped like Cognito access tokens.

import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomUUID,
  sign,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile, link } from 'node:fs/promises';
import { join } from 'node:path';

export const JWKS_FILE_NAME = 'jwks.json';
export const PRIVATE_KEY_FILE_NAME = 'jwt-private-key.pem';

export interface PublicJwk {
  kty: 'RSA';
  n: string;
  e: string;
  kid: string;
  alg: 'RS256';
  use: 'sig';
}

export interface Jwks {
  keys: PublicJwk[];
}

export interface LocalKeys {
  kid: string;
  privateKey: KeyObject;
  jwks: Jwks;
  jwksFile: string;
  privateKeyFile: string;
}

export function localKeyPaths(stateDir: string): { jwksFile: string; privateKeyFile: string } {
  return {
    jwksFile: join(stateDir, JWKS_FILE_NAME),
    privateKeyFile: join(stateDir, PRIVATE_KEY_FILE_NAME),
  };
}

// The kid is the RFC 7638 thumbprint, so it follows from the key alone: two processes that derive
// the JWKS from the same private key write identical files, and nothing else has to be stored.
function publicJwk(privateKey: KeyObject): PublicJwk {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  if (jwk.kty !== 'RSA' || typeof jwk.n !== 'string' || typeof jwk.e !== 'string') {
    throw new Error('the local signing key is not an RSA key');
  }
  const thumbprint = createHash('sha256')
    .update(JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n }))
    .digest('base64url');
  return { kty: 'RSA', n: jwk.n, e: jwk.e, kid: thumbprint, alg: 'RS256', use: 'sig' };
}

function keysFrom(privateKeyPem: string, stateDir: string): LocalKeys {
  const privateKey = createPrivateKey(privateKeyPem);
  const jwk = publicJwk(privateKey);
  return { kid: jwk.kid, privateKey, jwks: { keys: [jwk] }, ...localKeyPaths(stateDir) };
}

const isErrno = (error: unknown, code: string): boolean =>
  error instanceof Error && (error as NodeJS.ErrnoException).code === code;

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}

/** Writes through a temporary file and a rename, so readers never see a half-written file. */
async function writeAtomically(file: string, content: string, mode: number): Promise<void> {
  const temporary = `${file}.${process.pid}.${randomUUID()}.tmp`;
  await writeFile(temporary, content, { mode });
  await rename(temporary, file);
}

/** Loads the key pair of `stateDir`; throws if it has not been created yet. */
export async function loadLocalKeys(stateDir: string): Promise<LocalKeys> {
  const { privateKeyFile } = localKeyPaths(stateDir);
  const pem = await readIfExists(privateKeyFile);
  if (pem === undefined) {
    throw new Error(
      `no local signing key at ${privateKeyFile}; start the local stack once (npm start) ` +
        'with the same LOCAL_STATE_DIR to create it',
    );
  }
  return keysFrom(pem, stateDir);
}

/**
 * Loads the key pair of `stateDir`, creating an RSA-2048 pair on first use, and (re)writes
 * `jwks.json` when it is missing or does not match the private key. Safe when several stacks
 * start at once with the same directory: the first private key to land wins.
 */
export async function ensureLocalKeys(stateDir: string): Promise<LocalKeys> {
  await mkdir(stateDir, { recursive: true });
  const { privateKeyFile, jwksFile } = localKeyPaths(stateDir);

  let pem = await readIfExists(privateKeyFile);
  if (pem === undefined) {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const created = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const temporary = `${privateKeyFile}.${process.pid}.${randomUUID()}.tmp`;
    await writeFile(temporary, created, { mode: 0o600 });
    try {
      // link() fails when the target exists, unlike rename(): a concurrent start keeps its key.
      await link(temporary, privateKeyFile);
      pem = created;
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) throw error;
      pem = await readFile(privateKeyFile, 'utf8');
    } finally {
      await unlink(temporary).catch(() => undefined);
    }
  }

  const keys = keysFrom(pem, stateDir);
  const jwksText = `${JSON.stringify(keys.jwks, null, 2)}\n`;
  if ((await readIfExists(jwksFile)) !== jwksText) await writeAtomically(jwksFile, jwksText, 0o644);
  return keys;
}

/** Reads a JWKS file such as COGNITO_JWKS_FILE; checks only the shape the verifier needs. */
export async function readJwksFile(file: string): Promise<Jwks> {
  const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error(`${file} is not a JWKS document (no "keys" array)`);
  return parsed as Jwks;
}

export const cognitoIssuer = (region: string, userPoolId: string): string =>
  `https://cognito-idp.${region}.amazonaws.com/${userPoolId}`;

export interface AccessTokenOptions {
  sub: string;
  region: string;
  userPoolId: string;
  clientId: string;
  /** Cognito username claim; defaults to the sub, as for pools that sign in by e-mail alias. */
  username?: string;
  /** Lifetime in seconds; default 3600 like Cognito's default. Negative makes an expired token. */
  expiresInSeconds?: number;
  /** Issue time in seconds since the epoch; default now. */
  issuedAt?: number;
  /** The pool groups the user is in (`cognito:groups`); absent when none, as Cognito does. */
  groups?: readonly string[];
  /** Extra or replacing payload claims, for tests of malformed tokens. */
  claims?: Record<string, unknown>;
}

export interface AccessTokenPayload {
  sub: string;
  iss: string;
  client_id: string;
  origin_jti: string;
  event_id: string;
  token_use: 'access';
  scope: string;
  auth_time: number;
  exp: number;
  iat: number;
  jti: string;
  username: string;
  [claim: string]: unknown;
}

export function accessTokenPayload(options: AccessTokenOptions): AccessTokenPayload {
  const iat = options.issuedAt ?? Math.floor(Date.now() / 1000);
  return {
    sub: options.sub,
    iss: cognitoIssuer(options.region, options.userPoolId),
    client_id: options.clientId,
    origin_jti: randomUUID(),
    event_id: randomUUID(),
    token_use: 'access',
    scope: 'aws.cognito.signin.user.admin',
    auth_time: iat,
    exp: iat + (options.expiresInSeconds ?? 3600),
    iat,
    jti: randomUUID(),
    username: options.username ?? options.sub,
    ...(options.groups?.length ? { 'cognito:groups': [...options.groups] } : {}),
    ...options.claims,
  };
}

/** Signs any payload as an RS256 JWT with the given key; `kid` goes into the header. */
export function signJwt(
  payload: Record<string, unknown>,
  key: Pick<LocalKeys, 'kid' | 'privateKey'>,
): string {
  const encode = (value: unknown): string =>
    Buffer.from(JSON.stringify(value)).toString('base64url');
  const signingInput = `${encode({ alg: 'RS256', kid: key.kid })}.${encode(payload)}`;
  const signature = sign('sha256', Buffer.from(signingInput), key.privateKey);
  return `${signingInput}.${signature.toString('base64url')}`;
}

/** A Cognito-shaped access token signed with the local key. */
export function signAccessToken(
  key: Pick<LocalKeys, 'kid' | 'privateKey'>,
  options: AccessTokenOptions,
): string {
  return signJwt(accessTokenPayload(options), key);
}
