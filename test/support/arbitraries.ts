// fast-check generators of whole requests to PATCH /api/v2/user/{id}/ for test/integration/fuzz.test.ts.
//
// A generated request is plain data (a "spec") so that fast-check can shrink it and print it; the
// builders at the bottom turn a spec into an API Gateway event's parts (body, isBase64Encoded,
// Content-Type, Authorization). Tokens are made by the test (they need its key), so an auth spec
// only names which token to use.
//
// Two families of bodies are generated:
//   - valid bodies: every field writable and every value accepted, honestly encoded, so the
//     request's outcome is predictable (200 for the owner, 403/404 otherwise, `unique` at most);
//   - wild bodies: random field names and values, every content type, lying base64 flags,
//     truncated and corrupted multipart, mutated images, oversized bodies. Only the envelope and
//     the consistency of the status with the request are predictable.

import { deflateSync } from 'node:zlib';
import fc from 'fast-check';
import { displayTextAllowed, DISPLAY_TEXT_FIELDS, jsonObjectNames, pathUserId } from './oracle.ts';
import {
  VP8X_FLAGS,
  anmf,
  exif,
  exifWithGps,
  gif,
  jpeg,
  jpegSegment,
  png,
  pngChunk,
  pngImage,
  riffChunk,
  text as latin1,
  vp8,
  vp8l,
  vp8x,
  webp,
  XMP_WITH_GPS,
} from '../../tools/support/images.ts';
import { webpAnimated, webpExtended, webpLossless, webpLossy } from './sample-images.ts';

// ---------------------------------------------------------------------------------------------
// The seeded users

export interface PoolUser {
  id: number;
  sub: string;
  username: string;
  [field: string]: unknown;
}

/** The users every fuzz request is aimed at; subs are unguessable so a leak is recognisable. */
export const POOL: readonly PoolUser[] = [
  { id: 1, sub: 'a6f3c1d0-fuzz-4e1b-9c51-000000000001', username: 'ada', bio: 'Mathematician' },
  { id: 2, sub: 'b7e2d4c1-fuzz-4f2a-8d62-000000000002', username: 'Bob', followers_counter: 5, reputation: 12 },
  {
    id: 7,
    sub: 'c8d1e5b2-fuzz-4a3b-9e73-000000000007',
    username: 'carol_7',
    ext_id: 'ext-7',
    tags: [
      {
        id: 3, type: 'user', name: 'Staff', description: 'staff', color: '#ff0000', visible: true,
        visibility_boost: false, created_at: '2024-01-01T00:00:00Z', active: true, deleted: false,
      },
    ],
    community_badge: true,
    reg_approved: true,
  },
  { id: 123456789012345, sub: 'd9c0f6a3-fuzz-4b4c-af84-000000000015', username: 'Dave-15', deleted: false },
];

/** A valid token whose sub belongs to no user. */
export const STRANGER_SUB = 'e0b9a7f4-fuzz-4c5d-b095-0000000000ff';

// ---------------------------------------------------------------------------------------------
// Field names

export const TEXT_FIELD_NAMES = [
  'real_name', 'bio', 'location', 'location_lat_lng', 'position_lat_lng', 'date_of_birth',
  'description', 'gender', 'website', 'language', 'company_name', 'company_role',
] as const;
export type TextFieldName = (typeof TEXT_FIELD_NAMES)[number];
export const IMAGE_FIELD_NAMES = ['avatar', 'cover'] as const;
export const BASE64_FIELD_NAMES = ['avatar_base64', 'cover_base64'] as const;
export const READ_ONLY_NAMES = [
  'id', 'ext_id', 'followings_counter', 'followers_counter', 'posts_counter', 'discussions_counter',
  'polls_counter', 'categories_counter', 'connection_status', 'date_joined', 'tags', 'reputation',
  'community_badge', 'reg_approved', 'deleted',
] as const;
export const WRITABLE_NAMES = ['username', ...TEXT_FIELD_NAMES, ...IMAGE_FIELD_NAMES, ...BASE64_FIELD_NAMES] as const;
/** Names that must never be writable: internals of the stored item and prototype keys. */
const SPECIAL_NAMES = [
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'sub', 'pk', 'version',
  'avatar_key', 'cover_key', 'is_staff', 'is_superuser', 'password', 'email', '', ' ', 'bio ', ' bio', 'BIO',
  'Username', 'avatar[]', 'avatar.0', 'bio\u0000', 'usérname', 'avatar_base64 ', 'user[bio]',
] as const;

const LIMITS: Partial<Record<TextFieldName, number>> = {
  real_name: 255, bio: 5000, location: 100, description: 50, website: 200, company_name: 255, company_role: 255,
};

// ---------------------------------------------------------------------------------------------
// Images

export type ImageName =
  | 'png' | 'pngText' | 'jpeg' | 'jpegExif' | 'gif' | 'gifAnim' | 'webpLossy' | 'webpLossless' | 'webpExt'
  | 'webpAnim' | 'pngHuge' | 'webpHuge' | 'gifOffscreen' | 'gifWideFrames' | 'pngInterlaced16' | 'webpCanvas' | 'svg';

/** Images that are accepted as they are. */
export const GOOD_IMAGES = ['png', 'pngText', 'jpeg', 'jpegExif', 'gif', 'gifAnim', 'webpLossy', 'webpLossless', 'webpExt', 'webpAnim'] as const;
const ALL_IMAGES: readonly ImageName[] = [...GOOD_IMAGES, 'pngHuge', 'webpHuge', 'gifOffscreen', 'gifWideFrames', 'pngInterlaced16', 'webpCanvas', 'svg'];

// Decodable WebP bitstreams, made once (libvips decodes every good image now).
const REAL_WEBP = {
  lossy: await webpLossy(10, 6),
  lossless: await webpLossless(4, 4),
  ext: await webpExtended(30, 40, VP8X_FLAGS.exif | VP8X_FLAGS.xmp, [
    riffChunk('EXIF', exif({ littleEndian: true, orientation: 8 }).subarray(6)),
    riffChunk('XMP ', XMP_WITH_GPS.subarray(29)),
  ]),
  anim: await webpAnimated(20, 20, 2),
};

const imageCache = new Map<string, Buffer>();
const cached = (key: string, make: () => Buffer): Buffer => {
  let value = imageCache.get(key);
  if (!value) imageCache.set(key, (value = make()));
  return value;
};

