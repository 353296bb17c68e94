// The stream function on the table's real stream (DynamoDB Local), the S3 emulator and a PutEvents
// recorder that validates as EventBridge does: S3 follows the table, one event per committed
// change and none for a request that changed nothing, failed records retried in order, replays
// harmless. Expected events come from the contract's "Events" section and the schema in schemas/.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { NumberValue, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { createHandler, type Handler } from '../../src/functions/patch-user/handler.ts';
import { createHandler as createMediaEventsHandler, type Handler as MediaEventsHandler } from '../../src/functions/media-events/handler.ts';
import { createS3Client } from '../../src/store/aws-clients.ts';
import { createEventBridgeClient } from '../../src/functions/media-events/event-bus.ts';
import type { StreamConfig } from '../../src/functions/media-events/config.ts';
import { checkInvariants } from '../../tools/cli/check-invariants.ts';
import { startEventBridgeRecorder, type EventBridgeRecorder, type RecordedEvent } from '../../tools/local/eventbridge-recorder.ts';
import { fixtureEvent, multipartBody, startTestBackend, type TestBackend, userSeeder } from '../support/backend.ts';
import { USER_FIELDS } from '../support/contract.ts';
import { avatarEvent } from '../support/avatars.ts';
import { pngImage } from '../../tools/support/images.ts';
import type { LambdaStreamRecord } from '../../tools/local/stream-records.ts';
import { openTableStream, stopDrainedBackend, streamConfigFor, testDeadLetterFile, type TableStream } from '../support/stream.ts';
import { accessToken, makeKey } from '../../tools/support/tokens.ts';

const PHOTO = readFileSync(new URL('../fixtures/photos/gps/DSCN0010.jpg', import.meta.url));
const BUS = 'users-test';
const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
addFormats.default(ajv);
const validateDetail = ajv.compile(JSON.parse(readFileSync(new URL('../../schemas/user-event.schema.json', import.meta.url), 'utf8')));

const key = makeKey();
let backend: TestBackend;
let recorder: EventBridgeRecorder;
let stream: TableStream;
let api: Handler;
let streamConfig: StreamConfig;
let mediaEvents: MediaEventsHandler;

before(async () => {
  backend = await startTestBackend({ keys: [key], env: { AWS_MAX_ATTEMPTS: '2', AWS_REQUEST_TIMEOUT_MS: '1000' } });
  recorder = await startEventBridgeRecorder({ busNames: [BUS] });
  stream = await openTableStream(backend);
  api = createHandler(backend.config);
  streamConfig = streamConfigFor(backend, recorder.endpoint, BUS);
  mediaEvents = createMediaEventsHandler(streamConfig);
});
beforeEach(async () => {
  // Each test starts from a stream that has caught up and no recorded events.
  await stream.drain(mediaEvents);
  recorder.clear();
});
after(() => stopDrainedBackend({ stream, mediaEvents, recorder, backend }));

const newUser = userSeeder(() => backend, 'streamed', 7000);

type TestUser = { id: number; sub: string };
const token = (user: TestUser) => accessToken(key, { sub: user.sub }, backend.pool);
const patchJson = (user: TestUser, body: unknown) =>
  api(fixtureEvent('json', { id: user.id, token: token(user), body: JSON.stringify(body) }));
const patchForm = (user: TestUser, fields: Parameters<typeof multipartBody>[0]) =>
  api(fixtureEvent('multipart', { id: user.id, token: token(user), ...multipartBody(fields) }));
const avatar = (bytes: Buffer = pngImage(), type = 'image/png') => ({ bytes, filename: 'me', type });

function assertValid(event: RecordedEvent) {
  assert.equal(event.source, 'selfcommunity.users');
  assert.equal(event.eventBusName, BUS);
  assert.ok(['user.created', 'user.updated'].includes(event.detailType), event.detailType);
  assert.ok(validateDetail(event.detail), JSON.stringify(validateDetail.errors));
}

const eventsOf = (id: number) => recorder.events().filter((e) => (e.detail as { id: number }).id === id);

