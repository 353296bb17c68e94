// End to end: user settings and hidden users (contract, "User settings", "Hidden users") on the
// local stack as `npm start` runs it, through the official client's own services
// (`userSettings`, `userSettingsPatch`, `showHideUser`, `checkUserHidden`, `checkUserHiddenBy`,
// `getHiddenUsers`, `getHiddenUsersId`), and every error over plain HTTP.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { signAccessToken } from '../../tools/local/keys.ts';
import { DEMO_USERS, createDocumentClient, type LocalStack } from '../../tools/local/local-stack.ts';
import { seedUsers } from '../../tools/local/seed-users.ts';
import { startTestStack, stopCheckedStack } from '../support/local-stack.ts';

// The package's ESM build uses directory imports that only bundlers resolve; Node loads its CJS build.
const require = createRequire(import.meta.url);
type Json = Record<string, any>;
const { UserService, http } = require('@selfcommunity/api-services') as {
  UserService: {
    userSettings(id: number): Promise<Json>;
    userSettingsPatch(id: number, data?: object): Promise<Json>;
    showHideUser(id: number): Promise<unknown>;
    checkUserHidden(id: number): Promise<Json>;
    checkUserHiddenBy(id: number): Promise<Json>;
    getHiddenUsers(params?: object): Promise<Json>;
    getHiddenUsersId(): Promise<number[]>;
  };
  http: { setBasePortal(url: string): void; setAuthorizeToken(token: string): void };
};

// The contract's defaults.
const DEFAULTS = {
  qa_frequency: 1,
  email_notification_not_qa: 1,
  mobile_notifications_scmty: 1,
  show_toast_notifications: 1,
  toast_notifications_emit_sound: 1,
};

let stack: LocalStack;
let stateDir: string;
const [demo, alice] = DEMO_USERS;
const carol = { id: 31, sub: 'sub-31', username: 'carol31', date_of_birth: '1990-01-02' };

const tokenFor = (sub: string) =>
  signAccessToken(stack.keys, { sub, region: stack.config.region, userPoolId: stack.config.userPoolId, clientId: stack.config.clientId });

before(async () => {
  ({ stack, stateDir } = await startTestStack('e2e-settings-hidden'));
  http.setBasePortal(stack.config.baseUrl);
  http.setAuthorizeToken(stack.demoToken!);
  await seedUsers(createDocumentClient(stack.config), stack.config.tableName, [carol], { warn: () => {} });
});

// S3 follows the table through the stream function: checked, with the invariants, before it stops.
after(() => stopCheckedStack(stack, stateDir));

