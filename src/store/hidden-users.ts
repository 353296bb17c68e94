// The users a user hides (contract, "Hidden users"): one item per user who hides anyone,
// `HIDDEN#<id>` with the hidden ids as a number set, apart from the user item so that reading a
// user never carries up to a thousand ids (docs/settings-and-hidden-users.md). The stream
// function ignores these items (it reads USER# items only): hiding someone emits no event.
import {
  ConditionalCheckFailedException,
  GetItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { ConcurrentChangeError, InvalidRequestError } from '../http/errors.ts';
import { hiddenKey, userKey } from '../users/user-record.ts';

/** The attribute of a `HIDDEN#` item that holds the ids. */
const HIDDEN = 'hidden';

/**
 * Writes of one toggle: the first is decided from a read; a condition that fails for another
 * reason than "already as wanted" (a change between the read and the write) is tried again.
 */
const TOGGLE_ATTEMPTS = 4;

type SendOptions = { abortSignal?: AbortSignal };

export class HiddenUsers {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
    private readonly sendOptions: SendOptions = {},
  ) {}

  /** The ids user `id` hides, ascending. One consistent read. */
  async hiddenBy(id: number): Promise<number[]> {
    const { Item } = await this.dynamo.send(
      new GetItemCommand({ TableName: this.tableName, Key: marshall({ pk: hiddenKey(id) }), ConsistentRead: true }),
      this.sendOptions,
    );
    return [...idsOf(Item)].sort((a, b) => a - b);
  }

  /**
   * Hides `target` from `caller`, or shows them again when hidden: decided from one read, then one
   * conditional write of that decision. A condition that fails because the set already is as
   * wanted is the answer too: an SDK retry of a write that was applied (its answer lost), and two
   * tabs toggling from the same state together, both end with the state they asked for. Hiding
   * more than `max` users is refused (InvalidRequestError), whatever the concurrent hides.
   * `read`: the caller's ids as the request read them already (hiddenBy), else read here.
   */
  async toggle(caller: number, target: number, max: number, read?: readonly number[]): Promise<'hidden' | 'shown'> {
    const hide = !(read ? new Set(read) : await this.hiddenIdSet(caller)).has(target);
    const wanted = hide ? 'hidden' : 'shown';
    for (let attempt = 1; ; attempt++) {
      let now: Set<number>;
      try {
        await this.dynamo.send(this.toggleCommand(caller, target, hide, max), this.sendOptions);
        return wanted;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        // The item as the failed condition saw it (ALL_OLD), or as it is now.
        now = error.Item ? idsOf(error.Item) : await this.hiddenIdSet(caller);
      }
      if (now.has(target) === hide) return wanted;
      if (hide && now.size >= max) throw tooManyHidden(max);
      if (attempt >= TOGGLE_ATTEMPTS) throw new ConcurrentChangeError();
    }
  }

  private toggleCommand(caller: number, target: number, hide: boolean, max: number) {
    const common = {
      TableName: this.tableName,
      Key: marshall({ pk: hiddenKey(caller) }),
      ExpressionAttributeNames: { '#hidden': HIDDEN },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    };
    if (hide) {
      return new UpdateItemCommand({
        ...common,
        UpdateExpression: 'ADD #hidden :ids',
        // The limit is the write's own condition, so concurrent hides never pass it together.
        ConditionExpression: 'attribute_not_exists(#hidden) OR (NOT contains(#hidden, :id) AND size(#hidden) < :max)',
        ExpressionAttributeValues: marshall({ ':ids': new Set([target]), ':id': target, ':max': max }),
      });
    }
    return new UpdateItemCommand({
      ...common,
      UpdateExpression: 'DELETE #hidden :ids',
      ConditionExpression: 'contains(#hidden, :id)',
      ExpressionAttributeValues: marshall({ ':ids': new Set([target]), ':id': target }),
    });
  }

  private async hiddenIdSet(id: number): Promise<Set<number>> {
    return new Set(await this.hiddenBy(id));
  }
}

export const tooManyHidden = (max: number) => new InvalidRequestError(`You can hide at most ${max} users.`);

/** The ids of a `HIDDEN#` item (none when there is no item or no set). */
function idsOf(item: Record<string, AttributeValue> | undefined): Set<number> {
  const values = item ? (unmarshall(item)[HIDDEN] as Set<unknown> | undefined) : undefined;
  return new Set([...(values ?? [])].filter((value): value is number => Number.isSafeInteger(value)));
}

/** Whether a user `id` exists: one consistent read of its key alone. */
export async function userExists(dynamo: DynamoDBClient, tableName: string, id: number, sendOptions: SendOptions = {}): Promise<boolean> {
  const { Item } = await dynamo.send(
    new GetItemCommand({
      TableName: tableName,
      Key: marshall({ pk: userKey(id) }),
      ConsistentRead: true,
      ProjectionExpression: 'pk',
    }),
    sendOptions,
  );
  return Item !== undefined;
}
