// The stream function's work: for each change of a user item, make S3 follow the table (tag the
// keys the user now holds live, delete the ones it no longer holds) and announce the change on
// EventBridge. Every step is idempotent, so a retried or replayed record changes nothing more.
//
// Records of one user are applied in stream order; different users in parallel. A failure is
// reported as a partial batch response: the failed record and every record after it in the batch
// (Lambda checkpoints at the lowest failed sequence number and sends the rest again), so a later
// record of the same user is never applied before an earlier one.
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { EventBus } from './event-bus.ts';
import type { Logger } from './log.ts';
import type { MediaObjects } from './media-objects.ts';
import { userChange } from './user-events.ts';
import type { UserItem } from './user-record.ts';

/** The parts of a Lambda DynamoDB stream record that are read (images as DynamoDB JSON). */
export interface StreamRecord {
  eventID?: string;
  eventName?: 'INSERT' | 'MODIFY' | 'REMOVE';
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
  mediaBaseUrl: string;
  log: Logger;
}

const USER_PREFIX = 'USER#';

export async function processStreamBatch(deps: MediaEventsDeps, event: StreamEvent): Promise<BatchResponse> {
  const records = event.Records ?? [];
  const byUser = new Map<string, number[]>();
  records.forEach((record, index) => {
    const pk = partitionKey(record);
    if (!pk?.startsWith(USER_PREFIX)) return;
    byUser.set(pk, [...(byUser.get(pk) ?? []), index]);
  });

  let firstFailure = records.length;
  await Promise.all(
    [...byUser.values()].map(async (indexes) => {
      for (const index of indexes) {
        // Another user's failure earlier in the batch sends this record again anyway.
        if (index > firstFailure) return;
        try {
          await applyRecord(deps, records[index]!);
        } catch (error) {
          firstFailure = Math.min(firstFailure, index);
          const e = error as Error & { code?: string };
          deps.log.error('stream record failed', {
            sequenceNumber: records[index]!.dynamodb?.SequenceNumber,
            eventName: records[index]!.eventName,
            error: e?.name,
            code: e?.code,
          });
          return;
        }
      }
    }),
  );
  return {
    batchItemFailures: records
      .slice(firstFailure)
      .map((record) => ({ itemIdentifier: record.dynamodb?.SequenceNumber ?? '' })),
  };
}

async function applyRecord(deps: MediaEventsDeps, record: StreamRecord): Promise<void> {
  const change = userChange(image(record.dynamodb?.OldImage), image(record.dynamodb?.NewImage), deps.mediaBaseUrl);
  // Live first: a consumer that fetches the new avatar on the event finds it kept.
  const tagged = await Promise.all(change.held.map((key) => deps.media.markLive(key)));
  change.held.forEach((key, i) => {
    // Expected on a replay; otherwise the user points at a missing object (check-invariants).
    if (!tagged[i]) deps.log.warn('held image missing', { key, sequenceNumber: record.dynamodb?.SequenceNumber });
  });
  await Promise.all(change.released.map((key) => deps.media.delete(key)));
  if (change.event) await deps.events.put(change.event);
}

function partitionKey(record: StreamRecord): string | undefined {
  const pk = record.dynamodb?.Keys?.pk as { S?: string } | undefined;
  return pk?.S;
}

function image(attributes: Record<string, unknown> | undefined): UserItem | undefined {
  return attributes ? (unmarshall(attributes as Record<string, AttributeValue>) as UserItem) : undefined;
}
