// Reading a stored user item, the one way every reader takes (GET, PATCH, the stream function).
// The table may hold items another tool wrote: a number beyond JavaScript's safe integers, a
// string where a number belongs, a set. Such an item is refused as a whole with an
// UnreadableItemError naming its key and the attributes that are out of shape (never their
// values): the API answers 500 `server_error` and the stream function sends the record to the
// dead-letter queue. Reading it leniently would show a client, and announce to consumers, values
// that are not the stored ones (a 2^60 counter rounded, or replaced by 0); refusing keeps every
// answer true, and the log says which item to fix.
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { NumberValueImpl as NumberValue, unmarshall } from '@aws-sdk/util-dynamodb';
import { COUNTER_FIELDS, IMAGE_FIELDS, imageKeyAttribute, TEXT_FIELDS, type GalleryEntry, type UserItem } from './user-record.ts';

export class UnreadableItemError extends Error {
  override name = 'UnreadableItemError';
  constructor(
    readonly key: string,
    readonly attributes: string[],
  ) {
    super(`user item ${key} is out of shape: ${attributes.join(', ')}`);
  }
}

const STRING_ATTRIBUTES = ['pk', 'sub', 'username', 'date_joined', 'ext_id', 'email', ...TEXT_FIELDS, ...IMAGE_FIELDS.map(imageKeyAttribute)];
const REQUIRED_ATTRIBUTES = ['pk', 'id', 'sub', 'username', 'version', 'date_joined'];
const INTEGER_ATTRIBUTES = ['id', 'version', 'reputation', 'avatar_seq', ...COUNTER_FIELDS];
const BOOLEAN_ATTRIBUTES = ['community_badge', 'reg_approved', 'deleted', 'email_verified'];
const KNOWN = new Set([...STRING_ATTRIBUTES, ...INTEGER_ATTRIBUTES, ...BOOLEAN_ATTRIBUTES, 'tags', 'avatars']);
/** The stored shape of a tag (the User object's `tags`), for readers of items and for seeds. */
export const TAG_SHAPE: Record<string, 'string' | 'integer' | 'boolean'> = {
  id: 'integer',
  type: 'string',
  name: 'string',
  description: 'string',
  color: 'string',
  visible: 'boolean',
  visibility_boost: 'boolean',
  created_at: 'string',
  active: 'boolean',
  deleted: 'boolean',
};

/** A DynamoDB number as a safe integer, or undefined when it is not one. */
function safeInteger(value: unknown): number | undefined {
  if (!(value instanceof NumberValue)) return undefined;
  const number = Number(value.toString());
  return Number.isSafeInteger(number) ? number : undefined;
}

const isTag = (value: unknown): boolean =>
  typeof value === 'object' &&
  value !== null &&
  !Array.isArray(value) &&
  Object.entries(TAG_SHAPE).every(([name, kind]) => {
    const field = (value as Record<string, unknown>)[name];
    return kind === 'integer' ? safeInteger(field) !== undefined : typeof field === kind;
  });

/** `avatars` as stored: a list of `{id, key, uploaded}` maps, ids positive safe integers. */
function readGalleryEntries(value: unknown): GalleryEntry[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const entries: GalleryEntry[] = [];
  for (const entry of value) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return undefined;
    const { id, key, uploaded } = entry as Record<string, unknown>;
    const number = safeInteger(id);
    if (number === undefined || number <= 0 || typeof key !== 'string' || key === '' || typeof uploaded !== 'string') return undefined;
    entries.push({ id: number, key, uploaded });
  }
  return entries;
}

/**
 * The user item in `attributes` (DynamoDB JSON), checked against the stored shape. Attributes the
 * service does not know are kept as they are (another tool's business); known ones must have their
 * type. Throws UnreadableItemError.
 */
export function readUserItem(attributes: Record<string, AttributeValue>): UserItem {
  // Numbers stay strings until checked: the default conversion turns a large one into a BigInt,
  // which no JSON answer or event can carry, or throws on a large decimal.
  const raw = unmarshall(attributes, { wrapNumbers: true }) as Record<string, unknown>;
  const key = typeof raw.pk === 'string' ? raw.pk : '(no pk)';
  const wrong: string[] = [];
  const item: Record<string, unknown> = { ...raw };
  for (const name of REQUIRED_ATTRIBUTES) if (raw[name] === undefined) wrong.push(name);
  for (const name of STRING_ATTRIBUTES) {
    if (raw[name] !== undefined && typeof raw[name] !== 'string') wrong.push(name);
  }
  for (const name of BOOLEAN_ATTRIBUTES) {
    if (raw[name] !== undefined && typeof raw[name] !== 'boolean') wrong.push(name);
  }
  for (const name of INTEGER_ATTRIBUTES) {
    if (raw[name] === undefined) continue;
    const number = safeInteger(raw[name]);
    if (number === undefined) wrong.push(name);
    else item[name] = number;
  }
  if (raw.tags !== undefined) {
    if (!Array.isArray(raw.tags) || !raw.tags.every(isTag)) wrong.push('tags');
    else item.tags = raw.tags.map((tag: Record<string, unknown>) => ({ ...tag, id: safeInteger(tag.id) }));
  }
  if (raw.avatars !== undefined) {
    const avatars = readGalleryEntries(raw.avatars);
    if (!avatars) wrong.push('avatars');
    else {
      item.avatars = avatars;
      // The gallery's own invariants: ids unique and given out by `avatar_seq`, and the primary
      // (`avatar_key`) one of its entries. Anything else would answer avatars that are not there.
      const seq = item.avatar_seq as number | undefined;
      const ids = new Set(avatars.map((entry) => entry.id));
      if (ids.size !== avatars.length || (seq !== undefined && avatars.some((entry) => entry.id > seq))) wrong.push('avatars');
      if (typeof raw.avatar_key === 'string' && !avatars.some((entry) => entry.key === raw.avatar_key)) wrong.push('avatar_key');
    }
  }
  if (wrong.length) throw new UnreadableItemError(key, [...new Set(wrong)]);
  // Attributes the service does not know get the SDK's default conversion where it has one; none
  // is rendered, written back or announced.
  for (const name of Object.keys(item)) {
    if (KNOWN.has(name)) continue;
    try {
      item[name] = unmarshall({ value: attributes[name]! }).value;
    } catch {
      // A number no JavaScript value holds: it stays wrapped, as nothing reads it.
    }
  }
  return item as unknown as UserItem;
}
