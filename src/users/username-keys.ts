// Which usernames count as the same name (the contract's "Names nobody may take"): a name and
// its lookalikes share one key, the confusable skeleton of Unicode TS #39 of the NFKC, lower-case
// name, and the username claim is keyed by it, so two lookalikes collide on one claim item in
// the same conditional transaction. The reserved names are refused by the same key.
//
// The confusables data (about 100 KB) is loaded by the PATCH function and the sign-up trigger
// only: the read function never imports this module (src/users/user-record.ts has what it needs).
//
// The mapping is Unicode's confusables.txt as the npm package `unhomoglyph` ships it (data.json:
// one source code point to its prototype, MIT); the skeleton follows UTS #39 section 4: NFD, map
// every code point, NFD again.
import confusables from 'unhomoglyph/data.json' with { type: 'json' };
import { legacyClaimKey } from './user-record.ts';
import { DEFAULT_RESERVED_USERNAMES } from './usernames.ts';

const PROTOTYPE = new Map<string, string>(Object.entries(confusables as Record<string, string>));

/** UTS #39 `skeleton(X)`: NFD, each code point replaced by its prototype, NFD. */
export function skeleton(text: string): string {
  let mapped = '';
  for (const char of text.normalize('NFD')) mapped += PROTOTYPE.get(char) ?? char;
  return mapped.normalize('NFD');
}

/**
 * The key every lookalike of `username` shares, case-insensitively: NFKC (full-width and other
 * compatibility forms), lower case, the skeleton, lower case again (the skeleton's prototypes
 * include capitals: `0` → `O`).
 */
export const usernameKey = (username: string): string =>
  skeleton(username.normalize('NFKC').toLowerCase()).toLowerCase();

/**
 * The claim item a new claim of `username` is written under. Claims written before lookalike
 * keys existed are under the lower-case name (user-record.ts legacyClaimKey); the two schemes
 * share the `USERNAME#` prefix, and a key of one can only equal a key of the other for names
 * that look alike, so either collision is a true one.
 */
export const claimKey = (username: string): string => `USERNAME#${usernameKey(username)}`;

/**
 * The claim items a transaction that claims `username` must find free (or its own): the
 * lookalike key, and the old-scheme key of the same name when that differs (a user who signed up
 * before lookalike keys holds `USERNAME#william`, the key of `william` is `USERNAME#williarn`).
 */
export function claimKeysToCheck(username: string): { claim: string; legacy?: string } {
  const claim = claimKey(username);
  const legacy = legacyClaimKey(username);
  return legacy === claim ? { claim } : { claim, legacy };
}

/** Tells a reserved name, or any lookalike of one, in any case. */
export function reservedNames(names: readonly string[] = DEFAULT_RESERVED_USERNAMES): (username: string) => boolean {
  const keys = new Set(names.map(usernameKey));
  return (username) => keys.has(usernameKey(username));
}
