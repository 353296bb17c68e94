// The table's stream in tests, delivered as Lambda's event source mapping delivers it: batches of
// records in stream order; on a partial batch response the batch is sent again from the lowest
// failed sequence number; a batch that keeps failing past the retry limit goes to the dead-letter
// list (the deployed function's SQS queue) and the stream moves on.
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { BatchResponse, StreamEvent } from '../../src/functions/media-events/records.ts';
import { readStreamConfig, type StreamConfig } from '../../src/functions/media-events/config.ts';
import { createHandler as createMediaEventsHandler } from '../../src/functions/media-events/handler.ts';
import { createS3Client } from '../../src/store/aws-clients.ts';
import { createEventBridgeClient } from '../../src/functions/media-events/event-bus.ts';
import { startEventBridgeRecorder, type EventBridgeRecorder } from '../../tools/local/eventbridge-recorder.ts';
import { createDynamoDbClient } from '../../tools/local/local-stack.ts';
import { StreamReader, streamArnOf, type LambdaStreamRecord } from '../../tools/local/stream-records.ts';
import type { TestBackend } from './backend.ts';
import { checkInvariants, type InvariantReport } from '../../tools/cli/check-invariants.ts';

export type StreamHandler = (event: StreamEvent) => Promise<BatchResponse>;

export interface TableStream {
  /** Records written since the last read, Lambda-shaped, in stream order. */
  read(): Promise<LambdaStreamRecord[]>;
  /**
   * Reads everything new and hands it to `handler` as Lambda would. Returns the records handled
   * and those that ended in the dead-letter list.
   */
  drain(handler: StreamHandler, options?: { batchSize?: number; maxAttempts?: number }): Promise<DrainResult>;
  stop(): void;
}

export interface DrainResult {
  records: LambdaStreamRecord[];
  deadLetters: LambdaStreamRecord[];
  /** Invocations made, retries included. */
  invocations: number;
}

