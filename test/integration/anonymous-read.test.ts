// Logged-out visitors (contract, "Reading a user"): GET /api/v2/user/{id}/ answers without a token,
// the public view; a token that is sent but invalid is a 401, never silently anonymous; /me/ and
// every other method still need a token; a stage setting (READ_REQUIRES_TOKEN) can require one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createHandler, type Handler } from '../../src/functions/get-user/handler.ts';
import type { ApiEvent } from '../../src/http/api-event.ts';
import { fixtureEvent, startTestBackend, type TestBackend, userSeeder } from '../support/backend.ts';
import { accessToken, makeKey } from '../../tools/support/tokens.ts';
import { createHandler as createPatchHandler } from '../../src/functions/patch-user/handler.ts';

const key = makeKey();
const otherKey = makeKey();
let backend: TestBackend;
let handler: Handler;

before(async () => {
  backend = await startTestBackend({ keys: [key] });
  handler = createHandler(backend.config);
});
after(() => backend.stop());

const newUser = userSeeder(() => backend, 'visitor', 800);

function event(path: string, headers: Record<string, string>, method = 'GET'): ApiEvent {
  const base = fixtureEvent('json', { id: 0, token: accessToken(key, { sub: 'x' }, backend.pool) });
  const id = /\/api\/v2\/user\/([^/]+)\/?$/.exec(path)![1]!;
  return { ...base, httpMethod: method, path, pathParameters: id === 'me' ? null : { id }, body: null, headers };
}

async function send(h: Handler, path: string, headers: Record<string, string> = {}, method = 'GET') {
  const response = await h(event(path, headers, method));
  return { ...response, json: response.body ? (JSON.parse(response.body) as Record<string, any>) : undefined };
}

describe('GET /api/v2/user/{id}/ without a token', () => {
  it('answers the public User object with an ETag, the private fields as ""', async () => {
    const user = await newUser();
    const owner = { Authorization: `Bearer ${accessToken(key, { sub: user.sub }, backend.pool)}` };
    const patched = await createPatchHandler(backend.config)(
      fixtureEvent('json', {
        id: user.id,
        token: owner.Authorization.slice('Bearer '.length),
        body: JSON.stringify({ bio: 'public bio', date_of_birth: '1990-04-01', position_lat_lng: '45.4642,9.19' }),
      }),
    );
    assert.equal(patched.statusCode, 200);
    const res = await send(handler, `/api/v2/user/${user.id}/`);
    assert.equal(res.statusCode, 200);
    assert.equal(res.json!.id, user.id);
    assert.equal(res.json!.bio, 'public bio');
    assert.equal(res.json!.date_of_birth, '');
    assert.equal(res.json!.position_lat_lng, '');
    assert.match(res.headers.ETag!, /^"\d+"$/);
    assert.match(res.headers.Vary ?? '', /Authorization/);
    // The same ETag answers a conditional read with 304, as for a signed-in caller.
    assert.equal((await send(handler, `/api/v2/user/${user.id}`, { 'If-None-Match': res.headers.ETag! })).statusCode, 304);
    // The owner, with a token, still reads the private fields.
    assert.equal((await send(handler, `/api/v2/user/${user.id}/`, owner)).json!.date_of_birth, '1990-04-01');
  });

  it('an unknown id is a 404, a non-integer one too', async () => {
    assert.equal((await send(handler, '/api/v2/user/987654321/')).statusCode, 404);
    assert.equal((await send(handler, '/api/v2/user/abc/')).statusCode, 404);
  });

  it('a token that is sent but invalid is a 401, never an anonymous read', async () => {
    const user = await newUser();
    for (const authorization of ['Bearer not-a-token', `Bearer ${accessToken(otherKey, { sub: user.sub }, backend.pool)}`, '']) {
      const res = await send(handler, `/api/v2/user/${user.id}/`, { Authorization: authorization });
      assert.equal(res.statusCode, 401, authorization);
      assert.equal(res.headers['WWW-Authenticate'], 'Bearer');
    }
  });

  it('/me/ and the methods the path does not serve still need a token: 401', async () => {
    const user = await newUser();
    const me = await send(handler, '/api/v2/user/me/');
    assert.equal(me.statusCode, 401);
    assert.equal(me.json!.errors[0].code, 'not_authenticated');
    for (const method of ['DELETE', 'POST', 'PUT']) {
      const res = await send(handler, `/api/v2/user/${user.id}/`, {}, method);
      assert.equal(res.statusCode, 401, method);
      assert.equal(res.headers.Allow, undefined, method);
    }
  });

  it('with READ_REQUIRES_TOKEN=true (a private community) it is a 401', async () => {
    const user = await newUser();
    const privateHandler = createHandler({ ...backend.config, readRequiresToken: true });
    const res = await send(privateHandler, `/api/v2/user/${user.id}/`);
    assert.equal(res.statusCode, 401);
    assert.equal(res.json!.errors[0].code, 'not_authenticated');
  });
});
