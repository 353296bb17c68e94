// What the raw values of a body mean: the rule of every writable field, applied with valibot, and
// the images checked from their bytes. The result is a typed patch, or every field error at once.
import * as v from 'valibot';
import { leastDecodedBytes } from '../http/base64.ts';
import { echoed, FieldErrors, ParseError } from '../http/errors.ts';
import type { ImageInfo, ImageRules } from '../images/header-check.ts';
import { ImageError, INVALID_IMAGE_MESSAGE } from '../images/image-error.ts';
import type { ImageLimits } from '../platform/config.ts';
import type { RawFields, RawValue } from '../http/request-body.ts';
import { inUsernameAlphabet, MAX_USERNAME_LENGTH } from './usernames.ts';
import {
  IMAGE_FIELDS,
  READ_ONLY_FIELDS,
  TEXT_FIELDS,
  type ImageField,
  type TextField,
} from './user-record.ts';

/**
 * An image that passed the header pre-check. src/images/normalize.ts replaces the bytes and info
 * with the normalized image's before anything is stored.
 */
export interface ImageUpload {
  /** The request field it was sent as (`avatar` or `avatar_base64`…), for errors found later. */
  field: string;
  bytes: Buffer;
  info: ImageInfo;
}

export interface Patch {
  /** A new username, as sent (case preserved). */
  username?: string;
  /** Text fields to set; `''` clears the field. */
  text: Partial<Record<TextField, string>>;
  /** Images to replace; `null` removes the image. */
  images: Partial<Record<ImageField, ImageUpload | null>>;
}

export const isEmptyPatch = (patch: Patch): boolean =>
  patch.username === undefined &&
  Object.keys(patch.text).length === 0 &&
  Object.keys(patch.images).length === 0;

// Messages are Django REST Framework's where it has one.
const MSG = {
  notString: 'Not a valid string.',
  blank: 'This field may not be blank.',
  null: 'This field may not be null.',
  unknown: 'This field is not a field of the user and cannot be written.',
  notFile: 'The submitted data was not a file. Check the encoding type on the form.',
  url: 'Enter a valid URL.',
  date: 'Date has wrong format. Use one of these formats instead: YYYY-MM-DD.',
  futureDate: 'The date of birth cannot be in the future.',
  latLng: 'Enter "latitude,longitude" in decimal degrees, latitude in [-90, 90] and longitude in [-180, 180].',
  username:
    'Enter a valid username. This value may contain only letters, numbers, _ and - characters, and at least one letter or number.',
  controlCharacters: 'Null characters and unpaired surrogates are not allowed.',
  displayText: 'Control characters and bidirectional overrides or isolates are not allowed.',
  reservedUsername: 'A user with that username already exists.',
  base64Format: 'Send the image as base64 text: image/png;base64,<data>.',
  bothImageForms: 'This image was sent both as a file and as base64 text.',
};
const maxLengthMessage = (max: number) => `Ensure this field has no more than ${max} characters.`;
// The value is quoted as Django does, but cut short (echoed()).
const choiceMessage = (value: string) => `"${echoed(value)}" is not a valid choice.`;

// The error code of a failed `check`, keyed by its requirement function (valibot hands that back
// with the issue); other valibot issues are `invalid`, but for an empty username (`blank`).
const codeOfRequirement = new WeakMap<object, string>();
const checkWithCode = (
  code: string,
  requirement: (value: string) => boolean,
  message: string | ((issue: v.CheckIssue<string>) => string),
) => {
  codeOfRequirement.set(requirement, code);
  return v.check(requirement, message);
};
const issueCode = (issue: v.BaseIssue<unknown>): string => {
  if (issue.type === 'non_empty') return 'blank';
  if (issue.type === 'check' && typeof issue.requirement === 'function') {
    return codeOfRequirement.get(issue.requirement) ?? 'invalid';
  }
  return 'invalid';
};

/** Length in code points, as Django counts it. */
const charCount = (value: string): number => {
  let count = 0;
  for (const _ of value) count++;
  return count;
};
const maxChars = (max: number) =>
  checkWithCode('max_length', (value: string) => charCount(value) <= max, maxLengthMessage(max));
// DynamoDB stores UTF-8, which cannot hold an unpaired surrogate; NUL breaks too many readers.
const noControlCharacters = v.check((value: string) => !value.includes('\0') && value.isWellFormed(), MSG.controlCharacters);

// Display text (the contract's Decision): no control characters (they break layouts and logs) and
// no bidirectional overrides or isolates (U+202A-202E, U+2066-2069), which make a name read
// backwards or hide part of it. `bio` may keep line breaks and tabs.
const CONTROL_OR_BIDI = /[\p{Cc}\u202A-\u202E\u2066-\u2069]/u;
const displayText = v.check((value: string) => !CONTROL_OR_BIDI.test(value), MSG.displayText);
const multilineDisplayText = v.check(
  (value: string) => !CONTROL_OR_BIDI.test(value.replace(/[\n\r\t]/g, '')),
  MSG.displayText,
);