export function imageBytes(name: ImageName): Buffer {
  return cached(name, () => {
    switch (name) {
      case 'png':
        return pngImage();
      case 'pngText':
        return png({ width: 5, height: 3, beforeData: [pngChunk('tEXt', latin1('Comment\0GPSLatitude 45 N'))], afterData: [pngChunk('eXIf', exifWithGps().subarray(6))] });
      case 'jpeg':
        return jpeg({ width: 8, height: 8 });
      case 'jpegExif':
        return jpeg({ width: 16, height: 8, app: [jpegSegment(0xe1, exif({ orientation: 6 })), jpegSegment(0xe1, XMP_WITH_GPS), jpegSegment(0xfe, latin1('at home'))] });
      case 'gif':
        return gif({ width: 3, height: 3 });
      case 'gifAnim':
        return gif({ width: 4, height: 4, loop: true, comment: 'hello', xmp: '<x:xmpmeta/>', frames: [{ width: 4, height: 4 }, { left: 1, top: 1, width: 2, height: 2 }] });
      case 'webpLossy':
        return REAL_WEBP.lossy;
      case 'webpLossless':
        return REAL_WEBP.lossless;
      case 'webpExt':
        return REAL_WEBP.ext;
      case 'webpAnim':
        return REAL_WEBP.anim;
      case 'pngHuge':
        return pngImage({ width: 9000, height: 10 });
      case 'webpHuge':
        return webp([riffChunk('VP8L', vp8l(16384, 2))]);
      case 'gifOffscreen':
        return gif({ width: 4, height: 4, frames: [{ left: 9000, top: 0, width: 1, height: 1 }] });
      // The shapes of issue 13, each refused from its header however the rest is mutated: frames
      // far beyond a small GIF screen, a 16-bit interlaced PNG of 40 MP, an animated WebP whose
      // canvas is over the memory bound (3 frames of 5477×5477).
      case 'gifWideFrames':
        return gif({ width: 1, height: 2048, packed: true, frames: [{ width: 1, height: 2048 }, ...Array.from({ length: 5 }, () => ({ width: 8192, height: 2048 }))] });
      case 'pngInterlaced16':
        return png({ width: 8000, height: 5000, depth: 16, colour: 6, interlaced: true, idat: deflateSync(Buffer.alloc(16)) });
      case 'webpCanvas':
        return webp([
          riffChunk('VP8X', vp8x(5477, 5477, VP8X_FLAGS.animation)),
          riffChunk('ANIM', Buffer.alloc(6)),
          ...Array.from({ length: 3 }, () => riffChunk('ANMF', anmf(0, 0, 1, 1, [riffChunk('VP8L', vp8l(1, 1))]))),
        ]);
      case 'svg':
        return Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
    }
  });
}

export type Mutation =
  | { op: 'truncate'; at: number }
  | { op: 'flip'; at: number; xor: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'append'; bytes: Uint8Array }
  | { op: 'u32'; at: number; value: number };

export type FileContent =
  | { kind: 'image'; image: ImageName; mutations: Mutation[] }
  | { kind: 'bytes'; bytes: Uint8Array }
  /** A valid image padded to about `size` bytes: around the avatar and cover limits. */
  | { kind: 'padded'; image: 'png' | 'jpeg'; size: number };

export function applyMutations(input: Buffer, mutations: readonly Mutation[]): Buffer {
  let b = input;
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : ('at' in m ? m.at % (b.length + 1) : 0);
    switch (m.op) {
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'flip':
        if (at < b.length) {
          b = Buffer.from(b);
          b[at] = b[at]! ^ (m.xor || 1);
        }
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
        break;
      case 'append':
        b = Buffer.concat([b, m.bytes]);
        break;
      case 'u32':
        if (at + 4 <= b.length) {
          b = Buffer.from(b);
          b.writeUInt32BE(m.value >>> 0, at);
        }
        break;
    }
  }
  return b;
}

export function fileBytes(content: FileContent): Buffer {
  switch (content.kind) {
    case 'image':
      return applyMutations(imageBytes(content.image), content.mutations);
    case 'bytes':
      return Buffer.from(content.bytes);
    case 'padded':
      return cached(`padded-${content.image}-${content.size}`, () =>
        content.image === 'png'
          ? pngImage({ padTo: content.size })
          : jpeg({ width: 8, height: 8, scan: Buffer.alloc(Math.max(8, content.size - 200), 0x11) }),
      );
  }
}

const MiB = 1024 * 1024;

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat(4000) }),
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(4000), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(4000), xor: fc.constantFrom(1, 0x80, 0xff) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(4000), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({
    op: fc.constant('u32' as const),
    at: fc.nat(4000),
    value: fc.oneof(fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffff0), fc.nat()),
  }),
);

export const goodImageArb: fc.Arbitrary<FileContent> = fc.record({
  kind: fc.constant('image' as const),
  image: fc.constantFrom(...GOOD_IMAGES),
  mutations: fc.constant([] as Mutation[]),
});

const fileContentArb: fc.Arbitrary<FileContent> = fc.oneof(
  { weight: 3, arbitrary: goodImageArb },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('image' as const),
      image: fc.constantFrom(...ALL_IMAGES),
      mutations: fc.array(mutationArb, { minLength: 0, maxLength: 3 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 64 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('padded' as const),
      image: fc.constantFrom('png' as const, 'jpeg' as const),
      size: fc.constantFrom(3 * MiB - 64, 3 * MiB + 1, 4 * MiB - 64, 4 * MiB + 1),
    }),
  },
);

// ---------------------------------------------------------------------------------------------
// Values

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A base64 data URL of an image, as a JSON or form value. */
export interface Base64Image {
  prefix: string;
  content: FileContent;
  /** `lines`: wrapped at 76 (accepted); `urlsafe`, `junk`: not base64 (a parse error). */
  style: 'plain' | 'lines' | 'unpadded' | 'urlsafe' | 'junk';
}

export type Value =
  | { json: Json }
  | { b64: Base64Image }
  | { file: { filename: string; type: string; content: FileContent } };

export type Pair = [name: string, value: Value];

export function base64ImageText(image: Base64Image): string {
  let data = fileBytes(image.content).toString('base64');
  switch (image.style) {
    case 'lines':
      data = data.replace(/.{76}/g, '$&\r\n');
      break;
    case 'unpadded':
      data = data.replace(/=+$/, '');
      break;
    case 'urlsafe':
      data = fileBytes(image.content).toString('base64url');
      break;
    case 'junk':
      data = `${data.slice(0, 8)}!*${data.slice(8)}`;
      break;
    case 'plain':
      break;
  }
  return image.prefix + data;
}

