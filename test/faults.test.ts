// AWS faults through the real handler: S3 or DynamoDB out of reach, throttled past the SDK's
// retries, or hanging. Each answers 503 and leaves the user, its claim and its images as before.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ThrottlingException } from '@aws-sdk/client-dynamodb';
import { PutObjectTaggingCommand } from '@aws-sdk/client-s3';
import { createHandler } from '../handlers/patch-user.ts';
import { createAwsClients, type AwsClients } from '../lib/aws-clients.ts';
import type { Config } from '../lib/config.ts';
import { LIVE_TAG } from '../lib/media-store.ts';
import { checkInvariants } from '../scripts/check-invariants.ts';
import { findFreePort } from '../scripts/local-stack.ts';
import { pngImage } from './support/images.ts';
import { fixtureEvent, multipartBody, startTestBackend, type TestBackend } from './support/backend.ts';
import { accessToken, makeKey } from './support/tokens.ts';

const key = makeKey();
let backend: TestBackend;
let closedEndpoint: string;
let hangingServer: Server;
let hangingEndpoint: string;

before(async () => {
  backend = await startTestBackend({ keys: [key], env: { AWS_MAX_ATTEMPTS: '2', AWS_REQUEST_TIMEOUT_MS: '300' } });
  closedEndpoint = `http://localhost:${await findFreePort()}`;
  // Accepts connections and never answers: every call to it can only end by timing out.
  hangingServer = createServer(() => {});
  await new Promise<void>((resolve) => hangingServer.listen(0, 'localhost', resolve));
  const address = hangingServer.address();
  hangingEndpoint = `http://localhost:${typeof address === 'object' && address ? address.port : 0}`;
});
after(async () => {
  const report = await checkInvariants(backend.dynamo, backend.s3, backend.config);
  assert.deepEqual(report.problems, []);
  assert.deepEqual(report.pendingOrphans, [], 'uploads of failed requests were deleted');
  hangingServer.close();
  await backend.stop();
});

let nextId = 5000;
async function newUser() {
  const id = nextId++;
  const user = { id, sub: `sub-${id}`, username: `faulty${id}`, bio: 'before' };
  await backend.seed([user]);
  return user;
}

/** Clients where one service points at `endpoint`; the other is the working emulator. */
function clientsWith(service: 'dynamodb' | 's3', endpoint: string): AwsClients {
  const config: Config = {
    ...backend.config,
    ...(service === 'dynamodb' ? { dynamodbEndpoint: endpoint } : { s3Endpoint: endpoint }),
  };
  return createAwsClients(config);
}

const avatarPatch = (user: { id: number; sub: string }, fields: Record<string, string> = {}) =>
  fixtureEvent('multipart', {
    id: user.id,
    token: accessToken(key, { sub: user.sub }, backend.pool),
    ...multipartBody({ ...fields, bio: 'after', avatar: { bytes: pngImage(), filename: 'a.png', type: 'image/png' } }),
  });

async function assertUnchanged(user: { id: number; username: string }) {
  const stored = await backend.getUser(user.id);
  assert.equal(stored?.bio, 'before');
  assert.equal(stored?.avatar_key, undefined);
  assert.equal(stored?.username, user.username);
  assert.equal((await backend.getClaim(user.username))?.user_id, user.id);
  assert.deepEqual(await backend.objectKeys(`avatar/${user.id}/`), []);
}

function assert503(response: { statusCode: number; body: string }) {
  assert.equal(response.statusCode, 503, response.body);
  assert.equal(JSON.parse(response.body).errors[0].code, 'service_unavailable');
}

