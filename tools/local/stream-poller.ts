// The local stack's stand-in for Lambda's DynamoDB stream trigger: reads the table's stream from
// DynamoDB Local, shard by shard (a parent before its children), and invokes the stream function
// through serverless-offline's Lambda endpoint with events shaped like Lambda's. Failures are
// handled as an event source mapping with ReportBatchItemFailures does: retry from the lowest
// failed sequence number, halve the batch on a function error (bisection), and after the last
// retry write the batch to a dead-letter file in the shape of the SQS on-failure message.

import { randomUUID } from 'node:crypto';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { LOCAL_CREDENTIALS } from '../../src/store/dynamo-client.ts';
import { StreamReader, streamArnOf, type LambdaStreamEvent, type LambdaStreamRecord, type ShardCursor } from './stream-records.ts';

// ---------------------------------------------------------------------------------------------
// Invoking

export type InvokeOutcome =
  /** The function answered; `failed` are the sequence numbers it reported (possibly none). */
  | { ok: true; statusCode: number; failed: string[] }
  /** A function error, an invalid answer or no answer: the whole batch failed. */
  | { ok: false; statusCode: number; functionError: string; message: string };

/** `signal` aborts the invocation when the poller stops. */
export type Invoke = (event: LambdaStreamEvent, signal?: AbortSignal) => Promise<InvokeOutcome>;

/**
 * Reads a function's answer as Lambda reads it with ReportBatchItemFailures: nothing, `{}` or an
 * empty list is success; an itemIdentifier that is missing, empty or not in the batch fails the
 * whole batch.
 */
export function readBatchResponse(payload: unknown, batch: readonly LambdaStreamRecord[]): { failed: string[] } | { invalid: string } {
  if (payload === null || payload === undefined || payload === '') return { failed: [] };
  if (typeof payload !== 'object' || Array.isArray(payload)) return { invalid: 'the answer is not an object' };
  const failures = (payload as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return { failed: [] };
  if (!Array.isArray(failures)) return { invalid: 'batchItemFailures is not a list' };
  const inBatch = new Set(batch.map((record) => record.dynamodb.SequenceNumber));
  const failed: string[] = [];
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || id === '' || !inBatch.has(id)) {
      return { invalid: `batchItemFailures names ${JSON.stringify(id)}, not a record of the batch` };
    }
    failed.push(id);
  }
  return { failed };
}

/**
 * Invokes `functionName` through serverless-offline's Lambda Invoke endpoint (`lambdaEndpoint`,
 * e.g. http://localhost:3002): a synchronous invocation, as the event source mapping makes.
 */
export function offlineInvoker(lambdaEndpoint: string, functionName: string, timeoutMs = 60_000): Invoke {
  const url = `${lambdaEndpoint}/2015-03-31/functions/${encodeURIComponent(functionName)}/invocations`;
  return async (event, signal) => {
    let response: Response;
    try {
      const timeout = AbortSignal.timeout(timeoutMs);
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-amz-invocation-type': 'RequestResponse' },
        body: JSON.stringify(event),
        signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
      });
    } catch (error) {
      return { ok: false, statusCode: 0, functionError: 'NoAnswer', message: (error as Error).message };
    }
    const text = await response.text();
    const functionError =
      response.headers.get('x-amz-function-error') ?? (response.status === 200 ? null : response.headers.get('x-amzn-errortype'));
    if (response.status !== 200 || functionError) {
      return {
        ok: false,
        statusCode: response.status,
        functionError: functionError ?? `HTTP ${response.status}`,
        message: text.slice(0, 500),
      };
    }
    let payload: unknown;
    try {
      payload = text === '' ? null : JSON.parse(text);
    } catch {
      return { ok: false, statusCode: 200, functionError: 'InvalidResponse', message: 'the answer is not JSON' };
    }
    const read = readBatchResponse(payload, event.Records);
    if ('invalid' in read) return { ok: false, statusCode: 200, functionError: 'InvalidResponse', message: read.invalid };
    return { ok: true, statusCode: 200, failed: read.failed };
  };
}

// ---------------------------------------------------------------------------------------------
// Dead letters

/** One line of the dead-letter file: the SQS on-failure message, plus the records themselves. */
export interface DeadLetter {
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: 'RetryAttemptsExhausted';
    approximateInvokeCount: number;
  };
  responseContext: { statusCode: number; executedVersion: '$LATEST'; functionError?: string };
  version: '1.0';
  timestamp: string;
  DDBStreamBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    approximateArrivalOfFirstRecord: string;
    approximateArrivalOfLastRecord: string;
    batchSize: number;
    streamArn: string;
  };
  /** Local only (the SQS message on AWS names the batch, not its records). */
  records: LambdaStreamRecord[];
}

// ---------------------------------------------------------------------------------------------
// The poller

