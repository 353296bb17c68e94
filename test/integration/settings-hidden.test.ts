// User settings and hidden users through the real handlers against DynamoDB Local (contract,
// "User settings", "Hidden users"): every rule and error, the settings beside the user without
// moving its ETag or emitting an event, the hidden ids in items of their own.
import assert from 'node:assert/strict';
import { DeleteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createHandler as createGetHandler } from '../../src/functions/get-user/handler.ts';
import { createHandler as createPatchHandler } from '../../src/functions/patch-user/handler.ts';
import { createHandler as createMediaEventsHandler, type Handler as MediaEventsHandler } from '../../src/functions/media-events/handler.ts';
import { createDynamoClient } from '../../src/store/dynamo-client.ts';
import type { ApiHandler } from '../../src/http/frame.ts';
import { startEventBridgeRecorder, type EventBridgeRecorder } from '../../tools/local/eventbridge-recorder.ts';
import { fixtureEvent, multipartBody, startTestBackend, type TestBackend, userSeeder } from '../support/backend.ts';
import { USER_FIELDS } from '../support/contract.ts';
import { profileEvent, type ProfileRequest } from '../support/profile-requests.ts';
import { openTableStream, stopDrainedBackend, streamConfigFor, type TableStream } from '../support/stream.ts';
import { accessToken, makeKey } from '../../tools/support/tokens.ts';

// The contract's table of settings and their defaults.
const DEFAULTS = {
  qa_frequency: 1,
  email_notification_not_qa: 1,
  mobile_notifications_scmty: 1,
  show_toast_notifications: 1,
  toast_notifications_emit_sound: 1,
};

const key = makeKey();
let backend: TestBackend;
let getUser: ApiHandler;
let patchUser: ApiHandler;
let recorder: EventBridgeRecorder;
let stream: TableStream;
let mediaEvents: MediaEventsHandler;

before(async () => {
  backend = await startTestBackend({ keys: [key] });
  getUser = createGetHandler(backend.config);
  patchUser = createPatchHandler(backend.config);
  recorder = await startEventBridgeRecorder({ busNames: ['users-test'] });
  stream = await openTableStream(backend);
  mediaEvents = createMediaEventsHandler(streamConfigFor(backend, recorder.endpoint));
});
beforeEach(async () => {
  await stream.drain(mediaEvents);
  recorder.clear();
});
after(() => stopDrainedBackend({ stream, mediaEvents, recorder, backend }));

const newUser = userSeeder(() => backend, 'settler', 9100, { date_of_birth: '1990-04-01', position_lat_lng: '45.46,9.19' });
type TestUser = { id: number; sub: string };
const tokenOf = (user: TestUser) => accessToken(key, { sub: user.sub }, backend.pool);

async function call(handler: ApiHandler, request: ProfileRequest) {
  const response = await handler(profileEvent(request));
  return { ...response, json: response.body ? (JSON.parse(response.body) as any) : undefined };
}
const get = (user: TestUser | undefined, path: string, query?: Record<string, string>) =>
  call(getUser, { path, method: 'GET', ...(user && { token: tokenOf(user) }), ...(query && { query }) });
const patchSettings = (user: TestUser, id: number | string, body: string | undefined, contentType: string | undefined = 'application/json', isBase64Encoded = false) =>
  call(patchUser, { path: `${id}/settings/`, method: 'PATCH', token: tokenOf(user), body, contentType, isBase64Encoded });
const hide = (user: TestUser | undefined, id: number | string, handler = patchUser) =>
  call(handler, { path: `${id}/hide/`, method: 'POST', ...(user && { token: tokenOf(user) }) });

const NOT_FOUND = { errors: [{ code: 'not_found', message: 'Not found.' }] };
const DENIED = { errors: [{ code: 'permission_denied', message: 'You do not have permission to perform this action.' }] };

