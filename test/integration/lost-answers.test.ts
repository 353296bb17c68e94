// Faults after the service applied the call: DynamoDB or S3 did the work, and the answer is lost
// (thrown away as a timeout, the connection reset, or held back past the client's timeout), so the
// SDK retries or gives up. The contract: the answer is 200 or 503 (with Retry-After), never 500; a
// 200 is never undone; and once the stream has caught up the invariants hold: every image a user
// holds exists and is live, no live image is unheld, no claim without its user.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createHandler } from '../../src/functions/patch-user/handler.ts';
import { createHandler as createMediaEventsHandler, type Handler as MediaEventsHandler } from '../../src/functions/media-events/handler.ts';
import { createAwsClients, createS3Client, type AwsClients } from '../../src/store/aws-clients.ts';
import { createEventBridgeClient } from '../../src/functions/media-events/event-bus.ts';
import type { HttpResponse } from '../../src/http/response.ts';
import type { StreamConfig } from '../../src/functions/media-events/config.ts';
import { checkInvariants } from '../../tools/cli/check-invariants.ts';
import { startEventBridgeRecorder, type EventBridgeRecorder } from '../../tools/local/eventbridge-recorder.ts';
import { fixtureEvent, multipartBody, startTestBackend, type TestBackend, userSeeder } from '../support/backend.ts';
import { pngImage } from '../../tools/support/images.ts';
import { avatarEvent } from '../support/avatars.ts';
import { dynamoOperation, s3Operation, startLossyProxy, type Fate, type LossyProxy, type SeenRequest } from '../support/lossy-proxy.ts';
import { openTableStream, streamConfigFor, type TableStream } from '../support/stream.ts';
import { accessToken, makeKey } from '../../tools/support/tokens.ts';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { profileEvent } from '../support/profile-requests.ts';

const TIMEOUT_MS = 400;
const key = makeKey();
let backend: TestBackend;
let recorder: EventBridgeRecorder;
let stream: TableStream;
let streamConfig: StreamConfig;
let mediaEvents: MediaEventsHandler;
let dynamoProxy: LossyProxy;
let s3Proxy: LossyProxy;

before(async () => {
  backend = await startTestBackend({
    keys: [key],
    env: { AWS_MAX_ATTEMPTS: '2', AWS_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS) },
  });
  recorder = await startEventBridgeRecorder({ busNames: ['users-test'] });
  stream = await openTableStream(backend);
  streamConfig = streamConfigFor(backend, recorder.endpoint);
  mediaEvents = createMediaEventsHandler(streamConfig);
  dynamoProxy = await startLossyProxy(backend.emulators.dynamodbEndpoint);
  s3Proxy = await startLossyProxy(backend.emulators.s3Endpoint);
  for (const proxy of [dynamoProxy, s3Proxy]) proxy.delayMs = TIMEOUT_MS * 4;
});
beforeEach(() => {
  dynamoProxy.decide = () => 'pass';
  s3Proxy.decide = () => 'pass';
});
after(async () => {
  try {
    await drainAndCheck();
  } finally {
    await Promise.all([dynamoProxy.stop(), s3Proxy.stop()]);
    stream.stop();
    await recorder.stop();
    await backend.stop();
  }
});

const seedUser = userSeeder(() => backend, 'lossy', 8000, { bio: 'before' });
async function newUser() {
  const user = await seedUser();
  // A current avatar, live, so that a lost answer could make the handler delete the wrong one.
  const setUp = await createHandler(backend.config)(avatarPatch(user, {}, 'before'));
  assert.equal(setUp.statusCode, 200, setUp.body);
  await drainAndCheck();
  return user;
}

const avatarPatch = (user: { id: number; sub: string }, fields: Record<string, string> = {}, bio = 'after') =>
  fixtureEvent('multipart', {
    id: user.id,
    token: accessToken(key, { sub: user.sub }, backend.pool),
    ...multipartBody({ ...fields, bio, avatar: { bytes: pngImage(), filename: 'a.png', type: 'image/png' } }),
  });

/** The handler's clients, both through the lossy proxies. */
const proxiedClients = (): AwsClients =>
  createAwsClients({ ...backend.config, dynamodbEndpoint: dynamoProxy.endpoint, s3Endpoint: s3Proxy.endpoint });

