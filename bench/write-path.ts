// The write path's cost, side by side in one run (part `stream` of `npm run bench`, which runs this
// file with `--rows` and puts its figures in the table; alone: `npm exec -- node --import tsx
// bench/write-path.ts`):
//   - the avatar request through the handler as it is, and as it was before the stream took over
//     S3's follow-up (the handler then tagged the upload live and deleted the replaced avatar after
//     the write, before answering), interleaved, p50 and p90, with the AWS calls each makes;
//   - the stream function's work per record (a replaced avatar: tag, delete, one event), in
//     batches of 1 and of 10, against s3rver and the PutEvents recorder.
// Against DynamoDB Local and s3rver: absolute figures are local ones; the difference is the point.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { createHandler, type ApiEvent, type Handler } from '../src/functions/patch-user/handler.ts';
import { createHandler as createMediaEventsHandler } from '../src/functions/media-events/handler.ts';
import { createAwsClients, createS3Client, type AwsClients } from '../src/store/aws-clients.ts';
import { createEventBridgeClient } from '../src/functions/media-events/event-bus.ts';
import { readConfig, type Config } from '../src/platform/config.ts';
import { MediaObjects } from '../src/store/media-lifecycle.ts';
import { readStreamConfig } from '../src/functions/media-events/config.ts';
import { startEventBridgeRecorder } from '../tools/local/eventbridge-recorder.ts';
import { createDynamoDbClient, ensureBucket, ensureTable, PROJECT_DIR } from '../tools/local/local-stack.ts';
import { StreamReader, streamArnOf, type LambdaStreamRecord } from '../tools/local/stream-records.ts';
import { startOwnEmulators } from '../tools/support/emulators.ts';
import { accessToken, makeKey, TEST_POOL, writeJwksFile } from '../tools/support/tokens.ts';
import { multipartEvent } from '../tools/support/api-events.ts';
import { photoJpeg } from './fixtures.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40);
/**
 * The write path before the stream took over S3's follow-up: after a committed write the handler
 * itself tagged the upload live and deleted the replaced image, in parallel, before answering.
 * This is today's handler followed by exactly that round of S3 calls, on the same client.
 */
function handlerBefore(config: Config, clients: AwsClients): Handler {
  const now = createHandler(config, clients);
  const media = new MediaObjects(clients.s3, config.mediaBucket);
  let held: string | undefined;
  return async (event, context) => {
    const response = await now(event, context);
    if (response.statusCode !== 200) return response;
    const url = (JSON.parse(response.body) as { avatar: string }).avatar;
    const key = url.slice(config.mediaBaseUrl.length + 1);
    await Promise.all([media.markLive(key), held ? media.delete(held) : undefined]);
    held = key;
    return response;
  };
}

const quiet = <T>(run: () => Promise<T>): Promise<T> => {
  const write = process.stdout.write;
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) =>
    typeof chunk === 'string' && chunk.startsWith('{"level"') ? true : (write as (...a: unknown[]) => boolean).call(process.stdout, chunk, ...rest)) as typeof process.stdout.write;
  return run().finally(() => {
    process.stdout.write = write;
  });
};

