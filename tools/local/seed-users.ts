// Loads users into the users table with the item shapes of src/users/user-record.ts, keeping the table's
// invariants: every user has exactly one username claim and one sub index item pointing back at
// it, no claim or sub index exists without its user, and the id counter is at least every seeded
// id, so a sign-up never gets an id a seed used.

import { GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { CancellationReason } from '@aws-sdk/client-dynamodb';
import {
  COUNTER_FIELDS,
  IMAGE_FIELDS,
  READ_ONLY_FIELDS,
  TEXT_FIELDS,
  heldClaimKey,
  subKey,
  userKey,
  USER_ID_COUNTER_KEY,
} from '../../src/users/user-record.ts';
import type { ClaimItem, Tag, UserItem } from '../../src/users/user-record.ts';
import { claimKey } from '../../src/users/username-keys.ts';
import { TAG_SHAPE } from '../../src/users/user-item.ts';
import { isValidUsername } from '../../src/users/usernames.ts';

export class SeedError extends Error {
  override name = 'SeedError';
}

/** A validated seed entry: everything of the user item except what depends on the stored one. */
export type SeedUser = Omit<UserItem, 'pk' | 'version' | 'date_joined' | 'avatar_key' | 'cover_key' | 'avatars' | 'avatar_seq'> & {
  date_joined?: string;
};

export interface SeedOptions {
  /** Receives notes about ignored input (default: console.warn). */
  warn?: (message: string) => void;
}


const KNOWN_FIELDS = new Set<string>([
  'sub',
  'username',
  // The pool's e-mail as the user mirrors it for /me/ (as the sign-up trigger writes it).
  'email',
  'email_verified',
  ...TEXT_FIELDS,
  ...READ_ONLY_FIELDS,
  ...IMAGE_FIELDS,
]);

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function parseTags(value: unknown, where: string): Tag[] {
  if (!Array.isArray(value)) throw new SeedError(`${where}: tags must be an array`);
  return value.map((tag: unknown, index) => {
    const at = `${where}: tags[${index}]`;
    if (!isRecord(tag)) throw new SeedError(`${at} must be an object`);
    const unknown = Object.keys(tag).filter((key) => !(key in TAG_SHAPE));
    if (unknown.length) throw new SeedError(`${at} has unknown fields: ${unknown.join(', ')}`);
    for (const [key, kind] of Object.entries(TAG_SHAPE)) {
      const fits = kind === 'integer' ? Number.isSafeInteger(tag[key]) : typeof tag[key] === kind;
      if (!fits) throw new SeedError(`${at}.${key} must be ${kind === 'integer' ? 'an integer' : `a ${kind}`}`);
    }
    return { ...tag } as unknown as Tag;
  });
}

/** Validates one entry of a seed file; `index` only labels error messages. */
export function parseSeedUser(value: unknown, index: number, options: SeedOptions = {}): SeedUser {
  const warn = options.warn ?? ((message: string) => console.warn(message));
  let where = `user #${index + 1}`;
  if (!isRecord(value)) throw new SeedError(`${where} must be an object`);

  const { id, sub, username } = value;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) {
    throw new SeedError(`${where}: id must be an integer > 0, got ${JSON.stringify(id)}`);
  }
  where = `user ${id}`;
  if (typeof sub !== 'string' || sub.trim() === '') {
    throw new SeedError(`${where}: sub must be a non-empty string`);
  }
  // The contract's username rule, from the one place the functions read it too.
  if (typeof username !== 'string' || !isValidUsername(username)) {
    throw new SeedError(
      `${where}: username must be 1-255 of a-z A-Z 0-9 _ - with a letter or digit, ` +
        `got ${JSON.stringify(username)}`,
    );
  }

  const unknown = Object.keys(value).filter((key) => !KNOWN_FIELDS.has(key));
  if (unknown.length) throw new SeedError(`${where}: unknown fields: ${unknown.join(', ')}`);

  const user: SeedUser = { id, sub, username };
  for (const field of TEXT_FIELDS) {
    const text = value[field];
    if (text === undefined || text === null || text === '') continue;
    if (typeof text !== 'string') throw new SeedError(`${where}: ${field} must be a string`);
    user[field] = text;
  }
  for (const field of IMAGE_FIELDS) {
    if (value[field] !== undefined && value[field] !== null) {
      warn(`${where}: ${field} ignored (images are uploaded through PATCH, not seeded)`);
    }
  }
  for (const field of COUNTER_FIELDS) {
    const count = value[field];
    if (count === undefined) continue;
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
      throw new SeedError(`${where}: ${field} must be an integer >= 0`);
    }
    user[field] = count;
  }
  if (value.ext_id !== undefined && value.ext_id !== null && value.ext_id !== '') {
    if (typeof value.ext_id !== 'string') throw new SeedError(`${where}: ext_id must be a string`);
    user.ext_id = value.ext_id;
  }
  if (value.connection_status !== undefined && value.connection_status !== null) {
    throw new SeedError(`${where}: connection_status must be null`);
  }
  if (value.date_joined !== undefined) {
    const joined = value.date_joined;
    if (typeof joined !== 'string' || Number.isNaN(Date.parse(joined))) {
      throw new SeedError(`${where}: date_joined must be an ISO date-time string`);
    }
    user.date_joined = joined;
  }
  if (value.email !== undefined) {
    if (typeof value.email !== 'string') throw new SeedError(`${where}: email must be a string`);
    user.email = value.email;
    // A seeded address counts as verified unless the entry says otherwise, as the pool's would be.
    user.email_verified = true;
  }
  if (value.email_verified !== undefined) {
    if (typeof value.email_verified !== 'boolean') throw new SeedError(`${where}: email_verified must be a boolean`);
    user.email_verified = value.email_verified;
  }
  if (value.tags !== undefined) user.tags = parseTags(value.tags, where);
  if (value.reputation !== undefined) {
    if (typeof value.reputation !== 'number' || !Number.isSafeInteger(value.reputation)) {
      throw new SeedError(`${where}: reputation must be an integer`);
    }
    user.reputation = value.reputation;
  }
  for (const flag of ['community_badge', 'reg_approved', 'deleted'] as const) {
    const set = value[flag];
    if (set === undefined) continue;
    if (typeof set !== 'boolean') throw new SeedError(`${where}: ${flag} must be a boolean`);
    user[flag] = set;
  }
  return user;
}

