// Turns an API Gateway body into named raw values, whatever its encoding: JSON, urlencoded or
// multipart. It enforces the size and count limits (busboy only signals them) and refuses a field
// sent twice; what the values mean is for src/users/patch-fields.ts.
import busboy from 'busboy';
// Before any body is decoded: busboy's UTF-16 decoding must not reach Node 24's faulty decoder.
import './utf16-decoding.ts';
import { leastDecodedBytes } from './base64.ts';
import {
  echoed,
  ParseError,
  RequestTooLargeError,
  UnsupportedMediaTypeError,
  ValidationError,
} from './errors.ts';

export type RawValue =
  /** Any JSON value of a JSON body. */
  | { kind: 'json'; value: unknown }
  /** A text value of a form (urlencoded or multipart). */
  | { kind: 'text'; value: string }
  /** A file part of a multipart body; `tooLarge` when it went past `maxFileBytes`. */
  | { kind: 'file'; filename: string; mimeType: string; bytes: Buffer; tooLarge: boolean };

/** Field name to value; a Map so that names such as `__proto__` are plain keys. */
export type RawFields = Map<string, RawValue>;

export interface BodyLimits {
  /** Whole body, after base64 decoding. */
  maxBodyBytes: number;
  /** Largest file part kept; a larger one is reported as too large, not truncated silently. */
  maxFileBytes: number;
}

/** Counts no legitimate patch comes near; past them the request is refused, never cut short. */
export const FORM_LIMITS = {
  fields: 100,
  files: 4,
  parts: 100,
  fieldNameBytes: 100,
} as const;

export interface BodyInput {
  body: string | null | undefined;
  isBase64Encoded: boolean | undefined;
  contentType: string | undefined;
}

export async function parseBody(input: BodyInput, limits: BodyLimits): Promise<RawFields> {
  const bytes = decodeBody(input, limits.maxBodyBytes);
  // An empty body is an empty patch whatever its declared type, as in Django REST Framework.
  if (bytes.length === 0) return new Map();

  const { mediaType, params } = parseContentType(input.contentType);
  const charset = params.get('charset');
  if (charset !== undefined && !['utf-8', 'utf8', 'us-ascii'].includes(charset.toLowerCase())) {
    throw new UnsupportedMediaTypeError(input.contentType ?? '');
  }
  switch (mediaType) {
    case 'application/json':
      return parseJson(bytes);
    case 'application/x-www-form-urlencoded':
      return parseUrlEncoded(bytes);
    case 'multipart/form-data':
      return parseMultipart(bytes, input.contentType ?? '', limits);
    default:
      throw new UnsupportedMediaTypeError(input.contentType ?? '');
  }
}

export function decodeBody(input: BodyInput, maxBodyBytes: number): Buffer {
  const body = input.body ?? '';
  if (!input.isBase64Encoded) {
    // A UTF-8 string is never shorter in bytes than in UTF-16 units: check before encoding.
    if (body.length > maxBodyBytes) throw tooLarge(maxBodyBytes);
    const bytes = Buffer.from(body, 'utf8');
    if (bytes.length > maxBodyBytes) throw tooLarge(maxBodyBytes);
    return bytes;
  }
  // Decide from the encoded length before allocating the decoded copy.
  if (leastDecodedBytes(body.length) > maxBodyBytes) throw tooLarge(maxBodyBytes);
  const bytes = decodeBase64(body);
  if (bytes.length > maxBodyBytes) throw tooLarge(maxBodyBytes);
  return bytes;
}

/** Characters decoded at a time: a multiple of 4, so every slice is whole base64 groups. */
const BASE64_SLICE = 64 * 1024;

/**
 * `Buffer.from(text, 'base64')` without its hidden copy of the text: Node first copies a string
 * it decodes (one the event's JSON made, not an external one) into a temporary buffer as large as
 * the text. For a 4 MB cover that is 5.3 MB more at the request's peak, and decoding takes 2.7
 * times as long (measured on Node 20). Decoding slice by slice straight into the result bounds
 * that copy to one slice. Node skips characters outside the alphabet (line breaks, say), which
 * would shift the 4-character groups between slices; a slice that decodes short betrays them, and
 * such a body is decoded in one piece, as before. API Gateway's own base64 never has them.
 */