/** A value as a string for a form (urlencoded or multipart text part). */
export function formText(value: Value): string {
  if ('b64' in value) return base64ImageText(value.b64);
  if ('file' in value) return fileBytes(value.file.content).toString('latin1');
  const v = value.json;
  if (typeof v === 'string') return v;
  if (v === null) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** A value in a JSON body. */
export function jsonOf(value: Value): Json {
  if ('b64' in value) return base64ImageText(value.b64);
  if ('file' in value) return fileBytes(value.file.content).toString('base64');
  return value.json;
}

const GOOD_PREFIXES = ['data:image/png;base64,', 'image/png;base64,', 'data:image/jpeg;base64,', 'data:IMAGE/WEBP;base64,', 'image/gif;base64,', 'data:image/pjpeg;base64,'];
const BAD_PREFIXES = ['', 'data:image/svg+xml;base64,', 'data:text/plain;base64,', 'data:image/png,', 'data:image/png;base64', 'data:;base64,', 'base64,', 'data:image/png;charset=utf-8;base64,'];

const LONE_SURROGATES = ['\ud800', 'a\udc00b', '\udbff\udbff', 'x\ud83d'];
const TRICKY_STRINGS = [
  '', ' ', '  \t\n', '\u00a0', '\u3000', '\ufeff', 'null', 'None', 'undefined', '0', 'true', '[]', '{}',
  '<script>alert(1)</script>', "' OR 1=1 --", '\u0000', 'a\u0000b', '\u202eevil', '%00', '%', '+', '&', '=',
  'ﬀ', 'İ', 'ß', '\u{1F600}', 'e\u0301', '\r\n', '\\', '"', '#a0', ':v0', 'USER#1', 'USERNAME#ada',
  ...LONE_SURROGATES,
];

const longString = fc
  .tuple(fc.constantFrom('a', ' ', 'é', '\u{1F600}', 'ab '), fc.constantFrom(49, 50, 51, 99, 100, 101, 199, 200, 201, 254, 255, 256, 4999, 5000, 5001))
  .map(([unit, n]) => unit.repeat(n));

/** Any string, with a bias towards the awkward ones. */
export const anyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 16 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }) },
  { weight: 3, arbitrary: fc.constantFrom(...TRICKY_STRINGS) },
  { weight: 1, arbitrary: longString },
);

// Field-specific good values, optionally surrounded by whitespace (text fields are trimmed).
const latLng = fc
  .tuple(
    fc.integer({ min: -90, max: 90 }), fc.nat(9999), fc.integer({ min: -180, max: 180 }), fc.nat(9999),
    fc.constantFrom(',', ', ', ' , '), fc.boolean(),
  )
  .map(([lat, latFrac, lng, lngFrac, sep, decimals]) =>
    decimals ? `${lat}.${latFrac}${sep}${lng}.${lngFrac}` : `${lat}${sep}${lng}`,
  )
  .filter((s) => {
    const [a, b] = s.split(',').map(Number);
    return Math.abs(a!) <= 90 && Math.abs(b!) <= 180;
  });
const pastDate = fc
  .integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2020, 11, 31) })
  .map((t) => new Date(t).toISOString().slice(0, 10));
const hostLabel = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
const website = fc
  .tuple(fc.constantFrom('http://', 'https://', 'HTTPS://'), fc.array(hostLabel, { minLength: 1, maxLength: 3 }), fc.constantFrom('org', 'com', 'it'), fc.stringMatching(/^(\/[a-z0-9._~-]{0,10}){0,3}$/))
  .map(([scheme, labels, tld, path]) => `${scheme}${labels.join('.')}.${tld}${path}`);
const plainText = (max: number) =>
  fc.oneof(
    fc.string({ maxLength: Math.min(max, 40) }),
    fc.string({ unit: 'grapheme-composite', maxLength: Math.min(max, 20) }),
  );
const padded = (arb: fc.Arbitrary<string>) =>
  fc.tuple(fc.constantFrom('', ' ', '\t', '\n '), arb, fc.constantFrom('', ' ', '\r\n')).map(([a, s, b]) => a + s + b);

export const validUsername = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_-]{1,24}$/).filter((s) => /[A-Za-z0-9]/.test(s)),
  // names the pool holds, in any case (a `unique` refusal, or a case-only rename of one's own)
  fc.tuple(fc.constantFrom(...POOL.map((u) => u.username)), fc.boolean()).map(([name, upper]) => (upper ? name.toUpperCase() : name.toLowerCase())),
  fc.constantFrom('fresh_1', 'FRESH_1', 'fresh-2', 'x', '9', '_a', 'a'.repeat(255)),
);

export const invalidUsername = fc.oneof(
  fc.constantFrom('', ' ', 'ada ', ' ada', 'a b', '___', '--', '-_-', 'usér', 'a'.repeat(256), 'a\u0000', 'ａｂｃ', 'a@b', 'a.b', 'İ', '\u{1F600}'),
  anyString.filter((s) => !/^[A-Za-z0-9_-]{1,255}$/.test(s) || !/[A-Za-z0-9]/.test(s)),
  // The contract's names nobody may take, and lookalikes of them: a body check (`unique`), whoever
  // the user is, as the alphabet is.
  fc.constantFrom('admin', 'Admin', 'SelfCommunity', 'support', 'ME', 'hidden_users', 'ａｄｍｉｎ', '\u0430dmin', 'adrnin', 'r00t', 'Supp0rt'),
);

/** A value that the field accepts, as a JSON string (also usable in forms). */
function validText(field: TextFieldName): fc.Arbitrary<string> {
  switch (field) {
    case 'location_lat_lng':
    case 'position_lat_lng':
      return fc.oneof(padded(latLng), fc.constant(''));
    case 'date_of_birth':
      return fc.oneof(padded(pastDate), fc.constant(''));
    case 'gender':
      return padded(fc.constantFrom('Male', 'Female', 'Unspecified', ''));
    case 'language':
      return padded(fc.constantFrom('en', 'it', ''));
    case 'website':
      return fc.oneof(padded(website), fc.constant(''));
    default: {
      const max = LIMITS[field] ?? 255;
      return fc.oneof(
        // Display text refuses control and bidi characters (but a bio's line breaks and tabs).
        { weight: 6, arbitrary: padded(plainText(max)).filter((value) => displayTextAllowed(field, value.trim())) },
        { weight: 1, arbitrary: fc.constantFrom('x'.repeat(max), ` ${'é'.repeat(max)} `, '\u{1F600}'.repeat(Math.min(max, 60))) },
        { weight: 1, arbitrary: fc.constantFrom('עברית and English', 'Ἀλέξανδρος', '👩\u200d💻', 'José Müller', 'a\u200bb') },
        ...(field === 'bio' ? [{ weight: 1, arbitrary: fc.constantFrom('one\ntwo', 'a\tb', 'x\r\ny', 'para\n\npara') }] : []),
      );
    }
  }
}

/** A value the field refuses. */
function invalidText(field: TextFieldName): fc.Arbitrary<string> {
  switch (field) {
    case 'location_lat_lng':
    case 'position_lat_lng':
      return fc.constantFrom('91,0', '0,181', 'abc', '1', '1,2,3', '1.,2', '1e2,3', 'NaN,NaN', '0x1,2', '1000,1');
    case 'date_of_birth':
      return fc.constantFrom('2001-02-29', '2020-13-01', '01/02/2000', '2999-01-01', '20000-01-01', '2000-1-1', '9999-12-31', 'today');
    case 'gender':
      return fc.constantFrom('male', 'M', 'Other', 'FEMALE', 'unspecified');
    case 'language':
      return fc.constantFrom('EN', 'de', 'en-US', 'english', 'IT');
    case 'website':
      return fc.constantFrom('nope', 'ftp://x.org', 'javascript:alert(1)', 'http://', 'https://a b.org', 'http:/x.org', `https://x.org/${'a'.repeat(200)}`);
    default: {
      const tooLong = fc.constant('y'.repeat((LIMITS[field] ?? 255) + 1));
      if (!(DISPLAY_TEXT_FIELDS as readonly string[]).includes(field)) return tooLong;
      // Control characters and bidirectional overrides and isolates inside display text.
      const hostile = fc
        .tuple(
          fc.constantFrom('Ada', 'x', 'عربي'),
          fc.constantFrom('\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069', '\u0007', '\u001b', '\u007f', '\u0085', '\u009b', '\u0000', '\u000b', '\u000c', ...(field === 'bio' ? [] : ['\n', '\t', '\r'])),
          // Never last: trimming would take a trailing line break or tab away.
          fc.constantFrom('Lovelace', 'y'),
        )
        .map(([a, bad, b]) => `${a}${bad}${b}`);
      return fc.oneof(tooLong, hostile);
    }
  }
}

