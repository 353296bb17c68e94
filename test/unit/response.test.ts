import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ThrottlingException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { createHandler as createGetHandler } from '../../src/functions/get-user/handler.ts';
import { createHandler as createPatchHandler } from '../../src/functions/patch-user/handler.ts';
import { isAwsUnavailable } from '../../src/store/aws-errors.ts';
import { readConfig } from '../../src/platform/config.ts';
import { AuthenticationError, NotFoundError, ServiceUnavailableError, ValidationError } from '../../src/http/errors.ts';
import { errorResponse, headerValue } from '../../src/http/response.ts';
import { TEST_POOL, accessToken, makeKey, writeJwksFile } from '../../tools/support/tokens.ts';

const body = (response: { body: string }) => JSON.parse(response.body) as unknown;

describe('errorResponse', () => {
  it('answers our errors with their status and envelope', () => {
    const response = errorResponse(new NotFoundError());
    assert.equal(response.statusCode, 404);
    assert.deepEqual(body(response), { errors: [{ code: 'not_found', message: 'Not found.' }] });
  });
  it('answers field errors with one entry per field', () => {
    const response = errorResponse(ValidationError.single('website', 'invalid', 'Enter a valid URL.'));
    assert.equal(response.statusCode, 400);
    assert.deepEqual(body(response), { errors: [{ field: 'website', messages: [{ code: 'invalid', message: 'Enter a valid URL.' }] }] });
  });
  it('adds WWW-Authenticate to 401 and keeps the reason out of the body', () => {
    const response = errorResponse(new AuthenticationError('authentication_failed', 'JwtExpiredError: secret detail'));
    assert.equal(response.statusCode, 401);
    assert.equal(response.headers['WWW-Authenticate'], 'Bearer');
    assert.ok(!response.body.includes('secret detail'));
  });
  it('answers AWS throttling and network failures with 503', () => {
    const throttled = new ThrottlingException({ message: 'Rate exceeded', $metadata: {} });
    assert.equal(errorResponse(throttled).statusCode, 503);
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    assert.equal(errorResponse(refused).statusCode, 503);
    assert.equal(isAwsUnavailable(new Error('x', { cause: refused })), true);
  });
  it('gives every 503 a Retry-After, ours and AWS outages alike', () => {
    for (const error of [
      new ServiceUnavailableError(),
      new ThrottlingException({ message: 'Rate exceeded', $metadata: {} }),
      Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
    ]) {
      const response = errorResponse(error);
      assert.equal(response.statusCode, 503);
      assert.match(response.headers['Retry-After'] ?? '', /^[1-9][0-9]*$/);
    }
  });
  it('answers a transaction cancelled by throttling with 503, one cancelled by a condition not', () => {
    const throttled = new TransactionCanceledException({
      message: 'Transaction cancelled',
      $metadata: { httpStatusCode: 400 },
      CancellationReasons: [{ Code: 'None' }, { Code: 'ThrottlingError' }, { Code: 'None' }],
    });
    assert.equal(errorResponse(throttled).statusCode, 503);
    assert.ok(errorResponse(throttled).headers['Retry-After']);
    const refused = new TransactionCanceledException({
      message: 'Transaction cancelled',
      $metadata: { httpStatusCode: 400 },
      CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }, { Code: 'None' }],
    });
    assert.equal(isAwsUnavailable(refused), false);
  });
  it('answers anything else with a bare 500', () => {
    const response = errorResponse(new TypeError("Cannot read properties of undefined (reading 'sub')"));
    assert.equal(response.statusCode, 500);
    assert.deepEqual(body(response), { errors: [{ code: 'server_error', message: 'A server error occurred.' }] });
  });
});

describe('headerValue', () => {
  it('finds a header whatever the case of its name', () => {
    assert.equal(headerValue({ 'content-TYPE': 'application/json' }, 'Content-Type'), 'application/json');
    assert.equal(headerValue(null, 'Authorization'), undefined);
  });
});

