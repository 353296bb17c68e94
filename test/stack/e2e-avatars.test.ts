// End to end: the avatar gallery on the local stack as `npm start` runs it (serverless-offline with
// the esbuild bundle, DynamoDB Local, s3rver, the stream poller), driven by the official client's
// own services (UserService.getUserAvatars, addUserAvatar, setUserPrimaryAvatar, removeUserAvatar)
// and by raw HTTP for each error of the contract's "Avatars".
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { DEMO_USERS, type LocalStack } from '../../tools/local/local-stack.ts';
import { pngImage } from '../../tools/support/images.ts';
import { startTestStack, stopCheckedStack } from '../support/local-stack.ts';
import { catchUpStream } from '../support/stream.ts';

// The package's ESM build uses directory imports that only bundlers resolve; Node loads its CJS build.
const require = createRequire(import.meta.url);
type Json = Record<string, any>;
const { UserService, http, formatHttpErrorCode } = require('@selfcommunity/api-services') as {
  UserService: {
    getUserAvatars(config?: object): Promise<Json>;
    addUserAvatar(data: FormData | object, config?: object): Promise<Json>;
    setUserPrimaryAvatar(avatarId: number, config?: object): Promise<unknown>;
    removeUserAvatar(avatarId: number, config?: object): Promise<unknown>;
    getCurrentUser(): Promise<Json>;
  };
  http: { setBasePortal(url: string): void; setAuthorizeToken(token: string): void };
  formatHttpErrorCode(error: unknown): unknown;
};

let stack: LocalStack;
let stateDir: string;
const [demo] = DEMO_USERS;
const AVATAR_PATH = '/api/v2/user/avatar/';

before(async () => {
  ({ stack, stateDir } = await startTestStack('e2e-avatars'));
  http.setBasePortal(stack.config.baseUrl);
  http.setAuthorizeToken(stack.demoToken!);
});

// S3 follows the table through the stream function: checked, with the invariants, before it stops.
after(() => stopCheckedStack(stack, stateDir));

/** Every avatar of the gallery, following `next` as a client pages through it. */
async function allAvatars(limit: number): Promise<Json[]> {
  const results: Json[] = [];
  let page = await UserService.getUserAvatars({ params: { limit } });
  results.push(...page.results);
  while (page.next) {
    page = await UserService.getUserAvatars({ url: page.next, params: {} });
    results.push(...page.results);
  }
  assert.equal(results.length, page.count);
  return results;
}

const raw = (method: string, init: { body?: string; contentType?: string; query?: string; token?: string | null } = {}) =>
  fetch(`${stack.config.baseUrl}${AVATAR_PATH}${init.query ?? ''}`, {
    method,
    headers: {
      ...(init.token !== null && { Authorization: `Bearer ${init.token ?? stack.demoToken}` }),
      ...(init.contentType && { 'Content-Type': init.contentType }),
    },
    body: init.body,
  });

describe('the avatar gallery through the official client', () => {
  const added: Json[] = [];

  it('addUserAvatar with FormData: 201, the first is primary and becomes the user’s avatar, served normalized', async () => {
    const form = new FormData();
    const photo = await sharp({ create: { width: 900, height: 600, channels: 3, background: '#3366aa' } }).jpeg().toBuffer();
    form.append('avatar', new Blob([photo], { type: 'image/jpeg' }), 'me.jpg');
    // As the client's docs say for files: its default Content-Type for POST is JSON, in which
    // axios would turn the form into JSON text.
    const avatar = await UserService.addUserAvatar(form, { headers: { 'Content-Type': 'multipart/form-data' } });
    assert.deepEqual(Object.keys(avatar).sort(), ['avatar', 'date_uploaded', 'id', 'primary', 'user']);
    assert.equal(avatar.primary, true);
    assert.equal(avatar.user, demo.id);
    added.push(avatar);
    assert.equal((await UserService.getCurrentUser()).avatar, avatar.avatar);
    const got = await fetch(avatar.avatar);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'image/jpeg');
    const meta = await sharp(Buffer.from(await got.arrayBuffer())).metadata();
    assert.deepEqual([meta.width, meta.height], [400, 400], 'center-cropped to a square of 400 px');
  });

  it('addUserAvatar with base64 (JSON), twice: 201, not primary', async () => {
    for (let i = 0; i < 2; i++) {
      const avatar = await UserService.addUserAvatar({ avatar_base64: `data:image/png;base64,${pngImage({ width: 6, height: 6 }).toString('base64')}` });
      assert.equal(avatar.primary, false);
      added.push(avatar);
    }
  });

  it('getUserAvatars following next: every avatar once, newest first', async () => {
    const avatars = await allAvatars(2);
    assert.deepEqual(avatars.map((a) => a.id), [...added].reverse().map((a) => a.id));
    assert.deepEqual(avatars.map((a) => a.primary), [false, false, true]);
  });

  it('setUserPrimaryAvatar: that avatar becomes primary and the user’s avatar', async () => {
    await UserService.setUserPrimaryAvatar(added[1]!.id);
    assert.equal((await UserService.getCurrentUser()).avatar, added[1]!.avatar);
    assert.deepEqual((await allAvatars(10)).filter((a) => a.primary).map((a) => a.id), [added[1]!.id]);
  });

  it('removeUserAvatar of a non-primary avatar: it leaves the gallery and its object is deleted by the stream', async () => {
    await UserService.removeUserAvatar(added[2]!.id);
    assert.deepEqual((await allAvatars(10)).map((a) => a.id), [added[1]!.id, added[0]!.id]);
    await catchUpStream({ ...stack.config, mediaBucket: stack.config.bucket });
    assert.equal((await fetch(added[2]!.avatar)).status, 404);
    assert.equal((await fetch(added[0]!.avatar)).status, 200);
  });

  it('removeUserAvatar of the primary: the user’s avatar is null, no other avatar primary', async () => {
    await UserService.removeUserAvatar(added[1]!.id);
    assert.equal((await UserService.getCurrentUser()).avatar, null);
    assert.deepEqual((await allAvatars(10)).map((a) => [a.id, a.primary]), [[added[0]!.id, false]]);
  });

  it('an id not in the gallery: the client sees the 404', async () => {
    const error = await UserService.setUserPrimaryAvatar(987654).then(
      () => assert.fail('an unknown avatar must be refused'),
      (e: any) => e,
    );
    assert.equal(error.response?.status, 404);
    assert.ok(formatHttpErrorCode(error) !== undefined);
  });
});