/** Validates a whole seed document, including clashes between its own entries. */
export function parseSeedUsers(users: unknown[], options: SeedOptions = {}): SeedUser[] {
  const parsed = users.map((value, index) => parseSeedUser(value, index, options));
  const ids = new Set<number>();
  const names = new Map<string, number>();
  const subs = new Map<string, number>();
  for (const user of parsed) {
    if (ids.has(user.id)) throw new SeedError(`user ${user.id} appears more than once`);
    ids.add(user.id);
    const name = user.username.toLowerCase();
    const nameHolder = names.get(name);
    if (nameHolder !== undefined) {
      throw new SeedError(
        `users ${nameHolder} and ${user.id} both use username "${user.username}" (case-insensitive)`,
      );
    }
    names.set(name, user.id);
    const subHolder = subs.get(user.sub);
    if (subHolder !== undefined) {
      throw new SeedError(`users ${subHolder} and ${user.id} both use sub "${user.sub}"`);
    }
    subs.set(user.sub, user.id);
  }
  return parsed;
}

const MAX_ATTEMPTS = 5;

function conditionFailed(reason: CancellationReason | undefined): boolean {
  return reason?.Code === 'ConditionalCheckFailed';
}

// lib-dynamodb does not unmarshall cancellation reasons, so the item may be in either form.
function claimHolder(reason: CancellationReason | undefined): string {
  const raw = (reason?.Item as Record<string, unknown> | undefined)?.user_id;
  if (typeof raw === 'number') return String(raw);
  if (isRecord(raw) && typeof raw.N === 'string') return raw.N;
  return 'another user';
}

/** Raises the id counter to `id` unless it is already there or beyond (sign-ups take ids above). */
async function reserveId(doc: DynamoDBDocumentClient, tableName: string, id: number): Promise<void> {
  try {
    await doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { pk: USER_ID_COUNTER_KEY },
        UpdateExpression: 'SET last_id = :id',
        ConditionExpression: 'attribute_not_exists(last_id) OR last_id < :id',
        ExpressionAttributeValues: { ':id': id },
      }),
    );
  } catch (error) {
    if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
  }
}