describe('stream function: S3 follows the table', () => {
  it('a replaced avatar: the new object live, the old one deleted, one user.updated as the answer shows', async () => {
    const user = await newUser({ bio: 'before' });
    await stream.drain(mediaEvents);
    recorder.clear();
    const first = await patchForm(user, { avatar: avatar(PHOTO, 'image/jpeg') });
    assert.equal(first.statusCode, 200, first.body);
    const [firstKey] = await backend.objectKeys(`avatar/${user.id}/`);
    assert.notEqual((await backend.objectTags(firstKey!)).state, 'live', 'the handler leaves tagging to the stream');
    await stream.drain(mediaEvents);
    assert.deepEqual(await backend.objectTags(firstKey!), { state: 'live' });

    const second = await patchForm(user, { bio: 'after', avatar: avatar() });
    assert.equal(second.statusCode, 200, second.body);
    const answered = JSON.parse(second.body);
    const { records } = await stream.drain(mediaEvents);
    assert.equal(records.length, 1);
    const keys = await backend.objectKeys(`avatar/${user.id}/`);
    assert.equal(keys.length, 1, 'the replaced avatar is deleted');
    assert.notEqual(keys[0], firstKey);
    assert.deepEqual(await backend.objectTags(keys[0]!), { state: 'live' });
    assert.equal(answered.avatar, `${backend.config.mediaBaseUrl}/${keys[0]}`);

    const events = eventsOf(user.id);
    assert.equal(events.length, 2, 'one event per committed change');
    for (const event of events) assertValid(event);
    const last = events[1]!;
    assert.equal(last.detailType, 'user.updated');
    assert.deepEqual(last.detail.user, answered, 'the event carries the User object the client was answered');
    assert.deepEqual([...(last.detail.changed as string[])].sort(), ['avatar', 'bio']);
    assert.equal(last.detail.version, (await backend.getUser(user.id))!.version);
    assert.ok((last.detail.version as number) > (events[0]!.detail.version as number));
  });

  it('a removed avatar is deleted; removing it again changes nothing and emits nothing', async () => {
    const user = await newUser();
    assert.equal((await patchForm(user, { avatar: avatar() })).statusCode, 200);
    await stream.drain(mediaEvents);
    recorder.clear();
    assert.equal((await patchJson(user, { avatar: null })).statusCode, 200);
    await stream.drain(mediaEvents);
    assert.deepEqual(await backend.objectKeys(`avatar/${user.id}/`), []);
    assert.deepEqual(eventsOf(user.id).map((e) => e.detail.changed), [['avatar']]);
    recorder.clear();
    assert.equal((await patchJson(user, { avatar: null })).statusCode, 200);
    await stream.drain(mediaEvents);
    assert.deepEqual(eventsOf(user.id), []);
  });

  it('a created user: one user.created with the whole User object', async () => {
    const user = await newUser({ real_name: 'New Comer' });
    await stream.drain(mediaEvents);
    const [event] = eventsOf(user.id);
    assert.ok(event);
    assertValid(event);
    assert.equal(event.detailType, 'user.created');
    assert.deepEqual([...(event.detail.changed as string[])].sort(), [...USER_FIELDS].sort());
    const user0 = event.detail.user as Record<string, unknown>;
    assert.deepEqual(Object.keys(user0).sort(), [...USER_FIELDS].sort());
    assert.equal(user0.real_name, 'New Comer');
    assert.equal(user0.username, user.username);
    assert.equal('sub' in user0, false, 'never the Cognito sub');
  });

  it('a request that changes nothing emits nothing: an empty PATCH, values equal to the stored ones', async () => {
    const user = await newUser({ bio: 'same', location: 'here' });
    await stream.drain(mediaEvents);
    recorder.clear();
    assert.equal((await patchJson(user, {})).statusCode, 200);
    assert.equal((await patchJson(user, { bio: 'same', location: 'here', username: user.username })).statusCode, 200);
    assert.equal((await patchJson(user, { real_name: '' })).statusCode, 200);
    await stream.drain(mediaEvents);
    assert.deepEqual(eventsOf(user.id), []);
    // And a real change right after is announced once, naming only what changed.
    assert.equal((await patchJson(user, { bio: 'different', location: 'here' })).statusCode, 200);
    await stream.drain(mediaEvents);
    assert.deepEqual(eventsOf(user.id).map((e) => e.detail.changed), [['bio']]);
  });

  it('events carry the public view: the owner’s date_of_birth and position_lat_lng never leave the table (contract, "Events")', async () => {
    const user = await newUser();
    await stream.drain(mediaEvents);
    recorder.clear();
    const answer = await patchJson(user, { bio: 'public', date_of_birth: '1990-04-01', position_lat_lng: '45.46,9.19' });
    assert.equal(answer.statusCode, 200, answer.body);
    // Only the private fields change: nothing to announce.
    assert.equal((await patchJson(user, { position_lat_lng: '48.85,2.35' })).statusCode, 200);
    await stream.drain(mediaEvents);
    const events = eventsOf(user.id);
    assert.deepEqual(events.map((e) => e.detail.changed), [['bio']]);
    for (const event of events) {
      assertValid(event);
      const sent = event.detail.user as Record<string, unknown>;
      assert.equal(sent.date_of_birth, '');
      assert.equal(sent.position_lat_lng, '');
      assert.equal(sent.bio, 'public');
    }
  });

  it('a rename: one event naming username; claims are not users and emit nothing', async () => {
    const user = await newUser();
    await stream.drain(mediaEvents);
    recorder.clear();
    assert.equal((await patchJson(user, { username: `renamed${user.id}` })).statusCode, 200);
    const { records } = await stream.drain(mediaEvents);
    assert.ok(records.some((r) => String((r.dynamodb.Keys?.pk as { S: string }).S).startsWith('USERNAME#')));
    const events = recorder.events();
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]!.detail.changed, ['username']);
    assert.equal((events[0]!.detail.user as { username: string }).username, `renamed${user.id}`);
  });
});

