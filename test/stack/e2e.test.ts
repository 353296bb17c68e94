// End to end: the local stack as `npm start` runs it (serverless-offline with the esbuild bundle,
// DynamoDB Local, s3rver), driven over HTTP by plain requests and by the official JavaScript client.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { checkInvariants } from '../../tools/cli/check-invariants.ts';
import { signAccessToken } from '../../tools/local/keys.ts';
import {
  DEMO_USERS,
  createDocumentClient,
  createS3Client,
  type LocalStack,
} from '../../tools/local/local-stack.ts';
import { seedUsers } from '../../tools/local/seed-users.ts';
import { pngImage } from '../../tools/support/images.ts';
import { npmRunAgainst, startTestStack, stopCheckedStack } from '../support/local-stack.ts';

// The package's ESM build uses directory imports that only bundlers resolve; Node loads its CJS build.
const require = createRequire(import.meta.url);
// Its typings want whole SCUserType objects; at run time it sends any object or FormData as given.
type ApiUser = Record<string, any>;
const { UserService, http, formatHttpErrorCode } = require('@selfcommunity/api-services') as {
  UserService: {
    userPatch(id: number, data?: object): Promise<ApiUser>;
    getCurrentUser(): Promise<ApiUser>;
    getSpecificUser(id: number): Promise<ApiUser>;
  };
  http: { setBasePortal(url: string): void; setAuthorizeToken(token: string): void };
  formatHttpErrorCode(error: unknown): unknown;
};
const json = async (res: Response): Promise<ApiUser> => (await res.json()) as ApiUser;

let stack: LocalStack;
let stateDir: string;
const [demo, alice] = DEMO_USERS;

const tokenFor = (sub: string) =>
  signAccessToken(stack.keys, {
    sub,
    region: stack.config.region,
    userPoolId: stack.config.userPoolId,
    clientId: stack.config.clientId,
  });

before(async () => {
  ({ stack, stateDir } = await startTestStack('e2e'));
  http.setBasePortal(stack.config.baseUrl);
  http.setAuthorizeToken(stack.demoToken!);
});

// S3 follows the table through the stream function: checked, with the invariants, before it stops.
after(() => stopCheckedStack(stack, stateDir));

describe('official client @selfcommunity/api-services', () => {
  it('patches JSON fields with UserService.userPatch', async () => {
    const user = await UserService.userPatch(demo.id, { real_name: 'Demo Renamed', location: 'Milano', language: 'it' });
    assert.equal(user.id, demo.id);
    assert.equal(user.real_name, 'Demo Renamed');
    assert.equal(user.location, 'Milano');
    assert.equal(user.language, 'it');
  });

  it('uploads a cover as multipart/form-data, served at the returned URL', async () => {
    const image = pngImage({ width: 12, height: 4 });
    const form = new FormData();
    form.append('cover', new Blob([image], { type: 'image/png' }), 'cover.png');
    const user = await UserService.userPatch(demo.id, form);
    assert.match(String(user.cover), new RegExp(`^${stack.config.mediaBaseUrl}/cover/${demo.id}/`));
    const got = await fetch(String(user.cover));
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'image/png');
    // Stored re-encoded, never scaled up: a 12×4 PNG with the same (lossless) pixels.
    const pixels = (png: Buffer) => sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const stored = await pixels(Buffer.from(await got.arrayBuffer()));
    const sent = await pixels(image);
    assert.deepEqual([stored.info.width, stored.info.height], [12, 4]);
    assert.deepEqual(stored.data, sent.data);
  });

  it('answers an empty patch with the current user', async () => {
    const user = await UserService.userPatch(demo.id);
    assert.equal(user.id, demo.id);
    assert.equal(user.username, demo.username);
  });

  it('reports a duplicate username through formatHttpErrorCode', async () => {
    const error = await UserService.userPatch(demo.id, { username: alice.username.toUpperCase() }).then(
      () => assert.fail('a taken username must be refused'),
      (e: unknown) => e,
    );
    assert.equal((error as { response?: { status?: number } }).response?.status, 400);
    assert.deepEqual(formatHttpErrorCode(error), { usernameError: { error: 'unique' } });
  });
});

