// The local stack's stream poller against DynamoDB Local's real stream, invoking a function
// through the Lambda Invoke protocol serverless-offline speaks (a small server here that runs a
// test's handler and answers as offline does). What Lambda's DynamoDB trigger would do is the
// expectation: the event's shape, order per key, retry from the lowest failed sequence number,
// bisection on a function error, the on-failure message after the last retry.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DeleteItemCommand, PutItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createHandler as createMediaEventsHandler } from '../../src/functions/media-events/handler.ts';
import type { StreamEvent } from '../../src/functions/media-events/records.ts';
import { readStreamConfig } from '../../src/functions/media-events/config.ts';
import { createDynamoDbClient, ensureTable, offlineEnvironment, readLocalStackConfig } from '../../tools/local/local-stack.ts';
import { StreamPoller, offlineInvoker } from '../../tools/local/stream-poller.ts';
import type { DeadLetter } from '../../tools/local/stream-poller.ts';
import type { LambdaStreamEvent, LambdaStreamRecord } from '../../tools/local/stream-records.ts';
import { startTestEmulators, type Emulators } from '../../tools/support/emulators.ts';

const REGION = 'us-east-1';
const FUNCTION = 'selfcommunity-user-patch-local-mediaEvents';

type Handler = (event: LambdaStreamEvent) => Promise<unknown>;

let emulators: Emulators;
let dynamodb: DynamoDBClient;
let dir: string;
let lambda: Server;
let lambdaEndpoint: string;
/** What the function endpoint runs; each test sets its own. */
let handler: Handler = async () => ({ batchItemFailures: [] });
let tableCount = 0;
const pollers: StreamPoller[] = [];

before(async () => {
  emulators = await startTestEmulators();
  dynamodb = createDynamoDbClient({ region: REGION, dynamodbEndpoint: emulators.dynamodbEndpoint });
  dir = await mkdtemp(join(tmpdir(), 'local-stream-'));
  // serverless-offline's Invoke route: 200 with the handler's answer, or 200 with
  // X-Amz-Function-Error: Unhandled and the error when the handler throws; 404 for another name.
  lambda = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.method !== 'POST' || request.url !== `/2015-03-31/functions/${FUNCTION}/invocations`) {
        response.writeHead(404, { 'x-amzn-errortype': 'ResourceNotFoundException' }).end('{"Message":"Function not found"}');
        return;
      }
      const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as LambdaStreamEvent;
      handler(event).then(
        (result) => response.writeHead(200, { 'content-type': 'application/json' }).end(result === undefined ? '' : JSON.stringify(result)),
        (error: Error) =>
          response
            .writeHead(200, { 'content-type': 'application/json', 'x-amz-function-error': 'Unhandled' })
            .end(JSON.stringify({ errorMessage: error.message, errorType: 'Error' })),
      );
    });
  });
  await new Promise<void>((resolve) => lambda.listen(0, '127.0.0.1', resolve));
  const address = lambda.address();
  assert.ok(address && typeof address === 'object');
  lambdaEndpoint = `http://127.0.0.1:${address.port}`;
});

