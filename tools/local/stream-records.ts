// Reads a table's DynamoDB stream (DynamoDB Local's, or a real one) shard by shard, a parent before
// its children, and turns its records into the records Lambda hands a stream function: the same
// field names, images as DynamoDB JSON with binary values as base64, the creation time in epoch
// seconds, the table's region. The local stack's poller (tools/local/stream-poller.ts) and the tests
// (test/support/stream.ts) feed src/functions/media-events/handler.ts with them.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type AttributeValue,
  type DynamoDBStreamsClient,
  type _Record as StreamApiRecord,
} from '@aws-sdk/client-dynamodb-streams';

// ---------------------------------------------------------------------------------------------
// Lambda's event shape

/** An attribute value as Lambda's JSON event carries it (binary as base64 text). */
export type LambdaAttributeValue =
  | { S: string }
  | { N: string }
  | { B: string }
  | { SS: string[] }
  | { NS: string[] }
  | { BS: string[] }
  | { M: Record<string, LambdaAttributeValue> }
  | { L: LambdaAttributeValue[] }
  | { NULL: true }
  | { BOOL: boolean };

/** One record as Lambda delivers it in `event.Records` (DynamoDBStreamEvent). */
export interface LambdaStreamRecord {
  eventID: string;
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  eventVersion: string;
  eventSource: 'aws:dynamodb';
  awsRegion: string;
  dynamodb: {
    ApproximateCreationDateTime: number;
    Keys: Record<string, LambdaAttributeValue>;
    NewImage?: Record<string, LambdaAttributeValue>;
    OldImage?: Record<string, LambdaAttributeValue>;
    SequenceNumber: string;
    SizeBytes: number;
    StreamViewType: string;
  };
  eventSourceARN: string;
  userIdentity?: { type: string; principalId: string };
}

export interface LambdaStreamEvent {
  Records: LambdaStreamRecord[];
}

const base64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

function toLambdaValue(value: AttributeValue): LambdaAttributeValue {
  if (value.S !== undefined) return { S: value.S };
  if (value.N !== undefined) return { N: value.N };
  if (value.B !== undefined) return { B: base64(value.B) };
  if (value.SS !== undefined) return { SS: value.SS };
  if (value.NS !== undefined) return { NS: value.NS };
  if (value.BS !== undefined) return { BS: value.BS.map(base64) };
  if (value.M !== undefined) return { M: toLambdaImage(value.M) };
  if (value.L !== undefined) return { L: value.L.map(toLambdaValue) };
  if (value.NULL !== undefined) return { NULL: true };
  if (value.BOOL !== undefined) return { BOOL: value.BOOL };
  throw new Error(`attribute value of an unknown type: ${JSON.stringify(Object.keys(value))}`);
}

function toLambdaImage(image: Record<string, AttributeValue>): Record<string, LambdaAttributeValue> {
  return Object.fromEntries(Object.entries(image).map(([name, value]) => [name, toLambdaValue(value)]));
}

/**
 * A GetRecords record as Lambda hands it to a function: the same fields, binary values as
 * base64, the creation time in epoch seconds, and the region and stream ARN of the table's
 * region (DynamoDB Local reports its own pseudo-region "ddblocal").
 */
export function toLambdaRecord(record: StreamApiRecord, region: string, streamArn: string): LambdaStreamRecord {
  const stream = record.dynamodb;
  if (!stream?.SequenceNumber || !stream.Keys || !record.eventID || !record.eventName) {
    throw new Error(`incomplete stream record ${JSON.stringify(record.eventID)}`);
  }
  const created = stream.ApproximateCreationDateTime;
  return {
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: region,
    dynamodb: {
      ApproximateCreationDateTime: Math.floor((created ? created.getTime() : Date.now()) / 1000),
      Keys: toLambdaImage(stream.Keys),
      ...(stream.NewImage ? { NewImage: toLambdaImage(stream.NewImage) } : {}),
      ...(stream.OldImage ? { OldImage: toLambdaImage(stream.OldImage) } : {}),
      SequenceNumber: stream.SequenceNumber,
      SizeBytes: stream.SizeBytes ?? 0,
      StreamViewType: stream.StreamViewType ?? 'NEW_AND_OLD_IMAGES',
    },
    eventSourceARN: streamArn,
    ...(record.userIdentity?.Type && record.userIdentity.PrincipalId
      ? { userIdentity: { type: record.userIdentity.Type, principalId: record.userIdentity.PrincipalId } }
      : {}),
  };
}

/** Stream ARNs of DynamoDB Local name the region "ddblocal"; Lambda's events name the real one. */
export function regionalStreamArn(arn: string, region: string): string {
  return arn.replace(/^arn:aws:dynamodb:ddblocal:/, `arn:aws:dynamodb:${region}:`);
}