export function decodeBase64(text: string): Buffer {
  if (text.length <= BASE64_SLICE) return Buffer.from(text, 'base64');
  const out = Buffer.allocUnsafe(Buffer.byteLength(text, 'base64'));
  let written = 0;
  for (let at = 0; at < text.length; at += BASE64_SLICE) {
    const last = at + BASE64_SLICE >= text.length;
    const n = out.write(text.slice(at, at + BASE64_SLICE), written, 'base64');
    if (!last && n !== (BASE64_SLICE / 4) * 3) return Buffer.from(text, 'base64');
    written += n;
  }
  return written === out.length ? out : Buffer.from(text, 'base64');
}

const tooLarge = (max: number) =>
  new RequestTooLargeError(`Request body is larger than ${max} bytes.`);

export function parseContentType(header: string | undefined): {
  mediaType: string;
  params: Map<string, string>;
} {
  const [type = '', ...rest] = (header ?? '').split(';');
  const params = new Map<string, string>();
  for (const part of rest) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1);
    }
    params.set(name, value);
  }
  return { mediaType: type.trim().toLowerCase(), params };
}

const duplicateError = (names: Iterable<string>) =>
  new ValidationError(
    [...names].map((field) => ({
      field,
      messages: [{ code: 'duplicate_field', message: 'This field was sent more than once.' }],
    })),
  );

/**
 * Collects the values of a body: refuses nameless parts, names past the length limit and bodies
 * past the field count (so no answer ever lists thousands of fields), and records names sent more
 * than once instead of keeping either value.
 */
class FieldCollector {
  readonly fields: RawFields = new Map();
  private readonly duplicates = new Set<string>();
  private count = 0;

  add(name: string | undefined, value: RawValue): void {
    if (name === undefined) throw new ParseError('A form part has no field name.');
    if (Buffer.byteLength(name) > FORM_LIMITS.fieldNameBytes) {
      throw new RequestTooLargeError('A field name is too long.');
    }
    if (++this.count > FORM_LIMITS.fields) throw new RequestTooLargeError('Too many fields.');
    if (this.fields.has(name)) this.duplicates.add(name);
    else this.fields.set(name, value);
  }

  result(): RawFields {
    if (this.duplicates.size) throw duplicateError(this.duplicates);
    return this.fields;
  }
}