describe('stream function: failures, retries, replays', () => {
  /** The stream function with S3 calls failing while `failing(command, key)` says so. */
  function withFailingS3(failing: (command: string, key: string) => boolean): MediaEventsHandler {
    const s3 = createS3Client(streamConfig, streamConfig.s3Endpoint);
    s3.middlewareStack.add(
      (next, context) => async (args) => {
        const key = (args.input as { Key?: string }).Key ?? '';
        if (failing(context.commandName ?? '', key)) {
          throw Object.assign(new Error('read ECONNRESET'), { name: 'Error', code: 'ECONNRESET' });
        }
        return next(args);
      },
      { step: 'initialize', name: 'failS3' },
    );
    return createMediaEventsHandler(streamConfig, {
      s3,
      eventBridge: createEventBridgeClient(streamConfig, streamConfig.eventBridgeEndpoint),
    });
  }

  it('a failing S3 call: that user’s record is reported and its later ones wait; other users go on; retried, the batch converges', async () => {
    const [a, b] = [await newUser(), await newUser()];
    await stream.drain(mediaEvents);
    recorder.clear();
    assert.equal((await patchForm(a, { avatar: avatar() })).statusCode, 200);
    assert.equal((await patchForm(b, { avatar: avatar() })).statusCode, 200);
    assert.equal((await patchForm(b, { avatar: avatar() })).statusCode, 200);
    assert.equal((await patchForm(a, { avatar: avatar() })).statusCode, 200);
    const records = (await stream.read()).filter((r) => r.eventName === 'MODIFY');
    assert.equal(records.length, 4);
    let failures = 1;
    const flaky = withFailingS3((command, key) => command === 'PutObjectTaggingCommand' && key.startsWith(`avatar/${a.id}/`) && failures-- > 0);
    const response = await flaky({ Records: records });
    // a's first record failed, and a's later one waits for it: Lambda sends the batch again from it.
    assert.deepEqual(
      response.batchItemFailures.map((f) => f.itemIdentifier),
      [records[0]!.dynamodb.SequenceNumber, records[3]!.dynamodb.SequenceNumber],
    );
    // a's second record was not applied before its first: a's first upload is not deleted.
    const aKeys = await backend.objectKeys(`avatar/${a.id}/`);
    assert.equal(aKeys.length, 2);
    // b's records, after a's failure in the batch, were applied: its second avatar live, the first deleted.
    const bKeys = await backend.objectKeys(`avatar/${b.id}/`);
    assert.deepEqual(bKeys, [(records[2]!.dynamodb.NewImage!.avatar_key as { S: string }).S]);
    assert.deepEqual(await backend.objectTags(bKeys[0]!), { state: 'live' });
    // Lambda sends the batch again from the lowest failure: now it goes through.
    assert.deepEqual(await flaky({ Records: records }), { batchItemFailures: [] });
    const report = await checkInvariants(backend.dynamo, backend.s3, backend.config);
    assert.deepEqual(report.problems, []);
    assert.equal((await backend.objectKeys(`avatar/${a.id}/`)).length, 1);
    assert.deepEqual(await backend.objectKeys(`avatar/${b.id}/`), bKeys, 'b’s records applied again change nothing');
    // b's records were sent twice: one event per change once deduplicated by id and version.
    const unique = new Set(recorder.events().map((e) => `${e.detail.id}@${e.detail.version}`));
    assert.equal(unique.size, 4);
    for (const event of recorder.events()) assertValid(event);
  });

  it('records of one user are applied in order, also when a later one is not the one failing', async () => {
    const user = await newUser();
    await stream.drain(mediaEvents);
    for (let i = 0; i < 4; i++) assert.equal((await patchForm(user, { avatar: avatar() })).statusCode, 200);
    const records = await stream.read();
    assert.equal(records.length, 4);
    const keyOf = (i: number) => (records[i]!.dynamodb.NewImage!.avatar_key as { S: string }).S;
    // Deleting the second key fails (in the third record): the fourth must wait for it.
    let failures = 1;
    const flaky = withFailingS3((command, key) => command === 'DeleteObjectCommand' && key === keyOf(1) && failures-- > 0);
    const response = await flaky({ Records: records });
    assert.deepEqual(
      response.batchItemFailures.map((f) => f.itemIdentifier),
      records.slice(2).map((r) => r.dynamodb.SequenceNumber),
    );
    assert.deepEqual(await backend.objectTags(keyOf(2)), { state: 'live' }, 'the failed record tagged before it failed');
    assert.notEqual((await backend.objectTags(keyOf(3))).state, 'live', 'the later record was not applied');
    assert.deepEqual((await flaky({ Records: records.slice(2) })).batchItemFailures, []);
    assert.deepEqual(await backend.objectKeys(`avatar/${user.id}/`), [keyOf(3)]);
    assert.deepEqual(await backend.objectTags(keyOf(3)), { state: 'live' });
  });

  it('replaying a batch changes nothing: the same objects, the same events once deduplicated', async () => {
    const user = await newUser();
    await stream.drain(mediaEvents);
    recorder.clear();
    assert.equal((await patchForm(user, { avatar: avatar(), bio: 'one' })).statusCode, 200);
    assert.equal((await patchForm(user, { avatar: avatar(), bio: 'two' })).statusCode, 200);
    const { records } = await stream.drain(mediaEvents);
    const objects = await backend.objectKeys(`avatar/${user.id}/`);
    const first = recorder.events();
    recorder.clear();
    assert.deepEqual(await mediaEvents({ Records: structuredClone(records) }), { batchItemFailures: [] });
    assert.deepEqual(await backend.objectKeys(`avatar/${user.id}/`), objects);
    assert.deepEqual(await backend.objectTags(objects[0]!), { state: 'live' });
    assert.deepEqual(
      recorder.events().map((e) => e.detail),
      first.map((e) => e.detail),
      'a replay puts the same events again (same id and version): consumers deduplicate',
    );
  });

  it('an event EventBridge refuses fails its record; a record that keeps failing ends in the dead-letter list', async () => {
    const user = await newUser();
    await stream.drain(mediaEvents);
    assert.equal((await patchJson(user, { bio: 'unheard' })).statusCode, 200);
    assert.equal((await patchJson(user, { bio: 'heard' })).statusCode, 200);
    // A bus that does not exist: PutEvents answers 200 with a failed entry.
    const lost = createMediaEventsHandler({ ...streamConfig, eventBusName: 'no-such-bus' });
    const result = await stream.drain(lost, { maxAttempts: 3 });
    assert.equal(result.records.length, 2);
    assert.deepEqual(result.deadLetters.map((r) => r.dynamodb.SequenceNumber), result.records.map((r) => r.dynamodb.SequenceNumber));
    assert.equal(result.invocations, 3);
    // Sent again from the dead-letter list once the cause is fixed, they go through.
    recorder.clear();
    assert.deepEqual(await mediaEvents({ Records: result.deadLetters }), { batchItemFailures: [] });
    assert.deepEqual(eventsOf(user.id).map((e) => e.detail.changed), [['bio'], ['bio']]);
  });
});

