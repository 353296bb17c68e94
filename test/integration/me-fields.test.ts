// /me's private fields (contract, "Reading a user"): `email` and `email_isvalid` mirrored from the
// pool by the Post confirmation trigger (sign-up) and the Post authentication trigger (sign-in),
// `role` from the token's `cognito:groups`; through the handlers against DynamoDB Local, the
// table's stream and an EventBridge recorder. Expected answers come from the contract's text.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { createHandler as createGetHandler, type Handler as GetHandler } from '../../src/functions/get-user/handler.ts';
import { createHandler as createPatchHandler, type ApiEvent, type Handler as PatchHandler } from '../../src/functions/patch-user/handler.ts';
import { createHandler as createSignUpHandler, type PostConfirmationEvent } from '../../src/functions/post-confirmation/handler.ts';
import {
  createHandler as createSignInHandler,
  handler as signInEntry,
  type Handler as SignInHandler,
  type PostAuthenticationEvent,
} from '../../src/functions/post-authentication/handler.ts';
import { createHandler as createMediaEventsHandler, type Handler as MediaEventsHandler } from '../../src/functions/media-events/handler.ts';
import { readSignUpConfig, type SignUpConfig } from '../../src/platform/config.ts';
import { createDynamoClient } from '../../src/store/dynamo-client.ts';
import { startEventBridgeRecorder, type EventBridgeRecorder } from '../../tools/local/eventbridge-recorder.ts';
import { fixtureEvent, startTestBackend, type TestBackend } from '../support/backend.ts';
import { logLines } from '../support/log-lines.ts';
import { openTableStream, stopDrainedBackend, streamConfigFor, type TableStream } from '../support/stream.ts';
import { accessToken, makeKey } from '../../tools/support/tokens.ts';

const SIGN_UP_FIXTURE = JSON.parse(
  readFileSync(new URL('../fixtures/events/cognito-post-confirmation.json', import.meta.url), 'utf8'),
) as PostConfirmationEvent;
const SIGN_IN_FIXTURE = JSON.parse(
  readFileSync(new URL('../fixtures/events/cognito-post-authentication.json', import.meta.url), 'utf8'),
) as PostAuthenticationEvent;
const BUS = 'users-test';
const PRIVATE_KEYS = ['email', 'email_isvalid', 'role'];

const key = makeKey();
let backend: TestBackend;
let recorder: EventBridgeRecorder;
let stream: TableStream;
let mediaEvents: MediaEventsHandler;
let getHandler: GetHandler;
let patchHandler: PatchHandler;
let signUp: ReturnType<typeof createSignUpHandler>;
let signIn: SignInHandler;
let triggerConfig: SignUpConfig;

before(async () => {
  backend = await startTestBackend({ keys: [key] });
  recorder = await startEventBridgeRecorder({ busNames: [BUS] });
  stream = await openTableStream(backend);
  mediaEvents = createMediaEventsHandler(streamConfigFor(backend, recorder.endpoint, BUS));
  getHandler = createGetHandler(backend.config);
  patchHandler = createPatchHandler(backend.config);
  triggerConfig = readSignUpConfig({
    AWS_REGION: backend.config.region,
    TABLE_NAME: backend.config.tableName,
    DYNAMODB_ENDPOINT: backend.emulators.dynamodbEndpoint,
  });
  signUp = createSignUpHandler(triggerConfig);
  signIn = createSignInHandler(triggerConfig);
});
after(() => stopDrainedBackend({ stream, mediaEvents, recorder, backend }));

let people = 0;
/** A new person of the pool: their sub and the attributes Cognito sends for them. */
interface Person {
  sub: string;
  attributes: Record<string, string>;
}
function person(attributes: Record<string, string> = {}): Person {
  const n = ++people;
  const sub = `00000000-0000-4000-a000-${String(n).padStart(12, '0')}`;
  return { sub, attributes: { sub, email: `person${n}@example.org`, email_verified: 'true', preferred_username: `person_${n}`, ...attributes } };
}

function signUpEvent(who: Person): PostConfirmationEvent {
  const event = structuredClone(SIGN_UP_FIXTURE);
  event.userName = who.sub;
  event.request.userAttributes = { ...event.request.userAttributes, ...who.attributes };
  return event;
}

