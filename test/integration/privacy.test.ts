// Private fields and names (contract: "Reading a user" › Privacy, "Events", "Writable fields" ›
// Names nobody may take and Display text), through the GET and PATCH handlers against DynamoDB
// Local. Expected answers come from the contract's text.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { createHandler as createGetHandler, type Handler as GetHandler } from '../../src/functions/get-user/handler.ts';
import { createHandler as createPatchHandler, type ApiEvent, type Handler as PatchHandler } from '../../src/functions/patch-user/handler.ts';
import { checkInvariants } from '../../tools/cli/check-invariants.ts';
import { fixtureEvent, startTestBackend, type TestBackend, userSeeder } from '../support/backend.ts';
import { accessToken, makeKey } from '../../tools/support/tokens.ts';

const key = makeKey();
let backend: TestBackend;
let getHandler: GetHandler;
let patchHandler: PatchHandler;

before(async () => {
  backend = await startTestBackend({ keys: [key] });
  getHandler = createGetHandler(backend.config);
  patchHandler = createPatchHandler(backend.config);
});
after(async () => {
  const report = await checkInvariants(backend.dynamo, backend.s3, backend.config);
  assert.deepEqual(report.problems, []);
  await backend.stop();
});

const newUser = userSeeder(() => backend, 'private', 700);
const token = (sub: string) => accessToken(key, { sub }, backend.pool);
const UNIQUE = { errors: [{ field: 'username', messages: [{ code: 'unique', message: 'A user with that username already exists.' }] }] };

function getEvent(path: string, sub: string): ApiEvent {
  const event = fixtureEvent('json', { id: 0, token: token(sub) });
  const id = /\/api\/v2\/user\/([^/]+)\/?$/.exec(path)![1]!;
  event.httpMethod = 'GET';
  event.path = path;
  event.pathParameters = id === 'me' ? null : { id };
  event.body = null;
  delete event.headers!['Content-Type'];
  return event;
}

async function get(path: string, sub: string) {
  const response = await getHandler(getEvent(path, sub));
  return { ...response, json: JSON.parse(response.body) as Record<string, any> };
}

async function patch(id: number, sub: string, body: unknown) {
  const response = await patchHandler(fixtureEvent('json', { id, token: token(sub), body: JSON.stringify(body) }));
  return { ...response, json: JSON.parse(response.body) as Record<string, any> };
}

const PRIVATE = { date_of_birth: '1990-04-01', position_lat_lng: '45.4642,9.19' };

describe('privacy: date_of_birth and position_lat_lng are the owner’s alone', () => {
  it('another signed-in user reads them as "", the owner reads them in /{id}/, /me/ and the PATCH answer', async () => {
    const owner = await newUser();
    const other = await newUser();
    const patched = await patch(owner.id, owner.sub, { ...PRIVATE, bio: 'public bio' });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.equal(patched.json.date_of_birth, PRIVATE.date_of_birth);
    assert.equal(patched.json.position_lat_lng, PRIVATE.position_lat_lng);

    const seen = await get(`/api/v2/user/${owner.id}/`, other.sub);
    assert.equal(seen.statusCode, 200);
    assert.equal(seen.json.date_of_birth, '');
    assert.equal(seen.json.position_lat_lng, '');
    assert.equal(seen.json.bio, 'public bio', 'the rest of the User object is there');
    assert.ok(!seen.body.includes(PRIVATE.date_of_birth) && !seen.body.includes('45.4642'), 'nowhere in the answer');

    // The same ETag serves both views: caches keep one copy per token.
    assert.match(String(seen.headers.Vary), /\bAuthorization\b/);
    for (const path of [`/api/v2/user/${owner.id}/`, '/api/v2/user/me/']) {
      const own = await get(path, owner.sub);
      assert.match(String(own.headers.Vary), /\bAuthorization\b/, path);
      assert.equal(own.statusCode, 200, path);
      assert.equal(own.json.date_of_birth, PRIVATE.date_of_birth, path);
      assert.equal(own.json.position_lat_lng, PRIVATE.position_lat_lng, path);
      // The third view: the caller's e-mail and role are /me/'s alone, not /{id}/'s even for the owner.
      for (const name of ['email', 'email_isvalid', 'role']) assert.equal(name in own.json, path.endsWith('/me/'), `${name} in ${path}`);
    }
    for (const name of ['email', 'email_isvalid', 'role']) assert.ok(!(name in seen.json), name);
    for (const name of ['email', 'email_isvalid', 'role']) assert.ok(!(name in patched.json), name);
  });

  it('walking sequential ids gives nobody’s private fields', async () => {
    const users = await newUser.many(6);
    for (const user of users) assert.equal((await patch(user.id, user.sub, PRIVATE)).statusCode, 200);
    const walker = await newUser();
    for (const user of users) {
      const { json } = await get(`/api/v2/user/${user.id}/`, walker.sub);
      assert.equal(json.date_of_birth, '', `user ${user.id}`);
      assert.equal(json.position_lat_lng, '', `user ${user.id}`);
    }
  });
});

