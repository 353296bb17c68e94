// The stored shape of a user and its username claim, and the rendering of a stored user as the
// contract's User object. One table, partition key `pk`:
//   USER#<id>                  the user: profile fields, image object keys, sub, version
//   USERNAME#<name key>        the claim: the id of the user holding that name; the key is the
//                              lookalike key (src/users/username-keys.ts), or the lower-case name for
//                              claims written before lookalike keys (the user's `username_claim`
//                              says which it holds)
//   SUB#<cognito sub>          the sub index: the id of the user that sub signed up as
//   COUNTER#user               the last user id given out (`last_id`)
//   HIDDEN#<id>                the ids user <id> hides (`hidden`, a number set; absent when none)

export const userKey = (id: number): string => `USER#${id}`;
/** The claim key of the first scheme, the lower-case name: what users without `username_claim` hold. */
export const legacyClaimKey = (username: string): string => `USERNAME#${username.toLowerCase()}`;
/** The claim item a stored user holds, whichever scheme wrote it. */
export const heldClaimKey = (item: Pick<UserItem, 'username' | 'username_claim'>): string =>
  item.username_claim ?? legacyClaimKey(item.username);
export const subKey = (sub: string): string => `SUB#${sub}`;
export const USER_ID_COUNTER_KEY = 'COUNTER#user';
export const hiddenKey = (id: number): string => `HIDDEN#${id}`;

/** Text fields a user may write; stored only when non-empty. */
export const TEXT_FIELDS = [
  'real_name',
  'bio',
  'location',
  'location_lat_lng',
  'position_lat_lng',
  'date_of_birth',
  'description',
  'gender',
  'website',
  'language',
  'company_name',
  'company_role',
] as const;
export type TextField = (typeof TEXT_FIELDS)[number];

export const IMAGE_FIELDS = ['avatar', 'cover'] as const;
export type ImageField = (typeof IMAGE_FIELDS)[number];
/** Attribute that holds the S3 object key of an image field. */
export const imageKeyAttribute = (field: ImageField): `${ImageField}_key` => `${field}_key`;

/**
 * Every object key a stored user holds: its avatar and cover and every avatar of its gallery. The
 * one list the stream (what to keep, what to delete), the write path (did our write land?) and
 * the tools (check-invariants, reconcile) read.
 */
export function heldImageKeys(item: Pick<UserItem, 'avatar_key' | 'cover_key' | 'avatars'> | undefined): string[] {
  if (!item) return [];
  const keys = new Set<string>();
  for (const field of IMAGE_FIELDS) {
    const key = item[imageKeyAttribute(field)];
    if (typeof key === 'string' && key) keys.add(key);
  }
  if (Array.isArray(item.avatars)) {
    for (const entry of item.avatars) if (typeof entry?.key === 'string' && entry.key) keys.add(entry.key);
  }
  return [...keys];
}

export const COUNTER_FIELDS = [
  'followings_counter',
  'followers_counter',
  'posts_counter',
  'discussions_counter',
  'polls_counter',
  'categories_counter',
] as const;

/** Fields of the User object that a client may send back but never changes. */
export const READ_ONLY_FIELDS = [
  'id',
  'ext_id',
  ...COUNTER_FIELDS,
  'connection_status',
  'date_joined',
  'tags',
  'reputation',
  'community_badge',
  'reg_approved',
  'deleted',
] as const;

export interface Tag {
  id: number;
  type: string;
  name: string;
  description: string;
  color: string;
  visible: boolean;
  visibility_boost: boolean;
  created_at: string;
  active: boolean;
  deleted: boolean;
}

/** One avatar of the gallery as stored in the user item's `avatars` (src/users/avatar-gallery.ts). */
export interface GalleryEntry {
  id: number;
  /** The S3 object key. */
  key: string;
  /** When it was uploaded, ISO 8601. */
  uploaded: string;
}

/** A user item as stored. Text fields and image keys are absent when the user has no value. */
export interface UserItem {
  pk: string;
  id: number;
  sub: string;
  username: string;
  /** The pk of the claim this user holds; absent on users whose claim is `legacyClaimKey`. */
  username_claim?: string;
  version: number;
  date_joined: string;
  ext_id?: string;
  /** The primary avatar's object key: the gallery entry holding it is the primary. */
  avatar_key?: string;
  cover_key?: string;
  /** The avatar gallery in upload order; absent on users from before it (src/users/avatar-gallery.ts). */
  avatars?: GalleryEntry[];
  /** The last avatar id given out; ids are never reused. */
  avatar_seq?: number;
  tags?: Tag[];
  reputation?: number;
  community_badge?: boolean;
  reg_approved?: boolean;
  deleted?: boolean;
  followings_counter?: number;
  followers_counter?: number;
  posts_counter?: number;
  discussions_counter?: number;
  polls_counter?: number;
  categories_counter?: number;
  real_name?: string;
  bio?: string;
  location?: string;
  location_lat_lng?: string;
  position_lat_lng?: string;
  date_of_birth?: string;
  description?: string;
  gender?: string;
  website?: string;
  language?: string;
  company_name?: string;
  company_role?: string;
  /**
   * The pool's `email` and `email_verified` as of the sign-up or the latest sign-in (the Post
   * confirmation and Post authentication triggers write them); shown in `/me/` only.
   */
  email?: string;
  email_verified?: boolean;
}

