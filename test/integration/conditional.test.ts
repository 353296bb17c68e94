// Reading users (GET /me/ and /{id}/) and conditional requests (ETag, If-None-Match, If-Match)
// through the real handlers against DynamoDB Local and the S3 emulator: the contract's sections
// "Reading a user" and "Conditional requests".
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createHandler as createGetHandler, type Handler as GetHandler } from '../../src/functions/get-user/handler.ts';
import { createHandler as createPatchHandler, type ApiEvent, type Handler as PatchHandler } from '../../src/functions/patch-user/handler.ts';
import { createDynamoClient } from '../../src/store/dynamo-client.ts';
import { claimKey } from '../../src/users/username-keys.ts';
import { checkInvariants } from '../../tools/cli/check-invariants.ts';
import { CURRENT_USER_FIELDS, USER_FIELDS } from '../support/contract.ts';
import { fixtureEvent, multipartBody, startTestBackend, type TestBackend, userSeeder } from '../support/backend.ts';
import { accessToken, makeKey } from '../../tools/support/tokens.ts';

const key = makeKey();
let backend: TestBackend;
let getHandler: GetHandler;
let patchHandler: PatchHandler;
/** DynamoDB commands the GET handler sent, in order. */
const getCalls: string[] = [];

const PHOTO = readFileSync(new URL('../fixtures/photos/cameras/Canon_40D.jpg', import.meta.url));

before(async () => {
  backend = await startTestBackend({ keys: [key] });
  const dynamo = createDynamoClient(backend.config);
  dynamo.middlewareStack.add(
    (next, context) => async (args) => {
      getCalls.push(`${context.commandName}${(args.input as { ConsistentRead?: boolean }).ConsistentRead ? ' (consistent)' : ''}`);
      return next(args);
    },
    { step: 'initialize', name: 'recordCalls' },
  );
  getHandler = createGetHandler(backend.config, dynamo);
  patchHandler = createPatchHandler(backend.config);
});
after(async () => {
  const report = await checkInvariants(backend.dynamo, backend.s3, backend.config);
  assert.deepEqual(report.problems, []);
  await backend.stop();
});

const newUser = userSeeder(() => backend, 'reader', 300);
const token = (sub: string) => accessToken(key, { sub }, backend.pool);

/** A GET event as API Gateway sends it for `path` (the recorded PATCH event, turned into a GET). */
function getEvent(path: string, headers: Record<string, string | undefined> = {}, method = 'GET'): ApiEvent {
  const event = fixtureEvent('json', { id: 0 });
  const id = /\/api\/v2\/user\/([^/]+)\/?$/.exec(path)![1]!;
  event.httpMethod = method;
  event.path = path;
  event.pathParameters = id === 'me' ? null : { id };
  event.body = null;
  const merged: Record<string, string | undefined> = { ...event.headers, ...headers };
  delete merged['Content-Type'];
  for (const [name, value] of Object.entries(merged)) if (value === undefined) delete merged[name];
  event.headers = merged;
  return event;
}

async function get(path: string, sub: string | undefined, headers: Record<string, string> = {}, method = 'GET') {
  const auth = sub === undefined ? {} : { Authorization: `Bearer ${token(sub)}` };
  const response = await getHandler(getEvent(path, { Authorization: undefined, ...auth, ...headers }, method));
  return { ...response, json: response.body ? (JSON.parse(response.body) as Record<string, any>) : undefined };
}

async function patch(id: number, sub: string, body: unknown, headers: Record<string, string> = {}) {
  const event = fixtureEvent('json', { id, token: token(sub), body: JSON.stringify(body) });
  event.headers = { ...event.headers, ...headers };
  const response = await patchHandler(event);
  return { ...response, json: JSON.parse(response.body) as Record<string, any> };
}

const storedVersion = async (id: number) => (await backend.getUser(id))!.version;