/** After the first `times` answers of `command`, each is thrown away as a client-side timeout. */
function loseAnswers(client: AwsClients['dynamo'] | AwsClients['s3'], command: string, times = Infinity) {
  let left = times;
  (client.middlewareStack as AwsClients['dynamo']['middlewareStack']).add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (context.commandName === command && left-- > 0) {
        throw Object.assign(new Error('Request timed out'), { name: 'TimeoutError', $metadata: {} });
      }
      return result;
    },
    // Inside the SDK's retry loop: each attempt reaches the service, then its answer is lost.
    { step: 'finalizeRequest', priority: 'low', name: 'loseAnswer' },
  );
}

const fateFor = (operation: (r: SeenRequest) => string, name: string, fate: Fate, times = Infinity) => {
  let left = times;
  return (request: SeenRequest): Fate => (operation(request) === name && left-- > 0 ? fate : 'pass');
};

/**
 * The first attempt of the write reaches DynamoDB and is applied, its answer lost; every retry is
 * refused as a retry whose token DynamoDB no longer knows would be: the user's condition fails
 * (a version moved on by the first attempt), and DynamoDB returns the user as it now is.
 */
function refuseRetriesOfAppliedWrite(clients: AwsClients, userId: number) {
  let attempt = 0;
  clients.dynamo.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'TransactWriteItemsCommand') return next(args);
      attempt++;
      if (attempt === 1) {
        await next(args);
        throw Object.assign(new Error('Request timed out'), { name: 'TimeoutError', $metadata: {} });
      }
      const { GetItemCommand, TransactionCanceledException } = await import('@aws-sdk/client-dynamodb');
      const { Item } = await clients.dynamo.send(
        new GetItemCommand({ TableName: backend.config.tableName, Key: { pk: { S: `USER#${userId}` } }, ConsistentRead: true }),
      );
      const items = (args.input as { TransactItems: Record<string, { Key?: { pk: { S: string } } }>[] }).TransactItems;
      throw new TransactionCanceledException({
        message: 'Transaction cancelled',
        $metadata: { httpStatusCode: 400 },
        CancellationReasons: items.map((item) =>
          item.Update?.Key?.pk.S === `USER#${userId}` ? { Code: 'ConditionalCheckFailed', Item } : { Code: 'None' },
        ),
      });
    },
    { step: 'finalizeRequest', priority: 'low', name: 'refuseRetry' },
  );
}

async function drainAndCheck() {
  const { deadLetters } = await stream.drain(mediaEvents);
  assert.deepEqual(deadLetters, []);
  const report = await checkInvariants(backend.dynamo, backend.s3, backend.config);
  assert.deepEqual(report.problems, []);
}

/** 200 or 503 with Retry-After, never anything else; then the stream catches up and all holds. */
async function assertSafe(user: { id: number }, response: HttpResponse, before: string) {
  assert.ok(response.statusCode === 200 || response.statusCode === 503, `${response.statusCode} ${response.body}`);
  if (response.statusCode === 503) {
    assert.equal(JSON.parse(response.body).errors[0].code, 'service_unavailable');
    assert.equal(response.headers['Retry-After'], '1');
  }
  await drainAndCheck();
  const stored = (await backend.getUser(user.id))!;
  if (response.statusCode === 200) {
    const answered = JSON.parse(response.body);
    assert.equal(answered.avatar, `${backend.config.mediaBaseUrl}/${stored.avatar_key}`, 'a 200 is never undone');
  }
  // Whatever happened, the avatar the user holds exists and is live (drainAndCheck), and the
  // stored user is either as before or exactly as after the write.
  if (stored.avatar_key === before) assert.equal(stored.bio, 'before');
  else assert.equal(stored.bio, 'after');
  return stored;
}

