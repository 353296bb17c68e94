// The local stack as users run it: `npm start`, `npm run token`, `npm run seed`, side by side,
// and stopped without leaving processes behind.

import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { DeleteCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { CognitoJwtVerifier } from 'aws-jwt-verify';
import { userKey } from '../../src/users/user-record.ts';
import { claimKey } from '../../src/users/username-keys.ts';
import type { ClaimItem, UserItem } from '../../src/users/user-record.ts';
import {
  DEFAULT_EVENT_BUS_NAME,
  DEFAULT_TABLE_NAME,
  DEMO_USERS,
  PROJECT_DIR,
  createDocumentClient,
  findFreePorts,
  parseStartOutput,
} from '../../tools/local/local-stack.ts';
import { loadLocalKeys, signAccessToken } from '../../tools/local/keys.ts';
import { SeedError, seedUsers } from '../../tools/local/seed-users.ts';
import { isAlive, isLoopback, listeningAddresses, processTree } from '../support/processes.ts';

const run = promisify(execFile);
const REGION = 'us-east-1';
const POOL_ID = `${REGION}_LocalPool`;
const CLIENT_ID = 'localclient';

interface Ports {
  PORT: number;
  DYNAMODB_PORT: number;
  S3_PORT: number;
}

interface SpawnedStack {
  child: ChildProcess;
  pid: number;
  ports: Ports;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** pid and command line of every process below the spawned one, taken once it was ready. */
  tree: { pid: number; args: string }[];
}

const spawned: SpawnedStack[] = [];

function stackEnv(ports: Ports, stateDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LOCAL_STATE_DIR: stateDir };
  for (const name of ['COGNITO_JWKS_FILE', 'COGNITO_USER_POOL_ID', 'COGNITO_CLIENT_ID', 'TABLE_NAME', 'MEDIA_BUCKET']) {
    delete env[name];
  }
  env.AWS_REGION = REGION;
  for (const [name, port] of Object.entries(ports)) env[name] = String(port);
  return { ...env, ...extra };
}

