// The username a new user gets (the contract's "Sign-up"): `preferred_username` when it is a
// valid username, else one made from the e-mail's local part in the username alphabet; when a
// candidate is taken, the next one has a number added.

/** The contract's username rule: `a-z A-Z 0-9 _ -`, at least one letter or digit, at most 255. */
export const MAX_USERNAME_LENGTH = 255;
const USERNAME = /^[A-Za-z0-9_-]+$/;
const LETTER_OR_DIGIT = /[A-Za-z0-9]/;

/** The alphabet part of the rule (the length is checked apart: it has an error code of its own). */
export const inUsernameAlphabet = (name: string): boolean => USERNAME.test(name) && LETTER_OR_DIGIT.test(name);

export function isValidUsername(name: string): boolean {
  return name.length <= MAX_USERNAME_LENGTH && inUsernameAlphabet(name);
}

/**
 * The contract's names nobody may take (a deployment adds its own with RESERVED_USERNAMES);
 * src/users/username-keys.ts refuses them and their lookalikes.
 */
export const DEFAULT_RESERVED_USERNAMES = [
  'admin',
  'administrator',
  'root',
  'system',
  'support',
  'help',
  'security',
  'staff',
  'moderator',
  'selfcommunity',
  'me',
  'avatar',
  'hidden_users',
  'hidden_users_id',
] as const;

/** The name used when an e-mail's local part has no letter or digit at all (or there is none). */
export const FALLBACK_BASE = 'user';

/** Room kept at the end of a base for the number added to it. */
const SUFFIX_ROOM = 24;

/**
 * An e-mail's local part in the username alphabet: without its `+tag` (people use one to keep an
 * address private: `alice+dating` is `alice`), compatibility forms folded (full-width `ａｄａ` is
 * `ada`), accents dropped (`José` → `Jose`), every run of other characters (dots, quotes,
 * non-Latin letters) one `_`, no `_` or `-` at either end, short enough to take a number.
 */
export function usernameBase(email: string | undefined): string {
  const at = email?.lastIndexOf('@') ?? -1;
  const local = (email === undefined ? '' : at >= 0 ? email.slice(0, at) : email).normalize('NFKC');
  const plus = local.indexOf('+');
  const reduced = (plus >= 0 ? local.slice(0, plus) : local)
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .replace(/[^A-Za-z0-9_-]+/g, '_')
    .slice(0, MAX_USERNAME_LENGTH - SUFFIX_ROOM)
    .replace(/^[_-]+|[_-]+$/g, '');
  return LETTER_OR_DIGIT.test(reduced) ? reduced : FALLBACK_BASE;
}

/**
 * The candidates in the order they are tried: the preferred name when valid, the e-mail base,
 * then the base with a number: 2 to 9 first (`ada2`), then the new user's id (`ada1042`, free
 * unless someone chose exactly that), then the id with a random number, which ends any run of
 * bad luck or of many sign-ups for one name at once. A reserved name (`isReserved`, the
 * contract's names nobody may take, lookalikes included) is never a candidate, nor a base for
 * numbered ones (`admin@…` does not become `admin2`, but `user`).
 */
export function* usernameCandidates(
  preferred: string | undefined,
  email: string | undefined,
  userId: number,
  isReserved: (username: string) => boolean,
  random: () => number = Math.random,
): Generator<string> {
  if (preferred !== undefined && isValidUsername(preferred) && !isReserved(preferred)) yield preferred;
  let base = usernameBase(email);
  if (isReserved(base)) base = FALLBACK_BASE;
  yield base;
  for (let n = 2; n <= 9; n++) yield `${base}${n}`;
  yield `${base}${userId}`;
  for (;;) yield `${base}${userId}${Math.floor(random() * 1_000_000)}`;
}