describe('GET /api/v2/user/me/ and /{id}/', () => {
  it('/me/ answers the caller’s User object with its ETag, in two consistent reads', async () => {
    const user = await newUser({ real_name: 'Reader One', bio: 'reads' });
    for (const path of ['/api/v2/user/me/', '/api/v2/user/me']) {
      getCalls.length = 0;
      const res = await get(path, user.sub);
      assert.equal(res.statusCode, 200);
      // The User object plus the caller's private fields, still from the same two reads.
      assert.deepEqual(Object.keys(res.json!).sort(), [...USER_FIELDS, ...CURRENT_USER_FIELDS].sort());
      assert.equal(res.json!.id, user.id);
      assert.equal(res.json!.username, user.username);
      assert.equal(res.json!.real_name, 'Reader One');
      assert.equal(res.headers.ETag, `"${await storedVersion(user.id)}"`);
      assert.ok(!res.body.includes(user.sub), 'the sub never leaves');
      assert.deepEqual(getCalls, ['GetItemCommand (consistent)', 'GetItemCommand (consistent)']);
    }
  });

  it('/{id}/ answers any user to any caller with a token, in one consistent read', async () => {
    const owner = await newUser({ location: 'Rome' });
    const reader = await newUser();
    for (const path of [`/api/v2/user/${owner.id}/`, `/api/v2/user/${owner.id}`]) {
      getCalls.length = 0;
      const res = await get(path, reader.sub);
      assert.equal(res.statusCode, 200);
      assert.deepEqual(Object.keys(res.json!).sort(), [...USER_FIELDS].sort());
      assert.equal(res.json!.id, owner.id);
      assert.equal(res.json!.location, 'Rome');
      assert.equal(res.headers.ETag, `"${await storedVersion(owner.id)}"`);
      assert.deepEqual(getCalls, ['GetItemCommand (consistent)']);
    }
  });

  it('answers the same User object as a PATCH does', async () => {
    const user = await newUser();
    const patched = await patch(user.id, user.sub, { bio: 'same object' });
    const read = await get(`/api/v2/user/${user.id}/`, user.sub);
    assert.deepEqual(read.json, patched.json);
    assert.equal(read.headers.ETag, patched.headers.ETag);
  });

  it('404 for an unknown or non-integer id, and for /me/ of a token without a user', async () => {
    const user = await newUser();
    for (const path of ['/api/v2/user/999999/', '/api/v2/user/abc/', '/api/v2/user/1.5/', '/api/v2/user/-1/']) {
      const res = await get(path, user.sub);
      assert.equal(res.statusCode, 404, path);
      assert.deepEqual(res.json, { errors: [{ code: 'not_found', message: 'Not found.' }] });
    }
    const res = await get('/api/v2/user/me/', 'a-sub-that-never-signed-up');
    assert.equal(res.statusCode, 404);
  });

  it('a bad token is a 401 first, whatever the id, with WWW-Authenticate; no token, at /me/ only', async () => {
    // The contract ("Reading a user"): /{id}/ needs no token (a visitor's unknown id is a 404),
    // /me/ does; a token that is sent is always checked.
    const none = await get('/api/v2/user/me/', undefined);
    assert.equal(none.statusCode, 401);
    assert.equal(none.json!.errors[0].code, 'not_authenticated');
    assert.equal(none.headers['WWW-Authenticate'], 'Bearer');
    for (const path of ['/api/v2/user/999999/', '/api/v2/user/abc/']) assert.equal((await get(path, undefined)).statusCode, 404, path);
    for (const path of ['/api/v2/user/me/', '/api/v2/user/999999/', '/api/v2/user/abc/']) {
      const bad = await get(path, undefined, { Authorization: 'Bearer not.a.token' });
      assert.equal(bad.statusCode, 401);
      assert.equal(bad.json!.errors[0].code, 'authentication_failed');
    }
  });

  it('a method the paths do not serve is a 405 with Allow: GET, after authentication', async () => {
    const user = await newUser();
    const res = await get('/api/v2/user/me/', user.sub, { 'Content-Type': 'application/json' }, 'PATCH');
    assert.equal(res.statusCode, 405);
    assert.equal(res.headers.Allow, 'GET');
    assert.equal(res.json!.errors[0].code, 'method_not_allowed');
    const anonymous = await get('/api/v2/user/me/', undefined, { 'Content-Type': 'application/json' }, 'PATCH');
    assert.equal(anonymous.statusCode, 401);
  });

  it('If-None-Match with the current tag: 304 without a body; weak, in a list or * too', async () => {
    const user = await newUser();
    const first = await get('/api/v2/user/me/', user.sub);
    const etag = first.headers.ETag!;
    for (const ifNoneMatch of [etag, `W/${etag}`, `"12345", ${etag}`, '*', `W/"9999",W/${etag}`]) {
      const res = await get('/api/v2/user/me/', user.sub, { 'If-None-Match': ifNoneMatch });
      assert.equal(res.statusCode, 304, ifNoneMatch);
      assert.equal(res.body, '');
      assert.equal(res.headers.ETag, etag);
    }
    for (const ifNoneMatch of ['"12345"', `"${etag}"`, 'W/"x"', 'garbage']) {
      const res = await get('/api/v2/user/me/', user.sub, { 'if-none-match': ifNoneMatch });
      assert.equal(res.statusCode, 200, ifNoneMatch);
    }
    // After a write the old tag is stale.
    await patch(user.id, user.sub, { bio: 'changed' });
    const after = await get(`/api/v2/user/${user.id}/`, user.sub, { 'If-None-Match': etag });
    assert.equal(after.statusCode, 200);
    assert.notEqual(after.headers.ETag, etag);
    assert.equal(after.json!.bio, 'changed');
  });

  it('If-None-Match never hides a 404 or a 401', async () => {
    const user = await newUser();
    assert.equal((await get('/api/v2/user/999998/', user.sub, { 'If-None-Match': '*' })).statusCode, 404);
    assert.equal((await get('/api/v2/user/me/', undefined, { 'If-None-Match': '*' })).statusCode, 401);
  });
});

