// Field values for fuzz bodies: awkward strings, good and bad values per field, images as values.

import fc from 'fast-check';
import { displayTextAllowed, DISPLAY_TEXT_FIELDS } from '../oracle.ts';
import { LIMITS, POOL, type TextFieldName } from './pool.ts';
import { fileBytes, type FileContent, fileContentArb, goodImageArb } from './images.ts';

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

export const GOOD_PREFIXES = ['data:image/png;base64,', 'image/png;base64,', 'data:image/jpeg;base64,', 'data:IMAGE/WEBP;base64,', 'image/gif;base64,', 'data:image/pjpeg;base64,'];
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
export function validText(field: TextFieldName): fc.Arbitrary<string> {
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
export function invalidText(field: TextFieldName): fc.Arbitrary<string> {
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

export const jsonLeaf: fc.Arbitrary<Json> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -1, 1e308, 2 ** 53 + 1, -0.0),
  anyString,
);
export const anyJson: fc.Arbitrary<Json> = fc.oneof(
  { weight: 5, arbitrary: jsonLeaf },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json> },
  { weight: 1, arbitrary: fc.constantFrom<Json>([], {}, [null], { a: 1 }, ['x'], JSON.parse('{"__proto__":{"bio":"x"},"constructor":1}') as Json) },
);

export const base64ImageArb = (valid: boolean): fc.Arbitrary<Base64Image> =>
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

export const fileArb = (valid: boolean) =>
  fc.record({
    filename: valid
      ? fc.constantFrom('me.png', 'photo.jpg', 'a', 'IMG 0001.JPG', 'été.gif')
      : fc.oneof(fc.constantFrom('', 'x.svg', '../../etc/passwd', 'C:\\x\\y.png', 'a"b.png', 'a;b.png', 'ü.png'), anyString),
    type: valid
      ? fc.constantFrom('image/png', 'image/jpeg', 'application/octet-stream', 'image/gif')
      : fc.constantFrom('image/png', 'application/octet-stream', 'text/plain', 'image/svg+xml', '', 'text/plain; charset=bogus', 'x'),
    content: valid ? goodImageArb : fileContentArb,
  });