export interface StreamPollerOptions {
  region: string;
  dynamodbEndpoint: string;
  tableName: string;
  invoke: Invoke;
  /** Name in the dead letters' functionArn. */
  functionName: string;
  /** JSON-lines file the dead letters are appended to. */
  deadLetterFile: string;
  /** Records per invocation at most (the event source mapping's BatchSize). */
  batchSize?: number;
  /** Retries of a failing batch before it goes to the dead-letter file (MaximumRetryAttempts). */
  maximumRetryAttempts?: number;
  /** On a function error, retry with half the batch (BisectBatchOnFunctionError). */
  bisectBatchOnFunctionError?: boolean;
  /** Pause between polls. */
  intervalMs?: number;
  log?: (message: string) => void;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Clients to use instead of ones for `dynamodbEndpoint` (tests of shard handling). */
  clients?: { streams: StreamsClient; dynamodb: TableClient };
}

/** What the poller calls on a DynamoDB Streams client and a DynamoDB client. */
export type StreamsClient = Pick<DynamoDBStreamsClient, 'send' | 'destroy'>;
export type TableClient = Pick<DynamoDBClient, 'send' | 'destroy'>;

/** A shard as the poller follows it: where it reads (the reader's cursor), what waits to be handed on. */
interface ShardState {
  cursor: ShardCursor;
  /** Records read and not yet handed on (done or dead-lettered); read again only once empty. */
  buffer: LambdaStreamRecord[];
  /** Failed invocations of the batch at the head of the buffer. */
  attempts: number;
  /** Records in the next invocation, below batchSize while bisecting. */
  limit: number;
}

export interface StreamPollerStats {
  invocations: number;
  recordsDone: number;
  deadLettered: number;
}

export class StreamPoller {
  readonly #options: Required<Omit<StreamPollerOptions, 'credentials' | 'log' | 'clients'>> & Pick<StreamPollerOptions, 'log'>;
  readonly #streams: StreamsClient;
  readonly #dynamodb: TableClient;
  readonly #shards = new Map<string, ShardState>();
  #reader: StreamReader | undefined;
  #lambdaArn: string | undefined;
  #running = false;
  readonly #stopping = new AbortController();
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #cycle = 0;
  /** Cycle number of the last poll that found nothing to do on any shard. */
  #idleCycle = -1;
  readonly stats: StreamPollerStats = { invocations: 0, recordsDone: 0, deadLettered: 0 };

