// Reads and conditional writes of users and username claims in DynamoDB. Ownership (the caller's
// sub index item `SUB#<sub>` names the user) is checked in every write's transaction, never by a
// read followed by a write; no write's condition names the user's `sub`, so the API function's
// role can leave it out of what the function may write (README, "What the API function may do").
//
// The plain client with marshall/unmarshall, not the document client (@aws-sdk/lib-dynamodb): the
// handful of values here are marshalled explicitly, and the document client would add its own
// command wrappers to the deployed bundle (about 6 KB minified) for no behaviour of ours.
import {
  GetItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { isDeepStrictEqual } from 'node:util';
import {
  ConcurrentChangeError,
  NotFoundError,
  PermissionDeniedError,
  ServiceUnavailableError,
  UsernameTakenError,
  WriteOutcomeUnknownError,
} from '../http/errors.ts';
import {
  NO_PRECONDITIONS,
  preconditionHolds,
  preconditionsAllow,
  versionCondition,
  type Preconditions,
} from './preconditions.ts';

export type { Preconditions };
import { readUserItem } from '../users/user-item.ts';
import { userIdOfSub } from './sub-index.ts';
import { heldClaimKey, heldImageKeys, subKey, userKey, type UserItem } from '../users/user-record.ts';

/** Attributes to set (non-empty values: text, or a gallery's list and number) and to remove. */
export interface ItemChanges {
  set: Record<string, unknown>;
  remove: string[];
}

/**
 * The changes a write makes, worked out from the user as read: a gallery write (or a patch with an
 * avatar) depends on the stored gallery, so each attempt recomputes them from the user it read.
 * `undefined`: nothing to write, the user as read is already the result (a retry of our own
 * write that landed).
 */
export type ChangesOf = (current: UserItem) => ItemChanges | undefined;

/** The stored user after `changes`: what an atomic update of `item` leaves behind. */
export function applyChanges(item: UserItem, changes: ItemChanges, username?: string): UserItem {
  const next: Record<string, unknown> = { ...item, ...changes.set, version: (item.version ?? 0) + 1 };
  for (const name of changes.remove) delete next[name];
  if (username !== undefined) next.username = username;
  return next as unknown as UserItem;
}

/** As the document client was configured: an absent optional value is left out, not an error. */
const MARSHALL_OPTIONS = { removeUndefinedValues: true } as const;

/**
 * How many times a rename is tried again when the user changed between its read and its write, and
 * a write cancelled by another transaction on the user.
 */
const RENAME_ATTEMPTS = 5;

export interface UsersTableOptions {
  /** Ends every call when the request's time is up (see `deadline` in src/http/frame.ts). */
  abortSignal?: AbortSignal;
}


export class UsersTable {
  private readonly sendOptions: { abortSignal?: AbortSignal };

  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
    options: UsersTableOptions = {},
  ) {
    this.sendOptions = options.abortSignal ? { abortSignal: options.abortSignal } : {};
  }

  /** A user by id, whoever owns it; undefined when there is none. One consistent read. */
  async getUser(id: number): Promise<UserItem | undefined> {
    const { Item } = await this.dynamo.send(
      new GetItemCommand({ TableName: this.tableName, Key: marshall({ pk: userKey(id) }), ConsistentRead: true }),
      this.sendOptions,
    );
    return Item && readUserItem(Item);
  }

  /** The id of the user a Cognito sub signed up as (its sub index item); one consistent read. */
  userIdOfSub(sub: string): Promise<number | undefined> {
    return userIdOfSub(this.dynamo, this.tableName, sub, this.sendOptions);
  }

  /**
   * The user if it exists and belongs to `sub`: 404 first, then 403, as DRF checks them; then the
   * request's If-Match and If-None-Match (412).
   */
  async getOwnedUser(id: number, sub: string, preconditions: Preconditions = NO_PRECONDITIONS): Promise<UserItem> {
    return preconditionHolds(preconditions, ownedOrThrow(await this.getUser(id), sub));
  }

  /**
   * The user a rename or a gallery write starts from: 404, then 403 as the user item says. The request's preconditions
   * are the transaction's, which tells 403 first by the sub index (renameFrom).
   */
  async getUserToRename(id: number, sub: string): Promise<UserItem> {
    return ownedOrThrow(await this.getUser(id), sub);
  }

  /**
   * The image keys the stored user holds, its gallery's too (none if there is no such user), read
   * consistently: tells whether a write whose answer was lost carried this request's fresh keys.
   */
  async heldImageKeys(id: number): Promise<string[]> {
    const { Item } = await this.dynamo.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: marshall({ pk: userKey(id) }),
        ConsistentRead: true,
        ProjectionExpression: '#avatar, #cover, #avatars',
        ExpressionAttributeNames: { '#avatar': 'avatar_key', '#cover': 'cover_key', '#avatars': 'avatars' },
      }),
    );
    return heldImageKeys(Item ? (unmarshall(Item) as Partial<UserItem>) : undefined);
  }

  /**
   * A write worked out from the user as read (`changesOf`), in one transaction conditioned on the
   * version read: when another write got in between, the user is read again and the changes
   * worked out anew, a bounded number of times. The answer is the user the write made (no read
   * after it: the version condition says what it was before).
   */
  async updateFrom(
    id: number,
    sub: string,
    read: UserItem,
    changesOf: ChangesOf,
    preconditions: Preconditions = NO_PRECONDITIONS,
  ): Promise<{ after: UserItem }> {
    let current = read;
    for (let attempt = 1; ; attempt++) {
      const changes = changesOf(current);
      if (!changes) return { after: current };
      try {
        await this.write(id, sub, changes, preconditions, { readVersion: current.version });
        return { after: applyChanges(current, changes) };
      } catch (error) {
        if (!(error instanceof ConcurrentChangeError) || attempt >= RENAME_ATTEMPTS) throw error;
        current = await this.getOwnedUser(id, sub, preconditions);
      }
    }
  }

  /**
   * Sets and removes attributes of a user the caller owns, in one transaction: the update of the
   * user, conditioned on its existence and the request's preconditions, and the owner check. Then
   * one consistent read of the user for the answer: a transaction returns no item.
   */
  async update(
    id: number,
    sub: string,
    changes: ItemChanges,
    preconditions: Preconditions = NO_PRECONDITIONS,
    expectedUsername?: string,
  ): Promise<{ after: UserItem }> {
    await this.write(id, sub, changes, preconditions, { expectedUsername });
    // The write is done: a failure from here on is a 503 that keeps the uploads (not a refusal).
    const after = await this.getUser(id);
    if (!after) throw new ServiceUnavailableError();
    return { after };
  }

  /**
   * The transaction of update() and updateFrom(). `expectedUsername`: the stored name must still be
   * this one. `readVersion`: the stored user must still be the version read.
   */
  private async write(
    id: number,
    sub: string,
    changes: ItemChanges,
    preconditions: Preconditions,
    { expectedUsername, readVersion }: { expectedUsername?: string; readVersion?: number },
  ): Promise<void> {
    const expression = updateExpression(changes);
    let condition = 'attribute_exists(pk)';
    if (expectedUsername !== undefined) {
      expression.names['#username'] = 'username';
      expression.values[':expectedUsername'] = expectedUsername;
      condition += ' AND #username = :expectedUsername';
    }
    if (readVersion !== undefined) {
      expression.values[':readVersion'] = readVersion;
      condition += ' AND #version = :readVersion';
    }
    const version = versionCondition(preconditions, expression.names, expression.values);
    if (version) condition += ` AND ${version}`;
    const command = () =>
      new TransactWriteItemsCommand({
        TransactItems: [
          {
            Update: {
              TableName: this.tableName,
              Key: marshall({ pk: userKey(id) }),
              UpdateExpression: expression.text,
              ConditionExpression: condition,
              ExpressionAttributeNames: expression.names,
              ExpressionAttributeValues: marshall(expression.values, MARSHALL_OPTIONS),
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
          this.ownerCheck(id, sub),
        ],
      });
    for (let attempt = 1; ; attempt++) {
      try {
        await this.dynamo.send(command(), this.sendOptions);
        break;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const [user, owner] = error.CancellationReasons ?? [];
        if (user?.Code === 'ConditionalCheckFailed') {
          // DynamoDB evaluates every condition of a transaction and returns the user as it is: no
          // user is a 404 whoever asks, then the owner, then the preconditions.
          const current = user.Item ? readUserItem(user.Item) : undefined;
          if (!current) throw new NotFoundError();
          if (owner?.Code === 'ConditionalCheckFailed') throw new PermissionDeniedError();
          ownedOrThrow(current, sub);
          // The SDK retries an attempt whose answer was lost, with the transaction's idempotency
          // token, so DynamoDB answers a retry of an applied attempt with success. Should a retry
          // still be refused (the token's window passed, or an emulator without tokens), the
          // refusal may be about our own write: when this call took more than one attempt and the
          // stored user is exactly this write applied to a version the preconditions let
          // through, the outcome is unknown (503), since a 412 says nothing changed. A single
          // attempt refused is a 412 even then: a client repeating a request with its old ETag
          // must hear it.
          const retried = (error.$metadata?.attempts ?? 1) > 1;
          if (retried && isThisWriteApplied(preconditions, current, changes, readVersion)) throw new WriteOutcomeUnknownError(error);
          preconditionHolds(preconditions, current);
          throw new ConcurrentChangeError();
        }
        // The user's condition held, so the user exists: the caller's sub index names another
        // user, or none (a user from before the index; `check-invariants --repair`).
        if (owner?.Code === 'ConditionalCheckFailed') throw new PermissionDeniedError();
        // Cancelled by another transaction on the user: nothing was applied, so try again.
        if (!isConflict(error)) throw error;
        if (attempt >= RENAME_ATTEMPTS) throw new ConcurrentChangeError();
      }
    }
  }

  /**
   * The owner check of every write: the caller's sub index item names this user. It reads only
   * the index, so the function's role never lets it write `sub` on a user (README, "What the API
   * function may do").
   */
  private ownerCheck(id: number, sub: string) {
    return ownerCheck(this.tableName, id, sub);
  }



  /**
   * Gives a user the username `username` and applies `changes`, in one transaction: the new claim
   * is put only if nobody holds it, the old claim is deleted, and the user is updated only if it is
   * still the caller's and unchanged since it was read. Two requests can never both get a name.
   */
  async rename(
    id: number,
    sub: string,
    username: string,
    changes: ItemChanges | ChangesOf,
    read: UserItem,
    preconditions: Preconditions = NO_PRECONDITIONS,
  ): Promise<{ after: UserItem }> {
    let current = read;
    for (let attempt = 1; ; attempt++) {
      try {
        const these = typeof changes === 'function' ? changes(current) : changes;
        if (!these) return { after: current };
        return await this.renameFrom(id, sub, username, these, current, preconditions);
      } catch (error) {
        if (!(error instanceof ConcurrentChangeError)) throw error;
        if (attempt >= RENAME_ATTEMPTS) throw error;
        current = await this.getOwnedUser(id, sub, preconditions);
      }
    }
  }

  /** One attempt of a rename, from the user as last read; ConcurrentChangeError if it changed. */
  private async renameFrom(
    id: number,
    sub: string,
    username: string,
    changes: ItemChanges,
    current: UserItem,
    preconditions: Preconditions,
  ): Promise<{ after: UserItem }> {
    const held = heldClaimKey(current);
    // By import(): the read function uses this module too, and must not load the confusables data.
    const { claimKeysToCheck } = await import('../users/username-keys.ts');
    const keys = claimKeysToCheck(username);
    if (held === keys.claim) {
      // Same name, or one that only looks like it (a case-only rename): the claim stays; the
      // condition guards against a rename that happened since the read.
      const withName = current.username === username ? changes : { ...changes, set: { ...changes.set, username } };
      return this.update(id, sub, withName, preconditions, current.username);
    }
    try {
      await this.transactRename(id, sub, username, changes, current, held, keys, preconditions);
      return { after: applyChanges(current, { ...changes, set: { ...changes.set, username_claim: keys.claim } }, username) };
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const [claim, , user, owner, legacy] = (error.CancellationReasons ?? []).map((reason) => reason.Code);
      // The read found the user: the caller's sub index names another user, or none.
      if (owner === 'ConditionalCheckFailed') throw new PermissionDeniedError();
      // A user changed since the read, or a stale precondition, is read again (rename()), which
      // then tells 412 from a retry; before a taken name, as a read first would have.
      if (user === 'ConditionalCheckFailed' || isConflict(error)) throw new ConcurrentChangeError();
      if (claim === 'ConditionalCheckFailed' || legacy === 'ConditionalCheckFailed') throw new UsernameTakenError();
      throw error;
    }
  }

  private async transactRename(
    id: number,
    sub: string,
    username: string,
    changes: ItemChanges,
    current: UserItem,
    heldClaim: string,
    keys: { claim: string; legacy?: string },
    preconditions: Preconditions,
  ): Promise<void> {
    const expression = updateExpression({ ...changes, set: { ...changes.set, username, username_claim: keys.claim } });
    const readVersion =
      current.version === undefined ? 'attribute_not_exists(#version)' : '#version = :readVersion';
    const requested = versionCondition(preconditions, expression.names, expression.values);
    const version = requested ? `${readVersion} AND ${requested}` : readVersion;
    await this.dynamo.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          {
            Put: {
              TableName: this.tableName,
              Item: marshall({ pk: keys.claim, user_id: id }),
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          {
            Delete: {
              TableName: this.tableName,
              Key: marshall({ pk: heldClaim }),
              ConditionExpression: 'attribute_not_exists(pk) OR user_id = :id',
              ExpressionAttributeValues: marshall({ ':id': id }),
            },
          },
          {
            Update: {
              TableName: this.tableName,
              Key: marshall({ pk: userKey(id) }),
              UpdateExpression: expression.text,
              ConditionExpression: `attribute_exists(pk) AND ${version}`,
              ExpressionAttributeNames: expression.names,
              ExpressionAttributeValues: marshall(
                { ...expression.values, ...(current.version !== undefined && { ':readVersion': current.version }) },
                MARSHALL_OPTIONS,
              ),
            },
          },
          this.ownerCheck(id, sub),
          // A user who signed up before lookalike keys holds the same name under its old key.
          // Such keys are never written any more, so checking it here is enough. (The user's own
          // old key is the claim deleted above: one item, one action.)
          ...(keys.legacy !== undefined && keys.legacy !== heldClaim
            ? [
                {
                  ConditionCheck: {
                    TableName: this.tableName,
                    Key: marshall({ pk: keys.legacy }),
                    ConditionExpression: 'attribute_not_exists(pk) OR user_id = :id',
                    ExpressionAttributeValues: marshall({ ':id': id }),
                  },
                },
              ]
            : []),
        ],
      }),
      this.sendOptions,
    );
  }
}