function signInEvent(who: Person, attributes: Record<string, string> = {}): PostAuthenticationEvent {
  const event = structuredClone(SIGN_IN_FIXTURE);
  event.userName = who.sub;
  event.request.userAttributes = { ...event.request.userAttributes, ...who.attributes, ...attributes };
  return event;
}

/** Signs the person up through the Post confirmation trigger; their user's id. */
async function signedUp(who: Person): Promise<number> {
  await signUp(signUpEvent(who));
  const { Item } = await backend.dynamo.send(
    new GetCommand({ TableName: backend.config.tableName, Key: { pk: `SUB#${who.sub}` }, ConsistentRead: true }),
  );
  assert.ok(Item, 'the sign-up wrote the sub index');
  return Item.user_id as number;
}

const token = (sub: string, groups?: string[]) => accessToken(key, { sub, ...(groups && { groups }) }, backend.pool);

function getEvent(path: string, authorization: string | undefined, headers: Record<string, string> = {}): ApiEvent {
  const event = fixtureEvent('json', { id: 0, ...(authorization !== undefined && { rawAuthorization: authorization }) });
  const id = /\/api\/v2\/user\/([^/]+)\/?$/.exec(path)![1]!;
  event.httpMethod = 'GET';
  event.path = path;
  event.pathParameters = id === 'me' ? null : { id };
  event.body = null;
  delete event.headers!['Content-Type'];
  Object.assign(event.headers!, headers);
  return event;
}

async function get(path: string, bearer?: string, headers: Record<string, string> = {}) {
  const response = await getHandler(getEvent(path, bearer === undefined ? undefined : `Bearer ${bearer}`, headers));
  return { ...response, json: response.body ? (JSON.parse(response.body) as Record<string, any>) : undefined };
}

const me = (who: Person, groups?: string[]) => get('/api/v2/user/me/', token(who.sub, groups));

describe('sign-up stores the pool’s e-mail; /me/ shows it with the role', () => {
  it('the Post confirmation trigger writes email and email_verified; /me/ answers email, email_isvalid, role', async () => {
    const who = person({ email: 'ada.lovelace@example.org', email_verified: 'true' });
    const id = await signedUp(who);
    const stored = await backend.getUser(id);
    assert.equal(stored?.email, 'ada.lovelace@example.org');
    assert.equal(stored?.email_verified, true);
    const res = await me(who);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json!.id, id);
    assert.equal(res.json!.email, 'ada.lovelace@example.org');
    assert.equal(res.json!.email_isvalid, true);
    assert.equal(res.json!.role, null, 'no group, no role');
  });

  it('an unverified address is email_isvalid false', async () => {
    const who = person({ email_verified: 'false' });
    await signedUp(who);
    const { json } = await me(who);
    assert.equal(json!.email, who.attributes.email);
    assert.equal(json!.email_isvalid, false);
  });

  it('role: admin, moderator or editor from cognito:groups, exactly as written; else null', async () => {
    const who = person();
    await signedUp(who);
    for (const [groups, role] of [
      [['admin'], 'admin'],
      [['moderator'], 'moderator'],
      [['editor'], 'editor'],
      [['beta-testers', 'editor'], 'editor'],
      [['editor', 'moderator', 'admin'], 'admin'],
      [['Admin', 'MODERATOR', 'admins', 'staff'], null],
      [[], null],
    ] as const) {
      const res = await me(who, [...groups]);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json!.role, role, JSON.stringify(groups));
    }
  });
});

