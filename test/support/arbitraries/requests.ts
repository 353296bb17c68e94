// Who sends a fuzz request, to which path, with which method and condition.

import fc from 'fast-check';
import { pathUserId } from '../oracle.ts';
import { POOL, STRANGER_SUB } from './pool.ts';
import { anyJson, anyString, type Json, jsonLeaf } from './values.ts';
import { type BodyRequest, imageBodyArb, validBodyArb, wildBodyArb } from './bodies.ts';

export type AuthSpec =
  | { kind: 'token'; user: number; form: 'Bearer' | 'bearer' | 'BEARER' | 'tab' | 'spaces' }
  | { kind: 'stranger' }
  | { kind: 'broken'; user: number; how: 'expired' | 'wrongClient' | 'wrongPool' | 'unknownKey' | 'algNone' | 'hs256' | 'tampered' | 'noExp' | 'idToken' | 'notYetValid' | 'truncated' }
  | { kind: 'raw'; header: string | undefined }
  /** A token signed with the pool's key whose claims are partly replaced (or removed: `null` in `remove`). */
  | { kind: 'signed'; user: number; claims: Record<string, Json>; remove: string[] }
  /** A JWT-shaped token with a random header and payload, signed by nobody. */
  | { kind: 'jwtJunk'; header: Json; payload: Json; signature: string; ourKid: boolean };

export const isValidAuth = (auth: AuthSpec): boolean => auth.kind === 'token' || auth.kind === 'stranger';