describe('stream function: records no retry can fix, and other users', () => {
  /** The function's own dead letters of `records` in the local dead-letter file, by sequence number. */
  async function deadLettersOf(records: LambdaStreamRecord[]): Promise<Map<string, { reason: string; records: LambdaStreamRecord[] }>> {
    const wanted = new Set(records.map((r) => r.dynamodb.SequenceNumber));
    const text = await readFile(testDeadLetterFile(), 'utf8').catch(() => '');
    const letters = new Map<string, { reason: string; records: LambdaStreamRecord[] }>();
    for (const line of text.split('\n').filter(Boolean)) {
      const letter = JSON.parse(line) as { condition: string; reason: string; records: LambdaStreamRecord[] };
      const sequenceNumber = letter.records[0]?.dynamodb.SequenceNumber;
      if (letter.condition === 'UnprocessableRecord' && sequenceNumber && wanted.has(sequenceNumber)) letters.set(sequenceNumber, letter);
    }
    return letters;
  }

  /** What another tool may write: a reputation no JavaScript number holds exactly. */
  const writeUnsafeReputation = (id: number) =>
    backend.dynamo.send(
      new UpdateCommand({
        TableName: backend.config.tableName,
        Key: { pk: `USER#${id}` },
        UpdateExpression: 'SET reputation = :r',
        ExpressionAttributeValues: { ':r': NumberValue.from('9007199254740993') },
      }),
    );

  it('an item out of shape and a malformed record go to the dead-letter queue with their content; another user’s records in the batch are applied', async () => {
    const [p, q] = [await newUser(), await newUser()];
    await stream.drain(mediaEvents);
    recorder.clear();
    await writeUnsafeReputation(p.id);
    assert.equal((await patchForm(q, { avatar: avatar() })).statusCode, 200);
    assert.equal((await patchForm(q, { avatar: avatar() })).statusCode, 200);
    const records = await stream.read();
    assert.equal(records.length, 3);
    const malformed = { ...structuredClone(records[1]!), eventName: 'UPSERT' } as unknown as LambdaStreamRecord;
    malformed.dynamodb.SequenceNumber = `${records[0]!.dynamodb.SequenceNumber}0`;
    const batch = [records[0]!, malformed, records[1]!, records[2]!];

    // Nothing is left for Lambda to retry (before, every retry reported all of them).
    assert.deepEqual(await mediaEvents({ Records: structuredClone(batch) }), { batchItemFailures: [] });

    // Q's second record was applied: the avatar the table holds is live, the released one deleted.
    const held = (await backend.getUser(q.id))!.avatar_key!;
    assert.deepEqual(await backend.objectKeys(`avatar/${q.id}/`), [held]);
    assert.deepEqual(await backend.objectTags(held), { state: 'live' });
    assert.deepEqual(eventsOf(q.id).map((e) => e.detail.version).filter((v, i, all) => all.indexOf(v) === i).length, 2);
    // P's record and the malformed one are in the dead letters, whole, with why (names, no values).
    const letters = await deadLettersOf([records[0]!, malformed]);
    assert.deepEqual(letters.get(records[0]!.dynamodb.SequenceNumber)?.records, [records[0]]);
    assert.match(letters.get(records[0]!.dynamodb.SequenceNumber)!.reason, new RegExp(`USER#${p.id}.*reputation`));
    assert.doesNotMatch(letters.get(records[0]!.dynamodb.SequenceNumber)!.reason, /9007199254740993/);
    assert.deepEqual(letters.get(malformed.dynamodb.SequenceNumber)?.records, [malformed]);
    assert.deepEqual(eventsOf(p.id), [], 'no event says anything untrue about P');
  });

  it('deleted objects are invalidated at the CDN, once per batch; a failed invalidation is retried', async () => {
    const [a, b] = [await newUser(), await newUser()];
    for (const user of [a, b]) assert.equal((await patchForm(user, { avatar: avatar() })).statusCode, 200);
    await stream.drain(mediaEvents);
    const before = await Promise.all([a, b].map(async (user) => (await backend.getUser(user.id))!.avatar_key!));
    assert.equal((await patchForm(a, { avatar: avatar() })).statusCode, 200);
    assert.equal((await patchJson(b, { avatar: null })).statusCode, 200);
    const records = await stream.read();

    const invalidations: Array<{ DistributionId?: string; Paths?: string[] }> = [];
    let failing = 1;
    const cloudFront = new CloudFrontClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    cloudFront.middlewareStack.add(
      () => async (args) => {
        const input = args.input as { DistributionId?: string; InvalidationBatch?: { Paths?: { Items?: string[] } } };
        invalidations.push({ DistributionId: input.DistributionId, Paths: input.InvalidationBatch?.Paths?.Items });
        if (failing-- > 0) throw Object.assign(new Error('throttled'), { name: 'TooManyInvalidationsInProgress' });
        return { output: { $metadata: {} }, response: {} } as never;
      },
      { step: 'initialize', name: 'recordInvalidations' },
    );
    const withCdn = createMediaEventsHandler({ ...streamConfig, cdnDistributionId: 'EDFDVBD6EXAMPLE' }, {
      s3: createS3Client(streamConfig, streamConfig.s3Endpoint),
      eventBridge: createEventBridgeClient(streamConfig, streamConfig.eventBridgeEndpoint),
      cloudFront,
    });
    const first = await withCdn({ Records: structuredClone(records) });
    assert.ok(first.batchItemFailures.length > 0, 'an invalidation that failed is not counted as done');
    assert.deepEqual(await withCdn({ Records: structuredClone(records) }), { batchItemFailures: [] });
    const expected = before.map((key) => `/${key}`).sort();
    assert.deepEqual(invalidations, [
      { DistributionId: 'EDFDVBD6EXAMPLE', Paths: expected },
      { DistributionId: 'EDFDVBD6EXAMPLE', Paths: expected },
    ]);
    for (const key of before) assert.equal(await backend.objectExists(key), false);
  });
});