describe('lost answers: the API', () => {
  it('the write (a transaction) applied, its answer lost once: the retry, with its token, succeeds; 200, the avatar kept', async () => {
    const user = await newUser();
    const before = (await backend.getUser(user.id))!.avatar_key!;
    const clients = createAwsClients(backend.config);
    loseAnswers(clients.dynamo, 'TransactWriteItemsCommand', 1);
    const response = await createHandler(backend.config, clients)(avatarPatch(user));
    assert.equal(response.statusCode, 200, response.body);
    const stored = await assertSafe(user, response, before);
    assert.notEqual(stored.avatar_key, before);
    assert.ok(await backend.objectExists(stored.avatar_key!), 'the new avatar was not deleted');
    assert.equal(await backend.objectExists(before), false, 'the replaced avatar is deleted by the stream');
  });

  for (const header of ['If-Match', 'If-None-Match'] as const) {
    // If-Match the stored version, or If-None-Match the version the write itself makes: a retry of
    // the applied write that DynamoDB evaluated again would fail either.
    const tagOf = (version: number) => `"${header === 'If-Match' ? version : version + 1}"`;
    const textPatch = (user: { id: number; sub: string }, version: number) => {
      const event = fixtureEvent('json', {
        id: user.id,
        token: accessToken(key, { sub: user.sub }, backend.pool),
        body: JSON.stringify({ bio: 'after', real_name: '' }),
      });
      event.headers = { ...event.headers, [header]: tagOf(version) };
      return event;
    };

    it(`text patch with ${header} applied, its answer lost once: the retry, with its token, succeeds; 200, never a 412`, async () => {
      const user = await seedUser();
      const version = (await backend.getUser(user.id))!.version;
      const event = textPatch(user, version);
      const clients = createAwsClients(backend.config);
      loseAnswers(clients.dynamo, 'TransactWriteItemsCommand', 1);
      const response = await createHandler(backend.config, clients)(event);
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.headers.ETag, `"${version + 1}"`);
      const stored = (await backend.getUser(user.id))!;
      assert.equal(stored.bio, 'after', 'the write landed');
      assert.equal(stored.version, version + 1, 'once');
      await drainAndCheck();
      // The same request sent again by the client, with its now stale tag: a 412 (nothing changes).
      const repeated = await createHandler(backend.config)(event);
      assert.equal(repeated.statusCode, 412, repeated.body);
      assert.equal((await backend.getUser(user.id))!.version, version + 1);
    });

    it(`text patch with ${header} applied, its answer lost, the retry refused by the condition on our own write: 503, never a 412`, async () => {
      // The contract: a 412 means nothing changed; a write whose answer was lost is a 503 and the
      // user is exactly as after it.
      const user = await seedUser();
      const version = (await backend.getUser(user.id))!.version;
      const clients = createAwsClients(backend.config);
      refuseRetriesOfAppliedWrite(clients, user.id);
      const response = await createHandler(backend.config, clients)(textPatch(user, version));
      assert.equal(response.statusCode, 503, response.body);
      assert.equal(JSON.parse(response.body).errors[0].code, 'service_unavailable');
      assert.equal(response.headers['Retry-After'], '1');
      const stored = (await backend.getUser(user.id))!;
      assert.equal(stored.bio, 'after', 'the write landed');
      assert.equal(stored.version, version + 1, 'once');
      await drainAndCheck();
    });
  }

  it('the write applied, every answer lost: 503, and the write that landed keeps its image', async () => {
    const user = await newUser();
    const before = (await backend.getUser(user.id))!.avatar_key!;
    const clients = createAwsClients(backend.config);
    loseAnswers(clients.dynamo, 'TransactWriteItemsCommand');
    const response = await createHandler(backend.config, clients)(avatarPatch(user));
    assert.equal(response.statusCode, 503, response.body);
    const stored = await assertSafe(user, response, before);
    assert.notEqual(stored.avatar_key, before, 'the write landed');
  });

  it('the write applied, its answer lost, and the retry refused by a condition (as a version condition would be): 503, the image kept', async () => {
    const user = await newUser();
    const before = (await backend.getUser(user.id))!.avatar_key!;
    const clients = createAwsClients(backend.config);
    refuseRetriesOfAppliedWrite(clients, user.id);
    const response = await createHandler(backend.config, clients)(avatarPatch(user));
    assert.equal(response.statusCode, 503, 'the refusal was about our own write: its outcome is what the client must hear');
    const stored = await assertSafe(user, response, before);
    assert.notEqual(stored.avatar_key, before);
    assert.ok(await backend.objectExists(stored.avatar_key!), 'the upload the user holds was not deleted');
  });

  for (const fate of ['reset', 'delay'] as const) {
    it(`the write applied, the connection ${fate === 'reset' ? 'reset' : 'silent past the timeout'}: 200 or 503, nothing lost`, async () => {
      const user = await newUser();
      const before = (await backend.getUser(user.id))!.avatar_key!;
      dynamoProxy.decide = fateFor(dynamoOperation, 'TransactWriteItems', fate);
      const response = await createHandler(backend.config, proxiedClients())(avatarPatch(user));
      assert.ok(dynamoProxy.log.some((r) => r.fate === fate && r.status === 200), 'DynamoDB applied the write');
      await assertSafe(user, response, before);
    });
  }

  for (const times of [1, Infinity]) {
    it(`TransactWriteItems (rename with avatar) applied, ${times === 1 ? 'its first answer' : 'every answer'} lost: 200 or 503, claims consistent`, async () => {
      const user = await newUser();
      const before = (await backend.getUser(user.id))!.avatar_key!;
      const clients = createAwsClients(backend.config);
      loseAnswers(clients.dynamo, 'TransactWriteItemsCommand', times);
      const name = `renamed_${user.id}`;
      const response = await createHandler(backend.config, clients)(avatarPatch(user, { username: name }));
      const stored = await assertSafe(user, response, before);
      assert.equal(stored.username, name, 'the transaction landed');
      assert.equal((await backend.getClaim(name))?.user_id, user.id);
      assert.equal(await backend.getClaim(`lossy${user.id}`), undefined);
      if (times === 1) assert.equal(response.statusCode, 200, response.body);
    });
  }

  it('TransactWriteItems (rename, text only) applied, its first answer lost: not a false "username taken"', async () => {
    const user = await newUser();
    const clients = createAwsClients(backend.config);
    loseAnswers(clients.dynamo, 'TransactWriteItemsCommand', 1);
    const name = `textonly_${user.id}`;
    const response = await createHandler(backend.config, clients)(
      fixtureEvent('json', { id: user.id, token: accessToken(key, { sub: user.sub }, backend.pool), body: JSON.stringify({ username: name }) }),
    );
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(JSON.parse(response.body).username, name);
    await drainAndCheck();
  });

  it('the request deadline aborts the write in flight: 503 with Retry-After, the upload left for the stream or the lifecycle rule', async () => {
    const user = await newUser();
    const before = (await backend.getUser(user.id))!.avatar_key!;
    dynamoProxy.decide = fateFor(dynamoOperation, 'TransactWriteItems', 'delay');
    const started = Date.now();
    const response = await createHandler(backend.config, proxiedClients())(avatarPatch(user), {
      getRemainingTimeInMillis: () => 1500,
    });
    assert.equal(response.statusCode, 503, response.body);
    assert.ok(Date.now() - started < 1500, 'answered before the Lambda timeout');
    const stored = await assertSafe(user, response, before);
    // DynamoDB applied it before the abort: the stream made its upload live.
    assert.notEqual(stored.avatar_key, before);
  });

  for (const fate of ['reset', 'delay'] as const) {
    it(`PutObject stored, its answers lost (${fate}): 503, the write never sent, the upload deleted`, async () => {
      const user = await newUser();
      const before = (await backend.getUser(user.id))!.avatar_key!;
      s3Proxy.decide = fateFor(s3Operation, 'PutObject', fate);
      const response = await createHandler(backend.config, proxiedClients())(avatarPatch(user));
      assert.equal(response.statusCode, 503, response.body);
      await assertSafe(user, response, before);
      assert.deepEqual(await backend.objectKeys(`avatar/${user.id}/`), [before], 'nothing left behind');
    });
  }

  it('PutObject stored, its first answer lost: the SDK retries, 200', async () => {
    const user = await newUser();
    const before = (await backend.getUser(user.id))!.avatar_key!;
    s3Proxy.decide = fateFor(s3Operation, 'PutObject', 'reset', 1);
    const response = await createHandler(backend.config, proxiedClients())(avatarPatch(user));
    assert.equal(response.statusCode, 200, response.body);
    await assertSafe(user, response, before);
  });
});

