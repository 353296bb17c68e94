// AWS faults through the real handler: S3 or DynamoDB out of reach, throttled past the SDK's
// retries, or hanging. Each answers 503 with Retry-After and leaves the user and its claim as
// before. Uploads are deleted when the write was never sent or refused; when its outcome is
// unknown they stay, tagged pending, for the stream (if the write landed) or the bucket's lifecycle
// rule (if not). Faults after the service applied a call: test/integration/lost-answers.test.ts.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ThrottlingException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { createHandler } from '../../src/functions/patch-user/handler.ts';
import { createHandler as createMediaEventsHandler } from '../../src/functions/media-events/handler.ts';
import { createAwsClients, type AwsClients } from '../../src/store/aws-clients.ts';
import type { Config } from '../../src/platform/config.ts';
import { checkInvariants } from '../../tools/cli/check-invariants.ts';
import { startEventBridgeRecorder } from '../../tools/local/eventbridge-recorder.ts';
import { findFreePort } from '../../tools/local/local-stack.ts';
import { pngImage } from '../../tools/support/images.ts';
import { fixtureEvent, multipartBody, startTestBackend, type TestBackend, userSeeder } from '../support/backend.ts';
import { openTableStream, streamConfigFor } from '../support/stream.ts';
import { avatarEvent } from '../support/avatars.ts';
import { accessToken, makeKey } from '../../tools/support/tokens.ts';

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
/** Uploads of requests whose write's outcome was unknown: left pending, no user holds them. */
const leftPending: string[] = [];

after(async () => {
  try {
    const report = await checkInvariants(backend.dynamo, backend.s3, backend.config);
    assert.deepEqual(report.problems, []);
    assert.deepEqual(report.pendingOrphans.sort(), leftPending.sort(), 'uploads of refused writes were deleted');
  } finally {
    hangingServer.close();
    await backend.stop();
  }
});

const newUser = userSeeder(() => backend, 'faulty', 5000, { bio: 'before' });

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

/**
 * The user and its claim as before. `uploads`: 'deleted' when the write was never sent or was
 * refused; 'left pending' when its outcome was unknown (not live, held by no one).
 */
async function assertUnchanged(user: { id: number; username: string }, uploads: 'deleted' | 'left pending' = 'deleted') {
  const stored = await backend.getUser(user.id);
  assert.equal(stored?.bio, 'before');
  assert.equal(stored?.avatar_key, undefined);
  assert.equal(stored?.username, user.username);
  assert.equal((await backend.getClaim(user.username))?.user_id, user.id);
  const objects = await backend.objectKeys(`avatar/${user.id}/`);
  if (uploads === 'deleted') return assert.deepEqual(objects, []);
  assert.equal(objects.length, 1, 'the upload is left for the lifecycle rule');
  assert.notEqual((await backend.objectTags(objects[0]!)).state, 'live');
  leftPending.push(objects[0]!);
}

/** Every attempt of the user's write (TransactWriteItems) ends in `fault`; reads go through. */
function onlyTheWrite(clients: AwsClients, fault: () => Promise<never>) {
  clients.dynamo.middlewareStack.add(
    (next, context) => async (args) => (context.commandName === 'TransactWriteItemsCommand' ? fault() : next(args)),
    { step: 'finalizeRequest', name: 'faultyWrite' },
  );
}

function assert503(response: { statusCode: number; body: string; headers: Record<string, string> }) {
  assert.equal(response.statusCode, 503, response.body);
  assert.equal(JSON.parse(response.body).errors[0].code, 'service_unavailable');
  assert.equal(response.headers['Retry-After'], '1');
}