export async function openTableStream(backend: TestBackend): Promise<TableStream> {
  const admin = createDynamoDbClient({ region: backend.config.region, dynamodbEndpoint: backend.emulators.dynamodbEndpoint });
  const arn = await streamArnOf(admin, backend.config.tableName);
  admin.destroy();
  const streams = new DynamoDBStreamsClient({
    region: backend.config.region,
    endpoint: backend.emulators.dynamodbEndpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const reader = new StreamReader(streams, arn, backend.config.region);
  return {
    read: () => reader.read(),
    async drain(handler, { batchSize = 100, maxAttempts = 5 } = {}) {
      const records = await reader.read();
      const deadLetters: LambdaStreamRecord[] = [];
      let invocations = 0;
      let next = 0;
      let attempts = 0;
      while (next < records.length) {
        const batch = records.slice(next, next + batchSize);
        invocations++;
        const { batchItemFailures } = await handler({ Records: structuredClone(batch) });
        const failedAt = lowestFailure(batch, batchItemFailures);
        if (failedAt === undefined) {
          next += batch.length;
          attempts = 0;
          continue;
        }
        next += failedAt;
        attempts++;
        if (attempts >= maxAttempts) {
          // What Lambda does past MaximumRetryAttempts (bisection aside): the rest of the batch
          // from the failure goes to the on-failure destination.
          deadLetters.push(...batch.slice(failedAt));
          next += batch.length - failedAt;
          attempts = 0;
        }
      }
      return { records, deadLetters, invocations };
    },
    stop: () => streams.destroy(),
  };
}

/** Index in `batch` of the lowest failed sequence number; an unknown or empty id fails it all. */
function lowestFailure(batch: LambdaStreamRecord[], failures: BatchResponse['batchItemFailures']): number | undefined {
  if (failures.length === 0) return undefined;
  let lowest = batch.length;
  for (const { itemIdentifier } of failures) {
    const index = batch.findIndex((record) => record.dynamodb.SequenceNumber === itemIdentifier);
    lowest = Math.min(lowest, index < 0 ? 0 : index);
  }
  return lowest;
}

/** What catchUpStream needs of a test backend. */
export const catchUpTarget = (backend: TestBackend): CatchUpTarget => ({
  region: backend.config.region,
  dynamodbEndpoint: backend.emulators.dynamodbEndpoint,
  s3Endpoint: backend.emulators.s3Endpoint,
  tableName: backend.config.tableName,
  mediaBucket: backend.config.mediaBucket,
  mediaBaseUrl: backend.config.mediaBaseUrl,
});

/** Where the stream function of a test writes the records no retry can fix (one file per test process). */
export const testDeadLetterFile = (): string => join(tmpdir(), `stream-dead-letters-${process.pid}.jsonl`);

/** The stream function's configuration for a test backend, its events going to `eventBridgeEndpoint`. */
export function streamConfigFor(backend: TestBackend, eventBridgeEndpoint: string, busName = 'users-test'): StreamConfig {
  return readStreamConfig({
    AWS_REGION: backend.config.region,
    MEDIA_BUCKET: backend.config.mediaBucket,
    MEDIA_BASE_URL: backend.config.mediaBaseUrl,
    EVENT_BUS_NAME: busName,
    S3_ENDPOINT: backend.emulators.s3Endpoint,
    EVENTBRIDGE_ENDPOINT: eventBridgeEndpoint,
    DEAD_LETTER_FILE: testDeadLetterFile(),
    AWS_REQUEST_TIMEOUT_MS: String(backend.config.awsRequestTimeoutMs),
    AWS_MAX_ATTEMPTS: String(backend.config.awsMaxAttempts),
  });
}

export interface CatchUpTarget {
  region: string;
  dynamodbEndpoint: string;
  s3Endpoint: string;
  tableName: string;
  mediaBucket: string;
  mediaBaseUrl: string;
}

/**
 * Lets the stream function catch up with everything the table's stream holds, from its start
 * (what Lambda does on AWS, and the local stack's poller with `npm start`): replays are harmless,
 * so tests that check S3 after a write call this first. Events go to a recorder of their own.
 */
export async function catchUpStream(target: CatchUpTarget): Promise<DrainResult> {
  const recorder = await startEventBridgeRecorder();
  const admin = createDynamoDbClient(target);
  const streams = new DynamoDBStreamsClient({
    region: target.region,
    endpoint: target.dynamodbEndpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    const reader = new StreamReader(streams, await streamArnOf(admin, target.tableName), target.region);
    const config = readStreamConfig({
      AWS_REGION: target.region,
      MEDIA_BUCKET: target.mediaBucket,
      MEDIA_BASE_URL: target.mediaBaseUrl,
      EVENT_BUS_NAME: 'default',
      S3_ENDPOINT: target.s3Endpoint,
      EVENTBRIDGE_ENDPOINT: recorder.endpoint,
      DEAD_LETTER_FILE: testDeadLetterFile(),
    });
    const clients = {
      s3: createS3Client(config, config.s3Endpoint),
      eventBridge: createEventBridgeClient(config, config.eventBridgeEndpoint),
    };
    const handler = createMediaEventsHandler(config, clients);
    const records = await reader.read();
    const deadLetters: LambdaStreamRecord[] = [];
    let invocations = 0;
    for (let i = 0; i < records.length; i += 100) {
      const batch = records.slice(i, i + 100);
      invocations++;
      const { batchItemFailures } = await quietly(() => handler({ Records: batch }));
      const failedAt = lowestFailure(batch, batchItemFailures);
      if (failedAt !== undefined) deadLetters.push(...batch.slice(failedAt));
    }
    clients.s3.destroy();
    clients.eventBridge.destroy();
    return { records, deadLetters, invocations };
  } finally {
    streams.destroy();
    admin.destroy();
    await recorder.stop();
  }
}

/** The stream function's log lines stay out of the test output. */
async function quietly<T>(run: () => Promise<T>): Promise<T> {
  const write = process.stdout.write;
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) =>
    typeof chunk === 'string' && chunk.startsWith('{"level"')
      ? true
      : (write as (...args: unknown[]) => boolean).call(process.stdout, chunk, ...rest)) as typeof process.stdout.write;
  try {
    return await run();
  } finally {
    process.stdout.write = write;
  }
}

/**
 * The stream caught up with the table (`catchUp`: catchUpStream, or a TableStream's drain), then
 * the invariants checked; again, until they hold or `withinMs` has passed. A catch-up right after a
 * write can miss it: DynamoDB Local shows a record a moment after its write, and a local stack's
 * own poller works on the same records meanwhile (seen in CI: a new cover pointed at, not yet
 * marked live). What is returned is the last round, for the caller to assert.
 */
export async function settledInvariants(
  catchUp: () => Promise<Pick<DrainResult, 'deadLetters'>>,
  check: () => Promise<InvariantReport>,
  withinMs = 10_000,
): Promise<{ deadLetters: LambdaStreamRecord[]; report: InvariantReport }> {
  const until = performance.now() + withinMs;
  for (;;) {
    const { deadLetters } = await catchUp();
    const report = await check();
    if (deadLetters.length > 0 || report.problems.length === 0 || performance.now() > until) return { deadLetters, report };
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * The end of a test file that drives the stream function itself: the stream drained into it, the
 * invariants hold, then the stream, the event recorder and the backend stop.
 */
export async function stopDrainedBackend(parts: { stream: TableStream; mediaEvents: StreamHandler; recorder: EventBridgeRecorder; backend: TestBackend }): Promise<void> {
  const { stream, mediaEvents, recorder, backend } = parts;
  try {
    const { report } = await settledInvariants(
      () => stream.drain(mediaEvents),
      () => checkInvariants(backend.dynamo, backend.s3, backend.config),
    );
    assert.deepEqual(report.problems, []);
  } finally {
    stream.stop();
    await recorder.stop();
    await backend.stop();
  }
}