/**
 * A transaction's owner check (every write of a user has one): the caller's sub index item names
 * user `id`. It reads only the index, never the user's `sub`.
 */
export function ownerCheck(tableName: string, id: number, sub: string) {
  return {
    ConditionCheck: {
      TableName: tableName,
      Key: marshall({ pk: subKey(sub) }),
      ConditionExpression: 'user_id = :id',
      ExpressionAttributeValues: marshall({ ':id': id }),
    },
  };
}

function ownedOrThrow(item: UserItem | undefined, sub: string): UserItem {
  if (!item) throw new NotFoundError();
  if (item.sub !== sub) throw new PermissionDeniedError();
  return item;
}

export const isConflict = (error: TransactionCanceledException) =>
  (error.CancellationReasons ?? []).some((reason) => reason.Code === 'TransactionConflict');

function updateExpression(changes: ItemChanges): {
  text: string;
  names: Record<string, string>;
  values: Record<string, unknown>;
} {
  const names: Record<string, string> = { '#version': 'version' };
  const values: Record<string, unknown> = { ':one': 1 };
  const sets: string[] = [];
  const removes: string[] = [];
  let n = 0;
  for (const [attribute, value] of Object.entries(changes.set)) {
    names[`#a${n}`] = attribute;
    values[`:v${n}`] = value;
    sets.push(`#a${n} = :v${n}`);
    n++;
  }
  for (const attribute of changes.remove) {
    names[`#a${n}`] = attribute;
    removes.push(`#a${n}`);
    n++;
  }
  let text = 'ADD #version :one';
  if (sets.length) text = `SET ${sets.join(', ')} ${text}`;
  if (removes.length) text += ` REMOVE ${removes.join(', ')}`;
  return { text, names, values };
}

/**
 * Whether the stored user is this write applied on top of a version it was allowed to write: the
 * version the write was conditioned on (`readVersion`), or one the preconditions let through that
 * they no longer do.
 */
function isThisWriteApplied(
  pre: Preconditions,
  item: UserItem,
  changes: ItemChanges,
  readVersion: number | undefined,
): boolean {
  if (readVersion !== undefined) {
    if (item.version !== readVersion + 1) return false;
  } else if (preconditionsAllow(pre, item.version) || !preconditionsAllow(pre, item.version - 1)) return false;
  const stored = item as unknown as Record<string, unknown>;
  return (
    Object.entries(changes.set).every(([name, value]) => isDeepStrictEqual(stored[name], value)) &&
    changes.remove.every((name) => stored[name] === undefined)
  );
}