describe('GET /api/v2/user/{id}/settings/', () => {
  it('answers the defaults of a user who never set any', async () => {
    const user = await newUser();
    const res = await get(user, `${user.id}/settings/`);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json, DEFAULTS);
  });

  it('needs a token; another user’s settings are a 403, an unknown or non-integer id a 404', async () => {
    const [user, other] = [await newUser(), await newUser()];
    const anonymous = await get(undefined, `${user.id}/settings/`);
    assert.equal(anonymous.statusCode, 401);
    assert.equal(anonymous.json.errors[0].code, 'not_authenticated');
    const bad = await call(getUser, { path: `${user.id}/settings/`, method: 'GET', rawAuthorization: 'Bearer nope' });
    assert.equal(bad.statusCode, 401);
    assert.deepEqual((await get(other, `${user.id}/settings/`)).json, DENIED);
    assert.equal((await get(other, `${user.id}/settings/`)).statusCode, 403);
    for (const id of ['999999', 'abc', '1.5', '-1']) {
      const res = await get(user, `${id}/settings/`);
      assert.equal(res.statusCode, 404, id);
      assert.deepEqual(res.json, NOT_FOUND);
    }
    // Existence before ownership: an unknown id is a 404 to anyone.
    assert.equal((await get(other, '999998/settings')).statusCode, 404);
  });

  it('answers 405 with Allow to another method', async () => {
    const user = await newUser();
    const res = await call(getUser, { path: `${user.id}/settings/`, method: 'DELETE', token: tokenOf(user) });
    assert.equal(res.statusCode, 405);
    assert.equal(res.headers.Allow, 'GET, PATCH');
  });
});