describe('lost answers: the stream function', () => {
  for (const operation of ['PutObjectTagging', 'DeleteObject'] as const) {
    for (const fate of ['reset', 'delay'] as const) {
      it(`${operation} applied, its answers lost (${fate}): the record is retried and converges`, async () => {
        const user = await newUser();
        const before = (await backend.getUser(user.id))!.avatar_key!;
        assert.equal((await createHandler(backend.config)(avatarPatch(user))).statusCode, 200);
        // Every answer of the first three calls lost: the SDK's two attempts fail, then Lambda's retry.
        s3Proxy.decide = fateFor(s3Operation, operation, fate, 3);
        const lossy = createMediaEventsHandler(streamConfig, {
          s3: createS3Client(streamConfig, s3Proxy.endpoint),
          eventBridge: createEventBridgeClient(streamConfig, streamConfig.eventBridgeEndpoint),
        });
        const { invocations, deadLetters } = await stream.drain(lossy);
        assert.deepEqual(deadLetters, []);
        assert.ok(invocations >= 2, 'the first invocation reported a failure');
        assert.ok(s3Proxy.log.some((r) => s3Operation(r) === operation && r.fate === fate && r.status < 300), 'S3 applied it');
        const report = await checkInvariants(backend.dynamo, backend.s3, backend.config);
        assert.deepEqual(report.problems, []);
        assert.equal(await backend.objectExists(before), false);
      });
    }
  }

  it('PutEvents applied, its answer lost: the event goes out again with the same id and version', async () => {
    const user = await newUser();
    assert.equal((await createHandler(backend.config)(avatarPatch(user))).statusCode, 200);
    recorder.clear();
    const eventBridge = createEventBridgeClient(streamConfig, streamConfig.eventBridgeEndpoint);
    loseAnswers(eventBridge as unknown as AwsClients['dynamo'], 'PutEventsCommand', 2);
    const lossy = createMediaEventsHandler(streamConfig, { s3: createS3Client(streamConfig, streamConfig.s3Endpoint), eventBridge });
    const { deadLetters } = await stream.drain(lossy);
    assert.deepEqual(deadLetters, []);
    const events = recorder.events().filter((e) => e.detail.id === user.id);
    assert.ok(events.length >= 2, 'delivered more than once');
    assert.equal(new Set(events.map((e) => `${e.detail.id}@${e.detail.version}`)).size, 1, 'one change once deduplicated');
  });
});

