// A page of users by id in one BatchGetItem (the hidden users' list). Its own module: only the
// read function batch-reads, and the write function's role must not allow it.
import { BatchGetItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { ServiceUnavailableError } from '../http/errors.ts';
import { readUserItem } from '../users/user-item.ts';
import { userKey, type UserItem } from '../users/user-record.ts';

/** Rounds of a batch read's unprocessed keys (DynamoDB returns them when throttled or too large). */
const BATCH_ROUNDS = 5;
const BATCH_RETRY_BASE_MS = 25;

type SendOptions = { abortSignal?: AbortSignal };

/**
 * The users of `ids` (at most 100, one BatchGetItem), in the order of `ids`; ids with no user are
 * left out. Keys DynamoDB leaves unprocessed are asked for again, a few rounds with a growing
 * pause, then the answer is a 503.
 */
export async function usersByIds(dynamo: DynamoDBClient, tableName: string, ids: readonly number[], sendOptions: SendOptions = {}): Promise<UserItem[]> {
  const found = new Map<number, UserItem>();
  let keys: Record<string, AttributeValue>[] = ids.map((id) => marshall({ pk: userKey(id) }));
  for (let round = 1; keys.length > 0; round++) {
    if (round > BATCH_ROUNDS) throw new ServiceUnavailableError();
    if (round > 1) await new Promise((resolve) => setTimeout(resolve, BATCH_RETRY_BASE_MS * 2 ** (round - 2)));
    const { Responses, UnprocessedKeys } = await dynamo.send(
      new BatchGetItemCommand({ RequestItems: { [tableName]: { Keys: keys, ConsistentRead: true } } }),
      sendOptions,
    );
    for (const attributes of Responses?.[tableName] ?? []) {
      const user = readUserItem(attributes);
      found.set(user.id, user);
    }
    keys = UnprocessedKeys?.[tableName]?.Keys ?? [];
  }
  return ids.flatMap((id) => found.get(id) ?? []);
}