describe('over HTTP through serverless-offline', () => {
  const url = (id: number | string, slash = true) => `${stack.config.baseUrl}/api/v2/user/${id}${slash ? '/' : ''}`;
  const patch = (id: number | string, init: { token?: string; body?: string | FormData; contentType?: string; headers?: Record<string, string> } = {}) =>
    fetch(url(id), {
      method: 'PATCH',
      headers: {
        ...(init.token !== undefined && { Authorization: `Bearer ${init.token}` }),
        ...(init.contentType && { 'Content-Type': init.contentType }),
        ...init.headers,
      },
      body: init.body,
    });

  it('answers without the trailing slash too', async () => {
    const res = await fetch(url(demo.id, false), {
      method: 'PATCH',
      headers: { Authorization: `Bearer ${stack.demoToken}`, 'Content-Type': 'application/json' },
      body: '{"description":"no slash"}',
    });
    assert.equal(res.status, 200);
    assert.equal((await json(res)).description, 'no slash');
  });

  it('accepts urlencoded bodies', async () => {
    const res = await patch(demo.id, { token: stack.demoToken, body: 'bio=caf%C3%A9&gender=Female', contentType: 'application/x-www-form-urlencoded' });
    assert.equal(res.status, 200);
    const user = await json(res);
    assert.equal(user.bio, 'café');
    assert.equal(user.gender, 'Female');
  });

  it('answers 401 with WWW-Authenticate without a token, even with an authorizer override header', async () => {
    const res = await patch(demo.id, {
      body: '{"bio":"x"}',
      contentType: 'application/json',
      headers: { 'sls-offline-authorizer-override': JSON.stringify({ claims: { sub: demo.sub } }) },
    });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer');
    assert.equal((await json(res)).errors[0].code, 'not_authenticated');
  });

  it("answers 403 for another user's id", async () => {
    const res = await patch(alice.id, { token: stack.demoToken, body: '{"bio":"x"}', contentType: 'application/json' });
    assert.equal(res.status, 403);
  });

  it('answers 404 for a non-integer id after authentication', async () => {
    const res = await patch('abc', { token: stack.demoToken, body: '{}', contentType: 'application/json' });
    assert.equal(res.status, 404);
    assert.equal((await json(res)).errors[0].code, 'not_found');
  });

  it('answers a PATCH of /me/ (a path that serves GET only) with 405 and Allow: GET', async () => {
    const res = await patch('me', { token: stack.demoToken, body: '{}', contentType: 'application/json' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET');
    assert.equal((await json(res)).errors[0].code, 'method_not_allowed');
    const noSlash = await fetch(url('me', false), { method: 'PATCH', headers: { Authorization: `Bearer ${stack.demoToken}` } });
    assert.equal(noSlash.status, 405);
  });

  it('answers a method no route names (ANY) after authentication: 401 without a token, else 405 with the path\'s Allow', async () => {
    for (const [method, id, allow] of [
      ['DELETE', demo.id, 'GET, PATCH'],
      ['POST', demo.id, 'GET, PATCH'],
      ['PUT', 'me', 'GET'],
      ['DELETE', 'abc', 'GET, PATCH'],
      // The profile paths the stock UI calls: the methods none of them ever serves.
      ['PUT', 'avatar', 'GET, POST, PATCH, DELETE'],
      ['GET', '5/hide', 'POST'],
      ['PATCH', `${demo.id}/hide`, 'POST'],
      ['DELETE', 'hidden_users', 'GET'],
      ['POST', 'hidden_users_id', 'GET'],
      ['DELETE', `${demo.id}/settings`, 'GET, PATCH'],
      ['PUT', `${demo.id}/is_hidden`, 'GET'],
      ['POST', `${demo.id}/is_hidden_by`, 'GET'],
      ['PUT', 'abc/settings', 'GET, PATCH'],
    ] as const) {
      for (const slash of [true, false]) {
        const where = `${method} ${url(id, slash)}`;
        const anonymous = await fetch(url(id, slash), { method });
        assert.equal(anonymous.status, 401, where);
        assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer', where);
        assert.equal((await json(anonymous)).errors[0].code, 'not_authenticated', where);
        const res = await fetch(url(id, slash), { method, headers: { Authorization: `Bearer ${stack.demoToken}` } });
        assert.equal(res.status, 405, where);
        assert.equal(res.headers.get('allow'), allow, where);
        assert.equal((await json(res)).errors[0].code, 'method_not_allowed', where);
      }
    }
    // GET and PATCH still reach their own functions.
    assert.equal((await fetch(url(demo.id), { headers: { Authorization: `Bearer ${stack.demoToken}` } })).status, 200);
    assert.equal((await patch(demo.id, { token: stack.demoToken, body: '{}', contentType: 'application/json' })).status, 200);
  });

  it('answers 413 for a body over 6 MB, which offline would accept', async () => {
    const form = new FormData();
    form.append('cover', new Blob([Buffer.alloc(6_100_000, 1)], { type: 'image/png' }), 'big.png');
    const res = await patch(demo.id, { token: stack.demoToken, body: form });
    assert.equal(res.status, 413);
    assert.equal((await json(res)).errors[0].code, 'request_too_large');
  });

  it('accepts users loaded with the seeding function and tokens for their sub', async () => {
    await seedUsers(createDocumentClient(stack.config), stack.config.tableName, [{ id: 77, sub: 'sub-77', username: 'seeded77' }], { warn: () => {} });
    const res = await patch(77, { token: tokenFor('sub-77'), body: '{"real_name":"Seeded"}', contentType: 'application/json' });
    assert.equal(res.status, 200);
    assert.equal((await json(res)).username, 'seeded77');
  });
});

describe('from sign-up to an edited profile (npm run signup, GET, PATCH)', () => {
  /** `npm run -s signup` against this stack, as a developer runs it; its four output lines. */
  async function signup(...args: string[]) {
    const stdout = await npmRunAgainst(stack, stateDir, 'signup', ...args);
    const value = (name: string) => new RegExp(`^${name}: (\\S+)$`, 'm').exec(stdout)?.[1];
    return { id: Number(value('id')), username: value('username')!, sub: value('sub')!, token: value('token')! };
  }

  it('the demo users came in through the sign-up trigger: sub index, claim and counter', async () => {
    const report = await checkInvariants(createDocumentClient(stack.config), createS3Client(stack.config), {
      tableName: stack.config.tableName,
      mediaBucket: stack.config.bucket,
    });
    assert.deepEqual(report.problems, []);
    http.setAuthorizeToken(tokenFor(alice.sub));
    try {
      const me = await UserService.getCurrentUser();
      assert.equal(me.id, alice.id);
      assert.equal(me.username, alice.username);
    } finally {
      http.setAuthorizeToken(stack.demoToken!);
    }
  });

  it('signs up, reads itself with getCurrentUser and getSpecificUser, edits with userPatch', async () => {
    const created = await signup('--email', 'katherine.johnson@example.org', '--preferred-username', 'kjohnson');
    assert.ok(created.id > alice.id);
    assert.equal(created.username, 'kjohnson');
    http.setAuthorizeToken(created.token);
    try {
      const me = await UserService.getCurrentUser();
      assert.equal(me.id, created.id);
      assert.equal(me.username, 'kjohnson');
      assert.equal(me.bio, '');
      const edited = await UserService.userPatch(created.id, { bio: 'Computed trajectories' });
      assert.equal(edited.bio, 'Computed trajectories');
      const again = await UserService.getSpecificUser(created.id);
      assert.deepEqual(again, edited);
      // Any user can be read with a token.
      const other = await UserService.getSpecificUser(demo.id);
      assert.equal(other.username, demo.username);
      const missing = await UserService.getSpecificUser(987654).then(
        () => assert.fail('an unknown id is a 404'),
        (e: { response?: { status?: number } }) => e.response?.status,
      );
      assert.equal(missing, 404);
    } finally {
      http.setAuthorizeToken(stack.demoToken!);
    }
  });

  it('a logged-out visitor reads a profile with getSpecificUser (no token): the public view', async () => {
    const before = await UserService.getSpecificUser(demo.id);
    await UserService.userPatch(demo.id, { date_of_birth: '1990-04-01', position_lat_lng: '45.4642,9.19' });
    http.setAuthorizeToken(''); // the client then sends no Authorization header
    try {
      const visitor = await UserService.getSpecificUser(demo.id);
      assert.equal(visitor.id, demo.id);
      assert.equal(visitor.username, demo.username);
      assert.equal(visitor.date_of_birth, '');
      assert.equal(visitor.position_lat_lng, '');
      const me = await UserService.getCurrentUser().then(
        () => assert.fail('/me/ needs a token'),
        (e: { response?: { status?: number } }) => e.response?.status,
      );
      assert.equal(me, 401);
    } finally {
      http.setAuthorizeToken(stack.demoToken!);
      await UserService.userPatch(demo.id, { date_of_birth: before.date_of_birth, position_lat_lng: before.position_lat_lng });
    }
  });

  it('a taken preferred name falls back to the e-mail; the same sub signs up once', async () => {
    const first = await signup('--email', 'demo.other@example.org', '--preferred-username', demo.username.toUpperCase());
    assert.equal(first.username, 'demo_other');
    const again = await signup('--email', 'demo.other@example.org', '--sub', first.sub);
    assert.equal(again.id, first.id);
  });

  it('GET over HTTP: both paths with and without the slash, ETag, 304, and If-Match on PATCH', async () => {
    const token = stack.demoToken!;
    const auth = { Authorization: `Bearer ${token}` };
    const base = `${stack.config.baseUrl}/api/v2/user`;
    const reads = await Promise.all(
      [`${base}/me/`, `${base}/me`, `${base}/${demo.id}/`, `${base}/${demo.id}`].map((u) => fetch(u, { headers: auth })),
    );
    const bodies = await Promise.all(reads.map((r) => json(r)));
    for (const [i, res] of reads.entries()) {
      assert.equal(res.status, 200);
      assert.equal(bodies[i]!.id, demo.id);
    }
    const etag = reads[0]!.headers.get('etag')!;
    assert.match(etag, /^"\d+"$/);
    const notModified = await fetch(`${base}/me/`, { headers: { ...auth, 'If-None-Match': etag } });
    assert.equal(notModified.status, 304);
    assert.equal(await notModified.text(), '');
    assert.equal((await fetch(`${base}/me/`)).status, 401);
    assert.equal((await fetch(`${base}/abc/`, { headers: auth })).status, 404);

    const write = (ifMatch: string) =>
      fetch(`${base}/${demo.id}/`, {
        method: 'PATCH',
        headers: { ...auth, 'Content-Type': 'application/json', 'If-Match': ifMatch },
        body: JSON.stringify({ description: `at ${ifMatch}` }),
      });
    const ok = await write(etag);
    assert.equal(ok.status, 200);
    assert.notEqual(ok.headers.get('etag'), etag);
    const stale = await write(etag);
    assert.equal(stale.status, 412);
    assert.equal((await json(stale)).errors[0].code, 'precondition_failed');
  });
});