describe('PATCH /api/v2/user/{id}/settings/', () => {
  it('is partial, answers every setting, and a later GET reads the same', async () => {
    const user = await newUser();
    const res = await patchSettings(user, user.id, JSON.stringify({ qa_frequency: -1, show_toast_notifications: 0 }));
    assert.equal(res.statusCode, 200, res.body);
    const expected = { ...DEFAULTS, qa_frequency: -1, show_toast_notifications: 0 };
    assert.deepEqual(res.json, expected);
    assert.deepEqual((await get(user, `${user.id}/settings/`)).json, expected);
    // A second patch keeps what the first set.
    const second = await patchSettings(user, user.id, JSON.stringify({ qa_frequency: 0 }));
    assert.deepEqual(second.json, { ...expected, qa_frequency: 0 });
  });

  it('takes numeric strings: JSON, urlencoded and multipart bodies, charset allowed', async () => {
    const user = await newUser();
    const json = await patchSettings(user, user.id, JSON.stringify({ email_notification_not_qa: '0' }), 'application/json; charset=utf-8');
    assert.equal(json.statusCode, 200, json.body);
    assert.equal(json.json.email_notification_not_qa, 0);
    const form = await patchSettings(user, user.id, 'qa_frequency=-1&mobile_notifications_scmty=0', 'application/x-www-form-urlencoded');
    assert.equal(form.statusCode, 200, form.body);
    assert.deepEqual(form.json, { ...DEFAULTS, email_notification_not_qa: 0, qa_frequency: -1, mobile_notifications_scmty: 0 });
    const multipart = multipartBody({ toast_notifications_emit_sound: '0', qa_frequency: '1' });
    const parts = await patchSettings(user, user.id, multipart.body, multipart.contentType, multipart.isBase64Encoded);
    assert.equal(parts.statusCode, 200, parts.body);
    assert.deepEqual(parts.json, { ...DEFAULTS, email_notification_not_qa: 0, mobile_notifications_scmty: 0, toast_notifications_emit_sound: 0 });
  });

  it('refuses another value with invalid_choice and an unknown field with unknown_field, all at once, and stores nothing', async () => {
    const user = await newUser();
    const body = `{"qa_frequency": 2, "email_notification_not_qa": "1.0", "mobile_notifications_scmty": true,
      "show_toast_notifications": null, "toast_notifications_emit_sound": "01", "theme": "dark"}`;
    const res = await patchSettings(user, user.id, body);
    assert.equal(res.statusCode, 400, res.body);
    const codes = Object.fromEntries(res.json.errors.map((e: any) => [e.field, e.messages.map((m: any) => m.code)]));
    assert.deepEqual(codes, {
      qa_frequency: ['invalid_choice'],
      email_notification_not_qa: ['invalid_choice'],
      mobile_notifications_scmty: ['invalid_choice'],
      show_toast_notifications: ['invalid_choice'],
      toast_notifications_emit_sound: ['invalid_choice'],
      theme: ['unknown_field'],
    });
    for (const entry of res.json.errors) for (const message of entry.messages) assert.ok(message.message.length > 0);
    // One bad field among good ones: nothing is written.
    const mixed = await patchSettings(user, user.id, JSON.stringify({ qa_frequency: 0, show_toast_notifications: 3 }));
    assert.equal(mixed.statusCode, 400);
    assert.deepEqual((await get(user, `${user.id}/settings/`)).json, DEFAULTS);
    const stored = (await backend.getUser(user.id)) as unknown as Record<string, unknown>;
    for (const name of Object.keys(DEFAULTS)) assert.equal(stored[name], undefined, name);
  });

  it('refuses a file part, a field sent twice, malformed bodies and other content types', async () => {
    const user = await newUser();
    const file = multipartBody({ qa_frequency: { bytes: Buffer.from('1'), filename: 'one.txt', type: 'text/plain' } });
    const fileRes = await patchSettings(user, user.id, file.body, file.contentType, file.isBase64Encoded);
    assert.equal(fileRes.statusCode, 400, fileRes.body);
    assert.equal(fileRes.json.errors[0].messages[0].code, 'invalid_choice');
    const twice = await patchSettings(user, user.id, 'qa_frequency=1&qa_frequency=0', 'application/x-www-form-urlencoded');
    assert.equal(twice.statusCode, 400);
    assert.equal(twice.json.errors[0].messages[0].code, 'duplicate_field');
    const broken = await patchSettings(user, user.id, '{"qa_frequency": ');
    assert.equal(broken.statusCode, 400);
    assert.equal(broken.json.errors[0].code, 'parse_error');
    const array = await patchSettings(user, user.id, '[1]');
    assert.equal(array.json.errors[0].code, 'parse_error');
    const xml = await patchSettings(user, user.id, '<qa_frequency>1</qa_frequency>', 'application/xml');
    assert.equal(xml.statusCode, 415);
    assert.equal(xml.json.errors[0].code, 'unsupported_media_type');
    assert.deepEqual((await get(user, `${user.id}/settings/`)).json, DEFAULTS);
  });

  it('answers the current settings to an empty body, with or without a content type', async () => {
    const user = await newUser();
    await patchSettings(user, user.id, JSON.stringify({ qa_frequency: 0 }));
    for (const [body, type] of [['', 'application/json'], [undefined, undefined], ['{}', 'application/json'], ['', 'application/x-www-form-urlencoded']] as const) {
      const res = await patchSettings(user, user.id, body, type);
      assert.equal(res.statusCode, 200, `${body} ${type}: ${res.body}`);
      assert.deepEqual(res.json, { ...DEFAULTS, qa_frequency: 0 });
    }
  });

  it('needs a token; another user’s settings are a 403 and unchanged; an unknown id a 404, to an empty body too', async () => {
    const [user, other] = [await newUser(), await newUser()];
    const anonymous = await call(patchUser, { path: `${user.id}/settings/`, method: 'PATCH', body: '{"qa_frequency":0}', contentType: 'application/json' });
    assert.equal(anonymous.statusCode, 401);
    for (const body of [JSON.stringify({ qa_frequency: 0 }), '']) {
      const denied = await patchSettings(other, user.id, body);
      assert.equal(denied.statusCode, 403, body);
      assert.deepEqual(denied.json, DENIED);
      const unknown = await patchSettings(other, 999997, body);
      assert.equal(unknown.statusCode, 404, body);
      assert.deepEqual(unknown.json, NOT_FOUND);
    }
    assert.equal((await patchSettings(user, 'abc', JSON.stringify({ qa_frequency: 0 }))).statusCode, 404);
    assert.deepEqual((await get(user, `${user.id}/settings/`)).json, DEFAULTS);
  });

  it('never moves the user’s ETag, never shows in the User object, and emits no user.updated', async () => {
    const user = await newUser();
    await stream.drain(mediaEvents);
    recorder.clear();
    const before = await call(getUser, { path: `${user.id}/`, method: 'GET', token: tokenOf(user) });
    const versionBefore = (await backend.getUser(user.id))!.version;
    const res = await patchSettings(user, user.id, JSON.stringify({ qa_frequency: -1, toast_notifications_emit_sound: 0 }));
    assert.equal(res.statusCode, 200);
    assert.equal((await backend.getUser(user.id))!.version, versionBefore);
    const afterRead = await call(getUser, { path: `${user.id}/`, method: 'GET', token: tokenOf(user) });
    assert.equal(afterRead.headers.ETag, before.headers.ETag);
    assert.deepEqual(afterRead.json, before.json);
    assert.deepEqual(Object.keys(afterRead.json).sort(), [...USER_FIELDS].sort());
    // A client holding the old ETag may still write the user.
    const conditional = await patchUser({
      ...fixtureEvent('json', { id: user.id, token: tokenOf(user), body: JSON.stringify({ bio: 'after settings' }) }),
      headers: { ...fixtureEvent('json', { id: user.id, token: tokenOf(user) }).headers, 'If-Match': before.headers.ETag! },
    });
    assert.equal(conditional.statusCode, 200, conditional.body);
    // The stream saw both writes; only the user's change is an event.
    const { records } = await stream.drain(mediaEvents);
    assert.ok(records.length >= 2, `${records.length} stream records`);
    const events = recorder.events().filter((e) => (e.detail as { id: number }).id === user.id);
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.deepEqual((events[0]!.detail as { changed: string[] }).changed, ['bio']);
    assert.equal(JSON.stringify(events[0]!.detail).includes('qa_frequency'), false);
  });

  it('a settings-only write is seen by the stream and emits nothing', async () => {
    const user = await newUser();
    await stream.drain(mediaEvents);
    recorder.clear();
    assert.equal((await patchSettings(user, user.id, JSON.stringify({ mobile_notifications_scmty: 0 }))).statusCode, 200);
    const { records } = await stream.drain(mediaEvents);
    assert.equal(records.length, 1, 'the write reached the stream');
    assert.deepEqual(recorder.events(), []);
  });
});

