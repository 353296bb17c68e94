import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readConfig } from '../../src/platform/config.ts';
import { corsHeaders } from '../../src/http/cors.ts';
import { createHandler as createGetHandler } from '../../src/functions/get-user/handler.ts';
import { createHandler as createPatchHandler } from '../../src/functions/patch-user/handler.ts';
import { TEST_POOL, accessToken, makeKey, writeJwksFile } from '../../tools/support/tokens.ts';

describe('corsHeaders', () => {
  it('adds nothing when no origin is configured', () => {
    assert.deepEqual(corsHeaders([], 'https://app.example.org'), {});
  });
  it('echoes an allowed origin, varying on Origin', () => {
    assert.deepEqual(corsHeaders(['https://app.example.org'], 'https://app.example.org'), {
      'Access-Control-Allow-Origin': 'https://app.example.org',
      'Access-Control-Expose-Headers': 'WWW-Authenticate, ETag',
      Vary: 'Origin',
    });
  });
  it('does not allow another origin', () => {
    assert.deepEqual(corsHeaders(['https://app.example.org'], 'https://evil.example'), { Vary: 'Origin' });
    assert.deepEqual(corsHeaders(['https://app.example.org'], undefined), { Vary: 'Origin' });
  });
  it('allows any origin with *', () => {
    assert.equal(corsHeaders(['*'], 'https://x.example')['Access-Control-Allow-Origin'], '*');
  });
  it('reads CORS_ALLOWED_ORIGINS as a comma-separated list', () => {
    const config = readConfig({
      AWS_REGION: 'eu-west-1',
      TABLE_NAME: 't',
      MEDIA_BUCKET: 'b',
      MEDIA_BASE_URL: 'https://m.example',
      COGNITO_USER_POOL_ID: 'eu-west-1_x',
      COGNITO_CLIENT_ID: 'c',
      CORS_ALLOWED_ORIGINS: ' https://a.example/ , https://b.example,, ',
    });
    assert.deepEqual(config.corsAllowedOrigins, ['https://a.example', 'https://b.example']);
  });
});

// Every answer of both API functions, on every path, lets a configured browser origin read it
// (contract, "Paths, methods and browsers"): API Gateway's preflight allows the origin, and the
// function's own answer must name it too, errors included, or the browser hides the answer.
describe('CORS headers on every path, errors included', () => {
  const key = makeKey();
  const origin = 'https://admin.example.org';
  const config = readConfig({
    AWS_REGION: TEST_POOL.region,
    TABLE_NAME: 'unused',
    MEDIA_BUCKET: 'unused',
    MEDIA_BASE_URL: 'https://media.example.org',
    COGNITO_USER_POOL_ID: TEST_POOL.userPoolId,
    COGNITO_CLIENT_ID: TEST_POOL.clientId,
    COGNITO_JWKS_FILE: writeJwksFile([key]),
    CORS_ALLOWED_ORIGINS: `https://app.example.org,${origin}`,
  });
  const handlers = { getUser: createGetHandler(config), patchUser: createPatchHandler(config) };
  const token = accessToken(key, { sub: 'a-caller' });
  // A token no pool key signed: a 401 on every path whatever the method, with no table read.
  const forged = accessToken(makeKey(), { sub: 'a-caller' });
  // The contract's paths and the methods each serves.
  const paths: [string, string[]][] = [
    ['/api/v2/user/me/', ['GET']],
    ['/api/v2/user/5/', ['GET', 'PATCH']],
    ['/api/v2/user/avatar/', ['GET', 'POST', 'PATCH', 'DELETE']],
    ['/api/v2/user/hidden_users/', ['GET']],
    ['/api/v2/user/hidden_users_id/', ['GET']],
    ['/api/v2/user/5/settings/', ['GET', 'PATCH']],
    ['/api/v2/user/5/hide/', ['POST']],
    ['/api/v2/user/5/is_hidden/', ['GET']],
    ['/api/v2/user/5/is_hidden_by/', ['GET']],
  ];
  const METHODS = ['GET', 'POST', 'PATCH', 'DELETE', 'PUT'];
  const expectCors = (response: { headers: Record<string, string> }, where: string) => {
    assert.equal(response.headers['Access-Control-Allow-Origin'], origin, where);
    assert.match(response.headers['Access-Control-Expose-Headers'] ?? '', /WWW-Authenticate/, where);
    assert.match(response.headers.Vary ?? '', /\bOrigin\b/, where);
  };
  for (const [path, served] of paths) {
    it(`${path}: 401, 405 and 413 answers carry the origin's CORS headers`, async () => {
      for (const [name, handler] of Object.entries(handlers)) {
        for (const method of METHODS) {
          const where = `${name} ${method} ${path}`;
          const refused = await handler({ httpMethod: method, path, headers: { Authorization: `Bearer ${forged}`, Origin: origin }, body: null });
          assert.equal(refused.statusCode, 401, where);
          expectCors(refused, where);
          const other = await handler({ httpMethod: method, path, headers: { Authorization: `Bearer ${forged}`, Origin: 'https://evil.example' }, body: null });
          assert.equal(other.headers['Access-Control-Allow-Origin'], undefined, `${where} from another origin`);
          if (!served.includes(method)) {
            const notAllowed = await handler({ httpMethod: method, path, headers: { Authorization: `Bearer ${token}`, origin }, body: null });
            assert.equal(notAllowed.statusCode, 405, where);
            expectCors(notAllowed, where);
          }
          const tooLarge = await handler({ httpMethod: method, path, headers: { Origin: origin }, body: 'A'.repeat(6_300_000), isBase64Encoded: true });
          assert.equal(tooLarge.statusCode, 413, where);
          expectCors(tooLarge, where);
        }
      }
    });
  }
});
