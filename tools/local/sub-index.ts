// The sub index and the id counter in the invariant check: every user has exactly one sub index
// item (`SUB#<sub>` with its id) and it points back; no sub index item without its user; the id
// counter (`COUNTER#user`) is at least the highest user id, so sign-up never hands out a used id.
// Tables from before sign-up existed lack the index: `repairSubIndex` adds it.
import { PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { subKey, USER_ID_COUNTER_KEY, type UserItem } from '../../src/users/user-record.ts';

/** The sub index and counter items of a scan. */
export class SubIndexItems {
  readonly bySub = new Map<string, number>();
  counter: number | undefined;

  /** Takes an item if it is a sub index or the counter; false for anything else. */
  take(item: Record<string, unknown>): boolean {
    const pk = String(item.pk);
    if (pk.startsWith('SUB#')) {
      this.bySub.set(pk.slice(4), Number(item.user_id));
      return true;
    }
    if (pk === USER_ID_COUNTER_KEY) {
      this.counter = Number(item.last_id);
      return true;
    }
    return false;
  }
}

export function checkSubIndex(
  users: ReadonlyMap<number, UserItem>,
  index: SubIndexItems,
): { problems: string[]; usersWithoutSubIndex: UserItem[] } {
  const problems: string[] = [];
  const usersWithoutSubIndex: UserItem[] = [];
  for (const [id, user] of users) {
    const indexed = index.bySub.get(user.sub);
    if (indexed === undefined) {
      problems.push(`user ${id} has no sub index item (npm run check-invariants -- --repair adds it)`);
      usersWithoutSubIndex.push(user);
    } else if (indexed !== id) {
      problems.push(`user ${id}: its sub's index item points at user ${indexed}`);
    }
  }
  for (const [sub, id] of index.bySub) {
    const user = users.get(id);
    if (!user) problems.push(`sub index ${subKey(sub)} points at missing user ${id}`);
    else if (user.sub !== sub) problems.push(`sub index ${subKey(sub)} points at user ${id}, whose sub differs`);
  }
  const highest = Math.max(0, ...users.keys());
  if (highest > 0 && (index.counter ?? 0) < highest) {
    problems.push(`the id counter (${index.counter ?? 'absent'}) is below the highest user id ${highest}`);
  }
  return { problems, usersWithoutSubIndex };
}

/**
 * Adds the missing sub index items, each only if still absent (a sign-up or another repair may
 * have written it meanwhile). Returns what was done, one line per user.
 */
export async function repairSubIndex(
  dynamo: DynamoDBDocumentClient,
  tableName: string,
  users: readonly UserItem[],
): Promise<string[]> {
  const done: string[] = [];
  for (const user of users) {
    try {
      await dynamo.send(
        new PutCommand({
          TableName: tableName,
          Item: { pk: subKey(user.sub), user_id: user.id },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      done.push(`user ${user.id}: sub index added`);
    } catch (error) {
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
      done.push(`user ${user.id}: a sub index item appeared meanwhile, left as it is`);
    }
  }
  return done;
}
