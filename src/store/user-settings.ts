// Writes of a user's settings: attributes of the user item that are not part of the User object,
// so their writes leave `version` (the user's ETag) alone and the stream, which diffs the rendered
// User, emits nothing for them (docs/settings-and-hidden-users.md).
import { TransactionCanceledException, TransactWriteItemsCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { ConcurrentChangeError, NotFoundError, PermissionDeniedError } from '../http/errors.ts';
import { userKey } from '../users/user-record.ts';
import type { Settings } from '../users/settings.ts';
import { isConflict, ownerCheck } from './users-table.ts';

/** Tries of a write another transaction on the same user cancelled (nothing of it was applied). */
const WRITE_ATTEMPTS = 3;

/**
 * Sets `settings` on user `id` if the caller (`sub`) owns it, in one transaction: the update,
 * conditioned on the user's existence, and the owner check on the caller's sub index. No version
 * bump, so a settings write never makes a client's If-Match stale. 404 before 403, as a read first
 * would tell them. Setting a value again is harmless, so an SDK retry of an applied write (its
 * answer lost) succeeds as well.
 */
export async function writeSettings(
  dynamo: DynamoDBClient,
  tableName: string,
  id: number,
  sub: string,
  settings: Partial<Settings>,
  sendOptions: { abortSignal?: AbortSignal } = {},
): Promise<void> {
  const names: Record<string, string> = {};
  const values: Record<string, number> = {};
  const sets = Object.entries(settings).map(([name, value], n) => {
    names[`#s${n}`] = name;
    values[`:s${n}`] = value;
    return `#s${n} = :s${n}`;
  });
  // A new command each try: each has its own idempotency token.
  const command = () =>
    new TransactWriteItemsCommand({
      TransactItems: [
        {
          Update: {
            TableName: tableName,
            Key: marshall({ pk: userKey(id) }),
            UpdateExpression: `SET ${sets.join(', ')}`,
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: marshall(values),
          },
        },
        ownerCheck(tableName, id, sub),
      ],
    });
  for (let attempt = 1; ; attempt++) {
    try {
      await dynamo.send(command(), sendOptions);
      return;
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const [user, owner] = error.CancellationReasons ?? [];
      if (user?.Code === 'ConditionalCheckFailed') throw new NotFoundError();
      if (owner?.Code === 'ConditionalCheckFailed') throw new PermissionDeniedError();
      if (!isConflict(error)) throw error;
      if (attempt >= WRITE_ATTEMPTS) throw new ConcurrentChangeError();
    }
  }
}