describe('the private fields appear only in /me/', () => {
  it('not in /{id}/ read by the owner, another user or a visitor; not in PATCH answers', async () => {
    const owner = person();
    const other = person();
    const id = await signedUp(owner);
    await signedUp(other);
    const email = owner.attributes.email!;
    for (const [who, bearer] of [
      ['the owner', token(owner.sub, ['admin'])],
      ['another user', token(other.sub, ['admin'])],
      ['a visitor', undefined],
    ] as const) {
      const res = await get(`/api/v2/user/${id}/`, bearer);
      assert.equal(res.statusCode, 200, `${who}: ${res.body}`);
      for (const name of PRIVATE_KEYS) assert.ok(!(name in res.json!), `${who} reads ${name} in /{id}/`);
      assert.ok(!res.body.includes(email), `${who} reads the e-mail in /{id}/`);
    }
    for (const body of [{}, { bio: 'patched' }, { username: `renamed_${id}` }]) {
      const res = await patchHandler(fixtureEvent('json', { id, token: token(owner.sub, ['admin']), body: JSON.stringify(body) }));
      assert.equal(res.statusCode, 200, res.body);
      const json = JSON.parse(res.body) as Record<string, unknown>;
      for (const name of PRIVATE_KEYS) assert.ok(!(name in json), `the PATCH answer to ${JSON.stringify(body)} holds ${name}`);
      assert.ok(!res.body.includes(email));
    }
    // A private field sent in a PATCH is no writable field: refused, nothing changes.
    const refused = await patchHandler(fixtureEvent('json', { id, token: token(owner.sub), body: JSON.stringify({ email: 'evil@example.org' }) }));
    assert.equal(refused.statusCode, 400);
    assert.equal((await backend.getUser(id))?.email, email);
  });

  it('not in stream events: sign-up, a sign-in that changes the e-mail (no event at all), a PATCH', async () => {
    await stream.drain(mediaEvents);
    recorder.clear();
    const who = person({ email: 'first.address@example.org' });
    const id = await signedUp(who);
    await stream.drain(mediaEvents);
    assert.deepEqual(recorder.events().filter((e) => e.detail.id === id).map((e) => e.detailType), ['user.created']);
    // The private fields are no part of the User object, so a change of only those emits nothing.
    await signIn(signInEvent(who, { email: 'second.address@example.org', email_verified: 'false' }));
    assert.equal((await backend.getUser(id))?.email, 'second.address@example.org');
    const { records } = await stream.drain(mediaEvents);
    assert.ok(records.length >= 1, 'the refresh is a write the stream sees');
    assert.deepEqual(recorder.events().filter((e) => e.detail.id === id).map((e) => e.detailType), ['user.created']);
    await patchHandler(fixtureEvent('json', { id, token: token(who.sub), body: JSON.stringify({ bio: 'evented' }) }));
    await stream.drain(mediaEvents);
    const events = recorder.events().filter((e) => e.detail.id === id);
    assert.deepEqual(events.map((e) => e.detailType), ['user.created', 'user.updated']);
    const text = JSON.stringify(events);
    for (const secret of ['first.address', 'second.address', '"email"', '"email_isvalid"', '"email_verified"', '"role"']) {
      assert.ok(!text.includes(secret), `an event holds ${secret}`);
    }
    for (const event of events) for (const name of PRIVATE_KEYS) assert.ok(!(name in (event.detail.user as object)), name);
  });

  it('not in any log line: sign-up, sign-in, /me/, /{id}/, PATCH, the stream', async () => {
    const who = person({ email: 'hidden.in.logs@example.org' });
    const lines = await logLines(async () => {
      const id = await signedUp(who);
      await signIn(signInEvent(who, { email: 'changed.in.logs@example.org' }));
      await signIn(signInEvent(who, { email: 'changed.in.logs@example.org' }));
      await me(who, ['admin']);
      await get(`/api/v2/user/${id}/`, token(who.sub, ['admin']));
      await patchHandler(fixtureEvent('json', { id, token: token(who.sub), body: JSON.stringify({ bio: 'logged' }) }));
      await stream.drain(mediaEvents);
    });
    assert.ok(lines.length >= 6, `${lines.length} lines`);
    const text = JSON.stringify(lines);
    for (const secret of ['hidden.in.logs', 'changed.in.logs', '@example.org', who.sub, '"admin"']) {
      assert.ok(!text.includes(secret), `the log holds ${secret}`);
    }
  });
});