const jsonLeaf: fc.Arbitrary<Json> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -1, 1e308, 2 ** 53 + 1, -0.0),
  anyString,
);
const anyJson: fc.Arbitrary<Json> = fc.oneof(
  { weight: 5, arbitrary: jsonLeaf },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json> },
  { weight: 1, arbitrary: fc.constantFrom<Json>([], {}, [null], { a: 1 }, ['x'], JSON.parse('{"__proto__":{"bio":"x"},"constructor":1}') as Json) },
);

const base64ImageArb = (valid: boolean): fc.Arbitrary<Base64Image> =>
  valid
    ? fc.record({ prefix: fc.constantFrom(...GOOD_PREFIXES), content: goodImageArb, style: fc.constantFrom('plain' as const, 'lines' as const, 'unpadded' as const) })
    : fc.record({
        prefix: fc.oneof(fc.constantFrom(...GOOD_PREFIXES), fc.constantFrom(...BAD_PREFIXES)),
        content: fileContentArb,
        style: fc.oneof(
          { weight: 8, arbitrary: fc.constantFrom('plain' as const, 'lines' as const, 'unpadded' as const) },
          { weight: 1, arbitrary: fc.constantFrom('urlsafe' as const, 'junk' as const) },
        ),
      });

const fileArb = (valid: boolean) =>
  fc.record({
    filename: valid
      ? fc.constantFrom('me.png', 'photo.jpg', 'a', 'IMG 0001.JPG', 'été.gif')
      : fc.oneof(fc.constantFrom('', 'x.svg', '../../etc/passwd', 'C:\\x\\y.png', 'a"b.png', 'a;b.png', 'ü.png'), anyString),
    type: valid
      ? fc.constantFrom('image/png', 'image/jpeg', 'application/octet-stream', 'image/gif')
      : fc.constantFrom('image/png', 'application/octet-stream', 'text/plain', 'image/svg+xml', '', 'text/plain; charset=bogus', 'x'),
    content: valid ? goodImageArb : fileContentArb,
  });

// ---------------------------------------------------------------------------------------------
// Bodies

export type Transport = 'plain' | 'base64' | 'lieBase64' | 'lieText';

export type ContentTypeSpec =
  | { kind: 'natural'; params: string }
  | { kind: 'explicit'; value: string | undefined };

export type BodySpec =
  | { enc: 'none'; body: null | undefined | '' }
  | { enc: 'json'; pairs: Pair[]; style: 'compact' | 'pretty' | 'bom' | 'trailing' | 'truncated' | 'comment'; cut: number }
  | { enc: 'jsonValue'; value: Json }
  | { enc: 'urlencoded'; pairs: Pair[]; style: 'standard' | 'raw' | 'semicolons' }
  | { enc: 'urlencodedText'; text: string }
  | { enc: 'manyPairs'; count: number }
  /** A JSON object with that many (unknown) keys. */
  | { enc: 'manyJsonKeys'; count: number }
  | { enc: 'multipart'; form: MultipartSpec }
  | { enc: 'text'; text: string }
  | { enc: 'bytes'; bytes: Uint8Array }
  | { enc: 'huge'; bytes: number }
  /** One field with a value of about a megabyte, in any form: what the answer does with it. */
  | { enc: 'bigValue'; form: Form; field: string; char: string; length: number };

export interface PartSpec {
  disposition: 'normal' | 'noName' | 'emptyName' | 'none' | 'attachment' | 'nameStar' | 'unquoted' | 'badStarCharset';
  name: string;
  value: Value;
  /** Content-Type of a text part, e.g. with an unknown charset. */
  partType?: string;
}

export interface MultipartSpec {
  boundary: string;
  header: 'plain' | 'quoted' | 'missing' | 'other' | 'empty' | 'duplicate' | 'uppercase';
  parts: PartSpec[];
  ending: 'proper' | 'noFinal' | 'noCrlf' | 'preamble' | 'epilogue' | 'lf';
  mutations: Mutation[];
}

export interface BodyRequest {
  spec: BodySpec;
  contentType: ContentTypeSpec;
  transport: Transport;
  /** Built by the valid generator: every field accepted, honestly encoded. */
  valid: boolean;
}

const NATURAL_PARAMS = ['', '; charset=utf-8', '; charset=UTF-8', ';charset="utf-8"', '; charset=utf8', '; charset=us-ascii'];
const BAD_PARAMS = ['; charset=latin1', '; charset=utf-16', '; charset=', '; charset="', ';;;', '; foo', '; charset=utf-8; charset=latin1'];

const RANDOM_CONTENT_TYPES = [
  undefined, '', 'text/plain', 'text/plain; charset=utf-8', 'application/octet-stream', '*/*', 'application/json',
  'APPLICATION/JSON', ' application/json ', 'application/json5', 'application/vnd.api+json', 'text/json',
  'application/x-www-form-urlencoded', 'multipart/form-data', 'multipart/form-data; boundary=', 'multipart/form-data; boundary="',
  'multipart/mixed; boundary=abc', 'multipart/form-data; boundary=abc', 'image/png', ';', 'application/json; charset=latin1',
  'application/x-www-form-urlencoded; charset=iso-8859-1', 'multipart/form-data; boundary=abc; charset=utf-16',
  // Huge ones: an answer that quotes the type must not grow with it (nor split a surrogate pair).
  `text/${'x'.repeat(100_000)}`, `application/json; charset=${'x'.repeat(100_000)}`, `x${'\u{1F600}'.repeat(20_000)}`,
];

export const wildName: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...WRITABLE_NAMES) },
  { weight: 2, arbitrary: fc.constantFrom(...READ_ONLY_NAMES) },
  { weight: 2, arbitrary: fc.constantFrom(...SPECIAL_NAMES) },
  { weight: 2, arbitrary: anyString },
  { weight: 1, arbitrary: fc.constantFrom('n'.repeat(100), 'n'.repeat(101), 'é'.repeat(51)) },
);