describe('hidden users', () => {
  it('POST /{id}/hide/ toggles: 204, is_hidden, is_hidden_by, the lists, and back', async () => {
    const [me, them] = [await newUser(), await newUser()];
    const first = await hide(me, them.id);
    assert.equal(first.statusCode, 204, first.body);
    assert.equal(first.body, '');
    assert.deepEqual((await get(me, `${them.id}/is_hidden/`)).json, { is_hidden: true });
    assert.deepEqual((await get(them, `${me.id}/is_hidden_by/`)).json, { is_hidden_by: true });
    // The other direction: they hide no one.
    assert.deepEqual((await get(them, `${me.id}/is_hidden/`)).json, { is_hidden: false });
    assert.deepEqual((await get(me, `${them.id}/is_hidden_by/`)).json, { is_hidden_by: false });
    assert.deepEqual((await get(me, 'hidden_users_id/')).json, [them.id]);
    assert.deepEqual((await get(them, 'hidden_users_id/')).json, []);
    const list = await get(me, 'hidden_users/');
    assert.equal(list.statusCode, 200);
    assert.equal(list.json.count, 1);
    assert.equal(list.json.next, null);
    assert.equal(list.json.previous, null);
    assert.equal(list.json.results.length, 1);
    const shown = list.json.results[0];
    assert.deepEqual(Object.keys(shown).sort(), [...USER_FIELDS].sort());
    assert.equal(shown.id, them.id);
    // Never another user's private fields.
    assert.equal(shown.date_of_birth, '');
    assert.equal(shown.position_lat_lng, '');
    // Stored apart from the user item.
    const { Item } = await backend.dynamo.send(new GetCommand({ TableName: backend.config.tableName, Key: { pk: `HIDDEN#${me.id}` }, ConsistentRead: true }));
    assert.deepEqual([...(Item!.hidden as Set<number>)], [them.id]);
    assert.equal(((await backend.getUser(me.id)) as unknown as Record<string, unknown>).hidden, undefined);

    const again = await hide(me, them.id);
    assert.equal(again.statusCode, 204);
    assert.deepEqual((await get(me, `${them.id}/is_hidden/`)).json, { is_hidden: false });
    assert.deepEqual((await get(them, `${me.id}/is_hidden_by/`)).json, { is_hidden_by: false });
    assert.deepEqual((await get(me, 'hidden_users_id/')).json, []);
    assert.deepEqual((await get(me, 'hidden_users/')).json.results, []);
  });

  it('hiding moves no one’s ETag and emits no event', async () => {
    const [me, them] = [await newUser(), await newUser()];
    const versions = [(await backend.getUser(me.id))!.version, (await backend.getUser(them.id))!.version];
    await stream.drain(mediaEvents);
    recorder.clear();
    assert.equal((await hide(me, them.id)).statusCode, 204);
    assert.deepEqual([(await backend.getUser(me.id))!.version, (await backend.getUser(them.id))!.version], versions);
    await stream.drain(mediaEvents);
    assert.deepEqual(recorder.events(), []);
  });

  it('an unknown or non-integer id is a 404; the caller’s own id a 400 invalid that is not about a field', async () => {
    const me = await newUser();
    for (const id of ['999996', 'abc', '0x10']) {
      for (const res of [await hide(me, id), await get(me, `${id}/is_hidden/`), await get(me, `${id}/is_hidden_by/`)]) {
        assert.equal(res.statusCode, 404, id);
        assert.deepEqual(res.json, NOT_FOUND);
      }
    }
    const own = await hide(me, me.id);
    assert.equal(own.statusCode, 400);
    assert.equal(own.json.errors.length, 1);
    assert.equal(own.json.errors[0].code, 'invalid');
    assert.equal(own.json.errors[0].field, undefined);
    assert.ok(own.json.errors[0].message.length > 0);
    assert.deepEqual((await get(me, 'hidden_users_id/')).json, []);
  });

  it('every route needs a token, and answers 405 with Allow to another method', async () => {
    const [me, them] = [await newUser(), await newUser()];
    for (const res of [
      await hide(undefined, them.id),
      await get(undefined, `${them.id}/is_hidden/`),
      await get(undefined, `${them.id}/is_hidden_by/`),
      await get(undefined, 'hidden_users/'),
      await get(undefined, 'hidden_users_id/'),
    ]) {
      assert.equal(res.statusCode, 401);
      assert.equal(res.headers['WWW-Authenticate'], 'Bearer');
    }
    const getHide = await call(getUser, { path: `${them.id}/hide/`, method: 'GET', token: tokenOf(me) });
    assert.equal(getHide.statusCode, 405);
    assert.equal(getHide.headers.Allow, 'POST');
    const postList = await call(patchUser, { path: 'hidden_users/', method: 'POST', token: tokenOf(me) });
    assert.equal(postList.statusCode, 405);
    assert.equal(postList.headers.Allow, 'GET');
  });

  it('refuses one more than MAX_HIDDEN_USERS with a 400 invalid; showing one makes room', async () => {
    const limited = createPatchHandler({ ...backend.config, maxHiddenUsers: 3 });
    const me = await newUser();
    const others = await newUser.many(4);
    for (const other of others.slice(0, 3)) assert.equal((await hide(me, other.id, limited)).statusCode, 204);
    const over = await hide(me, others[3]!.id, limited);
    assert.equal(over.statusCode, 400, over.body);
    assert.equal(over.json.errors[0].code, 'invalid');
    assert.equal(over.json.errors[0].field, undefined);
    assert.deepEqual((await get(me, 'hidden_users_id/')).json, others.slice(0, 3).map((u) => u.id));
    // Showing a hidden user is always allowed at the limit, and frees a place.
    assert.equal((await hide(me, others[0]!.id, limited)).statusCode, 204);
    assert.equal((await hide(me, others[3]!.id, limited)).statusCode, 204);
    assert.deepEqual((await get(me, 'hidden_users_id/')).json, [others[1]!.id, others[2]!.id, others[3]!.id]);
  });

  it('lists hidden users by id ascending, a page at a time, with absolute links', async () => {
    const me = await newUser();
    const others = await newUser.many(5);
    // Hidden in another order than their ids.
    for (const other of [...others].reverse()) assert.equal((await hide(me, other.id)).statusCode, 204);
    const ids = others.map((u) => u.id);
    assert.deepEqual((await get(me, 'hidden_users_id/')).json, ids);
    const middle = await get(me, 'hidden_users/', { limit: '2', offset: '2' });
    assert.equal(middle.statusCode, 200);
    assert.equal(middle.json.count, 5);
    assert.deepEqual(middle.json.results.map((u: any) => u.id), ids.slice(2, 4));
    const next = new URL(middle.json.next);
    assert.equal(next.pathname, '/prod/api/v2/user/hidden_users/');
    assert.equal(next.searchParams.get('limit'), '2');
    assert.equal(next.searchParams.get('offset'), '4');
    const previous = new URL(middle.json.previous);
    assert.equal(previous.searchParams.get('offset'), null);
    const last = await get(me, 'hidden_users/', { limit: '2', offset: '4' });
    assert.deepEqual(last.json.results.map((u: any) => u.id), ids.slice(4));
    assert.equal(last.json.next, null);
    // Invalid values fall back to the defaults.
    const fallback = await get(me, 'hidden_users/', { limit: 'x', offset: '-3' });
    assert.deepEqual(fallback.json.results.map((u: any) => u.id), ids);
  });

  it('leaves out a hidden user that no longer exists', async () => {
    const me = await newUser();
    const [gone, stays] = await newUser.many(2);
    for (const other of [gone!, stays!]) assert.equal((await hide(me, other.id)).statusCode, 204);
    await backend.dynamo.send(new DeleteCommand({ TableName: backend.config.tableName, Key: { pk: `USER#${gone!.id}` } }));
    const list = await get(me, 'hidden_users/');
    assert.equal(list.statusCode, 200);
    assert.deepEqual(list.json.results.map((u: any) => u.id), [stays!.id]);
    // Put the user back for the invariants check at the end (its claim and sub index remain).
    await backend.seed([{ id: gone!.id, sub: gone!.sub, username: (gone as { username: string }).username }]);
  });

  it('asks again for the keys a batch read leaves unprocessed', async () => {
    const me = await newUser();
    const others = await newUser.many(4);
    for (const other of others) assert.equal((await hide(me, other.id)).statusCode, 204);
    const dynamo = createDynamoClient(backend.config);
    let batches = 0;
    // DynamoDB answers only the first key of each of the first two batches, the rest unprocessed.
    dynamo.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'BatchGetItemCommand' || ++batches > 2) return next(args);
        const input = args.input as { RequestItems: Record<string, { Keys: unknown[] }> };
        const [table, request] = Object.entries(input.RequestItems)[0]!;
        const rest = request.Keys.slice(1);
        const result = await next({ ...args, input: { ...input, RequestItems: { [table]: { ...request, Keys: request.Keys.slice(0, 1) } } } });
        (result.output as { UnprocessedKeys?: unknown }).UnprocessedKeys = rest.length ? { [table]: { Keys: rest } } : {};
        return result;
      },
      { step: 'initialize', name: 'unprocessedKeys' },
    );
    const res = await call(createGetHandler(backend.config, dynamo), { path: 'hidden_users/', method: 'GET', token: tokenOf(me) });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(batches, 3);
    assert.deepEqual(res.json.results.map((u: any) => u.id), others.map((u) => u.id));
    dynamo.destroy();
  });
});
