// The sub index item `SUB#<sub>`: which user a Cognito sub signed up as. Its own module so the
// sign-up trigger reads it without the API's table code in its bundle.
import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { subKey, type SubIndexItem } from '../users/user-record.ts';

/** The id of the user a Cognito sub signed up as; undefined when none. One consistent read. */
export async function userIdOfSub(
  dynamo: DynamoDBClient,
  tableName: string,
  sub: string,
  sendOptions: { abortSignal?: AbortSignal } = {},
): Promise<number | undefined> {
  const { Item } = await dynamo.send(
    new GetItemCommand({ TableName: tableName, Key: marshall({ pk: subKey(sub) }), ConsistentRead: true }),
    sendOptions,
  );
  return Item ? (unmarshall(Item) as SubIndexItem).user_id : undefined;
}