/** A value for a field of a wild body: anything, with some good values and images. */
function wildValueArb(files: boolean): fc.Arbitrary<Value> {
  const arbs: fc.WeightedArbitrary<Value>[] = [
    { weight: 5, arbitrary: anyJson.map((json) => ({ json })) },
    { weight: 2, arbitrary: validUsername.map((json) => ({ json })) },
    { weight: 2, arbitrary: fc.constantFrom(...TEXT_FIELD_NAMES).chain((f) => fc.oneof(validText(f), invalidText(f))).map((json) => ({ json })) },
    { weight: 2, arbitrary: base64ImageArb(false).map((b64) => ({ b64 })) },
  ];
  if (files) arbs.push({ weight: 3, arbitrary: fileArb(false).map((file) => ({ file })) });
  return fc.oneof(...arbs);
}

type Form = 'json' | 'urlencoded' | 'multipart';

/** A value aimed at one field: often good, often bad in a way that field checks, sometimes anything. */
function aimedValueArb(name: string, form: Form): fc.Arbitrary<Value> {
  const json = (arb: fc.Arbitrary<Json>) => arb.map((v): Value => ({ json: v }));
  const anything = form === 'json' ? json(anyJson) : json(anyString);
  const empties = json(fc.constantFrom<Json>(...(form === 'json' ? [null, ''] : [''])));
  if (name === 'username') {
    return fc.oneof({ weight: 3, arbitrary: json(validUsername) }, { weight: 3, arbitrary: json(invalidUsername) }, { weight: 1, arbitrary: anything }, { weight: 1, arbitrary: empties });
  }
  if ((TEXT_FIELD_NAMES as readonly string[]).includes(name)) {
    const field = name as TextFieldName;
    return fc.oneof({ weight: 3, arbitrary: json(validText(field)) }, { weight: 3, arbitrary: json(invalidText(field)) }, { weight: 2, arbitrary: anything }, { weight: 1, arbitrary: empties });
  }
  if (name === 'avatar' || name === 'cover') {
    const arbs: fc.WeightedArbitrary<Value>[] = [{ weight: 1, arbitrary: empties }, { weight: 1, arbitrary: anything }];
    if (form === 'multipart') arbs.push({ weight: 6, arbitrary: fileArb(false).map((file): Value => ({ file })) });
    return fc.oneof(...arbs);
  }
  if (name === 'avatar_base64' || name === 'cover_base64') {
    const arbs: fc.WeightedArbitrary<Value>[] = [
      { weight: 6, arbitrary: base64ImageArb(false).map((b64): Value => ({ b64 })) },
      { weight: 1, arbitrary: empties },
      { weight: 1, arbitrary: anything },
    ];
    if (form === 'multipart') arbs.push({ weight: 1, arbitrary: fileArb(false).map((file): Value => ({ file })) });
    return fc.oneof(...arbs);
  }
  return anything;
}

/** One name and value of a wild body: mostly aimed at a writable field, sometimes anything. */
const wildPairArb = (form: Form): fc.Arbitrary<Pair> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...WRITABLE_NAMES).chain((name) => aimedValueArb(name, form).map((v): Pair => [name, v])) },
    { weight: 2, arbitrary: fc.tuple(wildName, wildValueArb(form === 'multipart')).map(([n, v]): Pair => [n, v]) },
  );

/** Mostly one to three fields, so that one bad field does not hide what the others would do. */
const wildPairsArb = (form: Form) =>
  fc.oneof({ weight: 4, arbitrary: fc.array(wildPairArb(form), { minLength: 1, maxLength: 3 }) }, { weight: 1, arbitrary: fc.array(wildPairArb(form), { maxLength: 8 }) });

/** Pairs that make a valid patch: unique writable names, accepted values, read-only extras. */
function validPairsArb(form: 'json' | 'urlencoded' | 'multipart'): fc.Arbitrary<Pair[]> {
  const fieldValue = (name: string): fc.Arbitrary<Value> => {
    if (name === 'username') return validUsername.map((json) => ({ json }));
    if ((TEXT_FIELD_NAMES as readonly string[]).includes(name)) {
      const text = validText(name as TextFieldName).map((json): Value => ({ json }));
      return form === 'json' ? fc.oneof({ weight: 5, arbitrary: text }, { weight: 1, arbitrary: fc.constant<Value>({ json: null }) }) : text;
    }
    if (name === 'avatar' || name === 'cover') {
      const removal = fc.constantFrom<Value>(...(form === 'json' ? [{ json: null }, { json: '' }] : [{ json: '' }]));
      return form === 'multipart' ? fc.oneof(fileArb(true).map((file): Value => ({ file })), removal) : removal;
    }
    if (name.endsWith('_base64')) {
      return fc.oneof(
        { weight: 4, arbitrary: base64ImageArb(true).map((b64): Value => ({ b64 })) },
        { weight: 1, arbitrary: fc.constantFrom<Value>(...(form === 'json' ? [{ json: null }, { json: '' }] : [{ json: '' }])) },
      );
    }
    // read-only: ignored whatever it holds
    return form === 'json' ? anyJson.map((json) => ({ json })) : anyString.map((json) => ({ json }));
  };
  return fc
    .tuple(
      fc.shuffledSubarray(['username', ...TEXT_FIELD_NAMES], { maxLength: 5 }),
      fc.subarray(['avatar', 'cover'] as const),
      fc.boolean(),
      fc.subarray([...READ_ONLY_NAMES], { maxLength: 2 }),
    )
    .chain(([texts, images, asBase64, readOnly]) => {
      // An image is sent as a file (multipart), as base64 text, or removed with an empty value.
      const names = [...texts, ...images.map((f) => (asBase64 ? `${f}_base64` : f)), ...readOnly];
      return fc.tuple(...names.map((n) => fieldValue(n).map((v): Pair => [n, v])));
    })
    .map((pairs) => pairs as Pair[]);
}