const LAT_LNG = /^\s*(-?\d{1,3}(?:\.\d+)?)\s*,\s*(-?\d{1,3}(?:\.\d+)?)\s*$/;
const latLng = v.check((value: string) => {
  if (value === '') return true;
  const match = LAT_LNG.exec(value);
  return !!match && Math.abs(Number(match[1])) <= 90 && Math.abs(Number(match[2])) <= 180;
}, MSG.latLng);

const todayUtc = () => new Date().toISOString().slice(0, 10);
const isCalendarDate = (value: string) => {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
};
const isHttpUrl = (value: string) => {
  if (/\s/.test(value)) return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname.length > 0;
  } catch {
    return false;
  }
};


const text = (...rules: v.PipeItem<string, string, v.BaseIssue<unknown>>[]) =>
  v.pipe(v.string(MSG.notString), v.trim(), noControlCharacters, ...rules);
const choice = (options: readonly string[]) =>
  text(
    checkWithCode('invalid_choice', (value: string) => value === '' || options.includes(value), (issue) =>
      choiceMessage(String(issue.input)),
    ),
  );

/** Each text field's rule; `''` (after trimming) always passes and clears the field. */
const TEXT_RULES: Record<TextField, v.GenericSchema<string, string>> = {
  real_name: text(displayText, maxChars(255)),
  bio: text(multilineDisplayText, maxChars(5000)),
  location: text(displayText, maxChars(100)),
  location_lat_lng: text(latLng),
  position_lat_lng: text(latLng),
  date_of_birth: text(
    v.check((value: string) => value === '' || isCalendarDate(value), MSG.date),
    v.check((value: string) => value === '' || value <= todayUtc(), MSG.futureDate),
  ),
  description: text(displayText, maxChars(50)),
  gender: choice(['Male', 'Female', 'Unspecified']),
  website: text(maxChars(200), v.check((value: string) => value === '' || isHttpUrl(value), MSG.url)),
  language: choice(['en', 'it']),
  company_name: text(displayText, maxChars(255)),
  company_role: text(displayText, maxChars(255)),
};

// Usernames are not trimmed: a name with spaces is refused, never quietly changed. A reserved
// name, or a lookalike of one in any script or width (`ａｄｍｉｎ`, Cyrillic `аdmin`), is `unique`
// before the alphabet is checked: that is what the name is, whatever its characters.
const usernameRule = (isReserved: (username: string) => boolean) =>
  v.pipe(
    v.string(MSG.notString),
    v.nonEmpty(MSG.blank),
    maxChars(MAX_USERNAME_LENGTH),
    checkWithCode('unique', (value: string) => !isReserved(value), MSG.reservedUsername),
    v.check(inUsernameAlphabet, MSG.username),
  );

const WRITABLE = new Set<string>(['username', ...TEXT_FIELDS, ...IMAGE_FIELDS]);
const BASE64_FIELDS = new Map<string, ImageField>(IMAGE_FIELDS.map((field) => [`${field}_base64`, field]));

/** The body fields that carry an image: what makes a caller load the header check. */
export const IMAGE_BODY_FIELDS: readonly string[] = [...IMAGE_FIELDS, ...BASE64_FIELDS.keys()];

/**
 * The header pre-check (src/images/header-check.ts: every format's walk, about 14 KB), which
 * callers load only for a body with an image, so a text patch's cold start never reads it.
 */
export type InspectImage = (bytes: Buffer, rules: ImageRules) => ImageInfo;
const IGNORED = new Set<string>(READ_ONLY_FIELDS);

/** The rules an image field is checked against. */
export const imageRules = (field: ImageField, limits: ImageLimits): ImageRules => ({
  maxBytes: field === 'avatar' ? limits.avatarMaxBytes : limits.coverMaxBytes,
  maxSide: limits.maxSide,
  maxPixels: limits.maxPixels,
  maxFrames: limits.maxFrames,
  maxAnimationPixels: limits.maxAnimationPixels,
  maxJpegScans: limits.maxJpegScans,
  maxDecodeBytes: limits.maxDecodeBytes,
});

