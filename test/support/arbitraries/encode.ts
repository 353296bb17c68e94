// Builders: a body spec turned into an API Gateway event's body, flag and Content-Type.

import { jsonObjectNames } from '../oracle.ts';
import { applyMutations, fileBytes } from './images.ts';
import { formText, jsonOf, type Pair } from './values.ts';
import { type BodyRequest, boundaryParam, type MultipartSpec, type Transport } from './bodies.ts';

export interface BuiltBody {
  body: string | null | undefined;
  isBase64Encoded: boolean;
  contentType: string | undefined;
  /** The bytes the handler should see after decoding (when honest). */
  bytes: Buffer;
  /** The body has a size or count past a limit, so a 413 is legitimate. */
  mayBeTooLarge: boolean;
  /** The body takes more than one Lambda event carries: a 413 before anything else. */
  pastEvent: boolean;
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
    // `spec.bytes` of base64 or of `{`: its event holds more than 6 MiB less 32 KiB only when large.
    const pastEvent = body.length + 2 > 6 * 1024 * 1024 - 32 * 1024;
    return { body, isBase64Encoded: request.transport === 'base64' || request.transport === 'lieBase64', contentType, bytes, mayBeTooLarge, pastEvent };
  }
  if (spec.enc === 'none') {
    return { body: literal, isBase64Encoded: request.transport === 'base64', contentType, bytes, mayBeTooLarge, pastEvent: false };
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
  // And by what it takes in the Lambda event, whose JSON holds it quoted and escaped (a control
  // character as \u0001): at most 6 MiB less 32 KiB for the rest of the event (docs/local-vs-aws.md,
  // "Bodies past the limit").
  const pastEvent = (isBase64Encoded ? body.length + 2 : Buffer.byteLength(JSON.stringify(body))) > 6 * 1024 * 1024 - 32 * 1024;
  mayBeTooLarge ||= pastEvent;
  return { body, isBase64Encoded, contentType, bytes, mayBeTooLarge, pastEvent };
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
  // The raw text, not Object.keys: a key sent twice counts twice. Decoded as a JSON reader does:
  // a leading byte order mark is not part of the text.
  const keys = jsonObjectNames(new TextDecoder().decode(bytes));
  if (!keys) return false;
  return keys.length > 100 || keys.some((key) => Buffer.byteLength(key) > 100);
}

function urlencodedPastLimits(bytes: Buffer): boolean {
  const text = bytes.toString('latin1');
  if (text.split('&').length > 100) return true;
  for (const [name] of new URLSearchParams(bytes.toString('utf8'))) if (Buffer.byteLength(name) > 100) return true;
  return false;
}