const boundaryArb = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[A-Za-z0-9'+_.-]{1,40}$/) },
  { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9'()+_,.\/:=?-]{1,40}$/) },
  { weight: 1, arbitrary: fc.constantFrom('----WebKitFormBoundary7MA4YWxkTrZu0gW', 'x', 'a b', 'abc"def', '-', '=', 'é', 'a'.repeat(70), 'a'.repeat(71)) },
);

/** A boundary parameter value as a careful client writes it: quoted when it is not a token. */
const boundaryParam = (b: string) => (/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(b) ? b : `"${b}"`);

const partArb = (pair: fc.Arbitrary<Pair>, valid: boolean): fc.Arbitrary<PartSpec> =>
  fc
    .record(
      {
        disposition: valid
          ? fc.constantFrom('normal' as const, 'unquoted' as const)
          : fc.oneof(
              { weight: 12, arbitrary: fc.constant('normal' as const) },
              { weight: 1, arbitrary: fc.constantFrom('noName' as const, 'emptyName' as const, 'none' as const, 'attachment' as const, 'nameStar' as const, 'unquoted' as const, 'badStarCharset' as const) },
            ),
        pair,
        partType: valid
          ? fc.constantFrom(undefined, 'text/plain', 'text/plain; charset=utf-8')
          : fc.constantFrom(undefined, undefined, undefined, 'text/plain; charset=latin1', 'text/plain; charset=bogus', 'text/plain; charset=utf-16le', 'application/octet-stream', 'text/plain; charset=base64'),
      },
      { requiredKeys: ['disposition', 'pair'] },
    )
    .map(({ pair: [name, value], ...rest }): PartSpec => ({ ...rest, name, value }));

const wildMultipart: fc.Arbitrary<MultipartSpec> = fc.record({
  boundary: boundaryArb,
  header: fc.oneof(
    { weight: 10, arbitrary: fc.constant('plain' as const) },
    { weight: 3, arbitrary: fc.constantFrom('quoted' as const, 'missing' as const, 'other' as const, 'empty' as const, 'duplicate' as const, 'uppercase' as const) },
  ),
  parts: fc.oneof({ weight: 4, arbitrary: fc.array(partArb(wildPairArb('multipart'), false), { minLength: 1, maxLength: 3 }) }, { weight: 1, arbitrary: fc.array(partArb(wildPairArb('multipart'), false), { maxLength: 7 }) }),
  ending: fc.oneof(
    { weight: 8, arbitrary: fc.constant('proper' as const) },
    { weight: 3, arbitrary: fc.constantFrom('noFinal' as const, 'noCrlf' as const, 'preamble' as const, 'epilogue' as const, 'lf' as const) },
  ),
  mutations: fc.oneof({ weight: 6, arbitrary: fc.constant([] as Mutation[]) }, { weight: 2, arbitrary: fc.array(mutationArb, { minLength: 1, maxLength: 3 }) }),
});

const validMultipart: fc.Arbitrary<MultipartSpec> = fc
  .tuple(fc.stringMatching(/^[A-Za-z0-9_-]{8,40}$/), fc.constantFrom('plain' as const, 'quoted' as const), validPairsArb('multipart'), fc.constantFrom('proper' as const, 'preamble' as const, 'epilogue' as const))
  .chain(([boundary, header, pairs, ending]) =>
    fc
      .tuple(...pairs.map((pair) => partArb(fc.constant(pair), true)))
      .map((parts): MultipartSpec => ({ boundary, header, parts: parts as PartSpec[], ending, mutations: [] })),
  );

const naturalType = fc.oneof(
  { weight: 5, arbitrary: fc.constant<ContentTypeSpec>({ kind: 'natural', params: '' }) },
  { weight: 2, arbitrary: fc.constantFrom(...NATURAL_PARAMS).map((params): ContentTypeSpec => ({ kind: 'natural', params })) },
);
const wildType = fc.oneof(
  { weight: 8, arbitrary: naturalType },
  { weight: 1, arbitrary: fc.constantFrom(...BAD_PARAMS).map((params): ContentTypeSpec => ({ kind: 'natural', params })) },
  { weight: 1, arbitrary: fc.constantFrom(...RANDOM_CONTENT_TYPES).map((value): ContentTypeSpec => ({ kind: 'explicit', value })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map((value): ContentTypeSpec => ({ kind: 'explicit', value })) },
);

export const validBodyArb: fc.Arbitrary<BodyRequest> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      spec: fc.record({ enc: fc.constant('json' as const), pairs: validPairsArb('json'), style: fc.constantFrom('compact' as const, 'pretty' as const, 'bom' as const), cut: fc.constant(0) }),
      contentType: naturalType,
      transport: fc.constantFrom('plain' as const, 'base64' as const),
      valid: fc.constant(true),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      spec: fc.record({ enc: fc.constant('urlencoded' as const), pairs: validPairsArb('urlencoded'), style: fc.constant('standard' as const) }),
      contentType: naturalType,
      transport: fc.constantFrom('plain' as const, 'base64' as const),
      valid: fc.constant(true),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      spec: fc.record({ enc: fc.constant('multipart' as const), form: validMultipart }),
      contentType: fc.constant<ContentTypeSpec>({ kind: 'natural', params: '' }),
      transport: fc.constant('base64' as const),
      valid: fc.constant(true),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      spec: fc.constantFrom<BodySpec>({ enc: 'none', body: null }, { enc: 'none', body: undefined }, { enc: 'none', body: '' }),
      contentType: fc.oneof(naturalType, fc.constantFrom(...RANDOM_CONTENT_TYPES).map((value): ContentTypeSpec => ({ kind: 'explicit', value }))),
      transport: fc.constantFrom('plain' as const, 'base64' as const),
      valid: fc.constant(true),
    }),
  },
);

const wildSpec: fc.Arbitrary<BodySpec> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      enc: fc.constant('json' as const),
      pairs: wildPairsArb('json'),
      style: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom('compact' as const, 'pretty' as const) },
        { weight: 1, arbitrary: fc.constantFrom('bom' as const, 'trailing' as const, 'truncated' as const, 'comment' as const) },
      ),
      cut: fc.nat(200),
    }),
  },
  { weight: 2, arbitrary: fc.record({ enc: fc.constant('jsonValue' as const), value: anyJson }) },
  {
    weight: 6,
    arbitrary: fc.record({
      enc: fc.constant('urlencoded' as const),
      pairs: wildPairsArb('urlencoded'),
      style: fc.constantFrom('standard' as const, 'standard' as const, 'raw' as const, 'semicolons' as const),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      enc: fc.constant('urlencodedText' as const),
      text: fc.oneof(
        fc.string({ maxLength: 40 }),
        fc.constantFrom('=', '&&&', 'bio', 'bio=%zz', 'bio=%E0%A4', 'bio=%ED%A0%80', 'bio=a&bio=b', 'a=b=c', '%62io=x', 'bio=x&BIO=y', 'bio%00=x', '&=&', '__proto__=x', 'avatar_base64=data:image/png;base64,iVBO+w=='),
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ enc: fc.constant('manyPairs' as const), count: fc.constantFrom(99, 100, 101, 1000) }) },
  { weight: 1, arbitrary: fc.record({ enc: fc.constant('manyJsonKeys' as const), count: fc.constantFrom(100, 101, 1000, 60_000) }) },
  { weight: 8, arbitrary: fc.record({ enc: fc.constant('multipart' as const), form: wildMultipart }) },
  { weight: 2, arbitrary: fc.record({ enc: fc.constant('text' as const), text: fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 20 }), fc.constantFrom('{"bio":', '{"bio":"x"}garbage', '[]', 'null', '"x"', '{"bio":"x","bio":"y"}', '{"__proto__":{"bio":"x"}}')) }) },
  { weight: 1, arbitrary: fc.record({ enc: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 64 }) }) },
  { weight: 1, arbitrary: fc.constantFrom<BodySpec>({ enc: 'none', body: null }, { enc: 'none', body: '' }) },
  { weight: 1, arbitrary: fc.record({ enc: fc.constant('huge' as const), bytes: fc.constantFrom(6_000_001, 6_000_002, 7_000_000) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      enc: fc.constant('bigValue' as const),
      form: fc.constantFrom('json' as const, 'urlencoded' as const, 'multipart' as const),
      field: fc.constantFrom('gender', 'language', 'bio', 'website', 'date_of_birth', 'username', 'location_lat_lng', 'avatar_base64', 'avatar', 'tags', 'x'),
      char: fc.constantFrom('a', '"', '\u0001', '\\', 'é', '\u2028'),
      length: fc.constantFrom(100_000, 1_100_000),
    }),
  },
);