  constructor(options: StreamPollerOptions) {
    const { clients, credentials = LOCAL_CREDENTIALS, ...settings } = options;
    this.#options = {
      batchSize: 10,
      maximumRetryAttempts: 3,
      bisectBatchOnFunctionError: true,
      intervalMs: 200,
      ...settings,
    };
    const clientConfig = { region: options.region, endpoint: options.dynamodbEndpoint, credentials };
    this.#streams = clients?.streams ?? new DynamoDBStreamsClient(clientConfig);
    this.#dynamodb = clients?.dynamodb ?? new DynamoDBClient(clientConfig);
  }

  get streamArn(): string | undefined {
    return this.#reader?.streamArn;
  }

  /** Starts polling; resolves once the table's stream is known. */
  async start(): Promise<void> {
    const arn = await streamArnOf(this.#dynamodb, this.#options.tableName);
    this.#reader = new StreamReader(this.#streams, arn, this.#options.region);
    this.#lambdaArn = `arn:aws:lambda:${this.#options.region}:000000000000:function:${this.#options.functionName}`;
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#stopping.abort();
    this.#wake?.();
    await this.#loop;
    this.#streams.destroy();
    this.#dynamodb.destroy();
  }

  /** Resolves once a whole poll that began after the call found nothing left to do. */
  async drained(timeoutMs = 10_000): Promise<void> {
    const after = this.#cycle;
    const deadline = Date.now() + timeoutMs;
    while (this.#idleCycle <= after) {
      if (!this.#running) throw new Error('the stream poller is not running');
      if (Date.now() > deadline) throw new Error(`the stream was not drained within ${timeoutMs} ms`);
      await new Promise((resolveWait) => setTimeout(resolveWait, 25));
    }
  }

  async #run(): Promise<void> {
    while (this.#running) {
      const cycle = ++this.#cycle;
      let busy = true;
      try {
        busy = await this.#poll();
      } catch (error) {
        // DynamoDB Local stopping, or a glitch: the next poll starts from the checkpoints.
        if (this.#running) this.#options.log?.(`stream poll failed: ${(error as Error).message}`);
      }
      if (!busy) this.#idleCycle = cycle;
      if (!this.#running) break;
      await new Promise<void>((resolveSleep) => {
        const timer = setTimeout(resolveSleep, this.#options.intervalMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolveSleep();
        };
      });
    }
  }

  /** One pass over the shards; true when something was read, invoked or is waiting for a retry. */
  async #poll(): Promise<boolean> {
    const reader = this.#reader;
    if (!reader) return false;
    await reader.refreshShards();
    let busy = false;
    for (const cursor of reader.shards()) {
      if (!this.#running) return true;
      const shard = this.#stateOf(cursor);
      if (this.#done(shard)) continue;
      // Records of one key move to a child shard when its parent closes: the parent goes first.
      const parent = reader.shard(cursor.parentId);
      if (parent && !this.#done(this.#stateOf(parent))) continue;
      if (await this.#pollShard(reader, shard)) busy = true;
    }
    return busy;
  }

  #stateOf(cursor: ShardCursor): ShardState {
    let shard = this.#shards.get(cursor.id);
    if (!shard) {
      shard = { cursor, buffer: [], attempts: 0, limit: this.#options.batchSize };
      this.#shards.set(cursor.id, shard);
    }
    return shard;
  }

  /** Read to its end and everything read handed on. */
  #done(shard: ShardState): boolean {
    return shard.cursor.closed && shard.buffer.length === 0;
  }

  async #pollShard(reader: StreamReader, shard: ShardState): Promise<boolean> {
    let read = false;
    if (shard.buffer.length === 0 && !shard.cursor.closed) {
      // Read only once the buffer is handed on: the reader's checkpoint (the last record read) is
      // then the last record handed on, where an expired iterator starts again.
      const records = await reader.readShard(shard.cursor);
      if (records === undefined) return true;
      shard.buffer.push(...records);
      read = shard.buffer.length > 0;
    }
    while (shard.buffer.length > 0 && this.#running) {
      if (!(await this.#invokeHead(shard))) return true;
    }
    return read;
  }

  /** Invokes the function with the head of the buffer; false when that batch waits for a retry. */
  async #invokeHead(shard: ShardState): Promise<boolean> {
    const batch = shard.buffer.slice(0, Math.max(1, Math.min(shard.limit, this.#options.batchSize)));
    const outcome = await this.#options.invoke({ Records: batch }, this.#stopping.signal);
    // Stopped meanwhile: the answer (likely the abort) counts for nothing; the batch stays unread.
    if (!this.#running) return false;
    this.stats.invocations++;
    if (outcome.ok && outcome.failed.length === 0) {
      this.#handOn(shard, batch.length);
      this.stats.recordsDone += batch.length;
      shard.attempts = 0;
      // Past the failing half: back to whole batches.
      shard.limit = this.#options.batchSize;
      return true;
    }

    let retry = batch;
    if (outcome.ok) {
      // Everything before the lowest failed sequence number is done, as Lambda checkpoints it.
      const lowest = outcome.failed.reduce((min, id) => (BigInt(id) < BigInt(min) ? id : min));
      const index = batch.findIndex((record) => record.dynamodb.SequenceNumber === lowest);
      if (index > 0) {
        this.#handOn(shard, index);
        this.stats.recordsDone += index;
        shard.attempts = 0;
      }
      retry = batch.slice(index);
    } else if (this.#options.bisectBatchOnFunctionError && batch.length > 1) {
      // As on AWS, a split does not count as a retry: a poison record ends up alone, and only it
      // goes to the dead letters.
      shard.limit = Math.ceil(batch.length / 2);
      this.#options.log?.(`stream batch of ${batch.length} failed (${outcome.functionError}); retrying its first half`);
      return false;
    }
    shard.attempts++;
    const why = outcome.ok
      ? `reported ${outcome.failed.length} failed record(s)`
      : `failed (${outcome.functionError}: ${outcome.message.split('\n')[0]})`;
    if (shard.attempts <= this.#options.maximumRetryAttempts) {
      this.#options.log?.(`stream batch of ${batch.length} ${why}; retry ${shard.attempts} of ${this.#options.maximumRetryAttempts}`);
      return false;
    }
    await this.#deadLetter(shard, retry, outcome);
    this.#handOn(shard, retry.length);
    this.stats.deadLettered += retry.length;
    shard.attempts = 0;
    shard.limit = this.#options.batchSize;
    this.#options.log?.(`stream batch of ${retry.length} ${why} after every retry: written to ${this.#options.deadLetterFile}`);
    return true;
  }

  #handOn(shard: ShardState, count: number): void {
    shard.buffer.splice(0, count);
  }

  async #deadLetter(shard: ShardState, records: LambdaStreamRecord[], outcome: InvokeOutcome): Promise<void> {
    const first = records[0];
    const last = records.at(-1);
    if (!first || !last) return;
    const arrival = (record: LambdaStreamRecord): string =>
      new Date(record.dynamodb.ApproximateCreationDateTime * 1000).toISOString();
    const letter: DeadLetter = {
      requestContext: {
        requestId: randomUUID(),
        functionArn: this.#lambdaArn ?? '',
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: shard.attempts,
      },
      responseContext: {
        statusCode: outcome.statusCode,
        executedVersion: '$LATEST',
        ...(outcome.ok ? {} : { functionError: outcome.functionError }),
      },
      version: '1.0',
      timestamp: new Date().toISOString(),
      DDBStreamBatchInfo: {
        shardId: shard.cursor.id,
        startSequenceNumber: first.dynamodb.SequenceNumber,
        endSequenceNumber: last.dynamodb.SequenceNumber,
        approximateArrivalOfFirstRecord: arrival(first),
        approximateArrivalOfLastRecord: arrival(last),
        batchSize: records.length,
        streamArn: first.eventSourceARN,
      },
      records,
    };
    await mkdir(dirname(this.#options.deadLetterFile), { recursive: true });
    await appendFile(this.#options.deadLetterFile, `${JSON.stringify(letter)}\n`);
  }
}
