// The community's configuration every stock front end loads first (docs/stock-ui.md; reference:
// "Get All Dynamic Preferences", "Get All Features"): GET /api/v2/dynamic_preference/ and
// GET /api/v2/feature/ answer without a token, in the reference's list envelope, with what the
// profile components read (react-ui's UserProfileHeader reads images.user_default_cover's value,
// PublicInfo and UserInfo JSON.parse configurations.user_metadata_definition's value).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHandler } from '../../src/functions/get-user/handler.ts';
import { parseCommunityConfig } from '../../src/community/community.ts';
import type { ApiEvent } from '../../src/http/api-event.ts';
import { readConfig } from '../../src/platform/config.ts';
import { accessToken, makeKey, TEST_POOL, writeJwksFile } from '../../tools/support/tokens.ts';

const key = makeKey();
const otherKey = makeKey();

function handlerWith(env: Record<string, string> = {}) {
  const config = readConfig({
    AWS_REGION: TEST_POOL.region,
    TABLE_NAME: 'users',
    MEDIA_BUCKET: 'media',
    MEDIA_BASE_URL: 'https://media.example',
    COGNITO_USER_POOL_ID: TEST_POOL.userPoolId,
    COGNITO_CLIENT_ID: TEST_POOL.clientId,
    COGNITO_JWKS_FILE: writeJwksFile([key]),
    ...env,
  });
  // No table call is expected: any would fail the test.
  const dynamo = { send: async () => assert.fail('the community configuration reads no table') };
  return createHandler(config, dynamo as never);
}

function event(path: string, options: { method?: string; headers?: Record<string, string>; query?: Record<string, string> } = {}): ApiEvent {
  return {
    httpMethod: options.method ?? 'GET',
    path,
    headers: { Host: 'api.example.org', ...options.headers },
    pathParameters: null,
    queryStringParameters: options.query ?? null,
    multiValueQueryStringParameters: options.query
      ? Object.fromEntries(Object.entries(options.query).map(([name, value]) => [name, [value]]))
      : null,
    requestContext: { requestId: 'r', path: `/prod${path}` },
    body: null,
    isBase64Encoded: false,
  } as ApiEvent;
}

async function get(handler: ReturnType<typeof handlerWith>, path: string, options: Parameters<typeof event>[1] = {}) {
  const response = await handler(event(path, options));
  return { ...response, json: JSON.parse(response.body) as any };
}