describe('names nobody may take, through PATCH', () => {
  it('the reserved names, in any case, width or script, are 400 unique and change nothing', async () => {
    const user = await newUser({ bio: 'before' });
    for (const username of ['admin', 'Admin', 'support', 'SelfCommunity', 'ａｄｍｉｎ', '\u0430dmin', 'adrnin', 'hidden_users']) {
      const res = await patch(user.id, user.sub, { username, bio: 'after' });
      assert.equal(res.statusCode, 400, username);
      assert.deepEqual(res.json, UNIQUE, username);
    }
    const stored = await backend.getUser(user.id);
    assert.equal(stored?.username, user.username);
    assert.equal(stored?.bio, 'before');
  });

  it('a lookalike of a taken name is 400 unique; the holder may take a lookalike of its own', async () => {
    const holder = await newUser({ username: 'william' });
    const user = await newUser();
    for (const username of ['wi11iam', 'WILLIAM', 'Wi1liarn', 'wil1iam']) {
      const res = await patch(user.id, user.sub, { username });
      assert.equal(res.statusCode, 400, username);
      assert.deepEqual(res.json, UNIQUE, username);
    }
    const own = await patch(holder.id, holder.sub, { username: 'Wi11iam' });
    assert.equal(own.statusCode, 200, own.body);
    assert.equal(own.json.username, 'Wi11iam');
    // The name is still held: nobody else gets the original spelling either.
    assert.deepEqual((await patch(user.id, user.sub, { username: 'william' })).json, UNIQUE);
  });

  it('users from before lookalike keys keep their names and claims; nobody takes them; their renames move the claim', async () => {
    // A user and its claim as the first version wrote them: the lower-case name, no `username_claim`.
    const id = 790;
    const put = (item: Record<string, unknown>) => backend.dynamo.send(new PutCommand({ TableName: backend.config.tableName, Item: item }));
    await put({ pk: `USER#${id}`, id, sub: 'sub-legacy', username: 'Maximilian', version: 1, date_joined: '2024-01-01T00:00:00.000Z' });
    await put({ pk: 'USERNAME#maximilian', user_id: id });
    await put({ pk: 'SUB#sub-legacy', user_id: id });
    await put({ pk: 'COUNTER#user', last_id: id });
    assert.deepEqual((await checkInvariants(backend.dynamo, backend.s3, backend.config)).problems, []);

    const other = await newUser();
    for (const username of ['maximilian', 'MAXIMILIAN']) {
      assert.deepEqual((await patch(other.id, other.sub, { username })).json, UNIQUE, username);
    }
    // Its owner may write it in another case; the claim is then the new kind, and the name stays held.
    const renamed = await patch(id, 'sub-legacy', { username: 'MaxImilian' });
    assert.equal(renamed.statusCode, 200, renamed.body);
    assert.equal(await backend.getClaim('maximilian') === undefined, false);
    assert.deepEqual((await patch(other.id, other.sub, { username: 'maximilian' })).json, UNIQUE);
    assert.deepEqual((await checkInvariants(backend.dynamo, backend.s3, backend.config)).problems, []);
    // A rename away frees it.
    assert.equal((await patch(id, 'sub-legacy', { username: 'max_legacy' })).statusCode, 200);
    assert.equal((await patch(other.id, other.sub, { username: 'maximilian' })).statusCode, 200);
  });
});

describe('display text, through PATCH', () => {
  it('a real_name with a right-to-left override is 400 invalid; a bio with line breaks is stored', async () => {
    const user = await newUser();
    const refused = await patch(user.id, user.sub, { real_name: 'Ada \u202eecalevoL' });
    assert.equal(refused.statusCode, 400);
    assert.deepEqual(refused.json.errors.map((e: any) => [e.field, e.messages.map((m: any) => m.code)]), [['real_name', ['invalid']]]);
    const ok = await patch(user.id, user.sub, { bio: 'Line one\nLine two\twith a tab' });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json.bio, 'Line one\nLine two\twith a tab');
  });
});