// The contract's Errors: 405 with `Allow` for a method the path does not serve, and
// authentication first (Django REST Framework authenticates before it looks up the method's
// handler): a wrong method without a valid token is a 401. Both API functions answer alike, since
// API Gateway routes a method no route names (`ANY`) to the GET function.
describe('405 after authentication', () => {
  const key = makeKey();
  const config = readConfig({
    AWS_REGION: TEST_POOL.region,
    TABLE_NAME: 'unused',
    MEDIA_BUCKET: 'unused',
    MEDIA_BASE_URL: 'https://media.example.org',
    COGNITO_USER_POOL_ID: TEST_POOL.userPoolId,
    COGNITO_CLIENT_ID: TEST_POOL.clientId,
    COGNITO_JWKS_FILE: writeJwksFile([key]),
  });
  const handlers = { patchUser: createPatchHandler(config), getUser: createGetHandler(config) };
  const token = accessToken(key, { sub: 'a-caller' });
  const otherKey = makeKey();
  const cases = [
    ['patchUser', 'DELETE', '/api/v2/user/5/', 'GET, PATCH'],
    ['patchUser', 'POST', '/api/v2/user/5', 'GET, PATCH'],
    ['patchUser', 'PUT', '/dev/api/v2/user/12/', 'GET, PATCH'],
    ['patchUser', 'PATCH', '/api/v2/user/me/', 'GET'],
    ['getUser', 'DELETE', '/api/v2/user/5/', 'GET, PATCH'],
    ['getUser', 'POST', '/api/v2/user/abc/', 'GET, PATCH'],
    ['getUser', 'OPTIONS', '/api/v2/user/5', 'GET, PATCH'],
    ['getUser', 'PATCH', '/api/v2/user/me/', 'GET'],
    ['getUser', 'PUT', '/api/v2/user/me', 'GET'],
    // The profile paths the stock UI calls (contract, "Avatars", "User settings", "Hidden users").
    ['getUser', 'PUT', '/api/v2/user/avatar/', 'GET, POST, PATCH, DELETE'],
    ['getUser', 'DELETE', '/api/v2/user/5/settings/', 'GET, PATCH'],
    ['getUser', 'GET', '/api/v2/user/5/hide/', 'POST'],
    ['getUser', 'DELETE', '/api/v2/user/5/hide', 'POST'],
    ['getUser', 'POST', '/api/v2/user/5/is_hidden/', 'GET'],
    ['getUser', 'PATCH', '/api/v2/user/5/is_hidden_by/', 'GET'],
    ['getUser', 'DELETE', '/api/v2/user/hidden_users/', 'GET'],
    ['getUser', 'POST', '/dev/api/v2/user/hidden_users_id', 'GET'],
    ['patchUser', 'PUT', '/api/v2/user/avatar', 'GET, POST, PATCH, DELETE'],
  ] as const;
  for (const [name, method, path, allow] of cases) {
    it(`${name}: ${method} ${path} with a valid token: 405 method_not_allowed with Allow: ${allow}`, async () => {
      const response = await handlers[name]({ httpMethod: method, path, headers: { Authorization: `Bearer ${token}` }, body: null });
      assert.equal(response.statusCode, 405);
      assert.equal(response.headers.Allow, allow);
      assert.deepEqual(body(response), { errors: [{ code: 'method_not_allowed', message: `Method "${method}" not allowed.` }] });
    });
    it(`${name}: ${method} ${path} without a token: 401 not_authenticated, no Allow`, async () => {
      const response = await handlers[name]({ httpMethod: method, path, headers: {}, body: null });
      assert.equal(response.statusCode, 401);
      assert.equal(response.headers['WWW-Authenticate'], 'Bearer');
      assert.equal(response.headers.Allow, undefined);
      assert.equal((body(response) as { errors: Array<{ code: string }> }).errors[0]!.code, 'not_authenticated');
    });
    it(`${name}: ${method} ${path} with a token of another key: 401 authentication_failed`, async () => {
      const forged = accessToken(otherKey, { sub: 'a-caller' });
      const response = await handlers[name]({ httpMethod: method, path, headers: { Authorization: `Bearer ${forged}` }, body: null });
      assert.equal(response.statusCode, 401);
      assert.equal(response.headers['WWW-Authenticate'], 'Bearer');
      assert.equal((body(response) as { errors: Array<{ code: string }> }).errors[0]!.code, 'authentication_failed');
    });
  }
});
