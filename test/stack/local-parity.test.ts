// `npm start` behaves like AWS end to end, through what it prints and nothing else: a replaced
// avatar leaves the S3 emulator within a second and its successor is tagged live; sign-up and
// edits reach the EventBridge recorder as the contract's events (none for a PATCH that changes
// nothing); uploads are tagged pending as S3 tags them; the invariant check finds no problem; and
// Ctrl-C (SIGINT to the process group) frees every port.

import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { DeleteObjectCommand, GetObjectTaggingCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import {
  DEFAULT_BUCKET,
  DEMO_USERS,
  PROJECT_DIR,
  createS3Client,
  findFreePorts,
  isPortFree,
  parseStartOutput,
} from '../../tools/local/local-stack.ts';

const run = promisify(execFile);
const PHOTOS = new URL('../fixtures/photos/', import.meta.url);
const FIRST_PHOTO = readFileSync(new URL('gps/DSCN0010.jpg', PHOTOS));
const SECOND_PHOTO = readFileSync(new URL('cameras/Canon_40D.jpg', PHOTOS));

const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
addFormats.default(ajv);
const validateDetail = ajv.compile(JSON.parse(readFileSync(new URL('../../schemas/user-event.schema.json', import.meta.url), 'utf8')));

interface RecordedEvent {
  EventId: string;
  EventBusName: string;
  Source: string;
  DetailType: string;
  Detail: string;
}
interface Detail {
  id: number;
  version: number;
  changed: string[];
  user: Record<string, unknown>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The browser origins the stack is started with (CORS_ALLOWED_ORIGINS), as a deployer sets them. */
const ORIGINS = ['https://app.example.org', 'https://admin.example.org'];
/** The contract's paths (under /api/v2/user/) and the methods each serves. */
const PATHS: [string, string[]][] = [
  ['me/', ['GET']],
  ['1/', ['GET', 'PATCH']],
  ['avatar/', ['GET', 'POST', 'PATCH', 'DELETE']],
  ['hidden_users/', ['GET']],
  ['hidden_users_id/', ['GET']],
  ['1/settings/', ['GET', 'PATCH']],
  ['1/hide/', ['POST']],
  ['1/is_hidden/', ['GET']],
  ['1/is_hidden_by/', ['GET']],
];

let stateDir: string;
let env: NodeJS.ProcessEnv;
let ports: { PORT: number; DYNAMODB_PORT: number; S3_PORT: number };
let child: ReturnType<typeof spawn>;
let stdout = '';
let stderr = '';
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
let tree: number[] = [];
let baseUrl: string;
let eventsUrl: string;
let s3: S3Client;

function descendants(pid: number): number[] {
  const result = spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' });
  const children = result.stdout.split('\n').map((line) => Number(line.trim())).filter((n) => n > 0);
  return children.flatMap((c) => [c, ...descendants(c)]);
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Every event the recorder holds, in the order it accepted them. */
async function recordedEvents(): Promise<UserEvent[]> {
  const response = await fetch(`${eventsUrl}/events`);
  assert.equal(response.status, 200);
  return (await response.text())
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as RecordedEvent)
    .filter((event) => event.Source === 'selfcommunity.users')
    .map((event) => ({ ...event, detail: JSON.parse(event.Detail) as Detail }));
}

type UserEvent = RecordedEvent & { detail: Detail };

/** The events of user `id`, once there are more than `count` of them (or 5 s passed). */
async function eventsOf(id: number, count: number): Promise<UserEvent[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const events = (await recordedEvents()).filter((event) => event.detail.id === id);
    if (events.length > count || Date.now() > deadline) return events;
    await sleep(50);
  }
}

function assertValid(event: UserEvent) {
  assert.equal(event.Source, 'selfcommunity.users');
  // The stack's own bus, as serverless.yml names it on AWS (never the account's `default`).
  assert.equal(event.EventBusName, 'selfcommunity-users-local');
  assert.ok(validateDetail(event.detail), JSON.stringify(validateDetail.errors));
}

async function signup(email: string) {
  const { stdout: out } = await run('npm', ['run', '-s', 'signup', '--', '--email', email], { cwd: PROJECT_DIR, env });
  const value = (name: string) => new RegExp(`^${name}: (\\S+)$`, 'm').exec(out)?.[1];
  return { id: Number(value('id')), token: value('token')! };
}

async function patch(id: number, token: string, body?: string | FormData | URLSearchParams, contentType?: string) {
  const response = await fetch(`${baseUrl}/api/v2/user/${id}/`, {
    method: 'PATCH',
    headers: { Authorization: `Bearer ${token}`, ...(contentType ? { 'Content-Type': contentType } : {}) },
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return { user: JSON.parse(text) as Record<string, unknown>, etag: response.headers.get('etag') };
}

function avatarForm(photo: Buffer, name: string): FormData {
  const form = new FormData();
  form.append('avatar', new Blob([new Uint8Array(photo)], { type: 'image/jpeg' }), name);
  return form;
}

const keyOf = (url: unknown) => {
  assert.equal(typeof url, 'string');
  const prefix = `http://localhost:${ports.S3_PORT}/${DEFAULT_BUCKET}/`;
  assert.ok((url as string).startsWith(prefix), `${String(url)} is an object of the S3 emulator`);
  return (url as string).slice(prefix.length);
};

const tagsOf = async (key: string) =>
  Object.fromEntries(
    ((await s3.send(new GetObjectTaggingCommand({ Bucket: DEFAULT_BUCKET, Key: key }))).TagSet ?? []).map((tag) => [tag.Key, tag.Value]),
  );

/** Polls `probe` every 20 ms until it returns true; the time it took, or fails after `limitMs`. */
async function within(limitMs: number, what: string, probe: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - start;
    if (Date.now() - start > limitMs) assert.fail(`${what} not within ${limitMs} ms`);
    await sleep(20);
  }
}

describe('npm start behaves like AWS', { timeout: 120_000 }, () => {
  let user: { id: number; token: string };

  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'local-parity-'));
    const [port, dynamodbPort, s3Port] = await findFreePorts(3);
    ports = { PORT: port!, DYNAMODB_PORT: dynamodbPort!, S3_PORT: s3Port! };
    env = { ...process.env, LOCAL_STATE_DIR: stateDir, AWS_REGION: 'us-east-1', CORS_ALLOWED_ORIGINS: ORIGINS.join(',') };
    for (const name of ['COGNITO_JWKS_FILE', 'COGNITO_USER_POOL_ID', 'COGNITO_CLIENT_ID', 'TABLE_NAME', 'MEDIA_BUCKET', 'EVENTS_PORT', 'EVENT_BUS_NAME']) {
      delete env[name];
    }
    for (const [name, value] of Object.entries(ports)) env[name] = String(value);

    child = spawn('npm', ['start'], { cwd: PROJECT_DIR, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    let exit: unknown;
    void exited.then((value) => (exit = value));
    const deadline = Date.now() + 60_000;
    while (!/^Stop with Ctrl-C\.$/m.test(stdout)) {
      if (exit) assert.fail(`npm start exited (${JSON.stringify(exit)}):\n${stderr}`);
      if (Date.now() > deadline) assert.fail(`npm start not ready after 60 s:\n${stdout}\n${stderr}`);
      await sleep(50);
    }
    tree = descendants(child.pid!);
    const printed = parseStartOutput(stdout);
    assert.ok(printed.baseUrl && printed.eventsUrl, stdout);
    baseUrl = printed.baseUrl;
    eventsUrl = printed.eventsUrl;
    s3 = createS3Client({ region: 'us-east-1', s3Endpoint: `http://localhost:${ports.S3_PORT}` });
  });

  after(async () => {
    s3?.destroy();
    // Whatever a failed test left running.
    for (const pid of [child?.pid ?? 0, ...tree]) {
      if (pid && isAlive(pid)) process.kill(pid, 'SIGKILL');
    }
    await rm(stateDir, { recursive: true, force: true });
  });

  test('sign-up: one user.created per user, the demo users too, with the user as GET answers it', async () => {
    user = await signup('parity.tester@example.org');
    const created = await eventsOf(user.id, 0);
    assert.equal(created.length, 1, JSON.stringify(created));
    const [event] = created;
    assert.equal(event!.DetailType, 'user.created');
    assertValid(event!);

    const read = await fetch(`${baseUrl}/api/v2/user/${user.id}/`, { headers: { Authorization: `Bearer ${user.token}` } });
    assert.equal(read.status, 200);
    const body = (await read.json()) as Record<string, unknown>;
    assert.deepEqual(event!.detail.user, body);
    assert.equal(`"${event!.detail.version}"`, read.headers.get('etag'));
    // Every field is new on user.created.
    assert.deepEqual([...event!.detail.changed].sort(), Object.keys(body).sort());

    for (const demo of DEMO_USERS) {
      const demoEvents = await eventsOf(demo.id, 0);
      assert.deepEqual(demoEvents.map((e) => [e.DetailType, e.detail.user.username]), [['user.created', demo.username]]);
      assertValid(demoEvents[0]!);
    }
  });

  test('a PATCH that changes something: one user.updated naming what changed, at the new version; none for an empty PATCH or equal values', async () => {
    let count = (await eventsOf(user.id, 0)).length;
    const edited = await patch(user.id, user.token, JSON.stringify({ bio: 'Parity', location: 'Turin' }), 'application/json');
    let events = await eventsOf(user.id, count);
    let mine = events.slice(count);
    assert.equal(mine.length, 1, JSON.stringify(mine));
    assert.equal(mine[0]!.DetailType, 'user.updated');
    assertValid(mine[0]!);
    assert.deepEqual([...mine[0]!.detail.changed].sort(), ['bio', 'location']);
    assert.equal(`"${mine[0]!.detail.version}"`, edited.etag);
    assert.deepEqual(mine[0]!.detail.user, edited.user);
    count = events.length;

    // Nothing changes: an empty body (no Content-Type), an empty JSON object, the same values.
    const unchanged = [
      await patch(user.id, user.token),
      await patch(user.id, user.token, '{}', 'application/json'),
      await patch(user.id, user.token, JSON.stringify({ bio: 'Parity', location: 'Turin' }), 'application/json'),
      await patch(user.id, user.token, new URLSearchParams({ bio: 'Parity' }), 'application/x-www-form-urlencoded'),
    ];
    for (const answer of unchanged) assert.deepEqual(answer.user, edited.user);
    // A change after them: once its event is in, anything they caused would be in before it.
    const marker = await patch(user.id, user.token, JSON.stringify({ description: 'marker' }), 'application/json');
    events = await eventsOf(user.id, count);
    mine = events.slice(count);
    assert.deepEqual(
      mine.map((e) => [e.DetailType, e.detail.id, e.detail.changed, `"${e.detail.version}"`]),
      [['user.updated', user.id, ['description'], marker.etag]],
    );
    assertValid(mine[0]!);
  });

  test('an old avatar disappears from the S3 emulator within a second of its replacement; the new one is live', async () => {
    const count = (await eventsOf(user.id, 0)).length;
    const first = await patch(user.id, user.token, avatarForm(FIRST_PHOTO, 'first.jpg'));
    const firstKey = keyOf(first.user.avatar);
    await within(1000, 'the first avatar tagged live', async () => (await tagsOf(firstKey)).state === 'live');
    const served = await fetch(first.user.avatar as string);
    assert.equal(served.status, 200);
    assert.equal(served.headers.get('content-type'), 'image/jpeg');
    await served.body?.cancel();

    const second = await patch(user.id, user.token, avatarForm(SECOND_PHOTO, 'second.jpg'));
    const replaced = Date.now();
    const secondKey = keyOf(second.user.avatar);
    assert.notEqual(secondKey, firstKey);
    await within(1000 - (Date.now() - replaced), 'the first avatar gone (404)', async () => {
      const response = await fetch(first.user.avatar as string);
      await response.body?.cancel();
      return response.status === 404;
    });
    await within(1000, 'the second avatar tagged live', async () => (await tagsOf(secondKey)).state === 'live');
    const now = await fetch(second.user.avatar as string);
    assert.equal(now.status, 200);
    await now.body?.cancel();

    const events = (await eventsOf(user.id, count + 1)).slice(count);
    assert.deepEqual(
      events.map((e) => [e.DetailType, e.detail.changed, `"${e.detail.version}"`, e.detail.user.avatar]),
      [
        ['user.updated', ['avatar'], first.etag, first.user.avatar],
        ['user.updated', ['avatar'], second.etag, second.user.avatar],
      ],
    );
    for (const event of events) assertValid(event);
  });

  test('the S3 emulator keeps the tags of PutObject, as S3 does: pending uploads stay pending', async () => {
    const key = `avatar/${user.id}/parity-pending.jpg`;
    await s3.send(new PutObjectCommand({ Bucket: DEFAULT_BUCKET, Key: key, Body: FIRST_PHOTO, ContentType: 'image/jpeg', Tagging: 'state=pending' }));
    assert.deepEqual(await tagsOf(key), { state: 'pending' });
    // Tags belong to the object: a new object under the key (without Tagging) has none.
    await s3.send(new DeleteObjectCommand({ Bucket: DEFAULT_BUCKET, Key: key }));
    await s3.send(new PutObjectCommand({ Bucket: DEFAULT_BUCKET, Key: key, Body: FIRST_PHOTO }));
    assert.deepEqual(await tagsOf(key), {});
    await s3.send(new PutObjectCommand({ Bucket: DEFAULT_BUCKET, Key: key, Body: FIRST_PHOTO, Tagging: 'state=pending' }));
    assert.deepEqual(await tagsOf(key), { state: 'pending' });
  });

  test('npm run check-invariants: no problems; the unheld pending upload is listed for the lifecycle rule', async () => {
    const { stdout: out } = await run('npm', ['run', '-s', 'check-invariants'], { cwd: PROJECT_DIR, env });
    assert.match(out, / 1 pending orphans, 0 problems$/m);
    assert.match(out, new RegExp(`pending orphan \\(expired by the lifecycle rule\\): avatar/${user.id}/parity-pending\\.jpg$`, 'm'));
    assert.doesNotMatch(out, /problem:/);
  });

  test('every path answers the browser preflight for its methods, the client\'s headers and the configured origins', async () => {
    const wanted = ['Authorization', 'Content-Type', 'If-Match', 'If-None-Match'];
    for (const [path, methods] of PATHS) {
      for (const slash of [true, false]) {
        const url = `${baseUrl}/api/v2/user/${slash ? path : path.slice(0, -1)}`;
        for (const [i, method] of methods.entries()) {
          const origin = ORIGINS[i % ORIGINS.length]!;
          const where = `OPTIONS ${url} for ${method} from ${origin}`;
          const res = await fetch(url, {
            method: 'OPTIONS',
            headers: { Origin: origin, 'Access-Control-Request-Method': method, 'Access-Control-Request-Headers': wanted.join(',').toLowerCase() },
          });
          await res.body?.cancel();
          assert.equal(res.status, 200, where);
          assert.equal(res.headers.get('access-control-allow-origin'), origin, where);
          const allowed = (name: string) => (res.headers.get(name) ?? '').split(',').map((v) => v.trim().toLowerCase());
          assert.ok(allowed('access-control-allow-methods').includes(method.toLowerCase()), where);
          for (const header of wanted) assert.ok(allowed('access-control-allow-headers').includes(header.toLowerCase()), `${where}: ${header}`);
        }
      }
    }
  });

  test('a body no Lambda event can carry is a 413 in the contract\'s envelope on every path, before any token, as on AWS', async () => {
    // 7 MB: over what one event carries (6 MiB, base64 for multipart), under serverless-offline's 10 MiB.
    const big = new Uint8Array(7_000_000);
    for (const [path, methods] of PATHS) {
      for (const method of methods.filter((m) => m !== 'GET')) {
        const form = new FormData();
        form.append(path === 'avatar/' ? 'avatar' : 'cover', new Blob([big], { type: 'image/png' }), 'big.png');
        const res = await fetch(`${baseUrl}/api/v2/user/${path}`, { method, body: form });
        const text = await res.text();
        assert.equal(res.status, 413, `${method} ${path}: ${text.slice(0, 200)}`);
        assert.equal((JSON.parse(text) as { errors: { code: string }[] }).errors[0]!.code, 'request_too_large');
      }
    }
  });

  test('Ctrl-C (SIGINT to the process group) stops everything and frees every port', async () => {
    const pids = [child.pid!, ...tree];
    process.kill(-child.pid!, 'SIGINT');
    const exit = await exited;
    assert.deepEqual(exit, { code: 0, signal: null }, stderr);
    const deadline = Date.now() + 10_000;
    while (pids.some(isAlive) && Date.now() < deadline) await sleep(100);
    assert.deepEqual(pids.filter(isAlive), []);
    for (const port of Object.values(ports)) assert.ok(await isPortFree(port), `port ${port} still taken`);
    const events = new URL(eventsUrl);
    assert.ok(await isPortFree(Number(events.port)), `the recorder's port ${events.port} still taken`);
  });
});