function countCalls(clients: AwsClients, calls: string[]) {
  for (const stack of [clients.dynamo.middlewareStack, clients.s3.middlewareStack as unknown as DynamoDBClient['middlewareStack']]) {
    stack.add(
      (next, context) => async (args) => {
        calls.push(String(context.commandName).replace(/Command$/, ''));
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'low', name: 'benchWritePathCalls' },
    );
  }
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
const ms = (value: number) => `${value.toFixed(1)} ms`;

/** With `--rows` (bench/run.ts) every figure is one JSON line for the bench's table. */
const ROWS = process.argv.includes('--rows');
const emit = (row: { figure: string; value: string; floor?: string; ratio?: string; target?: string; ok?: boolean }) => {
  if (ROWS) console.log(`ROW ${JSON.stringify(row)}`);
};
const say = (line: string) => {
  if (!ROWS) console.log(line);
};

const emulators = await startOwnEmulators();
const recorder = await startEventBridgeRecorder();
const dir = mkdtempSync(join(tmpdir(), 'bench-write-path-'));
const key = makeKey();
try {
  const config = readConfig({
    AWS_REGION: TEST_POOL.region,
    TABLE_NAME: 'bench-write-path',
    MEDIA_BUCKET: 'bench-write-path',
    MEDIA_BASE_URL: `${emulators.s3Endpoint}/bench-write-path`,
    COGNITO_USER_POOL_ID: TEST_POOL.userPoolId,
    COGNITO_CLIENT_ID: TEST_POOL.clientId,
    COGNITO_JWKS_FILE: writeJwksFile([key]),
    DYNAMODB_ENDPOINT: emulators.dynamodbEndpoint,
    S3_ENDPOINT: emulators.s3Endpoint,
  });
  const admin = createDynamoDbClient({ region: config.region, dynamodbEndpoint: emulators.dynamodbEndpoint });
  await ensureTable(admin, config.tableName);
  const setup = createAwsClients(config);
  await ensureBucket(setup.s3, config.mediaBucket);
  const { seedUsers } = await import('../tools/local/seed-users.ts');
  const { DynamoDBDocumentClient } = await import('@aws-sdk/lib-dynamodb');
  await seedUsers(DynamoDBDocumentClient.from(setup.dynamo), config.tableName, [
    { id: 1, sub: 'bench-after', username: 'bench_after' },
    { id: 2, sub: 'bench-before', username: 'bench_before' },
  ], { warn: () => {} });

  const template = JSON.parse(
    (await import('node:fs')).readFileSync(join(PROJECT_DIR, 'test/fixtures/events/rest-api-patch-multipart.json'), 'utf8'),
  ) as ApiEvent;
  const avatar = { bytes: photoJpeg(200_000, 1200, 900), filename: 'avatar.jpg', type: 'image/jpeg' };
  const eventFor = (id: number, sub: string) =>
    multipartEvent(template, id, accessToken(key, { sub }, TEST_POOL), { avatar });

  const variants: Array<{ name: string; handler: Handler; event: ApiEvent; calls: string[]; times: number[] }> = [];
  for (const [name, make, id, sub] of [
    ['now: no S3 call after the write', createHandler, 1, 'bench-after'],
    ['before: tag live + delete replaced after the write', handlerBefore, 2, 'bench-before'],
  ] as const) {
    const clients = createAwsClients(config);
    const calls: string[] = [];
    countCalls(clients, calls);
    variants.push({ name, handler: make(config, clients), event: eventFor(id, sub), calls, times: [] });
  }
  // Warm-up (first image decode, connections), then interleaved rounds.
  await quiet(async () => {
    for (const v of variants) for (let i = 0; i < 3; i++) await v.handler(structuredClone(v.event));
    for (const v of variants) v.calls.length = 0;
    for (let round = 0; round < ROUNDS; round++) {
      for (const v of round % 2 ? variants : [...variants].reverse()) {
        const event = structuredClone(v.event);
        const started = performance.now();
        const response = await v.handler(event);
        v.times.push(performance.now() - started);
        if (response.statusCode !== 200) throw new Error(`${v.name}: ${response.statusCode} ${response.body}`);
      }
    }
  });
  say(`\navatar request (${(avatar.bytes.length / 1000).toFixed(0)} kB JPEG replacing the previous avatar), ${ROUNDS} rounds interleaved`);
  const callsOf = (v: (typeof variants)[number]) => {
    const perRequest: Record<string, number> = {};
    for (const call of v.calls) perRequest[call] = (perRequest[call] ?? 0) + 1 / ROUNDS;
    return Object.entries(perRequest).map(([c, n]) => `${c} ${n.toFixed(1)}`).join(', ');
  };
  for (const v of variants) {
    say(`  ${v.name.padEnd(62)} p50 ${ms(percentile(v.times, 50))}  p90 ${ms(percentile(v.times, 90))}  calls: ${callsOf(v)}`);
  }
  const [now, before] = variants as [(typeof variants)[number], (typeof variants)[number]];
  const [nowP50, beforeP50] = [percentile(now.times, 50), percentile(before.times, 50)];
  emit({
    figure: `avatar request p50 / p90 (${(avatar.bytes.length / 1000).toFixed(0)} kB JPEG replacing one), ${ROUNDS} rounds`,
    value: `${ms(nowP50)} / ${ms(percentile(now.times, 90))}`,
    floor: `${ms(beforeP50)} / ${ms(percentile(before.times, 90))} before`,
    ratio: `${(nowP50 / beforeP50).toFixed(2)}×`,
    target: 'p50 < before',
    ok: nowP50 < beforeP50,
  });
  emit({ figure: 'avatar request: AWS calls per request, now', value: callsOf(now), target: 'no S3 after the write', ok: !/Tagging|Delete/.test(callsOf(now)) });
  emit({ figure: 'avatar request: AWS calls per request, before', value: callsOf(before) });

  // The stream function: the records those requests wrote, user 1's (replaced avatars).
  const streams = new DynamoDBStreamsClient({
    region: config.region,
    endpoint: emulators.dynamodbEndpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const reader = new StreamReader(streams, await streamArnOf(admin, config.tableName), config.region);
  const records = (await reader.read()).filter(
    (r: LambdaStreamRecord) => r.eventName === 'MODIFY' && (r.dynamodb.Keys?.pk as { S: string }).S === 'USER#1',
  );
  const streamConfig = readStreamConfig({
    AWS_REGION: config.region,
    MEDIA_BUCKET: config.mediaBucket,
    MEDIA_BASE_URL: config.mediaBaseUrl,
    EVENT_BUS_NAME: 'bench',
    S3_ENDPOINT: emulators.s3Endpoint,
    EVENTBRIDGE_ENDPOINT: recorder.endpoint,
    // Only out-of-shape records would go there; the bench writes none.
    DEAD_LETTER_FILE: join(tmpdir(), `bench-dead-letters-${process.pid}.jsonl`),
  });
  const s3 = createS3Client(streamConfig, streamConfig.s3Endpoint);
  const eventBridge = createEventBridgeClient(streamConfig, streamConfig.eventBridgeEndpoint);
  const streamCalls: string[] = [];
  for (const stack of [s3.middlewareStack, eventBridge.middlewareStack as unknown as typeof s3.middlewareStack]) {
    stack.add(
      (next, context) => async (args) => {
        streamCalls.push(String(context.commandName).replace(/Command$/, ''));
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'low', name: 'benchStreamCalls' },
    );
  }
  const mediaEvents = createMediaEventsHandler(streamConfig, { s3, eventBridge });
  await quiet(async () => {
    // A first pass applies the records (tags, deletes, events); the timed passes are replays: the
    // same calls (deleting a gone key and tagging a kept one cost S3 what the first pass did).
    await mediaEvents({ Records: records.slice(0, 10) });
    streamCalls.length = 0;
    say(`\nstream function, a replaced avatar per record (${records.length} records)`);
    for (const size of [1, 10].filter((n) => n <= records.length)) {
      const times: number[] = [];
      let handled = 0;
      streamCalls.length = 0;
      for (let i = 0; i + size <= records.length; i += size) {
        const started = performance.now();
        const { batchItemFailures } = await mediaEvents({ Records: records.slice(i, i + size) });
        times.push((performance.now() - started) / size);
        handled += size;
        if (batchItemFailures.length) throw new Error('stream batch failed');
      }
      const perRecord: Record<string, number> = {};
      for (const call of streamCalls) perRecord[call] = (perRecord[call] ?? 0) + 1 / handled;
      const calls = Object.entries(perRecord).map(([c, n]) => `${c} ${n.toFixed(1)}`).join(', ');
      say(`  batch of ${String(size).padEnd(2)}  per record p50 ${ms(percentile(times, 50))}  p90 ${ms(percentile(times, 90))}  calls per record: ${calls}`);
      emit({
        figure: `stream function per record (a replaced avatar), batches of ${size}`,
        value: `p50 ${ms(percentile(times, 50))} / p90 ${ms(percentile(times, 90))}`,
        floor: calls,
      });
    }
  });
  streams.destroy();
  admin.destroy();
} finally {
  rmSync(dir, { recursive: true, force: true });
  await recorder.stop();
  await emulators.stop();
}