async function seedOne(doc: DynamoDBDocumentClient, tableName: string, user: SeedUser): Promise<void> {
  // Before the user exists, so no sign-up in between can be given this id.
  await reserveId(doc, tableName, user.id);
  const claim: ClaimItem = { pk: claimKey(user.username), user_id: user.id };
  const ownedOrAbsent = {
    ConditionExpression: 'attribute_not_exists(pk) OR user_id = :id',
    ExpressionAttributeValues: { ':id': user.id },
  };
  for (let attempt = 1; ; attempt++) {
    const { Item } = await doc.send(
      new GetCommand({ TableName: tableName, Key: { pk: userKey(user.id) }, ConsistentRead: true }),
    );
    const stored = Item as UserItem | undefined;

    const item: UserItem = {
      ...user,
      pk: userKey(user.id),
      username_claim: claim.pk,
      // A re-seed replaces the user, so anyone holding the old version must see a change.
      version: stored ? (stored.version ?? 0) + 1 : 0,
      // Re-loading a file without dates must not make the users look newly joined.
      date_joined: user.date_joined ?? stored?.date_joined ?? new Date().toISOString(),
    };
    // Seeds carry no images; keep the ones uploaded since, so their objects stay referenced.
    if (stored?.avatar_key) item.avatar_key = stored.avatar_key;
    if (stored?.cover_key) item.cover_key = stored.cover_key;
    // The avatar gallery too: its avatars would otherwise be released, and the stream delete them.
    if (stored?.avatars) item.avatars = stored.avatars;
    if (stored?.avatar_seq !== undefined) item.avatar_seq = stored.avatar_seq;

    const oldClaimKey = stored?.username ? heldClaimKey(stored) : undefined;
    const oldSubKey = stored?.sub && stored.sub !== user.sub ? subKey(stored.sub) : undefined;
    // Positional, as the cancellation reasons are: each action with what its failure means.
    const actions: { kind: 'user' | 'claim' | 'oldClaim' | 'sub' | 'oldSub'; action: Record<string, unknown> }[] = [
      {
        kind: 'user',
        action: {
          Put: {
            TableName: tableName,
            Item: item,
            ...(stored
              ? {
                  ConditionExpression: '#version = :version',
                  ExpressionAttributeNames: { '#version': 'version' },
                  ExpressionAttributeValues: { ':version': stored.version },
                }
              : { ConditionExpression: 'attribute_not_exists(pk)' }),
          },
        },
      },
      {
        kind: 'claim',
        action: { Put: { TableName: tableName, Item: claim, ...ownedOrAbsent, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } },
      },
      {
        kind: 'sub',
        action: {
          Put: {
            TableName: tableName,
            Item: { pk: subKey(user.sub), user_id: user.id },
            ...ownedOrAbsent,
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
      },
    ];
    // A rename to a lookalike (case included) keeps the same claim key; a transaction may not touch it twice.
    if (oldClaimKey && oldClaimKey !== claim.pk) {
      actions.push({ kind: 'oldClaim', action: { Delete: { TableName: tableName, Key: { pk: oldClaimKey }, ...ownedOrAbsent } } });
    }
    if (oldSubKey) {
      actions.push({ kind: 'oldSub', action: { Delete: { TableName: tableName, Key: { pk: oldSubKey }, ...ownedOrAbsent } } });
    }
    try {
      await doc.send(new TransactWriteCommand({ TransactItems: actions.map((a) => a.action) as never }));
      return;
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const failed = new Set(
        actions.filter((_, i) => conditionFailed(error.CancellationReasons?.[i])).map((a) => a.kind),
      );
      const reasonOf = (kind: string) => error.CancellationReasons?.[actions.findIndex((a) => a.kind === kind)];
      if (failed.has('claim')) {
        throw new SeedError(
          `user ${user.id}: username "${user.username}" is already claimed by user ${claimHolder(reasonOf('claim'))}`,
        );
      }
      if (failed.has('sub')) {
        throw new SeedError(`user ${user.id}: sub "${user.sub}" already belongs to user ${claimHolder(reasonOf('sub'))}`);
      }
      if (failed.has('oldClaim') || failed.has('oldSub')) {
        throw new SeedError(
          `user ${user.id}: its old username claim or sub index belongs to another user; the table is inconsistent`,
        );
      }
      // The user changed between the read and the write (e.g. a PATCH): read it again.
      if (failed.has('user') && attempt < MAX_ATTEMPTS) continue;
      throw error;
    }
  }
}

/**
 * Validates `users` (entries of a seed file) and writes them one by one; returns how many were
 * written. Nothing is written when any entry is invalid. A username held by another user stops
 * the load at that entry with a SeedError; earlier entries stay loaded.
 */
export async function seedUsers(
  doc: DynamoDBDocumentClient,
  tableName: string,
  users: unknown[],
  options: SeedOptions = {},
): Promise<number> {
  const parsed = parseSeedUsers(users, options);
  let written = 0;
  for (const user of parsed) {
    try {
      await seedOne(doc, tableName, user);
    } catch (error) {
      if (error instanceof SeedError && written > 0) {
        error.message += ` (${written} earlier user${written === 1 ? '' : 's'} of the list were loaded)`;
      }
      throw error;
    }
    written++;
  }
  return written;
}