function parseJson(bytes: Buffer): RawFields {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ParseError('JSON parse error - body is not valid UTF-8.');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ParseError(`JSON parse error - ${echoed((error as Error).message)}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ParseError('JSON parse error - expected an object.');
  }
  const collector = new FieldCollector();
  // JSON.parse keeps the last of duplicate keys; the raw text tells whether a key was repeated.
  const keys = topLevelKeys(text);
  for (const key of keys) {
    collector.add(key, { kind: 'json', value: Object.getOwnPropertyDescriptor(parsed, key)?.value });
  }
  return collector.result();
}

/** Keys of the top-level object of a JSON text already known to be valid, in order, repeats kept. */
export function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (depth === 1 && expectKey) keys.push(JSON.parse(text.slice(start, i + 1)) as string);
      expectKey = false;
    } else if (ch === '{' || ch === '[') {
      depth++;
      expectKey = ch === '{' && depth === 1;
    } else if (ch === '}' || ch === ']') {
      depth--;
    } else if (ch === ',' && depth === 1) {
      expectKey = true;
    }
  }
  return keys;
}

function parseUrlEncoded(bytes: Buffer): RawFields {
  const text = bytes.toString('latin1');
  // Count before decoding so a body of thousands of pairs is refused without building them.
  let pairs = 1;
  for (let i = text.indexOf('&'); i >= 0; i = text.indexOf('&', i + 1)) {
    if (++pairs > FORM_LIMITS.fields) throw new RequestTooLargeError('Too many fields.');
  }
  const collector = new FieldCollector();
  for (const [name, value] of new URLSearchParams(bytes.toString('utf8'))) {
    collector.add(name, { kind: 'text', value });
  }
  return collector.result();
}

/**
 * The bytes of a file part. busboy hands out views into the decoded body, and with the whole body
 * written at once a file arrives as one view or several adjacent ones: then the file is a view of
 * the body too, not a copy (for a 4 MB cover that is 4 MB less at the request's peak). Anything
 * else is copied together.
 */
export function joinChunks(chunks: readonly Buffer[], size: number): Buffer {
  const first = chunks[0];
  if (!first) return Buffer.alloc(0);
  let end = first.byteOffset + first.length;
  for (let i = 1; i < chunks.length; i++) {
    const chunk = chunks[i]!;
    if (chunk.buffer !== first.buffer || chunk.byteOffset !== end) return Buffer.concat(chunks, size);
    end += chunk.length;
  }
  return Buffer.from(first.buffer, first.byteOffset, size);
}

function parseMultipart(bytes: Buffer, contentType: string, limits: BodyLimits): Promise<RawFields> {
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: { 'content-type': contentType },
      defParamCharset: 'utf8',
      limits: {
        fieldNameSize: FORM_LIMITS.fieldNameBytes,
        fieldSize: limits.maxBodyBytes,
        fields: FORM_LIMITS.fields,
        files: FORM_LIMITS.files,
        parts: FORM_LIMITS.parts,
        // busboy reports a file that reaches fileSize as over it: one byte more, so a file of
        // exactly maxFileBytes is kept (the limit is "at most").
        fileSize: limits.maxFileBytes + 1,
      },
    });
  } catch (error) {
    throw new ParseError(`Multipart form parse error - ${echoed((error as Error).message)}`);
  }

  return new Promise<RawFields>((resolve, reject) => {
    const collector = new FieldCollector();
    let failure: Error | undefined;
    const fail = (error: Error) => {
      failure ??= error;
    };

    // Inside busboy's events a throw would escape the parser: a refusal is recorded instead.
    // (busboy enforces fieldNameSize for urlencoded bodies only; the collector checks names.)
    const collect = (name: string | undefined, value: RawValue) => {
      try {
        collector.add(name, value);
      } catch (error) {
        fail(error as Error);
      }
    };
    parser.on('field', (name, value, info) => {
      if (info.nameTruncated) return fail(new RequestTooLargeError('A field name is too long.'));
      if (info.valueTruncated) return fail(new RequestTooLargeError('A field value is too long.'));
      collect(name, { kind: 'text', value });
    });
    parser.on('file', (name, stream, info) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let tooLarge = false;
      // Every file stream must be drained, or busboy never finishes; errors arrive on busboy too.
      stream.on('error', () => {});
      stream.on('limit', () => {
        tooLarge = true;
        chunks.length = 0;
      });
      stream.on('data', (chunk: Buffer) => {
        if (tooLarge) return;
        chunks.push(chunk);
        size += chunk.length;
      });
      stream.on('end', () => {
        collect(name, {
          kind: 'file',
          filename: info.filename ?? '',
          mimeType: info.mimeType,
          bytes: tooLarge ? Buffer.alloc(0) : joinChunks(chunks, size),
          tooLarge,
        });
      });
    });
    parser.on('fieldsLimit', () => fail(new RequestTooLargeError('Too many fields.')));
    parser.on('filesLimit', () => fail(new RequestTooLargeError('Too many files.')));
    parser.on('partsLimit', () => fail(new RequestTooLargeError('Too many parts.')));
    // A broken body ends in 'error'; do not rely on 'close' following it.
    parser.on('error', (error: Error) => {
      fail(new ParseError(`Multipart form parse error - ${echoed(error.message)}`));
      reject(failure);
    });
    parser.on('close', () => {
      if (failure) return reject(failure);
      try {
        resolve(collector.result());
      } catch (error) {
        reject(error as Error);
      }
    });
    parser.end(bytes);
  });
}
