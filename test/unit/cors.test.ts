import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readConfig } from '../../src/platform/config.ts';
import { corsHeaders } from '../../src/http/cors.ts';

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