describe('GET /api/v2/dynamic_preference/', () => {
  it('answers every preference without a token, in the list envelope, with the values the profile components read', async () => {
    const res = await get(handlerWith(), '/api/v2/dynamic_preference/');
    assert.equal(res.statusCode, 200, res.body);
    const { count, next, previous, results } = res.json;
    assert.equal(next, null);
    assert.equal(previous, null);
    assert.equal(count, results.length);
    for (const p of results) {
      assert.deepEqual(Object.keys(p).sort(), ['id', 'name', 'section', 'value']);
      assert.ok(Number.isInteger(p.id));
      assert.ok(['string', 'number', 'boolean'].includes(typeof p.value), `${p.section}.${p.name}`);
    }
    const byKey = new Map(results.map((p: any) => [`${p.section}.${p.name}`, p.value]));
    const cover = byKey.get('images.user_default_cover') as string;
    assert.ok(cover, 'images.user_default_cover');
    assert.doesNotMatch(cover, /'/, 'the header puts it in url(\'…\')');
    const metadata = byKey.get('configurations.user_metadata_definition') as string;
    assert.equal(typeof JSON.parse(metadata), 'object');
    assert.equal(new Set(results.map((p: any) => p.id)).size, results.length, 'ids are unique');
  });

  it('filters by section and keys, pages with limit and offset', async () => {
    const handler = handlerWith();
    const images = await get(handler, '/api/v2/dynamic_preference/', { query: { section: 'images' } });
    assert.ok(images.json.results.length >= 1);
    assert.ok(images.json.results.every((p: any) => p.section === 'images'));
    const keyed = await get(handler, '/api/v2/dynamic_preference/', { query: { keys: 'images.user_default_cover,nope.nothing' } });
    assert.deepEqual(keyed.json.results.map((p: any) => `${p.section}.${p.name}`), ['images.user_default_cover']);
    const all = (await get(handler, '/api/v2/dynamic_preference/')).json;
    const first = await get(handler, '/api/v2/dynamic_preference/', { query: { limit: '1' } });
    assert.equal(first.json.count, all.count);
    assert.deepEqual(first.json.results, all.results.slice(0, 1));
    assert.equal(first.json.next, all.count > 1 ? 'https://api.example.org/prod/api/v2/dynamic_preference/?limit=1&offset=1' : null);
  });

  it('checks a token that is sent (a bad one is a 401), and reads the same with a good one or on a stage that requires tokens', async () => {
    const handler = handlerWith({ READ_REQUIRES_TOKEN: 'true' });
    const anonymous = await get(handler, '/api/v2/dynamic_preference');
    assert.equal(anonymous.statusCode, 200);
    const good = await get(handler, '/api/v2/dynamic_preference/', { headers: { Authorization: `Bearer ${accessToken(key, { sub: 's' }, TEST_POOL)}` } });
    assert.equal(good.statusCode, 200);
    assert.deepEqual(good.json, anonymous.json);
    const bad = await get(handler, '/api/v2/dynamic_preference/', { headers: { Authorization: `Bearer ${accessToken(otherKey, { sub: 's' }, TEST_POOL)}` } });
    assert.equal(bad.statusCode, 401);
  });

  it('is read-only: another method is a 405 naming GET', async () => {
    const res = await get(handlerWith(), '/api/v2/dynamic_preference/', {
      method: 'PATCH',
      headers: { Authorization: `Bearer ${accessToken(key, { sub: 's' }, TEST_POOL)}` },
    });
    assert.equal(res.statusCode, 405);
    assert.equal(res.headers.Allow, 'GET');
  });

  it('answers a browser of an allowed origin with its CORS headers', async () => {
    const res = await get(handlerWith({ CORS_ALLOWED_ORIGINS: 'http://localhost:3100' }), '/api/v2/dynamic_preference/', {
      headers: { Origin: 'http://localhost:3100' },
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['Access-Control-Allow-Origin'], 'http://localhost:3100');
  });
});

describe('GET /api/v2/feature/', () => {
  it('answers the features without a token, in the list envelope of {id, name, enabled}', async () => {
    const res = await get(handlerWith({ READ_REQUIRES_TOKEN: 'true' }), '/api/v2/feature/');
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json.count, res.json.results.length);
    assert.equal(res.json.next, null);
    assert.equal(res.json.previous, null);
    for (const f of res.json.results) {
      assert.deepEqual(Object.keys(f).sort(), ['enabled', 'id', 'name']);
      assert.equal(typeof f.enabled, 'boolean');
    }
  });

  it('filters by name', async () => {
    const res = await get(handlerWith(), '/api/v2/feature/', { query: { name: 'no-such-feature' } });
    assert.deepEqual(res.json, { count: 0, next: null, previous: null, results: [] });
  });
});

describe('config/community.json, checked when it is read', () => {
  it('refuses a file that is not two lists, an entry without a string value, or a key listed twice', () => {
    assert.throws(() => parseCommunityConfig({ preferences: [] }), /"features"/);
    assert.throws(() => parseCommunityConfig({ preferences: [{ section: 'a', name: 'b', value: null }], features: [] }), /preferences\[0\]/);
    assert.throws(
      () => parseCommunityConfig({ preferences: [{ section: 'a', name: 'b', value: '1' }, { section: 'a', name: 'b', value: '2' }], features: [] }),
      /a\.b is listed twice/,
    );
    assert.throws(() => parseCommunityConfig({ preferences: [], features: [{ name: 'x', enabled: 'yes' }] }), /features\[0\]/);
    assert.deepEqual(parseCommunityConfig({ preferences: [{ section: 'a', name: 'b', value: '1' }], features: [{ name: 'x', enabled: false }] }), {
      preferences: [{ id: 1, section: 'a', name: 'b', value: '1' }],
      features: [{ id: 1, name: 'x', enabled: false }],
    });
  });
});