describe('the avatar gallery over raw HTTP: each error', () => {
  const json = (value: unknown) => ({ body: JSON.stringify(value), contentType: 'application/json' });
  const fieldCodes = async (res: Response) => ((await res.json()) as Json).errors.map((e: Json) => [e.field, e.messages.map((m: Json) => m.code)]);

  it('POST: neither image, both, a bad image, an unknown field', async () => {
    const neither = await raw('POST', json({}));
    assert.equal(neither.status, 400);
    assert.deepEqual(await fieldCodes(neither), [['avatar', ['required']]]);
    const form = new FormData();
    form.append('avatar', new Blob([pngImage()], { type: 'image/png' }), 'a.png');
    form.append('avatar_base64', `image/png;base64,${pngImage().toString('base64')}`);
    const both = await fetch(`${stack.config.baseUrl}${AVATAR_PATH}`, { method: 'POST', headers: { Authorization: `Bearer ${stack.demoToken}` }, body: form });
    assert.equal(both.status, 400);
    assert.deepEqual(await fieldCodes(both), [['avatar', ['invalid']]]);
    const svg = await raw('POST', json({ avatar_base64: `data:image/svg+xml;base64,${Buffer.from('<svg/>').toString('base64')}` }));
    assert.deepEqual(await fieldCodes(svg), [['avatar_base64', ['invalid_image']]]);
    const unknown = await raw('POST', json({ avatar_base64: `image/png;base64,${pngImage().toString('base64')}`, user: 1 }));
    assert.deepEqual(await fieldCodes(unknown), [['user', ['unknown_field']]]);
  });

  it('PATCH: missing avatar_id, not an integer, unknown id', async () => {
    assert.deepEqual(await fieldCodes(await raw('PATCH', json({}))), [['avatar_id', ['required']]]);
    assert.deepEqual(await fieldCodes(await raw('PATCH', json({ avatar_id: 'one' }))), [['avatar_id', ['invalid']]]);
    const unknown = await raw('PATCH', { body: 'avatar_id=987654', contentType: 'application/x-www-form-urlencoded' });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as Json).errors[0].code, 'not_found');
  });

  it('DELETE: an unknown id in the query string is a 404 and nothing changes; missing is required', async () => {
    const before = await allAvatars(100);
    const unknown = await raw('DELETE', { query: '?avatar_id=987654' });
    assert.equal(unknown.status, 404);
    assert.deepEqual(await allAvatars(100), before);
    assert.deepEqual(await fieldCodes(await raw('DELETE')), [['avatar_id', ['required']]]);
  });

  it('no token: 401 on every method; a method the path does not serve: 405 with Allow', async () => {
    for (const method of ['GET', 'POST', 'PATCH', 'DELETE']) {
      const res = await raw(method, { token: null });
      assert.equal(res.status, 401, method);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
    }
    const put = await raw('PUT');
    assert.equal(put.status, 405);
    assert.equal(put.headers.get('allow'), 'GET, POST, PATCH, DELETE');
  });

  it('GET: limit and offset, and invalid values fall back to the defaults', async () => {
    const res = await raw('GET', { query: '?limit=abc&offset=-1' });
    assert.equal(res.status, 200);
    const page = (await res.json()) as Json;
    assert.equal(page.previous, null);
    assert.equal(page.results.length, Math.min(20, page.count));
  });
});