const CLAIMS = ['sub', 'exp', 'iat', 'nbf', 'iss', 'client_id', 'token_use', 'scope', 'username', 'aud', 'auth_time', 'jti'];
const claimValue: fc.Arbitrary<Json> = fc.oneof(
  jsonLeaf,
  fc.constantFrom<Json>('', 'access', 'id', 1e20, -1, 1.5, '9999999999', [], {}, ['a'], 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool1', 'testclient123'),
  fc.constantFrom(...POOL.map((u) => u.sub), STRANGER_SUB),
);
const signedArb = fc.record({
  kind: fc.constant('signed' as const),
  user: fc.nat(POOL.length - 1),
  claims: fc.dictionary(fc.constantFrom(...CLAIMS), claimValue, { maxKeys: 2 }),
  remove: fc.subarray(CLAIMS, { maxLength: 2 }),
});
const jwtJunkArb = fc.record({
  kind: fc.constant('jwtJunk' as const),
  header: fc.oneof(
    fc.record({ alg: fc.constantFrom<Json>('RS256', 'none', 'HS256', 'ES256', 'PS256', null, 1, ''), kid: fc.oneof(anyString, fc.constant<Json>(null), fc.integer()) }, { requiredKeys: [] }),
    anyJson,
  ),
  payload: fc.oneof(fc.dictionary(fc.constantFrom(...CLAIMS), claimValue, { maxKeys: 5 }) as fc.Arbitrary<Json>, anyJson),
  signature: fc.base64String({ maxLength: 40 }),
  ourKid: fc.boolean(),
});

export const authArb: fc.Arbitrary<AuthSpec> = fc.oneof(
  { weight: 1, arbitrary: signedArb },
  { weight: 1, arbitrary: jwtJunkArb },
  {
    weight: 24,
    arbitrary: fc.record({
      kind: fc.constant('token' as const),
      user: fc.nat(POOL.length - 1),
      form: fc.oneof({ weight: 8, arbitrary: fc.constant('Bearer' as const) }, { weight: 1, arbitrary: fc.constantFrom('bearer' as const, 'BEARER' as const, 'tab' as const, 'spaces' as const) }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'stranger' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('broken' as const),
      user: fc.nat(POOL.length - 1),
      how: fc.constantFrom('expired' as const, 'wrongClient' as const, 'wrongPool' as const, 'unknownKey' as const, 'algNone' as const, 'hs256' as const, 'tampered' as const, 'noExp' as const, 'idToken' as const, 'notYetValid' as const, 'truncated' as const),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('raw' as const),
      header: fc.oneof(
        fc.constantFrom(undefined, '', ' ', '\t', 'Bearer', 'Bearer ', 'Bearer x.y.z', 'Bearer a b', 'Basic YWxhZGRpbjpvcGVuc2VzYW1l', 'Token abc', 'Bearer eyJhbGciOiJub25lIn0.e30.', 'Bearer ....', 'Bearer \u00a0'),
        fc.string({ maxLength: 30 }),
        fc.string({ maxLength: 40 }).map((s) => `Bearer ${s}`),
        fc.tuple(fc.base64String({ maxLength: 40 }), fc.base64String({ maxLength: 40 }), fc.base64String({ maxLength: 40 })).map((p) => `Bearer ${p.join('.')}`),
      ),
    }),
  },
);

export type PathSpec = { raw: string; via: 'params' | 'path' | 'pathNoSlash' | 'rawPath' | 'both' };

/** The user id a raw path segment names (the contract: an integer), or undefined. */
export const resolvePathId = pathUserId;

const NON_INTEGER_IDS = ['', 'abc', '1.5', '-1', '+1', '1e3', ' 1', '1 ', '0x1', '%31', '１', '٣', '9'.repeat(16), '1;DROP', 'me', 'null', '1%2F2', '__proto__'];
const pathRawArb = (tokenUser: number | undefined): fc.Arbitrary<string> => {
  const own = tokenUser === undefined ? [] : [{ weight: 12, arbitrary: fc.constant(String(POOL[tokenUser]!.id)) }];
  return fc.oneof(
    ...own,
    { weight: 3, arbitrary: fc.constantFrom(...POOL.map((u) => String(u.id))) },
    { weight: 1, arbitrary: fc.constantFrom(...POOL.map((u) => `0${u.id}`), '0', '3', '999999', '999999999999999') },
    { weight: 1, arbitrary: fc.constantFrom(...NON_INTEGER_IDS) },
    { weight: 1, arbitrary: fc.string({ maxLength: 8 }).filter((s) => !s.includes('/')) },
  );
};

export interface FuzzRequest {
  method: { value: string; via: 'rest' | 'http' | 'both' };
  auth: AuthSpec;
  path: PathSpec;
  body: BodyRequest;
  /** How header names are spelled. */
  headerCase: 'canonical' | 'lower' | 'upper';
  /** An If-Match or If-None-Match header, its tag named relative to the target's stored version. */
  condition?: ConditionSpec;
}

export interface ConditionSpec {
  header: 'If-Match' | 'If-None-Match';
  tag: 'star' | 'current' | 'currentWeak' | 'other' | 'junk';
}

/** The header value of a condition for a user stored at `version`. */
export function conditionValue(condition: ConditionSpec, version: number): string {
  switch (condition.tag) {
    case 'star':
      return '*';
    case 'current':
      return `"${version}"`;
    case 'currentWeak':
      return `W/"${version}"`;
    case 'other':
      return `"${version + 1000}"`;
    case 'junk':
      return 'garbage';
  }
}

/**
 * Whether a condition lets a write of a user stored at that version through (the contract's
 * "Conditional requests", RFC 9110): If-Match compares strongly (a weak tag never matches),
 * If-None-Match weakly, and `*` matches every existing user.
 */
export function conditionHolds(condition: ConditionSpec): boolean {
  const matchesIfMatch = condition.tag === 'star' || condition.tag === 'current';
  const matchesIfNoneMatch = condition.tag === 'star' || condition.tag === 'current' || condition.tag === 'currentWeak';
  return condition.header === 'If-Match' ? matchesIfMatch : !matchesIfNoneMatch;
}

const conditionArb: fc.Arbitrary<ConditionSpec | undefined> = fc.oneof(
  { weight: 8, arbitrary: fc.constant(undefined) },
  {
    weight: 1,
    arbitrary: fc.record({
      header: fc.constantFrom('If-Match' as const, 'If-None-Match' as const),
      tag: fc.constantFrom('star' as const, 'current' as const, 'currentWeak' as const, 'other' as const, 'junk' as const),
    }),
  },
);

const methodArb = fc.oneof(
  { weight: 60, arbitrary: fc.constant('PATCH') },
  { weight: 1, arbitrary: fc.constantFrom('patch', 'Patch') },
  { weight: 2, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'HEAD', '', 'PATCH ', 'PATCHX') },
  // The 405 quotes the method: it must not grow with it.
  { weight: 1, arbitrary: fc.constantFrom(`P${'A'.repeat(100_000)}`, '\u{1F600}'.repeat(20_000)) },
);

export const requestArb: fc.Arbitrary<FuzzRequest> = authArb.chain((auth) =>
  fc.record({
    method: fc.record({ value: methodArb, via: fc.oneof({ weight: 6, arbitrary: fc.constant('rest' as const) }, { weight: 1, arbitrary: fc.constantFrom('http' as const, 'both' as const) }) }),
    auth: fc.constant(auth),
    path: fc.record({
      raw: pathRawArb(auth.kind === 'token' ? auth.user : undefined),
      via: fc.oneof({ weight: 8, arbitrary: fc.constant('params' as const) }, { weight: 1, arbitrary: fc.constantFrom('path' as const, 'pathNoSlash' as const, 'rawPath' as const, 'both' as const) }),
    }),
    body: fc.oneof({ weight: 4, arbitrary: validBodyArb }, { weight: 6, arbitrary: wildBodyArb }, { weight: 2, arbitrary: imageBodyArb }),
    headerCase: fc.oneof({ weight: 6, arbitrary: fc.constant('canonical' as const) }, { weight: 1, arbitrary: fc.constantFrom('lower' as const, 'upper' as const) }),
    condition: conditionArb,
  }),
);
