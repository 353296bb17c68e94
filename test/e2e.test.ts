// End to end: the local stack as `npm start` runs it (serverless-offline with the esbuild bundle,
// DynamoDB Local, s3rver), driven over HTTP by plain requests and by the official JavaScript client.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkInvariants } from '../scripts/check-invariants.ts';
import { signAccessToken } from '../scripts/local-keys.ts';
import {
  DEMO_USERS,
  createDocumentClient,
  createS3Client,
  findFreePorts,
  readLocalStackConfig,
  startLocalStack,
  type LocalStack,
} from '../scripts/local-stack.ts';
import { seedUsers } from '../scripts/seed-users.ts';
import { pngImage } from './support/images.ts';
import { catchUpStream } from './support/stream.ts';

// The package's ESM build uses directory imports that only bundlers resolve; Node loads its CJS build.
const require = createRequire(import.meta.url);
// Its typings want whole SCUserType objects; at run time it sends any object or FormData as given.
type ApiUser = Record<string, any>;
const { UserService, http, formatHttpErrorCode } = require('@selfcommunity/api-services') as {
  UserService: { userPatch(id: number, data?: object): Promise<ApiUser> };
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
  stateDir = await mkdtemp(join(tmpdir(), 'e2e-state-'));
  const [port, dynamodbPort, s3Port] = await findFreePorts(3);
  const config = readLocalStackConfig({
    ...process.env,
    PORT: String(port),
    DYNAMODB_PORT: String(dynamodbPort),
    S3_PORT: String(s3Port),
    LOCAL_STATE_DIR: stateDir,
    COGNITO_JWKS_FILE: '',
  });
  stack = await startLocalStack(config, { log: () => {} });
  http.setBasePortal(stack.config.baseUrl);
  http.setAuthorizeToken(stack.demoToken!);
});

after(async () => {
  try {
    if (stack) {
      // S3 follows the table through the stream function: let it catch up first.
      const { deadLetters } = await catchUpStream({ ...stack.config, mediaBucket: stack.config.bucket });
      assert.deepEqual(deadLetters, []);
      const report = await checkInvariants(createDocumentClient(stack.config), createS3Client(stack.config), {
        tableName: stack.config.tableName,
        mediaBucket: stack.config.bucket,
      });
      assert.deepEqual(report.problems, []);
    }
  } finally {
    await stack?.stop();
    await rm(stateDir, { recursive: true, force: true });
  }
});

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
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), image);
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

  it('answers a PATCH of /me/ with 405 and Allow: GET (the contract reads the caller there, never writes)', async () => {
    const res = await patch('me', { token: stack.demoToken, body: '{}', contentType: 'application/json' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET');
    assert.equal((await json(res)).errors[0].code, 'method_not_allowed');
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
