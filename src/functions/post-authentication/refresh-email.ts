// The sign-in's refresh of the e-mail the user item mirrors from the pool (`email`,
// `email_verified`, shown by /me/ only): the sub index read, then one conditional UpdateItem that
// writes only when a value differs, and then moves `version` so /me/'s ETag changes with it.
// Equal values are a refused condition: no write, no version, no stream record.
import { ConditionalCheckFailedException, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { userIdOfSub } from '../../store/sub-index.ts';
import { userKey } from '../../users/user-record.ts';
import type { PoolEmail } from '../../users/pool-email.ts';

export type RefreshOutcome =
  /** The values differed: written, `version` moved. */
  | 'updated'
  /** The user already holds these values. */
  | 'unchanged'
  /** No sub index for this sub: a person of the pool the service has no user for. */
  | 'no_user'
  /** The sub index names a user that is not there (a broken table; sign-up restores it). */
  | 'user_missing';

export async function refreshPoolEmail(
  dynamo: DynamoDBClient,
  tableName: string,
  sub: string,
  pool: PoolEmail,
): Promise<{ outcome: RefreshOutcome; userId?: number }> {
  const userId = await userIdOfSub(dynamo, tableName, sub);
  if (userId === undefined) return { outcome: 'no_user' };
  try {
    await dynamo.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: marshall({ pk: userKey(userId) }),
        UpdateExpression: 'SET #email = :email, #verified = :verified ADD #version :one',
        // The sub index is trusted as every API write's owner check trusts it: the condition
        // does not read the user's `sub`, so this function's role never names that attribute.
        ConditionExpression: 'attribute_exists(#pk) AND NOT (#email = :email AND #verified = :verified)',
        ExpressionAttributeNames: { '#pk': 'pk', '#email': 'email', '#verified': 'email_verified', '#version': 'version' },
        ExpressionAttributeValues: marshall({ ':email': pool.email, ':verified': pool.email_verified, ':one': 1 }),
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return { outcome: 'updated', userId };
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    return { outcome: error.Item ? 'unchanged' : 'user_missing', userId };
  }
}