export function buildPatch(
  fields: RawFields,
  limits: ImageLimits,
  /** The reserved-name check (./username-keys.ts), which callers load only for a body with a username. */
  isReserved: (username: string) => boolean,
  inspect: InspectImage,
): Patch {
  const errors = new FieldErrors();
  const patch: Patch = { text: {}, images: {} };

  const runRule = (field: string, schema: v.GenericSchema<unknown, string>, input: unknown) => {
    const result = v.safeParse(schema, input, { abortPipeEarly: true });
    if (result.success) return result.output;
    for (const issue of result.issues) {
      errors.add(field, issueCode(issue), issue.message);
    }
    return undefined;
  };

  for (const [name, raw] of fields) {
    if (IGNORED.has(name)) continue;
    const base64Target = BASE64_FIELDS.get(name);
    if (!WRITABLE.has(name) && !base64Target) {
      errors.add(name, 'unknown_field', MSG.unknown);
      continue;
    }
    if (base64Target) {
      if (fields.has(base64Target)) {
        errors.add(name, 'duplicate_field', MSG.bothImageForms);
        continue;
      }
      const image = readBase64Image(name, raw, imageRules(base64Target, limits), errors, inspect);
      if (image !== undefined) patch.images[base64Target] = image;
      continue;
    }
    if ((IMAGE_FIELDS as readonly string[]).includes(name)) {
      const field = name as ImageField;
      const image = readImageField(field, raw, imageRules(field, limits), errors, inspect);
      if (image !== undefined) patch.images[field] = image;
      continue;
    }
    const value = textValue(raw);
    if (value === FILE) {
      errors.add(name, 'invalid', MSG.notString);
      continue;
    }
    if (name === 'username') {
      if (value === null) errors.add(name, 'null', MSG.null);
      else {
        const username = runRule(name, usernameRule(isReserved), value);
        if (username !== undefined) patch.username = username;
      }
      continue;
    }
    const field = name as TextField;
    const cleaned = value === null ? '' : runRule(name, TEXT_RULES[field], value);
    if (cleaned !== undefined) patch.text[field] = cleaned;
  }

  errors.throwIfAny();
  return patch;
}

const FILE = Symbol('file');

/** The value of a text field: a string, `null` (JSON null), or whatever JSON sent, for the rule to refuse. */
function textValue(raw: RawValue): unknown {
  if (raw.kind === 'file') return FILE;
  return raw.value;
}

/** An image as a file part; an empty value or JSON null removes it. `undefined` after an error. */
export function readImageField(
  field: ImageField,
  raw: RawValue,
  rules: ImageRules,
  errors: FieldErrors,
  inspect: InspectImage,
): ImageUpload | null | undefined {
  if (raw.kind === 'file') {
    // A file input left empty in a browser form is sent as a part with no filename and no bytes.
    if (raw.bytes.length === 0 && !raw.tooLarge && raw.filename === '') return null;
    if (raw.tooLarge) {
      errors.add(field, 'file_too_large', tooLargeMessage(rules.maxBytes));
      return undefined;
    }
    return checkImage(field, raw.bytes, rules, errors, inspect);
  }
  if (raw.value === null || raw.value === '') return null;
  errors.add(field, 'invalid', MSG.notFile);
  return undefined;
}

const DATA_URL = /^(?:data:)?([a-z0-9.+-]+\/[a-z0-9.+-]+);base64,/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const DECLARED_IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/jpg', 'image/pjpeg', 'image/gif', 'image/webp']);

/** An image as base64 text (a data URL); an empty value or JSON null removes it. `undefined` after an error. */
export function readBase64Image(
  field: string,
  raw: RawValue,
  rules: ImageRules,
  errors: FieldErrors,
  inspect: InspectImage,
): ImageUpload | null | undefined {
  if (raw.kind === 'file') {
    errors.add(field, 'invalid', MSG.notString);
    return undefined;
  }
  if (raw.value === null || raw.value === '') return null;
  if (typeof raw.value !== 'string') {
    errors.add(field, 'invalid', MSG.notString);
    return undefined;
  }
  const header = DATA_URL.exec(raw.value);
  if (!header) {
    errors.add(field, 'invalid', MSG.base64Format);
    return undefined;
  }
  // Line breaks are common in base64 text; anything else outside the alphabet is a broken body.
  const data = raw.value.slice(header[0].length).replace(/[\r\n]/g, '');
  if (!BASE64.test(data) || data.length % 4 === 1) {
    throw new ParseError(`Invalid base64 data in "${field}".`);
  }
  if (!DECLARED_IMAGE_TYPES.has(header[1]!.toLowerCase())) {
    errors.add(field, 'invalid_image', INVALID_IMAGE_MESSAGE);
    return undefined;
  }
  // Refuse an oversized image before decoding it.
  if (leastDecodedBytes(data.length) > rules.maxBytes) {
    errors.add(field, 'file_too_large', tooLargeMessage(rules.maxBytes));
    return undefined;
  }
  return checkImage(field, Buffer.from(data, 'base64'), rules, errors, inspect);
}

const tooLargeMessage = (maxBytes: number) =>
  `The image must be at most ${formatMiB(maxBytes)} MiB.`;
const formatMiB = (bytes: number) => Number((bytes / (1024 * 1024)).toFixed(2)).toString();

function checkImage(field: string, bytes: Buffer, rules: ImageRules, errors: FieldErrors, inspect: InspectImage): ImageUpload | undefined {
  try {
    return { field, bytes, info: inspect(bytes, rules) };
  } catch (error) {
    if (error instanceof ImageError) {
      errors.add(field, error.code, error.message);
      return undefined;
    }
    throw error;
  }
}