export const wildBodyArb: fc.Arbitrary<BodyRequest> = fc.record({
  spec: wildSpec,
  contentType: wildType,
  transport: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('plain' as const, 'base64' as const) },
    { weight: 1, arbitrary: fc.constantFrom('lieBase64' as const, 'lieText' as const) },
  ),
  valid: fc.constant(false),
});

/** Bodies that carry images, mostly mutated ones: the header pre-check and libvips, through the handler. */
const mutatedImageArb: fc.Arbitrary<FileContent> = fc.oneof(
  { weight: 1, arbitrary: goodImageArb },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('image' as const),
      image: fc.constantFrom(...ALL_IMAGES),
      mutations: fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
    }),
  },
);

export const imageBodyArb: fc.Arbitrary<BodyRequest> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.subarray(['avatar', 'cover'] as const, { minLength: 1 }),
        fc.array(mutatedImageArb, { minLength: 2, maxLength: 2 }),
        fc.constantFrom('a.png', 'x', ''),
        fc.stringMatching(/^[A-Za-z0-9_-]{8,30}$/),
      )
      .map(([fields, contents, filename, boundary]): BodyRequest => ({
        spec: {
          enc: 'multipart',
          form: {
            boundary,
            header: 'plain',
            parts: fields.map((field, i): PartSpec => ({
              disposition: 'normal',
              name: field,
              value: { file: { filename: filename || 'f', type: 'image/png', content: contents[i]! } },
            })),
            ending: 'proper',
            mutations: [],
          },
        },
        contentType: { kind: 'natural', params: '' },
        transport: 'base64',
        valid: false,
      })),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.subarray(['avatar_base64', 'cover_base64'] as const, { minLength: 1 }), fc.array(mutatedImageArb, { minLength: 2, maxLength: 2 }), fc.constantFrom(...GOOD_PREFIXES))
      .map(([fields, contents, prefix]): BodyRequest => ({
        spec: {
          enc: 'json',
          pairs: fields.map((field, i): Pair => [field, { b64: { prefix, content: contents[i]!, style: 'plain' } }]),
          style: 'compact',
          cut: 0,
        },
        contentType: { kind: 'natural', params: '' },
        transport: 'plain',
        valid: false,
      })),
  },
);

// ---------------------------------------------------------------------------------------------
// Who, where, how

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

// ---------------------------------------------------------------------------------------------
// Builders

export interface BuiltBody {
  body: string | null | undefined;
  isBase64Encoded: boolean;
  contentType: string | undefined;
  /** The bytes the handler should see after decoding (when honest). */
  bytes: Buffer;
  /** The body has a size or count past a limit, so a 413 is legitimate. */
  mayBeTooLarge: boolean;
}

const MEDIA: Record<string, string> = {
  json: 'application/json',
  jsonValue: 'application/json',
  text: 'application/json',
  urlencoded: 'application/x-www-form-urlencoded',
  urlencodedText: 'application/x-www-form-urlencoded',
  manyPairs: 'application/x-www-form-urlencoded',
  bytes: 'application/octet-stream',
  huge: 'application/json',
  none: 'application/json',
};

function jsonBody(pairs: readonly Pair[], style: string, cut: number): string {
  const sep = style === 'pretty' ? ',\n  ' : ',';
  const colon = style === 'pretty' ? ': ' : ':';
  const inner = pairs.map(([k, v]) => `${JSON.stringify(k)}${colon}${JSON.stringify(jsonOf(v))}`).join(sep);
  const text = style === 'pretty' ? `{\n  ${inner}\n}` : `{${inner}}`;
  switch (style) {
    case 'bom':
      return `\ufeff${text}`;
    case 'trailing':
      return `${text} x`;
    case 'truncated':
      return text.slice(0, cut % Math.max(1, text.length));
    case 'comment':
      return `// c\n${text}`;
    default:
      return text;
  }
}

function urlencodedBody(pairs: readonly Pair[], style: string): string {
  if (style === 'standard') {
    const params = new URLSearchParams();
    for (const [k, v] of pairs) params.append(k, formText(v));
    return params.toString();
  }
  const joiner = style === 'semicolons' ? ';' : '&';
  return pairs.map(([k, v]) => `${k}=${formText(v)}`).join(joiner);
}

function multipartBytes(form: MultipartSpec): Buffer {
  const b = form.boundary;
  const crlf = form.ending === 'lf' ? '\n' : '\r\n';
  const chunks: Buffer[] = [];
  if (form.ending === 'preamble') chunks.push(Buffer.from(`This is a preamble.${crlf}`));
  for (const part of form.parts) {
    const headers: string[] = [];
    const file = 'file' in part.value ? part.value.file : undefined;
    const filename = file ? `; filename="${file.filename}"` : '';
    switch (part.disposition) {
      case 'normal':
        headers.push(`Content-Disposition: form-data; name="${part.name}"${filename}`);
        break;
      case 'unquoted':
        headers.push(`content-disposition: form-data; name=${part.name}${filename}`);
        break;
      case 'noName':
        headers.push(`Content-Disposition: form-data${filename}`);
        break;
      case 'emptyName':
        headers.push(`Content-Disposition: form-data; name=""${filename}`);
        break;
      case 'attachment':
        headers.push(`Content-Disposition: attachment; name="${part.name}"${filename}`);
        break;
      case 'nameStar':
        headers.push(`Content-Disposition: form-data; name*=utf-8''${percentEncoded(part.name)}${filename}`);
        break;
      case 'badStarCharset':
        headers.push(`Content-Disposition: form-data; name*=bogus''${percentEncoded(part.name)}${filename}`);
        break;
      case 'none':
        break;
    }
    if (file) headers.push(`Content-Type: ${file.type}`);
    else if (part.partType !== undefined) headers.push(`Content-Type: ${part.partType}`);
    const content = file ? fileBytes(file.content) : Buffer.from(formText(part.value), 'utf8');
    chunks.push(Buffer.from(`--${b}${crlf}${headers.map((h) => h + crlf).join('')}${crlf}`, 'utf8'), content, Buffer.from(crlf));
  }
  if (form.ending !== 'noFinal') chunks.push(Buffer.from(form.ending === 'noCrlf' ? `--${b}--` : `--${b}--${crlf}`));
  if (form.ending === 'epilogue') chunks.push(Buffer.from(`epilogue${crlf}`));
  return applyMutations(Buffer.concat(chunks), form.mutations);
}

