// Stopping `npm start` the ways people and tools do: SIGINT, SIGTERM or SIGHUP, sent to the npm
// process alone (an IDE's stop button, a process manager), to the node process running
// tools/cli/start.ts, or to the whole process group (Ctrl-C, a closed terminal). Each of the nine
// must leave nothing running: no DynamoDB Local, no serverless-offline, no esbuild, no stream
// poller or event recorder (they live in the node process), and every port free again.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PROJECT_DIR, findFreePorts, isPortFree, parseStartOutput } from '../../tools/local/local-stack.ts';
import { isAlive, processTree } from '../support/processes.ts';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type Signal = (typeof SIGNALS)[number];

interface Started {
  npm: ChildProcess & { pid: number };
  /** The node process running tools/cli/start.ts. */
  nodePid: number;
  /** Every process below npm once the stack was ready. */
  tree: { pid: number; args: string }[];
  ports: number[];
  stdout: () => string;
  stderr: () => string;
  npmExited: Promise<void>;
}

const all: Started[] = [];
let stateDir: string;

class PortTakenMeanwhile extends Error {}

/**
 * Ports found free can be taken by anything else on the machine before the stack binds them (other
 * test runs pick free ports too): such a start is tried again on other ports. Stopping is under
 * test here, not port choice (test/stack/local-stack.test.ts covers a taken port).
 */
async function startStack(): Promise<Started> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startStackOnce();
    } catch (error) {
      if (!(error instanceof PortTakenMeanwhile) || attempt === 3) throw error;
    }
  }
}

async function startStackOnce(): Promise<Started> {
  const [port, dynamodbPort, s3Port] = await findFreePorts(3);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LOCAL_STATE_DIR: stateDir,
    AWS_REGION: 'us-east-1',
    PORT: String(port),
    DYNAMODB_PORT: String(dynamodbPort),
    S3_PORT: String(s3Port),
  };
  for (const name of ['COGNITO_JWKS_FILE', 'TABLE_NAME', 'MEDIA_BUCKET', 'EVENTS_PORT']) delete env[name];
  // Its own process group, as a terminal gives a command.
  const child = spawn('npm', ['start'], { cwd: PROJECT_DIR, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  assert.ok(child.pid);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let exited = false;
  const npmExited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const started = {
    npm: child as ChildProcess & { pid: number },
    nodePid: 0,
    tree: [] as { pid: number; args: string }[],
    ports: [port!, dynamodbPort!, s3Port!],
    stdout: () => stdout,
    stderr: () => stderr,
    npmExited,
  };
  all.push(started);
  const deadline = Date.now() + 90_000;
  while (!/^Stop with Ctrl-C\.$/m.test(stdout)) {
    if (exited) {
      if (/EADDRINUSE|Failed to bind|port already in use/.test(stderr)) {
        all.splice(all.indexOf(started), 1);
        throw new PortTakenMeanwhile(stderr);
      }
      assert.fail(`npm start exited before it was ready:\n${stderr}`);
    }
    if (Date.now() > deadline) assert.fail(`npm start was not ready after 90 s:\n${stdout}\n${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  started.tree = processTree(child.pid);
  const node = started.tree.find((entry) => entry.args.includes('tools/cli/start.ts'));
  assert.ok(node, `no tools/cli/start.ts below npm:\n${started.tree.map((e) => e.args).join('\n')}`);
  started.nodePid = node.pid;
  const events = parseStartOutput(stdout).eventsUrl;
  assert.ok(events, 'the banner names the event recorder');
  started.ports.push(Number(new URL(events).port));
  const lambdaPort = /--lambdaPort (\d+)/.exec(started.tree.map((e) => e.args).join('\n'))?.[1];
  assert.ok(lambdaPort, 'serverless-offline runs with a lambda port');
  started.ports.push(Number(lambdaPort));
  const commands = started.tree.map((entry) => entry.args).join('\n');
  assert.match(commands, /DynamoDBLocal\.jar/);
  assert.match(commands, /serverless\.js offline/);
  return started;
}

async function assertAllStopped(stack: Started, signal: Signal): Promise<void> {
  const pids = [stack.npm.pid, ...stack.tree.map((entry) => entry.pid)];
  const deadline = Date.now() + 20_000;
  let alive = pids.filter(isAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    alive = pids.filter(isAlive);
  }
  const left = stack.tree.filter((entry) => alive.includes(entry.pid)).map((entry) => `${entry.pid} ${entry.args}`);
  assert.deepEqual(left, [], `left running after ${signal}:\n${left.join('\n')}\n${stack.stderr()}`);
  await stack.npmExited;
  for (const port of stack.ports) assert.ok(await isPortFree(port), `port ${port} still taken`);
  assert.match(stack.stderr(), /local stack: (got SIG\w+|its parent process \(pid \d+\) ended), stopping/);
  assert.doesNotMatch(stack.stderr(), /died|exited unexpectedly/, 'nothing died before it was stopped');
}

before(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'local-stack-stop-'));
});

after(async () => {
  for (const stack of all) {
    for (const pid of [stack.npm.pid, ...stack.tree.map((entry) => entry.pid)]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone, as it should be
      }
    }
  }
  await rm(stateDir, { recursive: true, force: true });
});

const TARGETS = {
  'the npm process alone': (stack: Started, signal: Signal) => process.kill(stack.npm.pid, signal),
  'the node process alone': (stack: Started, signal: Signal) => process.kill(stack.nodePid, signal),
  'the process group': (stack: Started, signal: Signal) => process.kill(-stack.npm.pid, signal),
};

for (const [target, send] of Object.entries(TARGETS)) {
  describe(`npm start stopped by a signal to ${target}`, { timeout: 180_000 }, () => {
    // Three stacks at a time, one per signal: a third of the start-ups of one stack per case.
    const stacks = new Map<Signal, Started>();
    before(async () => {
      const started = await Promise.all(SIGNALS.map(() => startStack()));
      SIGNALS.forEach((signal, index) => stacks.set(signal, started[index]!));
    });

    for (const signal of SIGNALS) {
      test(`${signal} ends everything it started`, async () => {
        const stack = stacks.get(signal);
        assert.ok(stack);
        send(stack, signal);
        await assertAllStopped(stack, signal);
      });
    }
  });
}