export interface ClaimItem {
  pk: string;
  user_id: number;
}

export interface SubIndexItem {
  pk: string;
  user_id: number;
}

/** The contract's User object. */
export interface User {
  id: number;
  username: string;
  real_name: string;
  avatar: string | null;
  cover: string | null;
  ext_id: string | null;
  followings_counter: number;
  followers_counter: number;
  posts_counter: number;
  discussions_counter: number;
  polls_counter: number;
  categories_counter: number;
  connection_status: null;
  date_joined: string;
  bio: string;
  location: string;
  location_lat_lng: string;
  position_lat_lng: string;
  date_of_birth: string;
  description: string;
  gender: string;
  website: string;
  tags: Tag[];
  reputation: number;
  community_badge: boolean;
  reg_approved: boolean;
  deleted: boolean;
  company_name: string;
  company_role: string;
  language: string;
}

export const DEFAULT_GENDER = 'Unspecified';
export const DEFAULT_LANGUAGE = 'en';

/** Absolute URL of a media object key; keys are URL-safe by construction. */
export const mediaUrl = (baseUrl: string, key: string): string => `${baseUrl}/${key}`;

/**
 * Fields that are the owner's alone (the contract's "Privacy"): every other reader, and every
 * event, gets them as `""`.
 */
export const PRIVATE_FIELDS = ['date_of_birth', 'position_lat_lng'] as const satisfies readonly TextField[];

/**
 * Who reads: anyone (other users, visitors, lists, events), the owner (their own token on
 * `/{id}/`, their own PATCH's answer), or the owner through `/me/`, the one answer that also
 * carries the caller's private fields (CurrentUser).
 */
export type UserView = 'owner' | 'public' | 'me';

/** The roles `/me/` names, first the one that wins when the token names several groups. */
export const ROLES = ['admin', 'moderator', 'editor'] as const;
export type Role = (typeof ROLES)[number];

/**
 * The caller's role from the token's `cognito:groups`: a group named exactly `admin`, `moderator`
 * or `editor` (Cognito's group names are case-sensitive, and these are written lower-case),
 * else null. Any other group, `Admin` included, is no role.
 */
export const roleOf = (groups: readonly string[]): Role | null => ROLES.find((role) => groups.includes(role)) ?? null;

/** `/me/`'s answer: the User object plus the caller's private fields, which appear nowhere else. */
export interface CurrentUser extends User {
  email: string;
  email_isvalid: boolean;
  role: Role | null;
}

export function renderUser(item: UserItem, mediaBaseUrl: string, view: 'owner' | 'public'): User;
export function renderUser(item: UserItem, mediaBaseUrl: string, view: 'me', caller: { groups: readonly string[] }): CurrentUser;
export function renderUser(
  item: UserItem,
  mediaBaseUrl: string,
  view: UserView,
  caller?: { groups: readonly string[] },
): User | CurrentUser {
  const user = renderUserObject(item, mediaBaseUrl, view === 'public' ? 'public' : 'owner');
  if (view !== 'me') return user;
  return {
    ...user,
    email: item.email ?? '',
    email_isvalid: item.email_verified === true,
    role: roleOf(caller?.groups ?? []),
  };
}

function renderUserObject(item: UserItem, mediaBaseUrl: string, view: 'owner' | 'public'): User {
  const hidden = new Set<TextField>(view === 'owner' ? [] : PRIVATE_FIELDS);
  const text = (field: TextField): string => (hidden.has(field) ? '' : (item[field] ?? ''));
  const image = (field: ImageField): string | null => {
    const key = item[imageKeyAttribute(field)];
    return key ? mediaUrl(mediaBaseUrl, key) : null;
  };
  return {
    id: item.id,
    username: item.username,
    real_name: text('real_name'),
    avatar: image('avatar'),
    cover: image('cover'),
    ext_id: item.ext_id ?? null,
    followings_counter: item.followings_counter ?? 0,
    followers_counter: item.followers_counter ?? 0,
    posts_counter: item.posts_counter ?? 0,
    discussions_counter: item.discussions_counter ?? 0,
    polls_counter: item.polls_counter ?? 0,
    categories_counter: item.categories_counter ?? 0,
    connection_status: null,
    date_joined: item.date_joined,
    bio: text('bio'),
    location: text('location'),
    location_lat_lng: text('location_lat_lng'),
    position_lat_lng: text('position_lat_lng'),
    date_of_birth: text('date_of_birth'),
    description: text('description'),
    gender: item.gender || DEFAULT_GENDER,
    website: text('website'),
    tags: (item.tags ?? []).map((tag) => ({ ...tag })),
    reputation: item.reputation ?? 0,
    community_badge: item.community_badge ?? false,
    reg_approved: item.reg_approved ?? false,
    deleted: item.deleted ?? false,
    company_name: text('company_name'),
    company_role: text('company_role'),
    language: item.language || DEFAULT_LANGUAGE,
  };
}