describe('lost answers: settings and hidden users', () => {
  const tokenOf = (user: { sub: string }) => accessToken(key, { sub: user.sub }, backend.pool);
  const hiddenSet = async (id: number) => {
    const { Item } = await backend.dynamo.send(new GetCommand({ TableName: backend.config.tableName, Key: { pk: `HIDDEN#${id}` }, ConsistentRead: true }));
    return [...((Item?.hidden as Set<number> | undefined) ?? [])];
  };

  for (const [what, startHidden] of [['hide', false], ['show', true]] as const) {
    it(`a toggle (${what}) applied, its answer lost: the SDK's retry finds the set as wanted, 204, not toggled back`, async () => {
      const [me, them] = [await seedUser(), await seedUser()];
      const toggle = (handler: ReturnType<typeof createHandler>) =>
        handler(profileEvent({ path: `${them.id}/hide/`, method: 'POST', token: tokenOf(me) }));
      if (startHidden) assert.equal((await toggle(createHandler(backend.config))).statusCode, 204);
      const clients = createAwsClients(backend.config);
      loseAnswers(clients.dynamo, 'UpdateItemCommand', 1);
      const response = await toggle(createHandler(backend.config, clients));
      assert.equal(response.statusCode, 204, response.body);
      assert.deepEqual(await hiddenSet(me.id), startHidden ? [] : [them.id]);
    });
  }

  it('a settings write applied, its answer lost once: the retry succeeds; 200 with the settings, the ETag untouched', async () => {
    const user = await seedUser();
    const version = (await backend.getUser(user.id))!.version;
    const clients = createAwsClients(backend.config);
    loseAnswers(clients.dynamo, 'TransactWriteItemsCommand', 1);
    const response = await createHandler(backend.config, clients)(
      profileEvent({ path: `${user.id}/settings/`, method: 'PATCH', token: tokenOf(user), body: '{"qa_frequency": 0}', contentType: 'application/json' }),
    );
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(JSON.parse(response.body).qa_frequency, 0);
    const stored = (await backend.getUser(user.id))! as unknown as Record<string, unknown>;
    assert.equal(stored.qa_frequency, 0);
    assert.equal(stored.version, version);
  });

  it('a settings write whose every answer is lost: 503 with Retry-After, the settings as before or exactly as after', async () => {
    const user = await seedUser();
    const clients = createAwsClients(backend.config);
    loseAnswers(clients.dynamo, 'TransactWriteItemsCommand');
    const response = await createHandler(backend.config, clients)(
      profileEvent({ path: `${user.id}/settings/`, method: 'PATCH', token: tokenOf(user), body: 'show_toast_notifications=0', contentType: 'application/x-www-form-urlencoded' }),
    );
    assert.equal(response.statusCode, 503, response.body);
    assert.equal(response.headers['Retry-After'], '1');
    const stored = (await backend.getUser(user.id))! as unknown as Record<string, unknown>;
    assert.ok([undefined, 0].includes(stored.show_toast_notifications as number | undefined));
  });
});