after(async () => {
  for (const poller of pollers) await poller.stop();
  lambda?.closeAllConnections();
  await new Promise((resolve) => lambda?.close(resolve));
  dynamodb?.destroy();
  await emulators?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function newTable(): Promise<string> {
  const name = `stream-test-${process.pid}-${++tableCount}`;
  await ensureTable(dynamodb, name);
  return name;
}

async function startPoller(
  tableName: string,
  settings: { batchSize?: number; maximumRetryAttempts?: number; bisectBatchOnFunctionError?: boolean; intervalMs?: number } = {},
): Promise<{ poller: StreamPoller; deadLetterFile: string }> {
  const deadLetterFile = join(dir, `${tableName}-dead-letters.jsonl`);
  const poller = new StreamPoller({
    region: REGION,
    dynamodbEndpoint: emulators.dynamodbEndpoint,
    tableName,
    functionName: FUNCTION,
    invoke: offlineInvoker(lambdaEndpoint, FUNCTION),
    deadLetterFile,
    batchSize: 10,
    maximumRetryAttempts: 2,
    bisectBatchOnFunctionError: true,
    intervalMs: 50,
    ...settings,
  });
  pollers.push(poller);
  await poller.start();
  return { poller, deadLetterFile };
}

const put = (tableName: string, pk: string, extra: Record<string, unknown> = {}) =>
  dynamodb.send(new PutItemCommand({ TableName: tableName, Item: { pk: { S: pk }, ...(extra as object) } }));

const setBio = (tableName: string, pk: string, bio: string) =>
  dynamodb.send(
    new UpdateItemCommand({
      TableName: tableName,
      Key: { pk: { S: pk } },
      UpdateExpression: 'SET bio = :bio ADD version :one',
      ExpressionAttributeValues: { ':bio': { S: bio }, ':one': { N: '1' } },
    }),
  );

const bioOf = (record: LambdaStreamRecord): string | undefined => (record.dynamodb.NewImage?.bio as { S?: string } | undefined)?.S;

async function deadLetters(file: string): Promise<DeadLetter[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as DeadLetter);
}

describe('local stream poller', { timeout: 60_000 }, () => {
  test('records arrive shaped as Lambda’s DynamoDB stream events, in order, all attribute types', async () => {
    const table = await newTable();
    const received: LambdaStreamRecord[] = [];
    handler = async (event) => {
      received.push(...event.Records);
      return { batchItemFailures: [] };
    };
    const { poller } = await startPoller(table);
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    await put(table, 'USER#1', {
      id: { N: '1' },
      name: { S: 'Ada' },
      blob: { B: bytes },
      tags: { SS: ['a', 'b'] },
      numbers: { NS: ['1', '2'] },
      blobs: { BS: [bytes] },
      map: { M: { nested: { L: [{ S: 'x' }, { N: '3' }, { BOOL: true }, { NULL: true }] } } },
    });
    await setBio(table, 'USER#1', 'one');
    await dynamodb.send(new DeleteItemCommand({ TableName: table, Key: { pk: { S: 'USER#1' } } }));
    await poller.drained();

    assert.deepEqual(received.map((r) => r.eventName), ['INSERT', 'MODIFY', 'REMOVE']);
    const [insert, modify, remove] = received as [LambdaStreamRecord, LambdaStreamRecord, LambdaStreamRecord];
    for (const record of received) {
      assert.deepEqual(Object.keys(record).sort(), ['awsRegion', 'dynamodb', 'eventID', 'eventName', 'eventSource', 'eventSourceARN', 'eventVersion']);
      assert.equal(record.eventSource, 'aws:dynamodb');
      assert.equal(record.eventVersion, '1.1');
      assert.equal(record.awsRegion, REGION);
      assert.match(record.eventID, /\S/);
      assert.match(record.eventSourceARN, new RegExp(`^arn:aws:dynamodb:${REGION}:\\d{12}:table/${table}/stream/\\S+$`));
      assert.deepEqual(record.dynamodb.Keys, { pk: { S: 'USER#1' } });
      assert.equal(record.dynamodb.StreamViewType, 'NEW_AND_OLD_IMAGES');
      assert.equal(typeof record.dynamodb.ApproximateCreationDateTime, 'number');
      assert.ok(Math.abs(record.dynamodb.ApproximateCreationDateTime - Date.now() / 1000) < 120, 'epoch seconds of now');
      assert.ok(Number.isInteger(record.dynamodb.SizeBytes) && record.dynamodb.SizeBytes > 0);
      assert.match(record.dynamodb.SequenceNumber, /^\d+$/);
    }
    const sequence = received.map((r) => BigInt(r.dynamodb.SequenceNumber));
    assert.ok(sequence[0]! < sequence[1]! && sequence[1]! < sequence[2]!, 'sequence numbers grow');

    assert.equal(insert.dynamodb.OldImage, undefined);
    assert.deepEqual(insert.dynamodb.NewImage, {
      pk: { S: 'USER#1' },
      id: { N: '1' },
      name: { S: 'Ada' },
      blob: { B: bytes.toString('base64') },
      tags: { SS: ['a', 'b'] },
      numbers: { NS: ['1', '2'] },
      blobs: { BS: [bytes.toString('base64')] },
      map: { M: { nested: { L: [{ S: 'x' }, { N: '3' }, { BOOL: true }, { NULL: true }] } } },
    });
    assert.deepEqual(modify.dynamodb.OldImage, insert.dynamodb.NewImage);
    assert.equal(bioOf(modify), 'one');
    assert.deepEqual((modify.dynamodb.NewImage as Record<string, unknown>).version, { N: '1' });
    assert.equal(remove.dynamodb.NewImage, undefined);
    assert.deepEqual(remove.dynamodb.OldImage, modify.dynamodb.NewImage);
  });

  test('a write reaches the function well within a second', async () => {
    const table = await newTable();
    const arrivals = new Map<string, number>();
    handler = async (event) => {
      for (const record of event.Records) arrivals.set(bioOf(record) ?? '', Date.now());
      return {};
    };
    const { poller } = await startPoller(table, { intervalMs: 200 });
    await put(table, 'USER#2');
    await poller.drained();
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const written = Date.now();
      await setBio(table, 'USER#2', `write ${i}`);
      const deadline = Date.now() + 2000;
      while (!arrivals.has(`write ${i}`) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.ok(arrivals.has(`write ${i}`), `write ${i} never arrived`);
      delays.push(arrivals.get(`write ${i}`)! - written);
    }
    assert.ok(Math.max(...delays) < 1000, `delays ${delays.join(', ')} ms`);
  });

  test('a reported failure is retried from the lowest failed record; the records before it are not', async () => {
    const table = await newTable();
    const batches: string[][] = [];
    const failedOnce = new Set<string>();
    handler = async (event) => {
      batches.push(event.Records.map((r) => bioOf(r) ?? ''));
      const failures = event.Records.filter((r) => ['b', 'd'].includes(bioOf(r) ?? '') && !failedOnce.has(bioOf(r)!));
      for (const record of failures) failedOnce.add(bioOf(record)!);
      // Reported out of order, as a handler working in parallel may: the lowest counts.
      return { batchItemFailures: failures.reverse().map((r) => ({ itemIdentifier: r.dynamodb.SequenceNumber })) };
    };
    // Five writes to five keys before the poller starts: one GetRecords, one batch.
    for (const bio of ['a', 'b', 'c', 'd', 'e']) await put(table, `USER#${bio}`, { bio: { S: bio } });
    const { poller, deadLetterFile } = await startPoller(table);
    await poller.drained();
    assert.deepEqual(batches, [
      ['a', 'b', 'c', 'd', 'e'],
      ['b', 'c', 'd', 'e'],
    ]);
    assert.deepEqual(await deadLetters(deadLetterFile), []);
    assert.deepEqual(poller.stats, { invocations: 2, recordsDone: 5, deadLettered: 0 });
  });

  test('a poison record ends in the dead-letter file after every retry, and the stream moves on', async () => {
    const table = await newTable();
    const seen: string[] = [];
    handler = async (event) => {
      seen.push(...event.Records.map((r) => bioOf(r) ?? ''));
      return {
        batchItemFailures: event.Records.filter((r) => bioOf(r) === 'poison').map((r) => ({ itemIdentifier: r.dynamodb.SequenceNumber })),
      };
    };
    await put(table, 'USER#p', { bio: { S: 'fine' } });
    await setBio(table, 'USER#p', 'poison');
    const { poller, deadLetterFile } = await startPoller(table, { maximumRetryAttempts: 2 });
    await poller.drained();
    await setBio(table, 'USER#p', 'after');
    await poller.drained();

    // One try and two retries of the poison, then on.
    assert.deepEqual(seen, ['fine', 'poison', 'poison', 'poison', 'after']);
    const letters = await deadLetters(deadLetterFile);
    assert.equal(letters.length, 1);
    const [letter] = letters as [DeadLetter];
    const [poison] = letter.records;
    assert.ok(poison);
    assert.equal(bioOf(poison), 'poison');
    assert.deepEqual(Object.keys(letter).sort(), ['DDBStreamBatchInfo', 'records', 'requestContext', 'responseContext', 'timestamp', 'version']);
    assert.equal(letter.version, '1.0');
    assert.equal(letter.requestContext.condition, 'RetryAttemptsExhausted');
    assert.equal(letter.requestContext.approximateInvokeCount, 3);
    assert.equal(letter.requestContext.functionArn, `arn:aws:lambda:${REGION}:000000000000:function:${FUNCTION}`);
    assert.deepEqual(letter.responseContext, { statusCode: 200, executedVersion: '$LATEST' });
    assert.ok(!Number.isNaN(Date.parse(letter.timestamp)));
    const info = letter.DDBStreamBatchInfo;
    assert.equal(info.startSequenceNumber, poison.dynamodb.SequenceNumber);
    assert.equal(info.endSequenceNumber, poison.dynamodb.SequenceNumber);
    assert.equal(info.batchSize, 1);
    assert.equal(info.streamArn, poison.eventSourceARN);
    assert.match(info.shardId, /^shardId-/);
    assert.ok(!Number.isNaN(Date.parse(info.approximateArrivalOfFirstRecord)));
    // [fine, poison], [poison], [poison], [after].
    assert.deepEqual(poller.stats, { invocations: 4, recordsDone: 2, deadLettered: 1 });
  });

  test('the stream function as the local stack runs it: a record no retry can fix lands in the same dead-letter file, with its content; the batch goes on', async () => {
    const table = await newTable();
    const { poller, deadLetterFile } = await startPoller(table);
    // The environment `npm start` gives the function (serverless.yml's local DEAD_LETTER_FILE).
    const stack = readLocalStackConfig({ LOCAL_STATE_DIR: dir });
    const env = offlineEnvironment({ ...stack, deadLetterFile });
    const config = readStreamConfig({ ...env, EVENTBRIDGE_ENDPOINT: 'http://127.0.0.1:9' });
    assert.equal(config.deadLetterFile, deadLetterFile);
    const mediaEvents = createMediaEventsHandler(config);
    const handled: string[] = [];
    handler = async (event) => {
      const response = await mediaEvents(event as StreamEvent);
      handled.push(...event.Records.map((r) => r.dynamodb.SequenceNumber));
      return response;
    };
    // A user item another tool wrote with a number no JavaScript number holds, then a claim item
    // (not a user: nothing to do) after it.
    await put(table, 'USER#1', {
      id: { N: '1' }, sub: { S: 's' }, username: { S: 'one' }, version: { N: '1' }, date_joined: { S: '2024-01-01' },
      reputation: { N: '9007199254740993' },
    });
    await put(table, 'USERNAME#one', { user_id: { N: '1' } });
    await poller.drained();
    const letters = (await deadLetters(deadLetterFile)) as unknown as Array<{ condition: string; key: string; records: LambdaStreamRecord[] }>;
    assert.equal(letters.length, 1);
    assert.equal(letters[0]!.condition, 'UnprocessableRecord');
    assert.equal(letters[0]!.key, 'USER#1');
    assert.equal((letters[0]!.records[0]!.dynamodb.NewImage!.reputation as { N: string }).N, '9007199254740993', 'the record itself');
    assert.equal(poller.stats.deadLettered, 0, 'no batch failed');
    assert.equal(handled.length, 2, 'each record handled once, no retry');
  });

  test('a function error splits the batch until the failing record is alone; only it is dead-lettered', async () => {
    const table = await newTable();
    const batches: string[][] = [];
    const done: string[] = [];
    handler = async (event) => {
      const bios = event.Records.map((r) => bioOf(r) ?? '');
      batches.push(bios);
      if (bios.includes('3')) throw new Error('cannot handle record 3');
      done.push(...bios);
      return undefined;
    };
    for (const bio of ['1', '2', '3', '4', '5', '6']) await put(table, `USER#${bio}`, { bio: { S: bio } });
    const { poller, deadLetterFile } = await startPoller(table, { maximumRetryAttempts: 1 });
    await poller.drained();

    assert.deepEqual(batches, [
      ['1', '2', '3', '4', '5', '6'],
      ['1', '2', '3'],
      ['1', '2'],
      ['3', '4', '5', '6'],
      ['3', '4'],
      ['3'],
      ['3'],
      ['4', '5', '6'],
    ]);
    assert.deepEqual(done, ['1', '2', '4', '5', '6']);
    const letters = await deadLetters(deadLetterFile);
    assert.deepEqual(letters.map((l) => l.records.map((r) => bioOf(r))), [['3']]);
    assert.deepEqual(letters[0]?.responseContext, { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' });
  });

  test('stopping during a hanging invocation is prompt and dead-letters nothing', async () => {
    const table = await newTable();
    let invoked!: () => void;
    const called = new Promise<void>((resolve) => (invoked = resolve));
    handler = () => {
      invoked();
      return new Promise(() => undefined);
    };
    await put(table, 'USER#h', { bio: { S: 'hangs' } });
    const { poller, deadLetterFile } = await startPoller(table, { maximumRetryAttempts: 0 });
    await called;
    const started = Date.now();
    await poller.stop();
    assert.ok(Date.now() - started < 1000, `stop took ${Date.now() - started} ms`);
    assert.deepEqual(await deadLetters(deadLetterFile), []);
    assert.deepEqual(poller.stats, { invocations: 0, recordsDone: 0, deadLettered: 0 });
  });

  test('an answer naming a record outside the batch fails the whole batch, as on Lambda', async () => {
    const table = await newTable();
    let calls = 0;
    handler = async (event) => {
      calls++;
      return calls === 1 ? { batchItemFailures: [{ itemIdentifier: 'not-a-record' }] } : { batchItemFailures: [] };
    };
    await put(table, 'USER#x', { bio: { S: 'x' } });
    await put(table, 'USER#y', { bio: { S: 'y' } });
    const { poller } = await startPoller(table, { bisectBatchOnFunctionError: false });
    await poller.drained();
    assert.equal(calls, 2);
    assert.deepEqual(poller.stats, { invocations: 2, recordsDone: 2, deadLettered: 0 });
  });
});

// Shards close and new ones appear on AWS (and rarely in DynamoDB Local): a stand-in stream with
// a parent and its children, listed child first, an iterator that expires, a shard that appears
// later. Records of one key move from a parent to its child, so the parent's come first.
describe('local stream poller across shards', () => {
  interface FakeShard {
    id: string;
    parent?: string;
    sequences: number[];
    closed: boolean;
  }

  class FakeStreams {
    shards: FakeShard[] = [];
    iteratorRequests: string[] = [];
    expireOnce = new Set<string>();
    async send(command: object): Promise<unknown> {
      const input = (command as { input: Record<string, unknown> }).input;
      switch (command.constructor.name) {
        case 'DescribeTableCommand':
          return { Table: { LatestStreamArn: 'arn:aws:dynamodb:ddblocal:000000000000:table/fake/stream/1' } };
        case 'DescribeStreamCommand':
          return { StreamDescription: { Shards: this.shards.map((s) => ({ ShardId: s.id, ParentShardId: s.parent })) } };
        case 'GetShardIteratorCommand': {
          const shard = this.shards.find((s) => s.id === input.ShardId)!;
          const type = String(input.ShardIteratorType);
          this.iteratorRequests.push(`${shard.id} ${type}${input.SequenceNumber ? ` ${input.SequenceNumber}` : ''}`);
          const position = type === 'TRIM_HORIZON' ? 0 : shard.sequences.indexOf(Number(input.SequenceNumber)) + 1;
          return { ShardIterator: `${shard.id}:${position}` };
        }
        case 'GetRecordsCommand': {
          const iterator = String(input.ShardIterator);
          if (this.expireOnce.delete(iterator)) {
            throw Object.assign(new Error('Iterator expired'), { name: 'ExpiredIteratorException' });
          }
          const [id, at] = iterator.split(':') as [string, string];
          const shard = this.shards.find((s) => s.id === id)!;
          const records = shard.sequences.slice(Number(at));
          const next = Number(at) + records.length;
          return {
            Records: records.map((sequence) => ({
              eventID: `event-${sequence}`,
              eventName: 'INSERT',
              dynamodb: {
                ApproximateCreationDateTime: new Date(),
                Keys: { pk: { S: 'USER#1' } },
                NewImage: { pk: { S: 'USER#1' }, bio: { S: String(sequence) } },
                SequenceNumber: String(sequence),
                SizeBytes: 20,
                StreamViewType: 'NEW_AND_OLD_IMAGES',
              },
            })),
            NextShardIterator: shard.closed && next >= shard.sequences.length ? undefined : `${id}:${next}`,
          };
        }
        default:
          throw new Error(`unexpected ${command.constructor.name}`);
      }
    }
    destroy(): void {}
  }

  test('a parent’s records before its children’s, closed shards left, new shards picked up, expired iterators renewed', async () => {
    const fake = new FakeStreams();
    fake.shards = [
      { id: 'child', parent: 'parent', sequences: [30, 40], closed: false },
      { id: 'parent', sequences: [10, 20], closed: true },
      // Its parent left the stream (24 h): nothing to wait for.
      { id: 'orphan', parent: 'trimmed', sequences: [5], closed: true },
    ];
    const delivered: string[] = [];
    const poller = new StreamPoller({
      region: REGION,
      dynamodbEndpoint: 'http://unused.invalid',
      tableName: 'fake',
      functionName: FUNCTION,
      invoke: async (event) => {
        delivered.push(...event.Records.map((r) => `${r.dynamodb.SequenceNumber}`));
        return { ok: true, statusCode: 200, failed: [] };
      },
      deadLetterFile: join(dir, 'fake-dead-letters.jsonl'),
      intervalMs: 20,
      clients: { streams: fake as never, dynamodb: fake as never },
    });
    pollers.push(poller);
    await poller.start();
    await poller.drained();
    // The child waits while its parent has records; the orphan does not wait.
    assert.deepEqual(delivered, ['10', '20', '5', '30', '40']);

    // The child's iterator expires; the poller starts again after its checkpoint, nothing twice.
    const [, lastIterator] = /child (\S+)/.exec(fake.iteratorRequests.join('\n')) ?? [];
    assert.equal(lastIterator, 'TRIM_HORIZON');
    fake.expireOnce.add('child:2');
    fake.shards[0]!.sequences.push(50);
    await poller.drained();
    assert.ok(fake.iteratorRequests.includes('child AFTER_SEQUENCE_NUMBER 40'), fake.iteratorRequests.join('\n'));

    // The child closes and a grandchild appears.
    fake.shards[0]!.closed = true;
    fake.shards.push({ id: 'grandchild', parent: 'child', sequences: [60], closed: false });
    await poller.drained();
    assert.deepEqual(delivered.slice(-2), ['50', '60']);
    assert.equal(new Set(delivered).size, delivered.length, 'no record delivered twice');
    assert.equal(poller.stats.recordsDone, 7);
    assert.equal(poller.stats.deadLettered, 0);
  });
});
