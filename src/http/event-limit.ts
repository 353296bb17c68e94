// What one request can carry to a function. On AWS a body travels inside the Lambda event, and
// Lambda takes a synchronous event of at most 6 MiB; a larger one never reaches the function, and
// API Gateway answers 413 itself (docs/local-vs-aws.md). The frame refuses the same bodies with
// the contract's 413 before anything else, so every path answers them alike, locally (where
// serverless-offline hands over up to 10 MiB) as on AWS, and the largest avatar and cover a request
// can carry (README) follow from these numbers.
import { RequestTooLargeError } from './errors.ts';
import type { ApiEvent } from './api-event.ts';

/** Lambda's synchronous invocation payload (its quota page says 6 MB; it refuses past 6 MiB). */
export const LAMBDA_EVENT_BYTES = 6 * 1024 * 1024;

/**
 * Room the rest of the event may take beside the body: API Gateway accepts at most 10 KiB of
 * request line and headers, and the event carries the headers twice (`headers` and
 * `multiValueHeaders`), with the request context (about 1-2 KiB) and the event's own keys.
 */
export const EVENT_OVERHEAD_BYTES = 32 * 1024;

/**
 * The most bytes a body may take in the event, as the event's JSON holds it (in quotes, escaped):
 * a multipart body base64-encoded (binaryMediaTypes), a JSON or form body as text.
 */
export const MAX_EVENT_BODY_BYTES = LAMBDA_EVENT_BYTES - EVENT_OVERHEAD_BYTES;

/** Room for a multipart file's framing: boundaries, part headers, a file name under about 300 characters. */
export const MULTIPART_FRAMING_BYTES = 512;

/**
 * The largest file one request carries (README, "Largest avatar and cover"): a multipart body
 * base64-encoded in the event (without its quotes), less its framing: 4,693,501 bytes. The
 * default of AVATAR_MAX_BYTES and COVER_MAX_BYTES, so the file limit never refuses what a request
 * can bring (a base64 field is bounded first by MAX_BODY_BYTES: 4,499,952 bytes).
 */
export const LARGEST_REQUEST_FILE_BYTES = Math.floor((MAX_EVENT_BODY_BYTES - 2) / 4) * 3 - MULTIPART_FRAMING_BYTES;

/** The bytes `event.body` takes in the event's JSON. */
export function eventBodyBytes(event: Pick<ApiEvent, 'body' | 'isBase64Encoded'>): number {
  const body = event.body ?? '';
  // Base64 has nothing to escape: its characters and two quotes.
  if (event.isBase64Encoded) return body.length + 2;
  // Escaping never shortens a string: a body over the limit in characters is over it in bytes,
  // and is not copied to be measured.
  if (body.length > MAX_EVENT_BODY_BYTES) return body.length + 2;
  return Buffer.byteLength(JSON.stringify(body), 'utf8');
}

/** Refuses a body larger than an event can carry, with the contract's 413. */
export function assertBodyFitsEvent(event: Pick<ApiEvent, 'body' | 'isBase64Encoded'>): void {
  if (eventBodyBytes(event) > MAX_EVENT_BODY_BYTES) {
    throw new RequestTooLargeError(`Request body is larger than one request can carry (${MAX_EVENT_BODY_BYTES} bytes in transit).`);
  }
}