function multipartType(form: MultipartSpec): string {
  const b = form.boundary;
  switch (form.header) {
    case 'plain':
      return `multipart/form-data; boundary=${boundaryParam(b)}`;
    case 'quoted':
      return `multipart/form-data; boundary="${b}"`;
    case 'missing':
      return 'multipart/form-data';
    case 'other':
      return `multipart/form-data; boundary=${b}x`;
    case 'empty':
      return 'multipart/form-data; boundary=';
    case 'duplicate':
      return `multipart/form-data; boundary=${boundaryParam(b)}; boundary=zz`;
    case 'uppercase':
      return `MULTIPART/FORM-DATA; BOUNDARY=${boundaryParam(b)}`;
  }
}

export function buildBody(request: BodyRequest): BuiltBody {
  const { spec } = request;
  let bytes: Buffer;
  let natural: string;
  let mayBeTooLarge = false;
  let literal: string | null | undefined;
  switch (spec.enc) {
    case 'none':
      literal = spec.body;
      bytes = Buffer.alloc(0);
      natural = MEDIA.none!;
      break;
    case 'json':
      bytes = Buffer.from(jsonBody(spec.pairs, spec.style, spec.cut), 'utf8');
      natural = MEDIA.json!;
      break;
    case 'jsonValue':
      bytes = Buffer.from(JSON.stringify(spec.value), 'utf8');
      natural = MEDIA.json!;
      break;
    case 'urlencoded':
      bytes = Buffer.from(urlencodedBody(spec.pairs, spec.style), 'utf8');
      natural = MEDIA.urlencoded!;
      break;
    case 'urlencodedText':
      bytes = Buffer.from(spec.text, 'utf8');
      natural = MEDIA.urlencoded!;
      break;
    case 'manyPairs':
      bytes = Buffer.from(Array.from({ length: spec.count }, (_, i) => `f${i}=${i}`).join('&'));
      natural = MEDIA.urlencoded!;
      mayBeTooLarge = spec.count > 100;
      break;
    case 'manyJsonKeys':
      bytes = Buffer.from(`{${Array.from({ length: spec.count }, (_, i) => `"${i}":0`).join(',')}}`);
      natural = MEDIA.json!;
      break;
    case 'multipart':
      bytes = multipartBytes(spec.form);
      natural = multipartType(spec.form);
      break;
    case 'text':
      bytes = Buffer.from(spec.text, 'utf8');
      natural = MEDIA.text!;
      break;
    case 'bytes':
      bytes = Buffer.from(spec.bytes);
      natural = MEDIA.bytes!;
      break;
    case 'bigValue': {
      const pairs: Pair[] = [[spec.field, { json: spec.char.repeat(spec.length) }]];
      if (spec.form === 'multipart') {
        const form: MultipartSpec = { boundary: 'bigvalue-boundary', header: 'plain', parts: [{ disposition: 'normal', name: spec.field, value: pairs[0]![1] }], ending: 'proper', mutations: [] };
        bytes = multipartBytes(form);
        natural = multipartType(form);
      } else {
        bytes = Buffer.from(spec.form === 'json' ? jsonBody(pairs, 'compact', 0) : urlencodedBody(pairs, 'standard'), 'utf8');
        natural = spec.form === 'json' ? MEDIA.json! : MEDIA.urlencoded!;
      }
      break;
    }
    case 'huge':
      bytes = Buffer.alloc(0); // built lazily below, never kept in the spec
      natural = MEDIA.huge!;
      mayBeTooLarge = true;
      break;
  }
  const contentType =
    request.contentType.kind === 'natural' ? natural + request.contentType.params : request.contentType.value;

  if (spec.enc === 'huge') {
    const base64 = request.transport === 'base64' || request.transport === 'lieText';
    const body = base64 ? 'QUFB'.repeat(Math.ceil(spec.bytes / 3)) : '{'.repeat(spec.bytes);
    return { body, isBase64Encoded: request.transport === 'base64' || request.transport === 'lieBase64', contentType, bytes, mayBeTooLarge };
  }
  if (spec.enc === 'none') {
    return { body: literal, isBase64Encoded: request.transport === 'base64', contentType, bytes, mayBeTooLarge };
  }
  const decoded = handlerBytes(bytes, request.transport);
  mayBeTooLarge ||= decoded.length > 6_000_000 || urlencodedPastLimits(decoded) || jsonPastLimits(decoded);
  if (spec.enc === 'multipart' && (request.transport === 'plain' || request.transport === 'base64')) {
    const files = spec.form.parts.filter((p) => 'file' in p.value || p.partType === 'application/octet-stream').length;
    // A mutation can lengthen a name (a byte that is not UTF-8 becomes U+FFFD, three bytes).
    const longestName = Math.max(0, ...spec.form.parts.map((p) => Buffer.byteLength(p.name)));
    mayBeTooLarge ||= files > 4 || longestName > 100 || (spec.form.mutations.length > 0 && longestName > 80);
  }

  const [body, isBase64Encoded] = (() => {
    switch (request.transport) {
      case 'plain':
        return [bytes.toString('utf8'), false] as const;
      case 'base64':
        return [bytes.toString('base64'), true] as const;
      case 'lieBase64': // says base64, is not
        return [bytes.toString('utf8'), true] as const;
      case 'lieText': // says text, is base64
        return [bytes.toString('base64'), false] as const;
    }
  })();
  // The size is judged on the body as sent too (a base64 body by its encoded length).
  mayBeTooLarge ||= isBase64Encoded ? Math.floor((body.length * 3) / 4) - 2 > 6_000_000 : Buffer.byteLength(body) > 6_000_000;
  return { body, isBase64Encoded, contentType, bytes, mayBeTooLarge };
}

/** The bytes the handler decodes from the body a transport produces. */
function handlerBytes(bytes: Buffer, transport: Transport): Buffer {
  switch (transport) {
    case 'plain':
      return Buffer.from(bytes.toString('utf8'), 'utf8');
    case 'base64':
      return bytes;
    case 'lieBase64':
      return Buffer.from(bytes.toString('utf8'), 'base64');
    case 'lieText':
      return Buffer.from(bytes.toString('base64'), 'utf8');
  }
}

/** Read as urlencoded, more than 100 fields or a name over 100 bytes: a legitimate 413. */
/**
 * RFC 5987 percent-encoding of a name's UTF-8 bytes. encodeURIComponent throws on an unpaired
 * surrogate, which the name generator can produce; as UTF-8 it becomes U+FFFD, as on the wire.
 */
function percentEncoded(name: string): string {
  return encodeURIComponent(name.toWellFormed());
}

/** A JSON object body with more than 100 keys, or a key over 100 bytes: a 413, as for forms. */
function jsonPastLimits(bytes: Buffer): boolean {
  // The raw text, not Object.keys: a key sent twice counts twice.
  const keys = jsonObjectNames(bytes.toString('utf8'));
  if (!keys) return false;
  return keys.length > 100 || keys.some((key) => Buffer.byteLength(key) > 100);
}

function urlencodedPastLimits(bytes: Buffer): boolean {
  const text = bytes.toString('latin1');
  if (text.split('&').length > 100) return true;
  for (const [name] of new URLSearchParams(bytes.toString('utf8'))) if (Buffer.byteLength(name) > 100) return true;
  return false;
}
