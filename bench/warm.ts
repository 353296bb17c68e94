// The warm part of the benchmark, run by bench/run.ts as a bundled child process (built with the
// deployed esbuild options) against DynamoDB Local and s3rver:
//   - every AWS call counted by a middleware on the handler's own clients, per request;
//   - warm timings: the handler next to its floor, the same AWS calls issued directly with the
//     same clients (plus decoding the base64 body where there is one), interleaved.
// Its stdout is discarded (the handler logs a line per request); results go back over IPC.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  CreateTableCommand,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  CreateBucketCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { marshall } from '@aws-sdk/util-dynamodb';
import sharp from 'sharp';
import { createHandler, type ApiEvent } from '../src/functions/patch-user/handler.ts';
import { createAwsClients } from '../src/store/aws-clients.ts';
import { decodeBase64 } from '../src/http/request-body.ts';
import { subKey, userKey } from '../src/users/user-record.ts';
import { claimKey } from '../src/users/username-keys.ts';
import { jsonEvent, multipartEvent } from '../tools/support/api-events.ts';
import { directJpegPipeline } from './image-pipelines.ts';
import type { BenchUser, CallRecord, RequestTrace, Timing, WarmInput, WarmResult } from './protocol.ts';

const input = JSON.parse(readFileSync(process.env.BENCH_WARM_INPUT!, 'utf8')) as WarmInput;
const { config, users } = input;
const clients = createAwsClients(config);

// ---------------------------------------------------------------------------------------------
// Counting: one record per HTTP attempt (the middleware sits below the retry middleware).

let recording: CallRecord[] | undefined;
function countCalls(service: CallRecord['service'], stack: DynamoDBClient['middlewareStack']) {
  stack.add(
    (next, context) => async (args) => {
      const record: CallRecord = {
        service,
        command: String(context.commandName).replace(/Command$/, ''),
        start: performance.now(),
        end: 0,
      };
      recording?.push(record);
      try {
        return await next(args);
      } finally {
        record.end = performance.now();
      }
    },
    { step: 'finalizeRequest', priority: 'low', name: 'benchCountCalls' },
  );
}
countCalls('dynamodb', clients.dynamo.middlewareStack);
// Both stacks take the same middleware; their types differ only in the commands' shapes.
countCalls('s3', clients.s3.middlewareStack as unknown as DynamoDBClient['middlewareStack']);

async function recorded<T>(run: () => Promise<T>): Promise<{ result: T; calls: CallRecord[] }> {
  const calls: CallRecord[] = [];
  recording = calls;
  try {
    return { result: await run(), calls };
  } finally {
    recording = undefined;
  }
}

const byCommand = (calls: CallRecord[]): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const call of calls) counts[call.command] = (counts[call.command] ?? 0) + 1;
  return counts;
};

// ---------------------------------------------------------------------------------------------
// Table, bucket, users

