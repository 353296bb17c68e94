// A request's If-Match and If-None-Match (RFC 9110) as the users table applies them: compared with
// a version that was read, and as part of a write's own condition, never a read before it.
import { PreconditionFailedError } from '../http/errors.ts';
import { matches, type EntityTagCondition } from '../http/etag.ts';
import type { UserItem } from '../users/user-record.ts';

/** A request's preconditions, given to each call that reads or writes for it. */
export interface Preconditions {
  /**
   * `If-Match`: every write is conditioned on the stored version being one of these (and a read
   * for an empty patch compares it), else PreconditionFailedError and nothing changes.
   */
  ifMatch?: EntityTagCondition;
  /**
   * `If-None-Match`: every write is conditioned on the stored version being none of these (`*`:
   * on there being no user, so no write of an existing user), else 412 (RFC 9110).
   */
  ifNoneMatch?: EntityTagCondition;
}

export const NO_PRECONDITIONS: Preconditions = {};

export function preconditionHolds(pre: Preconditions, item: UserItem): UserItem {
if (!preconditionsAllow(pre, item.version)) throw new PreconditionFailedError();
  return item;
}

/** Whether the request's If-Match and If-None-Match let a write of a user at `version` through. */
export function preconditionsAllow({ ifMatch, ifNoneMatch }: Preconditions, version: number | undefined): boolean {
if (ifMatch !== undefined && !matches(ifMatch, version)) return false;
return ifNoneMatch === undefined || !matches(ifNoneMatch, version);
}

/**
 * The If-Match and If-None-Match part of a write's condition, so that the check is the write's
 * own, not a read before it. A failed one still returns the item, which tells 404 and 403 from 412.
 */
export function versionCondition(
{ ifMatch, ifNoneMatch }: Preconditions,
names: Record<string, string>,
values: Record<string, unknown>,
): string | undefined {
  const parts: string[] = [];
  // If-Match `*`: the user exists, which every write's `attribute_exists(pk)` says.
  if (ifMatch !== undefined && ifMatch !== '*') {
    // A header of only foreign or weak tags names no version: -1 is none, so the write fails.
    parts.push(`#version IN (${versionOperands(ifMatch.length ? ifMatch : [-1], 'ifMatch', values)})`);
  }
  if (ifNoneMatch === '*') {
    // Every existing user matches `*`: no write of one may succeed.
    parts.push('attribute_not_exists(pk)');
  } else if (ifNoneMatch?.length) {
    // A user stored without a version counts as version 0 (matches()); IN never holds for it.
    if (ifNoneMatch.includes(0)) parts.push('attribute_exists(#version)');
    parts.push(`NOT (#version IN (${versionOperands(ifNoneMatch, 'ifNoneMatch', values)}))`);
  }
  if (parts.length === 0) return undefined;
  names['#version'] = 'version';
  return parts.join(' AND ');
}

function versionOperands(versions: readonly number[], prefix: string, values: Record<string, unknown>): string {
  return versions
    .map((version, i) => {
      values[`:${prefix}${i}`] = version;
      return `:${prefix}${i}`;
    })
    .join(', ');
}