describe('the sign-in trigger’s refresh, its answer lost', () => {
  async function signInSetUp(id: number) {
    const { createHandler: createSignIn } = await import('../../src/functions/post-authentication/handler.ts');
    const { readSignUpConfig } = await import('../../src/platform/config.ts');
    const { createDynamoClient } = await import('../../src/store/dynamo-client.ts');
    const config = readSignUpConfig({
      AWS_REGION: backend.config.region,
      TABLE_NAME: backend.config.tableName,
      DYNAMODB_ENDPOINT: backend.emulators.dynamodbEndpoint,
      AWS_MAX_ATTEMPTS: '2',
      AWS_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS),
    });
    const dynamo = createDynamoClient(config);
    const sub = `sub-${id}`;
    const event = {
      triggerSource: 'PostAuthentication_Authentication',
      request: { userAttributes: { sub, email: `lost${id}@example.org`, email_verified: 'true' } },
      response: {},
    };
    return { signIn: createSignIn(config, dynamo), dynamo, event };
  }

  it('the update applied and its answer lost: the retry finds the values there, the version moved once, the sign-in answered', async () => {
    const user = await seedUser();
    const before = (await backend.getUser(user.id))!.version;
    const { signIn, dynamo, event } = await signInSetUp(user.id);
    loseAnswers(dynamo as unknown as AwsClients['dynamo'], 'UpdateItemCommand', 1);
    assert.deepEqual(await signIn(structuredClone(event)), event);
    const stored = (await backend.getUser(user.id))!;
    assert.equal(stored.email, `lost${user.id}@example.org`);
    assert.equal(stored.version, before + 1, 'a retried refresh is no second write');
    dynamo.destroy();
  });

  it('every answer lost: the sign-in still goes through; the write that landed stays', async () => {
    const user = await seedUser();
    const before = (await backend.getUser(user.id))!.version;
    const { signIn, dynamo, event } = await signInSetUp(user.id);
    loseAnswers(dynamo as unknown as AwsClients['dynamo'], 'UpdateItemCommand');
    assert.deepEqual(await signIn(structuredClone(event)), event);
    const stored = (await backend.getUser(user.id))!;
    assert.equal(stored.email, `lost${user.id}@example.org`);
    assert.equal(stored.version, before + 1);
    dynamo.destroy();
  });
});