describe('stream function: the avatar gallery', () => {
  const gallery = (method: string, user: TestUser, body: { body?: string; contentType?: string; isBase64Encoded?: boolean }) =>
    api(avatarEvent(method, { token: token(user), ...body }));
  const addAvatar = async (user: TestUser) => {
    const res = await gallery('POST', user, multipartBody({ avatar: avatar() }));
    assert.equal(res.statusCode, 201, res.body);
    return JSON.parse(res.body) as { id: number; avatar: string };
  };
  const keyOf = (url: string) => url.slice(backend.config.mediaBaseUrl.length + 1);

  it('every gallery avatar is tagged live; a deleted non-primary avatar’s object is deleted; no user.updated for either', async () => {
    const user = await newUser();
    const first = await addAvatar(user);
    await stream.drain(mediaEvents);
    recorder.clear();
    const second = await addAvatar(user);
    await stream.drain(mediaEvents);
    assert.deepEqual(await backend.objectTags(keyOf(second.avatar)), { state: 'live' }, 'a non-primary avatar is held');
    assert.deepEqual(eventsOf(user.id), [], 'the User object did not change');
    const deleted = await gallery('DELETE', user, { body: JSON.stringify({ avatar_id: second.id }), contentType: 'application/json' });
    assert.equal(deleted.statusCode, 204, deleted.body);
    assert.equal(await backend.objectExists(keyOf(second.avatar)), true, 'the handler leaves deleting to the stream');
    await stream.drain(mediaEvents);
    assert.equal(await backend.objectExists(keyOf(second.avatar)), false);
    assert.deepEqual(await backend.objectTags(keyOf(first.avatar)), { state: 'live' });
    assert.deepEqual(eventsOf(user.id), []);
  });

  it('a new primary, and a deleted primary: one user.updated each, changed ["avatar"], with the new ETag’s version', async () => {
    const user = await newUser();
    const first = await addAvatar(user);
    const second = await addAvatar(user);
    await stream.drain(mediaEvents);
    recorder.clear();
    const made = await gallery('PATCH', user, { body: JSON.stringify({ avatar_id: second.id }), contentType: 'application/json' });
    assert.equal(made.statusCode, 204, made.body);
    assert.equal((await gallery('DELETE', user, { body: `avatar_id=${second.id}`, contentType: 'application/x-www-form-urlencoded' })).statusCode, 204);
    await stream.drain(mediaEvents);
    const events = eventsOf(user.id);
    for (const event of events) assertValid(event);
    assert.deepEqual(events.map((e) => [e.detailType, e.detail.changed, (e.detail.user as { avatar: string | null }).avatar]), [
      ['user.updated', ['avatar'], second.avatar],
      ['user.updated', ['avatar'], null],
    ]);
    assert.equal(events[1]!.detail.version, (await backend.getUser(user.id))!.version);
    assert.equal(await backend.objectExists(keyOf(second.avatar)), false);
    assert.equal(await backend.objectExists(keyOf(first.avatar)), true, 'the other avatar stays');
  });
});