async function send(method: string, path: string, init: { token?: string | null; body?: string; contentType?: string } = {}) {
  const token = init.token === undefined ? stack.demoToken : init.token;
  const res = await fetch(`${stack.config.baseUrl}/api/v2/user/${path}`, {
    method,
    headers: { ...(token !== null && { Authorization: `Bearer ${token}` }), ...(init.contentType && { 'Content-Type': init.contentType }) },
    body: init.body,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? (JSON.parse(text) as Json) : undefined };
}
const codes = (json: Json | undefined) => (json?.errors ?? []).map((e: Json) => (e.field ? `${e.field}:${e.messages[0].code}` : e.code));

describe('official client: settings', () => {
  it('reads the defaults, patches some, reads them back; the user’s ETag does not move', async () => {
    const etag = (await send('GET', `${demo.id}/`)).headers.get('etag');
    assert.deepEqual(await UserService.userSettings(demo.id), DEFAULTS);
    const patched = await UserService.userSettingsPatch(demo.id, { qa_frequency: -1, toast_notifications_emit_sound: 0 });
    assert.deepEqual(patched, { ...DEFAULTS, qa_frequency: -1, toast_notifications_emit_sound: 0 });
    assert.deepEqual(await UserService.userSettings(demo.id), patched);
    // An empty patch answers the current settings.
    assert.deepEqual(await UserService.userSettingsPatch(demo.id), patched);
    assert.equal((await send('GET', `${demo.id}/`)).headers.get('etag'), etag);
    assert.deepEqual(await UserService.userSettingsPatch(demo.id, { qa_frequency: 1, toast_notifications_emit_sound: 1 }), DEFAULTS);
  });
});

describe('official client: hidden users', () => {
  it('hides, checks both ways, lists, and shows again', async () => {
    await UserService.showHideUser(carol.id);
    assert.deepEqual(await UserService.checkUserHidden(carol.id), { is_hidden: true });
    assert.deepEqual(await UserService.checkUserHidden(alice.id), { is_hidden: false });
    assert.deepEqual(await UserService.getHiddenUsersId(), [carol.id]);
    const page = await UserService.getHiddenUsers({ limit: 10 });
    assert.equal(page.count, 1);
    assert.equal(page.next, null);
    assert.deepEqual(page.results.map((u: Json) => [u.id, u.username]), [[carol.id, carol.username]]);
    assert.equal(page.results[0].date_of_birth, '', 'never another user’s private fields');
    // carol's view: demo hides her.
    http.setAuthorizeToken(tokenFor(carol.sub));
    try {
      assert.deepEqual(await UserService.checkUserHiddenBy(demo.id), { is_hidden_by: true });
      assert.deepEqual(await UserService.getHiddenUsersId(), []);
    } finally {
      http.setAuthorizeToken(stack.demoToken!);
    }
    assert.deepEqual(await UserService.checkUserHiddenBy(carol.id), { is_hidden_by: false });
    await UserService.showHideUser(carol.id);
    assert.deepEqual(await UserService.checkUserHidden(carol.id), { is_hidden: false });
    assert.deepEqual(await UserService.getHiddenUsersId(), []);
    assert.deepEqual((await UserService.getHiddenUsers()).results, []);
  });
});

describe('errors over HTTP', () => {
  it('settings: 401, 403, 404, 400 (all at once), 415, 405; the paths without their slash too', async () => {
    assert.equal((await send('GET', `${demo.id}/settings/`, { token: null })).status, 401);
    assert.equal((await send('PATCH', `${demo.id}/settings/`, { token: null, body: '{}', contentType: 'application/json' })).status, 401);
    const forbidden = await send('GET', `${alice.id}/settings/`);
    assert.deepEqual([forbidden.status, codes(forbidden.json)], [403, ['permission_denied']]);
    const patchForbidden = await send('PATCH', `${alice.id}/settings/`, { body: '{"qa_frequency":0}', contentType: 'application/json' });
    assert.deepEqual([patchForbidden.status, codes(patchForbidden.json)], [403, ['permission_denied']]);
    for (const id of ['987654', 'abc']) {
      assert.deepEqual(codes((await send('GET', `${id}/settings/`)).json), ['not_found']);
      assert.equal((await send('PATCH', `${id}/settings/`, { body: '{}', contentType: 'application/json' })).status, 404);
    }
    const invalid = await send('PATCH', `${demo.id}/settings/`, { body: 'qa_frequency=5&sound=1', contentType: 'application/x-www-form-urlencoded' });
    assert.deepEqual([invalid.status, codes(invalid.json)], [400, ['qa_frequency:invalid_choice', 'sound:unknown_field']]);
    const parse = await send('PATCH', `${demo.id}/settings/`, { body: '{"qa_frequency":', contentType: 'application/json' });
    assert.deepEqual([parse.status, codes(parse.json)], [400, ['parse_error']]);
    const type = await send('PATCH', `${demo.id}/settings/`, { body: 'qa_frequency: 1', contentType: 'text/yaml' });
    assert.deepEqual([type.status, codes(type.json)], [415, ['unsupported_media_type']]);
    const method = await send('DELETE', `${demo.id}/settings/`);
    assert.deepEqual([method.status, method.headers.get('allow')], [405, 'GET, PATCH']);
    assert.equal((await send('GET', `${demo.id}/settings`)).status, 200);
    const form = new FormData();
    form.append('mobile_notifications_scmty', '0');
    const multipart = await fetch(`${stack.config.baseUrl}/api/v2/user/${demo.id}/settings`, {
      method: 'PATCH',
      headers: { Authorization: `Bearer ${stack.demoToken}` },
      body: form,
    });
    assert.equal(multipart.status, 200);
    assert.equal(((await multipart.json()) as Json).mobile_notifications_scmty, 0);
    assert.equal((await send('PATCH', `${demo.id}/settings/`, { body: '{"mobile_notifications_scmty":"1"}', contentType: 'application/json' })).json!.mobile_notifications_scmty, 1);
  });

  it('hidden users: 401 everywhere without a token, 404, the own id 400 invalid, 405 with Allow', async () => {
    for (const [method, path] of [
      ['POST', `${carol.id}/hide/`],
      ['GET', `${carol.id}/is_hidden/`],
      ['GET', `${carol.id}/is_hidden_by/`],
      ['GET', 'hidden_users/'],
      ['GET', 'hidden_users_id/'],
    ] as const) {
      const res = await send(method, path, { token: null });
      assert.deepEqual([res.status, codes(res.json), res.headers.get('www-authenticate')], [401, ['not_authenticated'], 'Bearer'], path);
      assert.equal((await send(method, path, { token: 'not.a.token' })).status, 401, path);
    }
    for (const id of ['987654', 'abc']) {
      for (const [method, path] of [['POST', `${id}/hide/`], ['GET', `${id}/is_hidden/`], ['GET', `${id}/is_hidden_by/`]] as const) {
        const res = await send(method, path);
        assert.deepEqual([res.status, codes(res.json)], [404, ['not_found']], path);
      }
    }
    const own = await send('POST', `${demo.id}/hide/`);
    assert.equal(own.status, 400);
    assert.deepEqual(codes(own.json), ['invalid']);
    assert.equal(own.json!.errors[0].field, undefined);
    for (const [method, path, allow] of [
      ['GET', `${carol.id}/hide/`, 'POST'],
      ['POST', `${carol.id}/is_hidden/`, 'GET'],
      ['DELETE', 'hidden_users/', 'GET'],
      ['PATCH', 'hidden_users_id/', 'GET'],
    ] as const) {
      const res = await send(method, path);
      assert.deepEqual([res.status, res.headers.get('allow')], [405, allow], `${method} ${path}`);
    }
    // Nothing was hidden by any of these.
    assert.deepEqual(await UserService.getHiddenUsersId(), []);
  });
});