/** The table's current stream (its `LatestStreamArn`); throws when the table has none. */
export async function streamArnOf(dynamo: Pick<DynamoDBClient, 'send'>, tableName: string): Promise<string> {
  const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: tableName }));
  if (!Table?.LatestStreamArn) throw new Error(`table ${tableName} has no stream`);
  return Table.LatestStreamArn;
}

// ---------------------------------------------------------------------------------------------
// Reading

/** What the reader calls on a DynamoDB Streams client. */
export type StreamsReadClient = Pick<DynamoDBStreamsClient, 'send'>;

/** Where the reader is in one shard. */
export interface ShardCursor {
  readonly id: string;
  readonly parentId: string | undefined;
  iterator: string | undefined;
  /** Sequence number of the last record read: an expired iterator is renewed after it. */
  checkpoint: string | undefined;
  /** GetRecords returned no next iterator: the shard is read to its end. */
  closed: boolean;
}

export class StreamReader {
  readonly #shards = new Map<string, ShardCursor>();
  /** The stream's ARN as Lambda's records name it (the table's region). */
  readonly eventSourceArn: string;

  constructor(
    private readonly streams: StreamsReadClient,
    readonly streamArn: string,
    private readonly region: string,
  ) {
    this.eventSourceArn = regionalStreamArn(streamArn, region);
  }

  /** The shards known so far, in the order the stream listed them. */
  shards(): IterableIterator<ShardCursor> {
    return this.#shards.values();
  }

  shard(id: string | undefined): ShardCursor | undefined {
    return id === undefined ? undefined : this.#shards.get(id);
  }

  /** Learns the stream's new shards (a shard is split or rolled over into children). */
  async refreshShards(): Promise<void> {
    let start: string | undefined;
    do {
      const { StreamDescription } = await this.streams.send(
        new DescribeStreamCommand({ StreamArn: this.streamArn, ExclusiveStartShardId: start }),
      );
      for (const shard of StreamDescription?.Shards ?? []) {
        if (!shard.ShardId || this.#shards.has(shard.ShardId)) continue;
        this.#shards.set(shard.ShardId, {
          id: shard.ShardId,
          parentId: shard.ParentShardId,
          iterator: undefined,
          checkpoint: undefined,
          closed: false,
        });
      }
      start = StreamDescription?.LastEvaluatedShardId;
    } while (start);
  }

  /**
   * One GetRecords page of `shard`, Lambda-shaped; undefined when its iterator had expired (the
   * next call starts again after the last record read, so nothing is read twice or skipped).
   */
  async readShard(shard: ShardCursor): Promise<LambdaStreamRecord[] | undefined> {
    shard.iterator ??= await this.#iterator(shard);
    let output;
    try {
      output = await this.streams.send(new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: 1000 }));
    } catch (error) {
      if ((error as Error).name !== 'ExpiredIteratorException') throw error;
      shard.iterator = undefined;
      return undefined;
    }
    const records = (output.Records ?? []).map((record) => toLambdaRecord(record, this.region, this.eventSourceArn));
    shard.iterator = output.NextShardIterator ?? undefined;
    if (!output.NextShardIterator) shard.closed = true;
    const last = records.at(-1);
    if (last) shard.checkpoint = last.dynamodb.SequenceNumber;
    return records;
  }

  /**
   * Everything written since the previous call, in stream order: each shard read to its present
   * end, a child only once its parent is read to its end (a key's records move to the child).
   */
  async read(): Promise<LambdaStreamRecord[]> {
    await this.refreshShards();
    const records: LambdaStreamRecord[] = [];
    const caughtUp = new Set<string>();
    let progress = true;
    while (progress) {
      progress = false;
      for (const shard of this.#shards.values()) {
        if (shard.closed || caughtUp.has(shard.id)) continue;
        const parent = this.shard(shard.parentId);
        if (parent && !parent.closed) continue;
        for (;;) {
          const page = await this.readShard(shard);
          if (page === undefined) continue;
          records.push(...page);
          // An open shard answers an empty page when it has nothing more for now.
          if (shard.closed || page.length === 0) break;
        }
        caughtUp.add(shard.id);
        progress = true;
      }
    }
    return records;
  }

  async #iterator(shard: ShardCursor): Promise<string> {
    const { ShardIterator } = await this.streams.send(
      new GetShardIteratorCommand({
        StreamArn: this.streamArn,
        ShardId: shard.id,
        ...(shard.checkpoint
          ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: shard.checkpoint }
          : { ShardIteratorType: 'TRIM_HORIZON' }),
      }),
    );
    if (!ShardIterator) throw new Error(`no iterator for shard ${shard.id}`);
    return ShardIterator;
  }
}