describe('faults', () => {
  it('S3 unavailable: 503 and the user unchanged', async () => {
    const user = await newUser();
    const handler = createHandler(backend.config, clientsWith('s3', closedEndpoint));
    assert503(await handler(avatarPatch(user)));
    await assertUnchanged(user);
  });

  it('DynamoDB unavailable: 503 and the uploaded image deleted', async () => {
    const user = await newUser();
    const handler = createHandler(backend.config, clientsWith('dynamodb', closedEndpoint));
    assert503(await handler(avatarPatch(user)));
    await assertUnchanged(user);
  });

  it('DynamoDB unavailable during a rename: 503, uploads deleted, claims untouched', async () => {
    const user = await newUser();
    const handler = createHandler(backend.config, clientsWith('dynamodb', closedEndpoint));
    assert503(await handler(avatarPatch(user, { username: 'never_taken' })));
    await assertUnchanged(user);
    assert.equal(await backend.getClaim('never_taken'), undefined);
  });

  it('DynamoDB throttling past the retries: 503 and the uploaded image deleted', async () => {
    const user = await newUser();
    const clients = createAwsClients(backend.config);
    let attempts = 0;
    clients.dynamo.middlewareStack.add(
      () => async () => {
        attempts++;
        throw new ThrottlingException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } });
      },
      { step: 'finalizeRequest', name: 'alwaysThrottle' },
    );
    assert503(await createHandler(backend.config, clients)(avatarPatch(user)));
    assert.ok(attempts >= 1);
    await assertUnchanged(user);
  });

  it('a crash between upload and write leaves only an object tagged pending that no user points to', async () => {
    const user = await newUser();
    const clients = createAwsClients(backend.config);
    const putTagging: (string | undefined)[] = [];
    clients.s3.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'PutObjectCommand') putTagging.push((args.input as { Tagging?: string }).Tagging);
        return next(args);
      },
      { step: 'initialize', name: 'recordTagging' },
    );
    // The write never comes back: the container is frozen or killed with the upload done.
    let release!: () => void;
    const frozen = new Promise<void>((resolve) => (release = resolve));
    clients.dynamo.middlewareStack.add(
      () => async () => {
        await frozen;
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      },
      { step: 'finalizeRequest', name: 'freeze' },
    );
    const pending = createHandler(backend.config, clients)(avatarPatch(user));
    const deadline = Date.now() + 5000;
    while ((await backend.objectKeys(`avatar/${user.id}/`)).length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const [orphan] = await backend.objectKeys(`avatar/${user.id}/`);
    assert.ok(orphan, 'the upload happened before the write');
    assert.deepEqual(putTagging, ['state=pending'], 'uploaded with the tag the lifecycle rule expires');
    const report = await checkInvariants(backend.dynamo, backend.s3, backend.config);
    assert.deepEqual(report.problems, [], 'the user never points at it, so nothing is inconsistent');
    assert.ok(report.pendingOrphans.includes(orphan));
    const stored = await backend.getUser(user.id);
    assert.equal(stored?.avatar_key, undefined);
    // Let the frozen request end (in a real crash it never does); it then deletes its upload.
    release();
    assert503(await pending);
    assert.deepEqual(await backend.objectKeys(`avatar/${user.id}/`), []);
  });

  it('the whole request stops before the Lambda timeout, leaving time to delete its uploads', async () => {
    const user = await newUser();
    // Per attempt 300 ms and two attempts (see before()); the invocation has 1.2 s left, so the
    // write must give up after about 400 ms however many attempts it still has.
    const handler = createHandler(backend.config, clientsWith('dynamodb', hangingEndpoint));
    const started = Date.now();
    const response = await handler(avatarPatch(user, { username: 'in_a_hurry' }), { getRemainingTimeInMillis: () => 1200 });
    const took = Date.now() - started;
    assert503(response);
    assert.ok(took < 1000, `answered after ${took} ms`);
    await assertUnchanged(user);
  });

  it('marking an upload live fails after the write: 200, an error logged, the invariant check flags it', async () => {
    const user = await newUser();
    const clients = createAwsClients(backend.config);
    clients.s3.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'PutObjectTaggingCommand') {
          throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        }
        return next(args);
      },
      { step: 'initialize', name: 'failTagging' },
    );
    const logged: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => logged.push(String(chunk)) > 0) as typeof process.stdout.write;
    let response;
    try {
      response = await createHandler(backend.config, clients)(avatarPatch(user));
    } finally {
      process.stdout.write = write;
    }
    // The write happened; the caller hears what is true: the user is updated.
    assert.equal(response.statusCode, 200, response.body);
    const key = (await backend.getUser(user.id))!.avatar_key!;
    const failure = logged.map((line) => JSON.parse(line) as Record<string, unknown>).find((l) => l.step === 'mark_upload_live');
    assert.equal(failure?.level, 'error');
    assert.equal(failure?.key, key);
    const report = await checkInvariants(backend.dynamo, backend.s3, backend.config);
    assert.deepEqual(report.problems, [`image ${key} is pointed at but not marked live`]);
    // What an operator does on that log line (the other tests' invariant check needs it done).
    await backend.s3.send(new PutObjectTaggingCommand({ Bucket: backend.config.mediaBucket, Key: key, Tagging: { TagSet: [{ ...LIVE_TAG }] } }));
    assert.deepEqual((await checkInvariants(backend.dynamo, backend.s3, backend.config)).problems, []);
  });

  for (const service of ['dynamodb', 's3'] as const) {
    it(`${service} hanging: the call times out well inside the Lambda timeout, 503`, async () => {
      const user = await newUser();
      const handler = createHandler(backend.config, clientsWith(service, hangingEndpoint));
      const started = Date.now();
      assert503(await handler(avatarPatch(user)));
      // Two attempts of 300 ms each plus back-off; the function's timeout is 10 s.
      assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
      await assertUnchanged(user);
    });
  }
});
