import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ThrottlingException } from '@aws-sdk/client-dynamodb';
import { isAwsUnavailable } from '../lib/aws-errors.ts';
import { AuthenticationError, NotFoundError, ValidationError } from '../lib/errors.ts';
import { errorResponse, headerValue } from '../lib/http.ts';

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
