// The stream function's work: for each change of a user item, make S3 follow the table (tag the
// keys the user now holds live, delete the ones it no longer holds), announce the change on
// EventBridge, and have the CDN drop the deleted objects. Every step is idempotent, so a retried or
// replayed record changes nothing more.
//
// Users are independent: records of one user are applied in stream order, different users in
// parallel, and one user's failure never holds back another's records.
// - A record no retry can fix (a malformed record, an unknown event name, an item out of shape:
//   UnprocessableRecordError) goes to the dead-letter queue with its content and counts as done;
//   that user's later records go on (each carries the whole item, and tags every key it holds).
// - Any other failure (an AWS call) stops that user's later records, and reports them with it.
//   Lambda retries from the lowest reported sequence number, so other users' records after it come
//   again too: they were applied, and applying them again changes nothing.
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { Cdn } from './cdn.ts';
import type { DeadLetters } from './dead-letters.ts';
import type { EventBus } from './event-bus.ts';
import type { Logger } from '../../platform/log.ts';
import type { MediaObjects } from '../../store/media-lifecycle.ts';
import { userChange } from '../../users/user-events.ts';
import { readUserItem, UnreadableItemError } from '../../users/user-item.ts';
import type { UserItem } from '../../users/user-record.ts';

/** The parts of a Lambda DynamoDB stream record that are read (images as DynamoDB JSON). */
export interface StreamRecord {
  eventID?: string;
  eventName?: string;
  eventSourceARN?: string;
  dynamodb?: {
    Keys?: Record<string, unknown>;
    NewImage?: Record<string, unknown>;
    OldImage?: Record<string, unknown>;
    SequenceNumber?: string;
  };
}

export interface StreamEvent {
  Records: StreamRecord[];
}

export interface BatchResponse {
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

export interface MediaEventsDeps {
  media: MediaObjects;
  events: EventBus;
  deadLetters: DeadLetters;
  /** Absent where no CDN serves the media (the local stack). */
  cdn?: Cdn;
  mediaBaseUrl: string;
  log: Logger;
}

/** A record that no retry can apply. */
export class UnprocessableRecordError extends Error {
  override name = 'UnprocessableRecordError';
}

const USER_PREFIX = 'USER#';
const EVENT_NAMES = new Set(['INSERT', 'MODIFY', 'REMOVE']);

export async function processStreamBatch(deps: MediaEventsDeps, event: StreamEvent): Promise<BatchResponse> {
  const records = event.Records ?? [];
  // Records grouped by their item's key; a record without a readable key is a group of its own.
  const groups = new Map<string, number[]>();
  records.forEach((record, index) => {
    const pk = partitionKey(record);
    if (pk !== undefined && !pk.startsWith(USER_PREFIX)) return; // claims, sub index, counter
    const group = pk ?? `#${index}`;
    groups.set(group, [...(groups.get(group) ?? []), index]);
  });

  const failed: number[] = [];
  const deletedBy = new Map<number, string[]>();
  await Promise.all(
    [...groups.values()].map(async (indexes) => {
      for (const index of indexes) {
        const record = records[index]!;
        try {
          deletedBy.set(index, await applyOrDeadLetter(deps, record));
        } catch (error) {
          const e = error as Error & { code?: string };
          deps.log.error('stream record failed', {
            sequenceNumber: record.dynamodb?.SequenceNumber,
            key: partitionKey(record),
            eventName: record.eventName,
            error: e?.name,
            code: e?.code,
          });
          // This user's later records wait for it: reported with it, they are sent again.
          failed.push(...indexes.slice(indexes.indexOf(index)));
          return;
        }
      }
    }),
  );

  const deleted = [...deletedBy.values()].flat();
  if (deps.cdn && deleted.length) {
    try {
      await deps.cdn.invalidate(deleted);
    } catch (error) {
      // The records that deleted come again: their deletes change nothing, the invalidation is retried.
      deps.log.error('CDN invalidation failed', { keys: deleted.length, error: (error as Error)?.name });
      for (const [index, keys] of deletedBy) if (keys.length) failed.push(index);
    }
  }
  return {
    batchItemFailures: [...new Set(failed)]
      .sort((a, b) => a - b)
      .map((index) => ({ itemIdentifier: records[index]!.dynamodb?.SequenceNumber ?? '' })),
  };
}

/** Applies the record, or dead-letters it when no retry can apply it. Returns the keys it deleted. */
async function applyOrDeadLetter(deps: MediaEventsDeps, record: StreamRecord): Promise<string[]> {
  let change: ReturnType<typeof userChange>;
  try {
    change = decode(record, deps.mediaBaseUrl);
  } catch (error) {
    if (!(error instanceof UnprocessableRecordError || error instanceof UnreadableItemError)) throw error;
    const key = partitionKey(record);
    const sequenceNumber = record.dynamodb?.SequenceNumber;
    // Names only: an item's values may be private.
    deps.log.error('stream record unprocessable: sent to the dead-letter queue', { sequenceNumber, key, reason: error.message });
    await deps.deadLetters.send({
      condition: 'UnprocessableRecord',
      reason: `${error.name}: ${error.message}`,
      timestamp: new Date().toISOString(),
      sequenceNumber,
      key,
      eventSourceARN: record.eventSourceARN,
      records: [record],
    });
    return [];
  }
  // Live first: a consumer that fetches the new avatar on the event finds it kept.
  const tagged = await Promise.all(change.held.map((key) => deps.media.markLive(key)));
  change.held.forEach((key, i) => {
    // Expected on a replay; otherwise the user points at a missing object (check-invariants).
    if (!tagged[i]) deps.log.warn('held image missing', { key, sequenceNumber: record.dynamodb?.SequenceNumber });
  });
  await Promise.all(change.released.map((key) => deps.media.delete(key)));
  if (change.event) await deps.events.put(change.event);
  return change.released;
}

/** What the record means; throws UnprocessableRecordError or UnreadableItemError when no retry can tell. */
function decode(record: StreamRecord, mediaBaseUrl: string): ReturnType<typeof userChange> {
  if (!EVENT_NAMES.has(record.eventName ?? '')) {
    throw new UnprocessableRecordError(`unknown event name ${JSON.stringify(String(record.eventName).slice(0, 40))}`);
  }
  if (partitionKey(record) === undefined) throw new UnprocessableRecordError('the record has no string key pk');
  const before = image(record.dynamodb?.OldImage, 'OldImage');
  const after = image(record.dynamodb?.NewImage, 'NewImage');
  if (record.eventName !== 'INSERT' && !before) throw new UnprocessableRecordError(`${record.eventName} without OldImage`);
  if (record.eventName !== 'REMOVE' && !after) throw new UnprocessableRecordError(`${record.eventName} without NewImage`);
  return userChange(before, after, mediaBaseUrl);
}

function partitionKey(record: StreamRecord): string | undefined {
  const pk = record.dynamodb?.Keys?.pk as { S?: unknown } | undefined;
  return typeof pk?.S === 'string' ? pk.S : undefined;
}

function image(attributes: Record<string, unknown> | undefined, which: string): UserItem | undefined {
  if (attributes === undefined) return undefined;
  if (typeof attributes !== 'object' || attributes === null) throw new UnprocessableRecordError(`${which} is not an item`);
  try {
    return readUserItem(attributes as Record<string, AttributeValue>);
  } catch (error) {
    if (error instanceof UnreadableItemError) throw error;
    // unmarshall refused it: not DynamoDB JSON at all.
    throw new UnprocessableRecordError(`${which} is not DynamoDB JSON`);
  }
}