async function waitForAllGone(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = pids.filter(isAlive);
    if (alive.length === 0 || Date.now() > deadline) return alive;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Spawns `command` in its own process group and resolves once it printed its base URL. */
async function spawnStack(
  command: string[],
  ports: Ports,
  stateDir: string,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<SpawnedStack> {
  const [file, ...args] = command;
  assert.ok(file);
  const child = spawn(file, args, {
    cwd: PROJECT_DIR,
    env: stackEnv(ports, stateDir, extraEnv),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  assert.ok(child.pid);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const stack: SpawnedStack = {
    child,
    pid: child.pid,
    ports,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    tree: [],
  };
  spawned.push(stack);

  const deadline = Date.now() + 30_000;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void exited.then((value) => (exit = value));
  // The banner is written at once; its last line marks the end.
  while (!/^Stop with Ctrl-C\.$/m.test(stdout)) {
    if (exit) assert.fail(`the stack exited (${JSON.stringify(exit)}) before it was ready:\n${stderr}`);
    if (Date.now() > deadline) assert.fail(`the stack was not ready after 30 s:\n${stdout}\n${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  stack.tree = processTree(child.pid);
  return stack;
}

function assertStackProcesses(stack: SpawnedStack): void {
  const commands = stack.tree.map((entry) => entry.args);
  assert.ok(
    commands.some((args) => args.includes('DynamoDBLocal.jar') && args.includes(`-port ${stack.ports.DYNAMODB_PORT} `)),
    `no DynamoDB Local below the stack:\n${commands.join('\n')}`,
  );
  assert.ok(
    commands.some((args) => args.includes('osls/bin/serverless.js offline') && args.includes(`--httpPort ${stack.ports.PORT} `)),
    `no osls offline below the stack:\n${commands.join('\n')}`,
  );
}

let stateDir: string;
let workDir: string;
let stackA: SpawnedStack;
let portsA: Ports;
let portsB: Ports;
let portsC: Ports;

describe('local stack', { timeout: 120_000 }, () => {
  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'local-stack-state-'));
    workDir = await mkdtemp(join(tmpdir(), 'local-stack-test-'));
    const [a1, a2, a3, b1, b2, b3, c1, c2, c3] = await findFreePorts(9);
    portsA = { PORT: a1!, DYNAMODB_PORT: a2!, S3_PORT: a3! };
    portsB = { PORT: b1!, DYNAMODB_PORT: b2!, S3_PORT: b3! };
    portsC = { PORT: c1!, DYNAMODB_PORT: c2!, S3_PORT: c3! };
    stackA = await spawnStack(['npm', 'start'], portsA, stateDir);
  });

  after(async () => {
    // Whatever a failed test left running.
    for (const stack of spawned) {
      for (const pid of [stack.pid, ...stack.tree.map((entry) => entry.pid)]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    await rm(stateDir, { recursive: true, force: true });
    await rm(workDir, { recursive: true, force: true });
  });

  test('prints the base URL and runs DynamoDB Local and osls offline', async () => {
    assert.equal(parseStartOutput(stackA.stdout()).baseUrl, `http://localhost:${portsA.PORT}`);
    assert.match(stackA.stdout(), /curl -i -X PATCH http:\/\/localhost:\d+\/api\/v2\/user\/1\//);
    assertStackProcesses(stackA);
  });

  test('every port the stack listens on is on the loopback interface, DynamoDB Local included', () => {
    const listening = listeningAddresses([stackA.pid, ...stackA.tree.map((entry) => entry.pid)]);
    const ports = listening.map((socket) => socket.port);
    for (const port of [portsA.PORT, portsA.DYNAMODB_PORT, portsA.S3_PORT]) assert.ok(ports.includes(port), `nothing listens on ${port}: ${JSON.stringify(listening)}`);
    for (const socket of listening) {
      const command = stackA.tree.find((entry) => entry.pid === socket.pid)?.args ?? 'npm start';
      assert.ok(isLoopback(socket.address), `${command.slice(0, 120)} listens on ${socket.address}:${socket.port}`);
    }
  });

  test('the API answers on PORT, for the printed token too', async () => {
    const { baseUrl, token } = parseStartOutput(stackA.stdout());
    const anonymous = await fetch(`${baseUrl}/api/v2/user/1/`, { method: 'PATCH' });
    assert.ok(anonymous.status >= 100, 'any HTTP answer');
    await anonymous.body?.cancel();

    const response = await fetch(`${baseUrl}/api/v2/user/1/`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ real_name: 'Demo Tested' }),
    });
    const body = await response.text();
    // A 5xx here means the handler is not wired to the stack (environment, JWKS, emulators).
    assert.ok(response.status < 500, `PATCH answered ${response.status}: ${body}`);
  });

  test('the stream reaches the stream function within a second; the event recorder and dead letters are printed', async () => {
    const { baseUrl, token, eventsUrl, deadLetterFile } = parseStartOutput(stackA.stdout());
    assert.ok(eventsUrl, 'the banner names the event recorder');
    assert.equal(deadLetterFile, join(stateDir, 'media-events-dead-letters.jsonl'));
    type Status = { invocations: number; recordsDone: number; deadLettered: number; streamArn: string };
    const status = async (): Promise<Status> => (await (await fetch(`${eventsUrl}/stream`)).json()) as Status;
    // The demo users were seeded before the poller started: it read them from the stream's start.
    const start = Date.now();
    let before = await status();
    while (before.recordsDone < DEMO_USERS.length && Date.now() - start < 5000) before = await status();
    assert.match(before.streamArn, /table\/selfcommunity-users-local\/stream\//);
    assert.ok(before.recordsDone >= DEMO_USERS.length, JSON.stringify(before));

    const response = await fetch(`${baseUrl}/api/v2/user/1/`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ bio: `streamed ${Date.now()}` }),
    });
    assert.equal(response.status, 200, await response.text());
    const written = Date.now();
    let after = await status();
    while (after.recordsDone === before.recordsDone && Date.now() - written < 2000) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      after = await status();
    }
    assert.ok(after.recordsDone > before.recordsDone, `the write never reached the function: ${JSON.stringify(after)}`);
    assert.ok(Date.now() - written < 1000, `the function ran ${Date.now() - written} ms after the write`);
    assert.equal(after.deadLettered, before.deadLettered);

    // PutEvents to the printed address, as the functions' EVENTBRIDGE_ENDPOINT sends them.
    const put = await fetch(eventsUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.PutEvents' },
      body: JSON.stringify({ Entries: [{ EventBusName: DEFAULT_EVENT_BUS_NAME, Source: 'local-stack-test', DetailType: 'probe', Detail: '{"probe":1}' }] }),
    });
    const answer = (await put.json()) as { FailedEntryCount: number; Entries: { EventId: string }[] };
    assert.equal(answer.FailedEntryCount, 0);
    const lines = (await (await fetch(`${eventsUrl}/events`)).text()).split('\n').filter(Boolean);
    assert.ok(lines.some((line) => (JSON.parse(line) as { EventId: string }).EventId === answer.Entries[0]?.EventId));
  });

  test('the printed token verifies against the JWKS file', async () => {
    const { token } = parseStartOutput(stackA.stdout());
    assert.ok(token);
    const jwks = JSON.parse(await readFile(join(stateDir, 'jwks.json'), 'utf8')) as {
      keys: { kid: string; alg: string; use: string; kty: string }[];
    };
    assert.equal(jwks.keys.length, 1);
    const [key] = jwks.keys;
    assert.deepEqual({ alg: key?.alg, use: key?.use, kty: key?.kty }, { alg: 'RS256', use: 'sig', kty: 'RSA' });
    const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as unknown;
    assert.deepEqual(header, { alg: 'RS256', kid: key?.kid });

    const verifier = CognitoJwtVerifier.create({ userPoolId: POOL_ID, tokenUse: 'access', clientId: CLIENT_ID });
    verifier.cacheJwks(jwks as Parameters<typeof verifier.cacheJwks>[0]);
    const payload = await verifier.verify(token);
    const [demo] = DEMO_USERS;
    assert.equal(payload.sub, demo.sub);
    assert.equal(payload.username, demo.username);
    assert.equal(payload.scope, 'aws.cognito.signin.user.admin');
    assert.equal(payload.exp - payload.iat, 3600);
  });

  test('npm run token prints only a token the stack accepts', async () => {
    const env = stackEnv(portsA, stateDir);
    const silent = await run('npm', ['run', '--silent', 'token', '--', '--sub', 'sub-from-test', '--username', 'tester', '--expires-in', '120'], { cwd: PROJECT_DIR, env });
    assert.match(silent.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const token = silent.stdout.trim();

    const jwks = JSON.parse(await readFile(join(stateDir, 'jwks.json'), 'utf8')) as Parameters<
      ReturnType<typeof CognitoJwtVerifier.create>['cacheJwks']
    >[0];
    const verifier = CognitoJwtVerifier.create({ userPoolId: POOL_ID, tokenUse: 'access', clientId: CLIENT_ID });
    verifier.cacheJwks(jwks);
    const payload = await verifier.verify(token);
    assert.equal(payload.sub, 'sub-from-test');
    assert.equal(payload.username, 'tester');
    assert.equal(payload.exp - payload.iat, 120);
    for (const claim of ['origin_jti', 'event_id', 'jti', 'auth_time', 'client_id']) {
      assert.ok(claim in payload, `claim ${claim}`);
    }

    // Exactly as users call it: the project's .npmrc keeps npm's "> script" banner out of stdout.
    const plain = await run('npm', ['run', 'token', '--', '--sub', 'sub-from-test'], { cwd: PROJECT_DIR, env });
    assert.match(plain.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
  });

  test('npm run seed loads a file, twice, keeping one claim per user', async () => {
    const env = stackEnv(portsA, stateDir);
    const file = join(workDir, 'users.json');
    const users = [
      { id: 101, sub: 'sub-101', username: 'Seeded_One', real_name: 'Seeded One', bio: '', followers_counter: 4 },
      { id: 102, sub: 'sub-102', username: 'seeded-two', date_joined: '2020-02-03T04:05:06.000Z', reg_approved: true },
    ];
    await writeFile(file, JSON.stringify(users));
    for (let i = 0; i < 2; i++) {
      const { stdout } = await run('npm', ['run', '--silent', 'seed', '--', file], { cwd: PROJECT_DIR, env });
      assert.match(stdout, /Loaded 2 users/);
    }

    const doc = createDocumentClient({ region: REGION, dynamodbEndpoint: `http://localhost:${portsA.DYNAMODB_PORT}` });
    try {
      const scan = async (): Promise<Record<string, unknown>[]> =>
        (await doc.send(new ScanCommand({ TableName: DEFAULT_TABLE_NAME, ConsistentRead: true }))).Items ?? [];
      const checkInvariant = (items: Record<string, unknown>[]): void => {
        const userItems = items.filter((item) => String(item.pk).startsWith('USER#')) as unknown as UserItem[];
        const claims = items.filter((item) => String(item.pk).startsWith('USERNAME#')) as unknown as ClaimItem[];
        for (const user of userItems) {
          const pointing = claims.filter((claim) => claim.user_id === user.id);
          assert.deepEqual(pointing, [{ pk: claimKey(user.username), user_id: user.id }], `claims of user ${user.id}`);
        }
        for (const claim of claims) {
          assert.ok(userItems.some((user) => user.id === claim.user_id), `claim ${claim.pk} without its user`);
        }
      };

      let items = await scan();
      const one = items.filter((item) => item.pk === userKey(101));
      const two = items.filter((item) => item.pk === userKey(102));
      assert.equal(one.length, 1);
      assert.equal(two.length, 1);
      assert.deepEqual(
        { ...one[0], date_joined: undefined },
        {
          pk: 'USER#101', id: 101, sub: 'sub-101', username: 'Seeded_One', username_claim: claimKey('Seeded_One'),
          real_name: 'Seeded One', followers_counter: 4, version: 1, date_joined: undefined,
        },
      );
      assert.equal(two[0]?.date_joined, '2020-02-03T04:05:06.000Z');
      assert.equal(two[0]?.reg_approved, true);
      assert.equal(items.filter((item) => item.pk === claimKey('Seeded_One')).length, 1);
      checkInvariant(items);

      // A rename drops the old claim; a name held by another user is refused by name.
      assert.equal(await seedUsers(doc, DEFAULT_TABLE_NAME, [{ ...users[0], username: 'seeded-renamed' }]), 1);
      await assert.rejects(
        seedUsers(doc, DEFAULT_TABLE_NAME, [{ id: 103, sub: 'sub-103', username: 'ALICE' }]),
        (error: unknown) => error instanceof SeedError && /"ALICE" is already claimed by user 2/.test(error.message),
      );
      await assert.rejects(
        seedUsers(doc, DEFAULT_TABLE_NAME, [{ id: 0, sub: 'x', username: 'x' }]),
        SeedError,
      );
      items = await scan();
      assert.equal(items.filter((item) => item.pk === claimKey('Seeded_One')).length, 0);
      assert.equal(items.filter((item) => item.pk === userKey(103)).length, 0);
      checkInvariant(items);
    } finally {
      doc.destroy();
    }

    const bad = await run('npm', ['run', '--silent', 'seed', '--', join(workDir, 'missing.json')], { cwd: PROJECT_DIR, env }).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    assert.equal(bad?.code, 1);
    assert.match(bad?.stderr ?? '', /cannot read/);
  });

  test('seeds write sub index items and reserve their ids; check-invariants --repair adds a missing index', async () => {
    const env = stackEnv(portsA, stateDir);
    const file = join(workDir, 'sub-index-users.json');
    await writeFile(file, JSON.stringify([{ id: 500, sub: 'sub-500', username: 'seeded500' }]));
    await run('npm', ['run', '--silent', 'seed', '--', file], { cwd: PROJECT_DIR, env });
    const doc = createDocumentClient({ region: REGION, dynamodbEndpoint: `http://localhost:${portsA.DYNAMODB_PORT}` });
    try {
      const item = async (pk: string) =>
        ((await doc.send(new ScanCommand({ TableName: DEFAULT_TABLE_NAME, ConsistentRead: true }))).Items ?? []).find((i) => i.pk === pk);
      assert.deepEqual(await item('SUB#sub-500'), { pk: 'SUB#sub-500', user_id: 500 });
      assert.ok(Number((await item('COUNTER#user'))?.last_id) >= 500);

      // A sign-up after the seed never gets an id a seed used.
      const { stdout } = await run('npm', ['run', '-s', 'signup', '--', '--email', 'after.seed@example.org'], { cwd: PROJECT_DIR, env });
      const id = Number(/^id: (\d+)$/m.exec(stdout)?.[1]);
      assert.ok(id > 500, stdout);
      assert.match(stdout, /^username: after_seed$/m);
      const token = /^token: (\S+)$/m.exec(stdout)?.[1];
      const me = await fetch(`http://localhost:${portsA.PORT}/api/v2/user/me/`, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(me.status, 200);
      assert.equal(((await me.json()) as { id: number }).id, id);

      // A table from before sign-up: a user without its sub index is reported, then repaired.
      await doc.send(new DeleteCommand({ TableName: DEFAULT_TABLE_NAME, Key: { pk: 'SUB#sub-500' } }));
      const reported = await run('npm', ['run', '-s', 'check-invariants'], { cwd: PROJECT_DIR, env }).then(
        () => assert.fail('a missing sub index is a problem'),
        (error: { code?: number; stdout?: string }) => error,
      );
      assert.equal(reported.code, 1);
      assert.match(reported.stdout ?? '', /problem: user 500 has no sub index item/);
      const repaired = await run('npm', ['run', '-s', 'check-invariants', '--', '--repair'], { cwd: PROJECT_DIR, env });
      assert.match(repaired.stdout, /repaired: user 500: sub index added/);
      assert.match(repaired.stdout, / 0 problems/);
      assert.deepEqual(await item('SUB#sub-500'), { pk: 'SUB#sub-500', user_id: 500 });
    } finally {
      doc.destroy();
    }
  });

  test('a taken port stops the start with a clear message', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(portsB.PORT, resolve));
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'tools/cli/start.ts'], {
        cwd: PROJECT_DIR,
        env: stackEnv(portsB, stateDir),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
      assert.equal(code, 1);
      assert.match(stderr, new RegExp(`port already in use: PORT=${portsB.PORT}`));
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  test('a second stack runs side by side and stops on SIGTERM to its node process', async () => {
    const jwksBefore = await readFile(join(stateDir, 'jwks.json'), 'utf8');
    const stackB = await spawnStack([process.execPath, '--import', 'tsx', 'tools/cli/start.ts'], portsB, stateDir);
    assertStackProcesses(stackB);
    // Same state directory: the key pair is reused, not replaced.
    assert.equal(await readFile(join(stateDir, 'jwks.json'), 'utf8'), jwksBefore);

    for (const stack of [stackA, stackB]) {
      const response = await fetch(`http://localhost:${stack.ports.PORT}/`);
      await response.body?.cancel();
      assert.ok(response.status >= 100);
    }

    process.kill(stackB.pid, 'SIGTERM');
    const exit = await stackB.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, stackB.stderr());
    const alive = await waitForAllGone(stackB.tree.map((entry) => entry.pid), 10_000);
    assert.deepEqual(alive, [], `left running: ${JSON.stringify(stackB.tree.filter((e) => alive.includes(e.pid)))}`);

    // Stack A is unaffected.
    const response = await fetch(`http://localhost:${portsA.PORT}/`);
    await response.body?.cancel();
  });

  test('COGNITO_JWKS_FILE is trusted alone and left alone; a dying child stops the stack', async () => {
    const foreign = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = { ...foreign.publicKey.export({ format: 'jwk' }), kid: 'foreign-key', alg: 'RS256', use: 'sig' };
    const jwksFile = join(workDir, 'foreign-jwks.json');
    const jwksText = JSON.stringify({ keys: [jwk] });
    await writeFile(jwksFile, jwksText);

    const stackC = await spawnStack([process.execPath, '--import', 'tsx', 'tools/cli/start.ts'], portsC, stateDir, {
      COGNITO_JWKS_FILE: jwksFile,
    });
    assertStackProcesses(stackC);
    assert.equal(parseStartOutput(stackC.stdout()).token, undefined, 'no token the stack would refuse');
    assert.match(stackC.stdout(), /No ready token/);

    const [demo] = DEMO_USERS;
    const pool = { sub: demo.sub, username: demo.username, region: REGION, userPoolId: POOL_ID, clientId: CLIENT_ID };
    const patch = async (token: string): Promise<number> => {
      const response = await fetch(`http://localhost:${portsC.PORT}/api/v2/user/${demo.id}/`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ bio: 'foreign key' }),
      });
      await response.body?.cancel();
      return response.status;
    };
    const foreignStatus = await patch(signAccessToken({ kid: 'foreign-key', privateKey: foreign.privateKey }, pool));
    assert.ok(foreignStatus !== 401 && foreignStatus < 500, `token of the file's key answered ${foreignStatus}`);
    assert.equal(await patch(signAccessToken(await loadLocalKeys(stateDir), pool)), 401);
    assert.equal(await readFile(jwksFile, 'utf8'), jwksText);

    const java = stackC.tree.find((entry) => entry.args.includes('DynamoDBLocal.jar'));
    assert.ok(java);
    process.kill(java.pid, 'SIGKILL');
    const exit = await stackC.exited;
    assert.equal(exit.code, 1, stackC.stderr());
    assert.match(stackC.stderr(), /dynamodb \(pid \d+\) exited unexpectedly/);
    const alive = await waitForAllGone(stackC.tree.map((entry) => entry.pid), 10_000);
    assert.deepEqual(alive, [], `left running: ${JSON.stringify(stackC.tree.filter((e) => alive.includes(e.pid)))}`);
  });

  test('SIGTERM to the process group of npm start leaves nothing running', async () => {
    const pids = [stackA.pid, ...stackA.tree.map((entry) => entry.pid)];
    process.kill(-stackA.pid, 'SIGTERM');
    await stackA.exited;
    const alive = await waitForAllGone(pids, 10_000);
    assert.deepEqual(alive, [], `left running: ${JSON.stringify(stackA.tree.filter((e) => alive.includes(e.pid)))}`);
    assert.match(stackA.stderr(), /got SIGTERM, stopping/);
  });
});