describe('the Post authentication trigger refreshes the mirror on a change only', () => {
  it('answers Cognito with the event it received, whatever the outcome', async () => {
    const who = person();
    await signedUp(who);
    for (const event of [signInEvent(who), signInEvent(who, { email: 'new@example.org' }), signInEvent(person())]) {
      const sent = structuredClone(event);
      assert.deepEqual(await signIn(event), sent);
    }
  });

  it('a new address or verification state: written once, version moved, /me/’s ETag changes', async () => {
    const who = person({ email: 'old@example.org', email_verified: 'false' });
    const id = await signedUp(who);
    const before = await me(who);
    const version = (await backend.getUser(id))!.version;
    await signIn(signInEvent(who, { email: 'new@example.org', email_verified: 'false' }));
    const afterEmail = await backend.getUser(id);
    assert.equal(afterEmail?.email, 'new@example.org');
    assert.equal(afterEmail?.email_verified, false);
    assert.equal(afterEmail?.version, version + 1);
    await signIn(signInEvent(who, { email: 'new@example.org', email_verified: 'true' }));
    assert.equal((await backend.getUser(id))?.email_verified, true);
    assert.equal((await backend.getUser(id))?.version, version + 2);
    const now = await me(who);
    assert.deepEqual([now.json!.email, now.json!.email_isvalid], ['new@example.org', true]);
    assert.notEqual(now.headers.ETag, before.headers.ETag);
    // The old ETag no longer answers 304: the client gets the new e-mail.
    const revalidated = await get('/api/v2/user/me/', token(who.sub), { 'If-None-Match': String(before.headers.ETag) });
    assert.equal(revalidated.statusCode, 200);
    assert.equal(revalidated.json!.email, 'new@example.org');
  });

  it('the same values: nothing written, no version, /me/ still 304 for its ETag', async () => {
    const who = person();
    const id = await signedUp(who);
    const before = await backend.getUser(id);
    const etag = String((await me(who)).headers.ETag);
    await stream.drain(mediaEvents);
    for (let i = 0; i < 3; i++) await signIn(signInEvent(who));
    assert.deepEqual(await backend.getUser(id), before);
    const { records } = await stream.drain(mediaEvents);
    assert.equal(records.filter((r) => JSON.stringify(r.dynamodb.Keys).includes(`"USER#${id}"`)).length, 0, 'no write, no stream record');
    assert.equal((await get('/api/v2/user/me/', token(who.sub), { 'If-None-Match': etag })).statusCode, 304);
  });

  it('a user from before the mirror (no email attributes) gets them at the next sign-in', async () => {
    const id = 9100;
    await backend.seed([{ id, sub: 'sub-before-mirror', username: 'before_mirror' }]);
    const who = { sub: 'sub-before-mirror', attributes: { sub: 'sub-before-mirror', email: 'early@example.org', email_verified: 'true' } };
    assert.equal((await me(who)).json!.email, '', 'no e-mail mirrored yet');
    assert.equal((await me(who)).json!.email_isvalid, false);
    await signIn(signInEvent(who));
    assert.deepEqual([(await me(who)).json!.email, (await me(who)).json!.email_isvalid], ['early@example.org', true]);
  });

  it('an unknown sub changes nothing and the sign-in goes through', async () => {
    const stranger = person();
    const items = await backend.scanTable();
    const event = signInEvent(stranger);
    assert.deepEqual(await signIn(structuredClone(event)), event);
    assert.deepEqual(await backend.scanTable(), items);
  });

  it('other trigger sources and an event without a sub are answered and change nothing', async () => {
    const who = person();
    await signedUp(who);
    const items = await backend.scanTable();
    const other = signInEvent(who, { email: 'other@example.org' });
    other.triggerSource = 'PreAuthentication_Authentication';
    assert.deepEqual(await signIn(structuredClone(other)), other);
    const noSub = signInEvent(who, { email: 'nosub@example.org' });
    delete noSub.request.userAttributes.sub;
    assert.deepEqual(await signIn(structuredClone(noSub)), noSub);
    assert.deepEqual(await backend.scanTable(), items);
  });

  it('DynamoDB unreachable: the sign-in still goes through, and the failure is logged without the e-mail', async () => {
    const who = person({ email: 'unreachable@example.org' });
    await signedUp(who);
    const down = createSignInHandler(triggerConfig, createDynamoClient({ ...triggerConfig, dynamodbEndpoint: 'http://127.0.0.1:9', awsMaxAttempts: 1 }));
    const event = signInEvent(who, { email: 'unreachable.new@example.org' });
    let answer: unknown;
    const lines = await logLines(async () => {
      answer = await down(structuredClone(event));
    });
    assert.deepEqual(answer, event);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.level, 'error');
    assert.ok(!JSON.stringify(lines).includes('unreachable'), JSON.stringify(lines));
  });

  it('a configuration that fails is logged and the sign-in still goes through (the Lambda entry)', async () => {
    const saved = process.env.TABLE_NAME;
    delete process.env.TABLE_NAME;
    try {
      const event = signInEvent(person());
      let answer: unknown;
      const lines = await logLines(async () => {
        answer = await signInEntry(structuredClone(event));
      });
      assert.deepEqual(answer, event);
      assert.equal(lines[0]!.level, 'error');
    } finally {
      if (saved !== undefined) process.env.TABLE_NAME = saved;
    }
  });
});
