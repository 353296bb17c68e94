// Creates the user of a confirmed Cognito sign-up: an id from the atomic counter, then one
// transaction that writes the sub index (if absent), the username claim (if absent) and the user.
// A sub index already there means an earlier invocation for this sub did it all: Cognito retries
// triggers, and nothing more is created. If the user that index names is gone (deleted by hand, a
// restore of part of the table), it is created again under that id, in one transaction that needs
// the index still to name it: the person's `/me/` would otherwise stay a 404 for good.
import {
  GetItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { claimKeysToCheck, reservedNames } from '../../users/username-keys.ts';
import { usernameCandidates } from '../../users/usernames.ts';
import { userIdOfSub } from '../../store/sub-index.ts';
import type { PoolEmail } from '../../users/pool-email.ts';
import {
  COUNTER_FIELDS,
  subKey,
  userKey,
  USER_ID_COUNTER_KEY,
  type SubIndexItem,
  type UserItem,
} from '../../users/user-record.ts';

export interface SignUp {
  sub: string;
  email?: string;
  /** The pool's `email_verified`, mirrored on the user with `email` for `/me/`. */
  emailVerified?: boolean;
  preferredUsername?: string;
}

export interface SignUpResult {
  /** False when the sub already had its user (a repeated invocation). */
  created: boolean;
  userId: number;
  /** The username given, when this invocation created the user. */
  username?: string;
  /** True when the sub index was there but its user was not, and the user was created again. */
  restored?: boolean;
}

/** Transactions tried for one sign-up before giving up (each failed one found a name taken). */
const MAX_ATTEMPTS = 50;

export class SignUpError extends Error {
  override name = 'SignUpError';
}

/** A new user as stored: `version` 1, joined now, every field at its default, the pool's e-mail mirrored. */
export function newUserItem(
  id: number,
  sub: string,
  username: string,
  usernameClaim: string,
  now: Date,
  poolEmail: PoolEmail = { email: '', email_verified: false },
): UserItem {
  const counters = Object.fromEntries(COUNTER_FIELDS.map((field) => [field, 0]));
  return {
    pk: userKey(id),
    id,
    sub,
    username,
    username_claim: usernameClaim,
    version: 1,
    date_joined: now.toISOString(),
    ...counters,
    tags: [],
    reputation: 0,
    community_badge: false,
    reg_approved: false,
    deleted: false,
    email: poolEmail.email,
    email_verified: poolEmail.email_verified,
  };
}

export class SignUps {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
    reservedUsernames?: readonly string[],
  ) {
    this.isReserved = reservedNames(reservedUsernames);
  }

  private readonly isReserved: (username: string) => boolean;

  async signUp(signUp: SignUp): Promise<SignUpResult> {
    const { sub, email, preferredUsername } = signUp;
    // A retry of a sign-up that went through costs two reads and takes no id.
    const existing = await this.userIdOfSub(sub);
    if (existing !== undefined) return this.restoreIfMissing(existing, signUp);
    const mirrored = mirroredEmail(signUp);

    let id = await this.nextId();
    let candidates = usernameCandidates(preferredUsername, email, id, this.isReserved);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const username = candidates.next().value as string;
      const outcome = await this.create(id, sub, username, mirrored);
      switch (outcome.kind) {
        case 'created':
          return { created: true, userId: id, username };
        case 'already-done':
          // Another invocation for this sub won the race; the id taken here stays unused.
          return { created: false, userId: outcome.userId ?? (await this.userIdOfSub(sub))! };
        case 'name-taken':
          continue;
        case 'id-taken':
          // A user was written under this id without the counter (an old seed, a hand-made user):
          // take the next one; the names already tried were taken or still are to be tried.
          id = await this.nextId();
          candidates = usernameCandidates(preferredUsername, email, id, this.isReserved);
          continue;
        case 'conflict':
          // Another transaction on one of the items at the same moment: try the same name again.
          await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40));
          candidates = replay(username, candidates);
          continue;
      }
    }
    throw new SignUpError(`no free username found for sub ${sub} after ${MAX_ATTEMPTS} attempts`);
  }

  /**
   * The user the sub index names, created again when it is missing: same id, a name from the same
   * candidates (its old claim, if still there and naming this id, is taken over). Idempotent: a
   * user already there (this sub's) is left as it is.
   */
  private async restoreIfMissing(id: number, signUp: SignUp): Promise<SignUpResult> {
    const { sub, email, preferredUsername } = signUp;
    let candidates = usernameCandidates(preferredUsername, email, id, this.isReserved);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const user = await this.userSub(id);
      if (user !== undefined) {
        // The index and a user of another sub: a broken table that no trigger may guess its way out of.
        if (user !== sub) throw new SignUpError(`the sub index of this sub names user ${id}, which has another sub`);
        return { created: false, userId: id };
      }
      const username = candidates.next().value as string;
      const outcome = await this.recreate(id, sub, username, mirroredEmail(signUp));
      switch (outcome) {
        case 'created':
          return { created: true, restored: true, userId: id, username };
        case 'index-changed':
          throw new SignUpError(`the sub index of this sub changed while user ${id} was being restored`);
        case 'name-taken':
          continue;
        case 'user-appeared':
          // Another invocation restored it meanwhile: the next round reads it.
          continue;
        case 'conflict':
          await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40));
          candidates = replay(username, candidates);
          continue;
      }
    }
    throw new SignUpError(`no free username found to restore user ${id} after ${MAX_ATTEMPTS} attempts`);
  }

  /** The sub of user `id`, undefined when there is no such user; one consistent read. */
  private async userSub(id: number): Promise<string | undefined> {
    const { Item } = await this.dynamo.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: marshall({ pk: userKey(id) }),
        ConsistentRead: true,
        ProjectionExpression: '#sub',
        ExpressionAttributeNames: { '#sub': 'sub' },
      }),
    );
    return Item ? (unmarshall(Item) as Pick<UserItem, 'sub'>).sub : undefined;
  }

  /** One transaction: the sub index still names `id`, the claim is free (or already `id`'s), the user is absent. */
  private async recreate(
    id: number,
    sub: string,
    username: string,
    poolEmail: PoolEmail,
  ): Promise<'created' | 'index-changed' | 'name-taken' | 'user-appeared' | 'conflict'> {
    const keys = claimKeysToCheck(username);
    const freeOrOurs = { ConditionExpression: 'attribute_not_exists(pk) OR user_id = :id', ExpressionAttributeValues: marshall({ ':id': id }) };
    try {
      await this.dynamo.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: this.tableName,
                Key: marshall({ pk: subKey(sub) }),
                ConditionExpression: 'user_id = :id',
                ExpressionAttributeValues: marshall({ ':id': id }),
              },
            },
            {
              Put: { TableName: this.tableName, Item: marshall({ pk: keys.claim, user_id: id }), ...freeOrOurs },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: marshall(newUserItem(id, sub, username, keys.claim, this.now(), poolEmail)),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            // The same name claimed before lookalike keys existed (src/users/username-keys.ts), by another user.
            ...(keys.legacy === undefined
              ? []
              : [{ ConditionCheck: { TableName: this.tableName, Key: marshall({ pk: keys.legacy }), ...freeOrOurs } }]),
          ],
        }),
      );
      return 'created';
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      const [index, claim, user, legacyClaim] = reasons.map((reason) => reason.Code);
      if (index === 'ConditionalCheckFailed') return 'index-changed';
      if (user === 'ConditionalCheckFailed') return 'user-appeared';
      if (claim === 'ConditionalCheckFailed' || legacyClaim === 'ConditionalCheckFailed') return 'name-taken';
      if (reasons.some((reason) => reason.Code === 'TransactionConflict')) return 'conflict';
      throw error;
    }
  }

  private userIdOfSub(sub: string): Promise<number | undefined> {
    return userIdOfSub(this.dynamo, this.tableName, sub);
  }

  /** The next user id: the counter's `last_id` plus one, atomically (the first id is 1). */
  private async nextId(): Promise<number> {
    const { Attributes } = await this.dynamo.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: marshall({ pk: USER_ID_COUNTER_KEY }),
        UpdateExpression: 'ADD last_id :one',
        ExpressionAttributeValues: marshall({ ':one': 1 }),
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return (unmarshall(Attributes!) as { last_id: number }).last_id;
  }

  private async create(
    id: number,
    sub: string,
    username: string,
    poolEmail: PoolEmail,
  ): Promise<
    | { kind: 'created' | 'name-taken' | 'id-taken' | 'conflict' }
    | { kind: 'already-done'; userId: number | undefined }
  > {
    const absent = 'attribute_not_exists(pk)';
    const keys = claimKeysToCheck(username);
    try {
      await this.dynamo.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: marshall({ pk: subKey(sub), user_id: id }),
                ConditionExpression: absent,
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: marshall({ pk: keys.claim, user_id: id }),
                ConditionExpression: absent,
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: marshall(newUserItem(id, sub, username, keys.claim, this.now(), poolEmail)),
                ConditionExpression: absent,
              },
            },
            // The same name claimed before lookalike keys existed (src/users/username-keys.ts).
            ...(keys.legacy === undefined
              ? []
              : [
                  {
                    ConditionCheck: {
                      TableName: this.tableName,
                      Key: marshall({ pk: keys.legacy }),
                      ConditionExpression: absent,
                    },
                  },
                ]),
          ],
        }),
      );
      return { kind: 'created' };
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      const [subIndex, claim, user, legacyClaim] = reasons.map((reason) => reason.Code);
      if (subIndex === 'ConditionalCheckFailed') {
        const item = reasons[0]!.Item;
        return { kind: 'already-done', userId: item && (unmarshall(item) as SubIndexItem).user_id };
      }
      if (claim === 'ConditionalCheckFailed' || legacyClaim === 'ConditionalCheckFailed') return { kind: 'name-taken' };
      if (user === 'ConditionalCheckFailed') return { kind: 'id-taken' };
      if (reasons.some((reason) => reason.Code === 'TransactionConflict')) return { kind: 'conflict' };
      throw error;
    }
  }
}

const mirroredEmail = ({ email, emailVerified }: SignUp): PoolEmail => ({ email: email ?? '', email_verified: emailVerified === true });

/** `first`, then the rest of `rest`. */
function* replay(first: string, rest: Generator<string>): Generator<string> {
  yield first;
  yield* rest;
}
