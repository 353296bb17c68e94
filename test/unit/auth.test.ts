import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAuthenticator } from '../../src/http/auth.ts';
import { readConfig } from '../../src/platform/config.ts';
import { AuthenticationError } from '../../src/http/errors.ts';
import { accessTokenPayload } from '../../tools/local/keys.ts';
import { TEST_POOL, accessToken, makeKey, signToken, writeJwksFile } from '../../tools/support/tokens.ts';

const key = makeKey();
const otherKey = makeKey();
const jwksFile = writeJwksFile([key]);
const config = readConfig({
  AWS_REGION: TEST_POOL.region,
  TABLE_NAME: 't',
  MEDIA_BUCKET: 'b',
  MEDIA_BASE_URL: 'http://localhost/b',
  COGNITO_USER_POOL_ID: TEST_POOL.userPoolId,
  COGNITO_CLIENT_ID: TEST_POOL.clientId,
  COGNITO_JWKS_FILE: jwksFile,
});
const authenticate = createAuthenticator(config);
const SUB = 'a1b2c3d4-0000-4000-8000-000000000001';
const payload = (claims: Record<string, unknown> = {}) => ({ ...accessTokenPayload({ ...TEST_POOL, sub: SUB }), ...claims });
const rs256 = (claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
  signToken({ alg: 'RS256', kid: key.kid, ...header }, payload(claims), { key: key.privateKey });

async function refused(authorization: string | undefined, code = 'authentication_failed'): Promise<string> {
  try {
    await authenticate(authorization);
  } catch (error) {
    assert.ok(error instanceof AuthenticationError, `expected AuthenticationError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.equal(error.status, 401);
    // One generic message for the client; the reason is for the log.
    assert.equal(error.message, code === 'not_authenticated' ? 'Authentication credentials were not provided.' : 'Incorrect authentication credentials.');
    return error.reason;
  }
  assert.fail('expected the token to be refused');
}

describe('authenticate', () => {
  it('returns the sub of a valid access token, in no group when it names none', async () => {
    assert.deepEqual(await authenticate(`Bearer ${accessToken(key, { sub: SUB })}`), { sub: SUB, groups: [] });
  });
  it('returns the groups the token names (cognito:groups)', async () => {
    const token = accessToken(key, { sub: SUB, groups: ['admin', 'readers'] });
    assert.deepEqual(await authenticate(`Bearer ${token}`), { sub: SUB, groups: ['admin', 'readers'] });
  });
  it('takes a cognito:groups that is not a list of names for no group', async () => {
    for (const claim of ['admin', 42, { admin: true }, [7, null]]) {
      const token = accessToken(key, { sub: SUB, claims: { 'cognito:groups': claim } });
      assert.deepEqual((await authenticate(`Bearer ${token}`)).groups, [], JSON.stringify(claim));
    }
  });
  it('accepts the scheme in any case', async () => {
    assert.equal((await authenticate(`bearer ${accessToken(key, { sub: SUB })}`)).sub, SUB);
  });
  it('refuses a missing header with not_authenticated', async () => {
    await refused(undefined, 'not_authenticated');
    await refused('', 'not_authenticated');
  });
  it('refuses a token without the Bearer prefix', async () => {
    await refused(accessToken(key, { sub: SUB }));
    await refused(`Token ${accessToken(key, { sub: SUB })}`);
  });
  it('refuses garbage', async () => {
    await refused('Bearer garbage');
    await refused('Bearer a b');
  });
  it('refuses tokens of two or four segments', async () => {
    const [h, p, s] = rs256().split('.');
    await refused(`Bearer ${h}.${p}`);
    await refused(`Bearer ${h}.${p}.${s}.${s}`);
  });
  it('refuses alg none, signed or not', async () => {
    await refused(`Bearer ${signToken({ alg: 'none', kid: key.kid }, payload())}`);
    const [h, p] = signToken({ alg: 'none', kid: key.kid }, payload()).split('.');
    await refused(`Bearer ${h}.${p}.${rs256().split('.')[2]}`);
  });
  it('refuses HS256 signed with the public key', async () => {
    const secret = key.publicKey.export({ format: 'pem', type: 'spki' }) as Buffer;
    await refused(`Bearer ${signToken({ alg: 'HS256', kid: key.kid }, payload(), { secret: Buffer.from(secret) })}`);
  });
  it('refuses an alg the key does not allow', async () => {
    await refused(`Bearer ${rs256({}, { alg: 'RS512' })}`);
  });
  it('refuses an unknown kid, without trusting anything else', async () => {
    const reason = await refused(`Bearer ${signToken({ alg: 'RS256', kid: otherKey.kid }, payload(), { key: otherKey.privateKey })}`);
    assert.match(reason, /KidNotFoundInJwks|WaitPeriod/);
  });
  it('refuses two unknown kids at once', async () => {
    const token = signToken({ alg: 'RS256', kid: 'unknown-kid' }, payload(), { key: otherKey.privateKey });
    await Promise.all([refused(`Bearer ${token}`), refused(`Bearer ${token}`)]);
  });
  it('refuses a valid signature from another key under our kid', async () => {
    await refused(`Bearer ${signToken({ alg: 'RS256', kid: key.kid }, payload(), { key: otherKey.privateKey })}`);
  });
  it('refuses a tampered payload', async () => {
    const [h, , s] = rs256().split('.');
    const forged = Buffer.from(JSON.stringify(payload({ sub: 'someone-else' }))).toString('base64url');
    await refused(`Bearer ${h}.${forged}.${s}`);
  });
  it('refuses an expired token', async () => {
    const now = Math.floor(Date.now() / 1000);
    assert.match(await refused(`Bearer ${rs256({ iat: now - 7200, exp: now - 3600 })}`), /Expired/);
  });
  it('refuses a token whose nbf is ahead', async () => {
    assert.match(await refused(`Bearer ${rs256({ nbf: Math.floor(Date.now() / 1000) + 3600 })}`), /NotBefore/);
  });
  it("refuses another pool's issuer", async () => {
    await refused(`Bearer ${rs256({ iss: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_OtherPool' })}`);
  });
  it('refuses another app client', async () => {
    assert.match(await refused(`Bearer ${rs256({ client_id: 'otherclient' })}`), /ClientId/);
  });
  it('refuses an id token where an access token is expected', async () => {
    const { client_id, ...rest } = payload();
    const idToken = signToken({ alg: 'RS256', kid: key.kid }, { ...rest, token_use: 'id', aud: client_id }, { key: key.privateKey });
    assert.match(await refused(`Bearer ${idToken}`), /TokenUse/);
  });
  it('refuses a token without exp', async () => {
    const { exp: _exp, ...rest } = payload();
    const token = signToken({ alg: 'RS256', kid: key.kid }, rest, { key: key.privateKey });
    assert.match(await refused(`Bearer ${token}`), /exp/);
  });
});

describe('authenticate with COGNITO_TOKEN_USE=id', () => {
  it('accepts an id token of the pool and client', async () => {
    const idAuth = createAuthenticator({ ...config, cognitoTokenUse: 'id' });
    const { client_id, ...rest } = payload();
    const idToken = signToken({ alg: 'RS256', kid: key.kid }, { ...rest, token_use: 'id', aud: client_id }, { key: key.privateKey });
    assert.equal((await idAuth(`Bearer ${idToken}`)).sub, SUB);
  });
});

describe('authenticate on a deployed stage (JWKS fetched from the pool)', () => {
  const deployed = { ...config, cognitoJwksFile: undefined };
  const countingFetcher = () => {
    const calls: string[] = [];
    const body = new TextEncoder().encode(JSON.stringify({ keys: [key.jwk] }));
    return {
      calls,
      fetch: async (uri: string) => {
        calls.push(uri);
        await new Promise((resolve) => setTimeout(resolve, 20));
        return body.buffer.slice(0) as ArrayBuffer;
      },
    };
  };

  it("fetches the pool's JWKS once, then verifies known keys from the cache", async () => {
    const fetcher = countingFetcher();
    const auth = createAuthenticator(deployed, { jwksFetcher: fetcher });
    const tokens = Array.from({ length: 5 }, () => `Bearer ${accessToken(key, { sub: SUB })}`);
    assert.deepEqual((await Promise.all(tokens.map(auth))).map((caller) => caller.sub), tokens.map(() => SUB));
    assert.equal((await auth(`Bearer ${accessToken(key, { sub: SUB })}`)).sub, SUB);
    assert.deepEqual(fetcher.calls, [`https://cognito-idp.${TEST_POOL.region}.amazonaws.com/${TEST_POOL.userPoolId}/.well-known/jwks.json`]);
  });

  it('two tokens with unknown kids at once cause one key fetch, not two', async () => {
    const fetcher = countingFetcher();
    const auth = createAuthenticator(deployed, { jwksFetcher: fetcher });
    assert.equal((await auth(`Bearer ${accessToken(key, { sub: SUB })}`)).sub, SUB);
    assert.equal(fetcher.calls.length, 1);
    const unknown = (kid: string) => `Bearer ${signToken({ alg: 'RS256', kid }, payload(), { key: otherKey.privateKey })}`;
    const results = await Promise.allSettled([auth(unknown('kid-a')), auth(unknown('kid-b'))]);
    for (const result of results) {
      assert.equal(result.status, 'rejected');
      assert.ok((result as PromiseRejectedResult).reason instanceof AuthenticationError);
    }
    assert.equal(fetcher.calls.length, 2, 'one refresh for both unknown kids');
    await assert.rejects(auth(unknown('kid-c')), AuthenticationError);
    assert.equal(fetcher.calls.length, 2, 'the penalty box holds further refreshes back');
  });

  it('answers 503 when the pool cannot be reached', async () => {
    const auth = createAuthenticator(deployed, {
      jwksFetcher: {
        fetch: async () => {
          const { FetchError } = await import('aws-jwt-verify/error');
          throw new FetchError('https://cognito-idp.example/jwks.json', 'connect ETIMEDOUT');
        },
      },
    });
    await assert.rejects(auth(`Bearer ${accessToken(key, { sub: SUB })}`), (e: unknown) => (e as { status?: number }).status === 503);
  });
});

describe('authenticate: claims the library does not check', () => {
  it('refuses a signed token without a sub', async () => {
    const { sub: _sub, ...rest } = payload();
    assert.match(await refused(`Bearer ${signToken({ alg: 'RS256', kid: key.kid }, rest, { key: key.privateKey })}`), /sub/);
    assert.match(await refused(`Bearer ${rs256({ sub: '' })}`), /sub/);
  });
  it('refuses dates beyond what Date can hold with 401, not a crash', async () => {
    await refused(`Bearer ${rs256({ nbf: 2 ** 53 })}`);
    await refused(`Bearer ${rs256({ exp: -(2 ** 53) })}`);
  });
});

describe('authenticate: verified tokens are remembered until they expire', () => {
  it('accepts a remembered token until its exp, then refuses it', async (t) => {
    const auth = createAuthenticator(config);
    const now = Date.now();
    const token = `Bearer ${rs256({ iat: Math.floor(now / 1000), exp: Math.floor(now / 1000) + 60 })}`;
    assert.equal((await auth(token)).sub, SUB);
    t.mock.timers.enable({ apis: ['Date'], now: now + 30_000 });
    assert.equal((await auth(token)).sub, SUB, 'still valid: answered from memory');
    t.mock.timers.setTime(now + 61_000);
    await assert.rejects(auth(token), (e: unknown) => e instanceof AuthenticationError && /Expired/.test(e.reason));
  });
  it('remembers the exact token only: a tampered copy of a remembered token is refused', async () => {
    const auth = createAuthenticator(config);
    const token = rs256();
    assert.equal((await auth(`Bearer ${token}`)).sub, SUB);
    const [h, , s] = token.split('.');
    const forged = Buffer.from(JSON.stringify(payload({ sub: 'someone-else' }))).toString('base64url');
    await assert.rejects(auth(`Bearer ${h}.${forged}.${s}`), AuthenticationError);
  });
  it('keeps a bounded number of tokens and still answers for the forgotten ones', async () => {
    const auth = createAuthenticator(config);
    const tokens = Array.from({ length: 1005 }, (_, i) => `Bearer ${accessToken(key, { sub: `sub-${i}` })}`);
    for (const token of tokens) await auth(token);
    assert.equal((await auth(tokens[0]!)).sub, 'sub-0');
    assert.equal((await auth(tokens[1004]!)).sub, 'sub-1004');
  });
});
