// Entity tags of users (RFC 9110, section 8.8.3): a user's tag is its version, strong and quoted,
// `"<version>"`. `If-Match` uses the strong comparison (a weak tag never matches), `If-None-Match`
// the weak one (`W/"3"` matches `"3"`); both take a list or `*`.
import { ParseError } from './errors.ts';

/** What an `If-Match` or `If-None-Match` header asks for: any current user, or these versions. */
export type EntityTagCondition = '*' | readonly number[];

export const entityTag = (version: number | undefined): string => `"${version ?? 0}"`;

/** DynamoDB's `IN` takes at most 100 operands; more versions than that is no real client's header. */
export const MAX_CONDITION_VERSIONS = 100;

/** A user's version as a tag may name it: a quoted non-negative decimal. */
const VERSION_TAG = /^"(0|[1-9][0-9]{0,14})"$/;

/**
 * The versions a header names, or `*`; undefined when the header is absent. Members that are not
 * one of our tags (another format, a weak tag under strong comparison, junk) name no version, so a
 * header of only such members matches nothing, as a list of foreign tags would.
 */
function parse(header: string | undefined, weakMatches: boolean): EntityTagCondition | undefined {
  if (header === undefined) return undefined;
  const trimmed = header.trim();
  if (trimmed === '*') return '*';
  const versions: number[] = [];
  for (const member of splitList(trimmed)) {
    let tag = member;
    if (tag.startsWith('W/')) {
      if (!weakMatches) continue;
      tag = tag.slice(2);
    }
    const match = VERSION_TAG.exec(tag);
    if (match && !versions.includes(Number(match[1]))) versions.push(Number(match[1]));
  }
  return versions;
}

/** Splits a list of entity tags on the commas between them (an opaque tag may hold a comma). */
function splitList(list: string): string[] {
  const members: string[] = [];
  let current = '';
  let quoted = false;
  for (const char of list) {
    if (char === '"') quoted = !quoted;
    if (char === ',' && !quoted) {
      members.push(current.trim());
      current = '';
    } else current += char;
  }
  members.push(current.trim());
  return members.filter(Boolean);
}

/** A condition whose versions become operands of a DynamoDB condition: at most 100 of them. */
function forWrite(condition: EntityTagCondition | undefined, headerName: string): EntityTagCondition | undefined {
  if (condition !== '*' && condition !== undefined && condition.length > MAX_CONDITION_VERSIONS) {
    throw new ParseError(`${headerName} names more than ${MAX_CONDITION_VERSIONS} entity tags.`);
  }
  return condition;
}

/** `If-Match`: strong comparison. Its versions become operands of a DynamoDB condition. */
export const parseIfMatch = (header: string | undefined) => forWrite(parse(header, false), 'If-Match');

/** `If-None-Match` of a read: weak comparison. */
export const parseIfNoneMatch = (header: string | undefined) => parse(header, true);

/** `If-None-Match` of a write (PATCH): weak comparison, its versions operands of the write's condition. */
export const parseWriteIfNoneMatch = (header: string | undefined) =>
  forWrite(parse(header, true), 'If-None-Match');

/** Whether a stored version satisfies a condition (`*`: any existing user). */
export function matches(condition: EntityTagCondition, version: number | undefined): boolean {
  return condition === '*' || condition.includes(version ?? 0);
}