describe('PATCH with ETag and If-Match', () => {
  it('every 200 carries the new ETag, changing on every write', async () => {
    const user = await newUser();
    const before = await storedVersion(user.id);
    const first = await patch(user.id, user.sub, { bio: 'one' });
    assert.equal(first.statusCode, 200);
    assert.equal(first.headers.ETag, `"${before + 1}"`);
    const second = await patch(user.id, user.sub, { bio: 'two' });
    assert.equal(second.headers.ETag, `"${before + 2}"`);
    const empty = await patch(user.id, user.sub, {});
    assert.equal(empty.statusCode, 200);
    assert.equal(empty.headers.ETag, `"${before + 2}"`);
    assert.equal(await storedVersion(user.id), before + 2);
  });

  it('a matching If-Match (exact, in a list, or *) lets the write through', async () => {
    const user = await newUser();
    let etag = (await get('/api/v2/user/me/', user.sub)).headers.ETag!;
    for (const make of [(t: string) => t, (t: string) => `"777777", ${t}`, () => '*']) {
      const res = await patch(user.id, user.sub, { bio: `bio ${etag}` }, { 'If-Match': make(etag) });
      assert.equal(res.statusCode, 200, make(etag));
      etag = res.headers.ETag!;
    }
  });

  it('a stale, weak or foreign If-Match is a 412 and changes nothing', async () => {
    const user = await newUser({ bio: 'original' });
    const { headers } = await get('/api/v2/user/me/', user.sub);
    const current = headers.ETag!;
    await patch(user.id, user.sub, { bio: 'moved on' });
    const stored = await backend.getUser(user.id);
    const newCurrent = `"${stored!.version}"`;
    for (const ifMatch of [current, `W/${newCurrent}`, '"abc"', 'garbage', `"12345", ${current}`]) {
      const res = await patch(user.id, user.sub, { bio: 'lost update' }, { 'If-Match': ifMatch });
      assert.equal(res.statusCode, 412, ifMatch);
      const message = res.json.errors[0].message;
      assert.equal(typeof message, 'string');
      assert.deepEqual(res.json, { errors: [{ code: 'precondition_failed', message }] });
      assert.equal(res.headers.ETag, undefined);
    }
    assert.deepEqual(await backend.getUser(user.id), stored);
  });

  it('an empty PATCH compares too', async () => {
    const user = await newUser();
    const version = await storedVersion(user.id);
    assert.equal((await patch(user.id, user.sub, {}, { 'If-Match': `"${version}"` })).statusCode, 200);
    assert.equal((await patch(user.id, user.sub, {}, { 'If-Match': `"${version + 1}"` })).statusCode, 412);
  });

  it('a rename with a stale If-Match is a 412: no claim taken, the old one kept', async () => {
    const user = await newUser();
    const stale = `"${await storedVersion(user.id)}"`;
    await patch(user.id, user.sub, { real_name: 'changed meanwhile' });
    const renamed = `renamed${user.id}`;
    const res = await patch(user.id, user.sub, { username: renamed }, { 'If-Match': stale });
    assert.equal(res.statusCode, 412);
    assert.equal(await backend.getClaim(renamed), undefined);
    assert.deepEqual(await backend.getClaim(user.username), { pk: claimKey(user.username), user_id: user.id });
    assert.equal((await backend.getUser(user.id))!.username, user.username);
    // A case-only rename (no new claim) compares as well.
    const caseOnly = await patch(user.id, user.sub, { username: user.username.toUpperCase() }, { 'If-Match': stale });
    assert.equal(caseOnly.statusCode, 412);
    // With the current tag the rename goes through.
    const current = `"${await storedVersion(user.id)}"`;
    const ok = await patch(user.id, user.sub, { username: renamed }, { 'If-Match': current });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json.username, renamed);
  });

  it('a 412 with an image leaves no upload behind', async () => {
    const user = await newUser();
    const stale = `"${(await storedVersion(user.id)) + 5}"`;
    const form = multipartBody({ avatar: { bytes: PHOTO, filename: 'me.jpg', type: 'image/jpeg' }, bio: 'with a picture' });
    const event = fixtureEvent('multipart', { id: user.id, token: token(user.sub), ...form });
    event.headers = { ...event.headers, 'If-Match': stale };
    const res = await patchHandler(event);
    assert.equal(res.statusCode, 412);
    assert.deepEqual(await backend.objectKeys(`avatar/${user.id}/`), []);
    assert.equal((await backend.getUser(user.id))!.avatar_key, undefined);
  });

  it('404 and 403 come before 412', async () => {
    const owner = await newUser();
    const other = await newUser();
    assert.equal((await patch(999997, owner.sub, { bio: 'x' }, { 'If-Match': '"0"' })).statusCode, 404);
    assert.equal((await patch(owner.id, other.sub, { bio: 'x' }, { 'If-Match': '"12345"' })).statusCode, 403);
    assert.equal((await patch(owner.id, other.sub, { username: `n${owner.id}x` }, { 'If-Match': '"12345"' })).statusCode, 403);
  });

  it('more than 100 entity tags in If-Match is a 400', async () => {
    const user = await newUser();
    const tags = Array.from({ length: 101 }, (_, i) => `"${i}"`).join(', ');
    const res = await patch(user.id, user.sub, { bio: 'x' }, { 'If-Match': tags });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json.errors[0].code, 'parse_error');
  });
});