describe('lost answers: the avatar gallery', () => {
  const galleryCall = (user: { sub: string }, method: string, body: Parameters<typeof avatarEvent>[1] = {}) =>
    avatarEvent(method, { token: accessToken(key, { sub: user.sub }, backend.pool), ...body });
  const addEvent = (user: { sub: string }) =>
    galleryCall(user, 'POST', multipartBody({ avatar: { bytes: pngImage(), filename: 'a.png', type: 'image/png' } }));
  const idEvent = (user: { sub: string }, method: string, avatarId: number) =>
    galleryCall(user, method, { body: JSON.stringify({ avatar_id: avatarId }), contentType: 'application/json' });
  const galleryOf = async (id: number) => (await backend.getUser(id))!.avatars ?? [];

  /** 201/204 or 503 with Retry-After, never anything else; then the stream catches up and all holds. */
  async function assertSafeGallery(response: HttpResponse, ok: number) {
    assert.ok(response.statusCode === ok || response.statusCode === 503, `${response.statusCode} ${response.body}`);
    if (response.statusCode === 503) assert.equal(response.headers['Retry-After'], '1');
    await drainAndCheck();
  }

  it('POST applied, its answer lost once: the retry, with its token, succeeds; 201, the avatar stored once and kept', async () => {
    const user = await newUser();
    const before = await galleryOf(user.id);
    const clients = createAwsClients(backend.config);
    loseAnswers(clients.dynamo, 'TransactWriteItemsCommand', 1);
    const response = await createHandler(backend.config, clients)(addEvent(user));
    assert.equal(response.statusCode, 201, response.body);
    await assertSafeGallery(response, 201);
    const after = await galleryOf(user.id);
    assert.equal(after.length, before.length + 1, 'once');
    const answered = JSON.parse(response.body);
    assert.equal(answered.avatar, `${backend.config.mediaBaseUrl}/${after.at(-1)!.key}`, 'a 201 is never undone');
    assert.ok(await backend.objectExists(after.at(-1)!.key));
  });

  it('POST applied, every answer lost: 503, and the avatar that landed keeps its object', async () => {
    const user = await newUser();
    const before = await galleryOf(user.id);
    const clients = createAwsClients(backend.config);
    loseAnswers(clients.dynamo, 'TransactWriteItemsCommand');
    const response = await createHandler(backend.config, clients)(addEvent(user));
    assert.equal(response.statusCode, 503, response.body);
    await assertSafeGallery(response, 201);
    const after = await galleryOf(user.id);
    assert.equal(after.length, before.length + 1, 'the write landed, once');
    assert.deepEqual(await backend.objectTags(after.at(-1)!.key), { state: 'live' });
  });

  it('POST applied, its answer lost, the retry refused by the version condition on our own write: 201 or 503, never a 400 or a deleted upload', async () => {
    const user = await newUser();
    const before = await galleryOf(user.id);
    const clients = createAwsClients(backend.config);
    refuseRetriesOfAppliedWrite(clients, user.id);
    const response = await createHandler(backend.config, clients)(addEvent(user));
    await assertSafeGallery(response, 201);
    const after = await galleryOf(user.id);
    assert.equal(after.length, before.length + 1);
    assert.ok(await backend.objectExists(after.at(-1)!.key), 'the upload the gallery holds was not deleted');
  });

  it('POST: PutObject stored, its answers lost: 503, the write never sent, the upload deleted', async () => {
    const user = await newUser();
    const keys = await backend.objectKeys(`avatar/${user.id}/`);
    s3Proxy.decide = fateFor(s3Operation, 'PutObject', 'reset');
    const response = await createHandler(backend.config, proxiedClients())(addEvent(user));
    assert.equal(response.statusCode, 503, response.body);
    await assertSafeGallery(response, 201);
    assert.deepEqual(await backend.objectKeys(`avatar/${user.id}/`), keys, 'nothing left behind');
  });

  for (const [method, ok] of [['PATCH', 204], ['DELETE', 204]] as const) {
    it(`${method} applied, its answer lost, the retry refused by the condition on our own write: 503, never a 404`, async () => {
      const user = await newUser();
      assert.equal((await createHandler(backend.config)(addEvent(user))).statusCode, 201);
      await drainAndCheck();
      const version = (await backend.getUser(user.id))!.version;
      const clients = createAwsClients(backend.config);
      refuseRetriesOfAppliedWrite(clients, user.id);
      const response = await createHandler(backend.config, clients)(idEvent(user, method, 2));
      assert.equal(response.statusCode, 503, response.body);
      await assertSafeGallery(response, ok);
      const stored = (await backend.getUser(user.id))!;
      assert.equal(stored.version, version + 1, 'applied once');
      if (method === 'DELETE') assert.deepEqual(stored.avatars!.map((e) => e.id), [1]);
      else assert.equal(stored.avatar_key, stored.avatars!.find((e) => e.id === 2)!.key);
    });

    it(`${method} applied, its answer lost once: 204`, async () => {
      const user = await newUser();
      assert.equal((await createHandler(backend.config)(addEvent(user))).statusCode, 201);
      const clients = createAwsClients(backend.config);
      loseAnswers(clients.dynamo, 'TransactWriteItemsCommand', 1);
      const response = await createHandler(backend.config, clients)(idEvent(user, method, 2));
      assert.equal(response.statusCode, ok, response.body);
      await assertSafeGallery(response, ok);
    });
  }
});