describe('faults', () => {
  it('S3 unavailable: 503 and the user unchanged', async () => {
    const user = await newUser();
    const handler = createHandler(backend.config, clientsWith('s3', closedEndpoint));
    assert503(await handler(avatarPatch(user)));
    await assertUnchanged(user);
  });

  it('DynamoDB unavailable: a new avatar reads the user (its gallery) first; the read fails, the write is never sent: 503, upload deleted', async () => {
    const user = await newUser();
    const handler = createHandler(backend.config, clientsWith('dynamodb', closedEndpoint));
    assert503(await handler(avatarPatch(user)));
    await assertUnchanged(user);
  });

  it('DynamoDB unavailable for the write (the read answered): 503, the upload left pending (an earlier attempt may have landed)', async () => {
    const user = await newUser();
    const clients = createAwsClients(backend.config);
    onlyTheWrite(clients, async () => {
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', name: 'Error' });
    });
    assert503(await createHandler(backend.config, clients)(avatarPatch(user)));
    await assertUnchanged(user, 'left pending');
  });

  it('DynamoDB unavailable during a rename: the read fails, the write is never sent; 503, uploads deleted, claims untouched', async () => {
    const user = await newUser();
    const handler = createHandler(backend.config, clientsWith('dynamodb', closedEndpoint));
    assert503(await handler(avatarPatch(user, { username: 'never_taken' })));
    await assertUnchanged(user);
    assert.equal(await backend.getClaim('never_taken'), undefined);
  });

  it('a rename throttled inside the transaction (ThrottlingError reasons): 503 with Retry-After, uploads deleted', async () => {
    const user = await newUser();
    const clients = createAwsClients(backend.config);
    clients.dynamo.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'TransactWriteItemsCommand') return next(args);
        throw new TransactionCanceledException({
          message: 'Transaction cancelled, please refer cancellation reasons for specific reasons [None, ThrottlingError, None]',
          $metadata: { httpStatusCode: 400 },
          CancellationReasons: [{ Code: 'None' }, { Code: 'ThrottlingError', Message: 'Throughput exceeds the current capacity' }, { Code: 'None' }],
        });
      },
      { step: 'initialize', name: 'throttleTransaction' },
    );
    assert503(await createHandler(backend.config, clients)(avatarPatch(user, { username: 'throttled_name' })));
    await assertUnchanged(user);
    assert.equal(await backend.getClaim('throttled_name'), undefined);
  });

  it('DynamoDB throttling past the retries: 503, the upload left pending', async () => {
    const user = await newUser();
    const clients = createAwsClients(backend.config);
    let attempts = 0;
    onlyTheWrite(clients, async () => {
      attempts++;
      throw new ThrottlingException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } });
    });
    assert503(await createHandler(backend.config, clients)(avatarPatch(user)));
    assert.ok(attempts >= 1);
    await assertUnchanged(user, 'left pending');
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
    onlyTheWrite(clients, async () => {
      await frozen;
      throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    });
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
    // Let the frozen request end (in a real crash it never does): a reset connection leaves the
    // write's outcome unknown, so the upload stays for the lifecycle rule.
    release();
    assert503(await pending);
    await assertUnchanged(user, 'left pending');
  });

  it('the whole request stops before the Lambda timeout; the rename\'s read never came back, so its upload is deleted', async () => {
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

  it('after a committed write the handler makes no S3 call: tagging and deleting broken, still 200; the stream does both', async () => {
    const user = await newUser();
    const clients = createAwsClients(backend.config);
    const sent: string[] = [];
    clients.s3.middlewareStack.add(
      (next, context) => async (args) => {
        sent.push(context.commandName ?? '');
        if (context.commandName !== 'PutObjectCommand') {
          throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        }
        return next(args);
      },
      { step: 'initialize', name: 'onlyUploads' },
    );
    const handler = createHandler(backend.config, clients);
    const first = await handler(avatarPatch(user));
    assert.equal(first.statusCode, 200, first.body);
    const firstKey = (await backend.getUser(user.id))!.avatar_key!;
    const second = await handler(avatarPatch(user));
    assert.equal(second.statusCode, 200, second.body);
    assert.deepEqual(sent, ['PutObjectCommand', 'PutObjectCommand']);
    const secondKey = (await backend.getUser(user.id))!.avatar_key!;
    assert.notEqual((await backend.objectTags(secondKey)).state, 'live', 'pending until the stream sees the write');

    // The stream catches up: the held key live, the replaced one deleted.
    const recorder = await startEventBridgeRecorder();
    const stream = await openTableStream(backend);
    try {
      const { deadLetters } = await stream.drain(createMediaEventsHandler(streamConfigFor(backend, recorder.endpoint)));
      assert.deepEqual(deadLetters, []);
    } finally {
      stream.stop();
      await recorder.stop();
    }
    assert.deepEqual(await backend.objectTags(secondKey), { state: 'live' });
    assert.equal(await backend.objectExists(firstKey), false);
    // The other tests' uploads of unknown outcome are still pending: the stream held none of them.
    const report = await checkInvariants(backend.dynamo, backend.s3, backend.config);
    assert.deepEqual(report.problems, []);
  });

  for (const service of ['dynamodb', 's3'] as const) {
    it(`${service} hanging: the call times out well inside the Lambda timeout, 503`, async () => {
      const user = await newUser();
      const handler = createHandler(backend.config, clientsWith(service, hangingEndpoint));
      const started = Date.now();
      assert503(await handler(avatarPatch(user)));
      // Two attempts of 300 ms each plus back-off; the function's timeout is 10 s.
      assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
      // A hanging S3 fails the upload, a hanging DynamoDB the read of the user (a new avatar
      // changes its gallery): either way the write is never sent. A write that hangs:
      // test/integration/lost-answers.test.ts (the request deadline).
      await assertUnchanged(user);
    });
  }
});