describe('PATCH with If-None-Match', () => {
  it('* or the current tag (weak, in a list) is a 412 and changes nothing: text, empty, rename, image', async () => {
    const user = await newUser({ bio: 'kept' });
    const stored = await backend.getUser(user.id);
    const current = `"${stored!.version}"`;
    const renamed = `inm${user.id}`;
    const form = multipartBody({ avatar: { bytes: PHOTO, filename: 'me.jpg', type: 'image/jpeg' }, bio: 'with a picture' });
    for (const ifNoneMatch of ['*', ' * ', current, `W/${current}`, `"12345", ${current}`]) {
      for (const body of [{ bio: 'overwritten' }, {}, { username: renamed }, { username: user.username.toUpperCase() }]) {
        const res = await patch(user.id, user.sub, body, { 'If-None-Match': ifNoneMatch });
        assert.equal(res.statusCode, 412, `${ifNoneMatch} ${JSON.stringify(body)}`);
        const message = res.json.errors[0].message;
        assert.deepEqual(res.json, { errors: [{ code: 'precondition_failed', message }] });
        assert.equal(res.headers.ETag, undefined);
      }
      const event = fixtureEvent('multipart', { id: user.id, token: token(user.sub), ...form });
      event.headers = { ...event.headers, 'If-None-Match': ifNoneMatch };
      assert.equal((await patchHandler(event)).statusCode, 412, ifNoneMatch);
    }
    assert.deepEqual(await backend.getUser(user.id), stored);
    assert.equal(await backend.getClaim(renamed), undefined);
    assert.deepEqual(await backend.objectKeys(`avatar/${user.id}/`), []);
  });

  it('a tag that is not the current one lets the write through', async () => {
    const user = await newUser();
    const stale = `"${await storedVersion(user.id)}"`;
    await patch(user.id, user.sub, { bio: 'moved on' });
    for (const ifNoneMatch of [stale, '"99999"', 'garbage', `W/"88888", ${stale}`]) {
      const res = await patch(user.id, user.sub, { bio: `bio ${ifNoneMatch}` }, { 'If-None-Match': ifNoneMatch });
      assert.equal(res.statusCode, 200, ifNoneMatch);
      assert.equal((await backend.getUser(user.id))!.bio, `bio ${ifNoneMatch}`);
    }
    const rename = await patch(user.id, user.sub, { username: `inmok${user.id}` }, { 'If-None-Match': stale });
    assert.equal(rename.statusCode, 200);
    assert.equal(rename.json.username, `inmok${user.id}`);
  });

  it('with If-Match too, both must hold', async () => {
    const user = await newUser();
    const current = `"${await storedVersion(user.id)}"`;
    const both = await patch(user.id, user.sub, { bio: 'x' }, { 'If-Match': current, 'If-None-Match': current });
    assert.equal(both.statusCode, 412);
    const ok = await patch(user.id, user.sub, { bio: 'y' }, { 'If-Match': current, 'If-None-Match': '"99999"' });
    assert.equal(ok.statusCode, 200);
  });

  it('404 and 403 come before 412', async () => {
    const owner = await newUser();
    const other = await newUser();
    assert.equal((await patch(999996, owner.sub, { bio: 'x' }, { 'If-None-Match': '*' })).statusCode, 404);
    assert.equal((await patch(owner.id, other.sub, { bio: 'x' }, { 'If-None-Match': '*' })).statusCode, 403);
    assert.equal((await patch(owner.id, other.sub, { username: `n${owner.id}y` }, { 'If-None-Match': '*' })).statusCode, 403);
  });

  it('two writes from the same read, each with If-None-Match of the next tag: one 200, one 412 that changed nothing', async () => {
    // Whichever writes second finds the version the tag names: exactly one 200.
    const user = await newUser();
    const version = await storedVersion(user.id);
    const next = `"${version + 1}"`;
    const results = await Promise.all([
      patch(user.id, user.sub, { bio: 'from tab A' }, { 'If-None-Match': next }),
      patch(user.id, user.sub, { location: 'from tab B' }, { 'If-None-Match': next }),
    ]);
    assert.deepEqual(results.map((r) => r.statusCode).sort(), [200, 412]);
    const stored = (await backend.getUser(user.id))!;
    assert.equal(stored.version, version + 1);
    const winner = results.findIndex((r) => r.statusCode === 200);
    assert.equal(stored.bio, winner === 0 ? 'from tab A' : undefined);
    assert.equal(stored.location, winner === 1 ? 'from tab B' : undefined);
  });

  it('more than 100 entity tags in If-None-Match is a 400', async () => {
    const user = await newUser();
    const tags = Array.from({ length: 101 }, (_, i) => `"${i + 1000}"`).join(', ');
    const res = await patch(user.id, user.sub, { bio: 'x' }, { 'If-None-Match': tags });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json.errors[0].code, 'parse_error');
  });
});

