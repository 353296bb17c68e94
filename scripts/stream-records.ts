// Reads a table's DynamoDB stream (DynamoDB Local's, or a real one) and turns its records into the
// records Lambda hands a stream function: the same field names, images as DynamoDB JSON, the
// creation time in epoch seconds. Tests and the local stack feed handlers/media-events.ts with them.
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record,
  type AttributeValue as StreamAttributeValue,
  type DynamoDBStreamsClient,
} from '@aws-sdk/client-dynamodb-streams';

/** One record as Lambda delivers it in `event.Records` (DynamoDBStreamEvent). */
export interface LambdaStreamRecord {
  eventID: string;
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  eventVersion: string;
  eventSource: 'aws:dynamodb';
  awsRegion: string;
  eventSourceARN: string;
  dynamodb: {
    ApproximateCreationDateTime?: number;
    Keys?: Record<string, unknown>;
    NewImage?: Record<string, unknown>;
    OldImage?: Record<string, unknown>;
    SequenceNumber: string;
    SizeBytes?: number;
    StreamViewType?: string;
  };
}

/** The table's current stream (its `LatestStreamArn`); throws when the table has none. */
export async function streamArnOf(dynamo: DynamoDBClient, tableName: string): Promise<string> {
  const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: tableName }));
  if (!Table?.LatestStreamArn) throw new Error(`table ${tableName} has no stream`);
  return Table.LatestStreamArn;
}

/**
 * Follows every shard of a stream from its start. Each `read()` returns the records written since
 * the previous one, in stream order (shards are read parent first; records by sequence number).
 */
export class StreamReader {
  /** Open shards' next iterators; a shard is dropped once it is closed and read to its end. */
  private readonly iterators = new Map<string, string>();
  private readonly finished = new Set<string>();

  constructor(
    private readonly streams: DynamoDBStreamsClient,
    readonly streamArn: string,
    private readonly region: string,
  ) {}

  async read(): Promise<LambdaStreamRecord[]> {
    const records: LambdaStreamRecord[] = [];
    for (const shardId of await this.shardIds()) {
      let iterator = this.iterators.get(shardId);
      if (iterator === undefined) {
        const started = await this.streams.send(
          new GetShardIteratorCommand({ StreamArn: this.streamArn, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }),
        );
        iterator = started.ShardIterator;
      }
      while (iterator) {
        const page = await this.streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
        for (const record of page.Records ?? []) records.push(toLambdaRecord(record, this.streamArn, this.region));
        if (!page.NextShardIterator) {
          this.iterators.delete(shardId);
          this.finished.add(shardId);
          break;
        }
        iterator = page.NextShardIterator;
        this.iterators.set(shardId, iterator);
        // An open shard answers an empty page when it has nothing more for now.
        if (!page.Records?.length) break;
      }
    }
    return records.sort((a, b) => compareSequence(a.dynamodb.SequenceNumber, b.dynamodb.SequenceNumber));
  }

  private async shardIds(): Promise<string[]> {
    const ids: string[] = [];
    let ExclusiveStartShardId: string | undefined;
    do {
      const { StreamDescription } = await this.streams.send(
        new DescribeStreamCommand({ StreamArn: this.streamArn, ExclusiveStartShardId }),
      );
      for (const shard of StreamDescription?.Shards ?? []) {
        if (shard.ShardId && !this.finished.has(shard.ShardId)) ids.push(shard.ShardId);
      }
      ExclusiveStartShardId = StreamDescription?.LastEvaluatedShardId;
    } while (ExclusiveStartShardId);
    return ids;
  }
}

const compareSequence = (a: string, b: string): number => {
  const [x, y] = [BigInt(a), BigInt(b)];
  return x < y ? -1 : x > y ? 1 : 0;
};

/** A record of the DynamoDB Streams API as Lambda's event source mapping delivers it. */
export function toLambdaRecord(record: _Record, streamArn: string, region: string): LambdaStreamRecord {
  const data = record.dynamodb ?? {};
  const created = data.ApproximateCreationDateTime;
  return {
    eventID: record.eventID ?? '',
    eventName: record.eventName as LambdaStreamRecord['eventName'],
    eventVersion: record.eventVersion ?? '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: record.awsRegion ?? region,
    eventSourceARN: streamArn,
    dynamodb: {
      ...(created && { ApproximateCreationDateTime: Math.floor(new Date(created).getTime() / 1000) }),
      ...(data.Keys && { Keys: toJsonImage(data.Keys) }),
      ...(data.NewImage && { NewImage: toJsonImage(data.NewImage) }),
      ...(data.OldImage && { OldImage: toJsonImage(data.OldImage) }),
      SequenceNumber: data.SequenceNumber ?? '',
      ...(data.SizeBytes !== undefined && { SizeBytes: data.SizeBytes }),
      ...(data.StreamViewType && { StreamViewType: data.StreamViewType }),
    },
  };
}

/** DynamoDB JSON as Lambda's event has it: binary values base64, everything else as the API's. */
function toJsonImage(image: Record<string, StreamAttributeValue>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(image).map(([name, value]) => [name, toJsonValue(value)]));
}

function toJsonValue(value: StreamAttributeValue): unknown {
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.BS !== undefined) return { BS: value.BS.map((b) => Buffer.from(b).toString('base64')) };
  if (value.M !== undefined) return { M: toJsonImage(value.M) };
  if (value.L !== undefined) return { L: value.L.map(toJsonValue) };
  // S, N, BOOL, NULL, SS, NS: JSON already.
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}