describe('faults: the avatar gallery', () => {
  const addEvent = (user: { sub: string }) =>
    avatarEvent('POST', {
      token: accessToken(key, { sub: user.sub }, backend.pool),
      ...multipartBody({ avatar: { bytes: pngImage(), filename: 'a.png', type: 'image/png' } }),
    });
  const deleteEvent = (user: { sub: string }, id: number) =>
    avatarEvent('DELETE', { token: accessToken(key, { sub: user.sub }, backend.pool), body: JSON.stringify({ avatar_id: id }), contentType: 'application/json' });

  it('POST with S3 unavailable: 503, the gallery and the user as before', async () => {
    const user = await newUser();
    assert503(await createHandler(backend.config, clientsWith('s3', closedEndpoint))(addEvent(user)));
    await assertUnchanged(user);
    assert.equal((await backend.getUser(user.id))!.avatars, undefined);
  });

  it('POST with DynamoDB unavailable: the sub index read fails, nothing is uploaded; 503', async () => {
    const user = await newUser();
    assert503(await createHandler(backend.config, clientsWith('dynamodb', closedEndpoint))(addEvent(user)));
    await assertUnchanged(user);
  });

  it('POST with DynamoDB unavailable for the write (the reads answered): 503, the upload left pending', async () => {
    const user = await newUser();
    const clients = createAwsClients(backend.config);
    onlyTheWrite(clients, async () => {
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', name: 'Error' });
    });
    assert503(await createHandler(backend.config, clients)(addEvent(user)));
    await assertUnchanged(user, 'left pending');
  });

  it('DELETE with the write throttled past the retries: 503, the gallery as before', async () => {
    const user = await newUser();
    const added = await createHandler(backend.config)(addEvent(user));
    assert.equal(added.statusCode, 201, added.body);
    const before = await backend.getUser(user.id);
    const clients = createAwsClients(backend.config);
    onlyTheWrite(clients, async () => {
      throw new ThrottlingException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } });
    });
    assert503(await createHandler(backend.config, clients)(deleteEvent(user, 1)));
    assert.deepEqual(await backend.getUser(user.id), before);
    // Its avatar is held: the stream makes it live, as the after hook's invariants require.
    const recorder = await startEventBridgeRecorder();
    const stream = await openTableStream(backend);
    try {
      assert.deepEqual((await stream.drain(createMediaEventsHandler(streamConfigFor(backend, recorder.endpoint)))).deadLetters, []);
    } finally {
      stream.stop();
      await recorder.stop();
    }
  });
});