describe('two tabs editing one profile', () => {
  it('with If-Match: of two writes from the same read, exactly one is a 200 and one a 412', async () => {
    for (let round = 0; round < 5; round++) {
      const user = await newUser();
      const [tabA, tabB] = await Promise.all([get('/api/v2/user/me/', user.sub), get('/api/v2/user/me/', user.sub)]);
      assert.equal(tabA.headers.ETag, tabB.headers.ETag);
      const results = await Promise.all([
        patch(user.id, user.sub, { bio: 'from tab A' }, { 'If-Match': tabA.headers.ETag! }),
        patch(user.id, user.sub, { location: 'from tab B' }, { 'If-Match': tabB.headers.ETag! }),
      ]);
      assert.deepEqual(results.map((r) => r.statusCode).sort(), [200, 412]);
      const stored = (await backend.getUser(user.id))!;
      const winner = results.findIndex((r) => r.statusCode === 200);
      assert.equal(stored.bio, winner === 0 ? 'from tab A' : undefined);
      assert.equal(stored.location, winner === 1 ? 'from tab B' : undefined);
      assert.equal(results[winner]!.headers.ETag, `"${stored.version}"`);
    }
  });

  it('with If-Match, a rename and a text edit from the same read: one 200, one 412', async () => {
    const user = await newUser();
    const { headers } = await get('/api/v2/user/me/', user.sub);
    const results = await Promise.all([
      patch(user.id, user.sub, { username: `tab${user.id}` }, { 'If-Match': headers.ETag! }),
      patch(user.id, user.sub, { bio: 'tab B' }, { 'If-Match': headers.ETag! }),
    ]);
    assert.deepEqual(results.map((r) => r.statusCode).sort(), [200, 412]);
  });

  it('without If-Match both succeed, as the official client sees it', async () => {
    const user = await newUser();
    const results = await Promise.all([
      patch(user.id, user.sub, { bio: 'from tab A' }),
      patch(user.id, user.sub, { location: 'from tab B' }),
    ]);
    assert.deepEqual(results.map((r) => r.statusCode), [200, 200]);
    const stored = (await backend.getUser(user.id))!;
    assert.equal(stored.bio, 'from tab A');
    assert.equal(stored.location, 'from tab B');
  });
});