async function setUp() {
  await clients.dynamo.send(
    new CreateTableCommand({
      TableName: config.tableName,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await clients.s3.send(new CreateBucketCommand({ Bucket: config.mediaBucket }));
  for (const user of Object.values(users)) await seed(user);
}

async function seed(user: BenchUser) {
  const item = {
    pk: userKey(user.id),
    id: user.id,
    sub: user.sub,
    username: user.username,
    username_claim: claimKey(user.username),
    version: 1,
    date_joined: '2024-01-01T00:00:00.000Z',
    real_name: 'Bench User',
    bio: 'A profile used by the benchmark.',
    followers_counter: 12,
  };
  await clients.dynamo.send(new PutItemCommand({ TableName: config.tableName, Item: marshall(item) }));
  await clients.dynamo.send(
    new PutItemCommand({ TableName: config.tableName, Item: marshall({ pk: claimKey(user.username), user_id: user.id }) }),
  );
  // The sub index, which every write's owner check reads.
  await clients.dynamo.send(
    new PutItemCommand({ TableName: config.tableName, Item: marshall({ pk: subKey(user.sub), user_id: user.id }) }),
  );
}

// ---------------------------------------------------------------------------------------------
// Requests

const handler = createHandler(config, clients);
const template = input.eventTemplate;
const image = (file: string, name: string) => ({ bytes: readFileSync(file), filename: name, type: 'image/jpeg' });
const avatarImage = image(input.files.avatarImage, 'avatar.jpg');
const coverImage = image(input.files.coverImage, 'cover.jpg');
const smallImage = image(input.files.smallImage, 'small.jpg');

const event = {
  text: (user: BenchUser, i: number) =>
    jsonEvent(template.json, user.id, user.token, { bio: `Benchmark run, request ${i}.`, real_name: i % 2 ? 'Ada' : 'Ada L.' }),
  json: (user: BenchUser, fields: Record<string, unknown>, id: number = user.id) =>
    jsonEvent(template.json, id, user.token, fields),
  avatar: (user: BenchUser, fields: Record<string, string> = {}) =>
    multipartEvent(template.multipart, user.id, user.token, { ...fields, avatar: avatarImage }),
  cover: (user: BenchUser) => multipartEvent(template.multipart, user.id, user.token, { cover: coverImage }),
};

/** A rename between two names, alternating; the user was seeded with the second one. */
const renameTo = (user: BenchUser, i: number) => `${user.username.replace(/_b$/, '')}_${i % 2 ? 'b' : 'a'}`;

// ---------------------------------------------------------------------------------------------
// Floors: what the handler's AWS calls cost when issued directly, with nothing of ours around
// them. Same clients, same parameters, same order and parallelism.

const TABLE = config.tableName;
const BUCKET = config.mediaBucket;
const S = (value: string) => ({ S: value });

/** The owner check of every write: the user's sub index names it (src/store/users-table.ts). */
const ownerCheck = (user: BenchUser) => ({
  ConditionCheck: {
    TableName: TABLE,
    Key: { pk: S(subKey(user.sub)) },
    ConditionExpression: 'user_id = :id',
    ExpressionAttributeValues: { ':id': { N: String(user.id) } },
  },
});

/** A patch as the handler writes it: one transaction, then the consistent read its answer needs. */
async function updateUser(dynamo: DynamoDBClient, user: BenchUser, set: Record<string, string>) {
  const names: Record<string, string> = { '#version': 'version' };
  const values: Record<string, { S: string } | { N: string }> = { ':one': { N: '1' } };
  const sets = Object.entries(set).map(([attribute, value], n) => {
    names[`#a${n}`] = attribute;
    values[`:v${n}`] = S(value);
    return `#a${n} = :v${n}`;
  });
  await dynamo.send(
    new TransactWriteItemsCommand({
      TransactItems: [
        {
          Update: {
            TableName: TABLE,
            Key: { pk: S(userKey(user.id)) },
            UpdateExpression: `SET ${sets.join(', ')} ADD #version :one`,
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        ownerCheck(user),
      ],
    }),
  );
  return dynamo.send(new GetItemCommand({ TableName: TABLE, Key: { pk: S(userKey(user.id)) }, ConsistentRead: true }));
}

async function floorText(user: BenchUser, i: number) {
  await updateUser(clients.dynamo, user, { bio: `Benchmark run, request ${i}.`, real_name: i % 2 ? 'Ada' : 'Ada L.' });
}

async function floorRename(user: BenchUser, i: number) {
  const { Item } = await clients.dynamo.send(
    new GetItemCommand({ TableName: TABLE, Key: { pk: S(userKey(user.id)) }, ConsistentRead: true }),
  );
  const current = Item!.username!.S!;
  const version = Item!.version!.N!;
  const username = renameTo(user, i);
  await clients.dynamo.send(
    new TransactWriteItemsCommand({
      TransactItems: [
        {
          Put: {
            TableName: TABLE,
            Item: { pk: S(claimKey(username)), user_id: { N: String(user.id) } },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        {
          Delete: {
            TableName: TABLE,
            Key: { pk: S(Item!.username_claim?.S ?? claimKey(current)) },
            ConditionExpression: 'attribute_not_exists(pk) OR user_id = :id',
            ExpressionAttributeValues: { ':id': { N: String(user.id) } },
          },
        },
        {
          Update: {
            TableName: TABLE,
            Key: { pk: S(userKey(user.id)) },
            UpdateExpression: 'SET #a0 = :v0, #a1 = :v1 ADD #version :one',
            ConditionExpression: 'attribute_exists(pk) AND #version = :readVersion',
            ExpressionAttributeNames: { '#version': 'version', '#a0': 'username', '#a1': 'username_claim' },
            ExpressionAttributeValues: {
              ':one': { N: '1' },
              ':v0': S(username),
              ':v1': S(claimKey(username)),
              ':readVersion': { N: version },
            },
          },
        },
        ownerCheck(user),
      ],
    }),
  );
}

async function floorImage(user: BenchUser, field: 'avatar' | 'cover', body: string, upload: Buffer) {
  // The body decoded (the fastest way we have), and the image normalized by libvips, as the
  // handler must: the request work in the floor.
  decodeBase64(body);
  const { width, height } = await sharp(upload).metadata();
  const bytes = await directJpegPipeline(upload, field, width, height);
  const key = `${field}/${user.id}/${randomUUID()}.jpg`;
  await clients.s3.send(
    new PutObjectCommand({
      Bucket: BUCKET,
      Key: key,
      Body: bytes,
      ContentType: 'image/jpeg',
      ContentLength: bytes.length,
      CacheControl: 'public, max-age=31536000, immutable',
      Tagging: 'state=pending',
    }),
  );
  // After the write the handler is done: the table's stream tags the upload live and deletes the
  // replaced image (src/functions/media-events/handler.ts), so the floor stops here too.
  await updateUser(clients.dynamo, user, { [`${field}_key`]: key });
}

// ---------------------------------------------------------------------------------------------
// Runs

async function callHandler(request: ApiEvent, expected = 200): Promise<number> {
  const response = await handler(request);
  if (response.statusCode !== expected) {
    throw new Error(`bench: expected ${expected}, got ${response.statusCode}: ${response.body.slice(0, 300)}`);
  }
  return response.statusCode;
}

async function traces(): Promise<RequestTrace[]> {
  const out: RequestTrace[] = [];
  const trace = async (scenario: string, request: ApiEvent, expected = 200) => {
    // Once to reach the steady state (an old image to replace), then the traced request.
    const { result, calls } = await recorded(() => handler(request));
    if (result.statusCode !== expected) {
      throw new Error(`bench: ${scenario}: expected ${expected}, got ${result.statusCode}: ${result.body.slice(0, 300)}`);
    }
    out.push({ scenario, status: result.statusCode, calls });
  };
  const u = users;
  await trace('text patch', event.text(u.countText!, 1));
  await trace('empty patch', event.json(u.countText!, {}));
  await trace('not the owner (403)', event.json(u.countText!, { bio: 'x' }, u.countOther!.id), 403);
  await trace('no such user (404)', event.json(u.countText!, { bio: 'x' }, input.missingId), 404);
  await trace('username change', event.json(u.countRename!, { username: 'count_renamed' }));
  await trace('username taken (400)', event.json(u.countRename!, { username: u.countOther!.username }), 400);
  await trace('case-only rename', event.json(u.countRename!, { username: 'Count_Renamed' }));
  await callHandler(event.avatar(u.countImage!)); // an old avatar to replace
  await trace('avatar replaced', event.avatar(u.countImage!));
  await trace('avatar removed', event.json(u.countImage!, { avatar: null }));
  await callHandler(multipartEvent(template.multipart, u.countBoth!.id, u.countBoth!.token, { avatar: smallImage, cover: smallImage }));
  await trace(
    'username + avatar + cover',
    multipartEvent(template.multipart, u.countBoth!.id, u.countBoth!.token, {
      username: 'both_renamed',
      avatar: smallImage,
      cover: smallImage,
    }),
  );
  return out;
}

/** Time during which at least one AWS call was under way (the union of their intervals). */
function coveredTime(calls: CallRecord[]): number {
  let total = 0;
  let until = -Infinity;
  for (const call of [...calls].sort((a, b) => a.start - b.start)) {
    if (call.end <= until) continue;
    total += call.end - Math.max(call.start, until);
    until = call.end;
  }
  return total;
}

interface Scenario {
  name: string;
  /** Sample and warm-up multiplier: the fast scenarios take more samples for a steadier median. */
  scale: number;
  handler: (i: number) => ApiEvent;
  floor: (i: number) => Promise<unknown>;
}

async function time(scenario: Scenario): Promise<Timing> {
  const handlerTimes: number[] = [];
  const floorTimes: number[] = [];
  const ownTimes: number[] = [];
  const floorOwnTimes: number[] = [];
  let handlerCalls: Record<string, number> = {};
  let floorCalls: Record<string, number> = {};
  const warmup = input.warmup * scenario.scale;
  const total = warmup + input.samples * scenario.scale;
  for (let i = 0; i < total; i++) {
    const request = scenario.handler(i);
    const runHandler = async () => {
      const start = performance.now();
      const { calls } = await recorded(() => callHandler(request));
      const elapsed = performance.now() - start;
      if (i >= warmup) {
        handlerTimes.push(elapsed);
        ownTimes.push(elapsed - coveredTime(calls));
      }
      if (i === total - 1) handlerCalls = byCommand(calls);
    };
    const runFloor = async () => {
      const start = performance.now();
      const { calls } = await recorded(() => scenario.floor(i));
      const elapsed = performance.now() - start;
      if (i >= warmup) {
        floorTimes.push(elapsed);
        floorOwnTimes.push(elapsed - coveredTime(calls));
      }
      if (i === total - 1) floorCalls = byCommand(calls);
    };
    // Alternate which goes first, so neither always follows the other's garbage.
    if (i % 2) {
      await runHandler();
      await runFloor();
    } else {
      await runFloor();
      await runHandler();
    }
  }
  return {
    scenario: scenario.name,
    handler: handlerTimes,
    floor: floorTimes,
    own: ownTimes,
    floorOwn: floorOwnTimes,
    handlerCalls,
    floorCalls,
  };
}

async function main(): Promise<WarmResult> {
  await setUp();
  const u = users;
  if (input.samples === 0) return { traces: [], timings: [] }; // only seeding was asked for
  const result: WarmResult = { traces: await traces(), timings: [] };

  const avatarEvent = event.avatar(u.avatarHandler!);
  const coverEvent = event.cover(u.coverHandler!);
  const scenarios: Scenario[] = [
    {
      name: 'text patch',
      scale: 2,
      handler: (i) => event.text(u.textHandler!, i),
      floor: (i) => floorText(u.textFloor!, i),
    },
    {
      name: 'username change',
      scale: 2,
      handler: (i) => event.json(u.renameHandler!, { username: renameTo(u.renameHandler!, i) }),
      floor: (i) => floorRename(u.renameFloor!, i),
    },
    {
      name: '1 MB avatar',
      scale: 1,
      handler: () => avatarEvent,
      floor: () => floorImage(u.avatarFloor!, 'avatar', avatarEvent.body!, avatarImage.bytes),
    },
    {
      name: '4 MB cover',
      scale: 1,
      handler: () => coverEvent,
      floor: () => floorImage(u.coverFloor!, 'cover', coverEvent.body!, coverImage.bytes),
    },
  ];
  for (const scenario of scenarios) result.timings.push(await time(scenario));
  return result;
}

main().then(
  (result) => {
    process.send!(result, () => process.exit(0));
  },
  (error: unknown) => {
    process.stderr.write(`bench warm: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
