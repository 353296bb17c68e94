// API Gateway events for the benchmark, made from a recorded REST API event (test/fixtures/events)
// so headers and shape are the real ones. No heavy imports: the children bundle this file.
import type { ApiEvent } from '../handlers/patch-user.ts';

function withRequest(template: ApiEvent, id: number | string, token: string, contentType: string, body: string, base64: boolean): ApiEvent {
  const event = structuredClone(template);
  const headers: Record<string, string | undefined> = { ...event.headers };
  delete headers['Content-Length'];
  headers.Authorization = `Bearer ${token}`;
  headers['Content-Type'] = contentType;
  event.headers = headers;
  event.pathParameters = { id: String(id) };
  event.path = `/api/v2/user/${id}/`;
  event.body = body;
  event.isBase64Encoded = base64;
  return event;
}

export function jsonEvent(template: ApiEvent, id: number | string, token: string, fields: Record<string, unknown>): ApiEvent {
  return withRequest(template, id, token, 'application/json', JSON.stringify(fields), false);
}

export interface FilePart {
  bytes: Buffer;
  filename: string;
  type: string;
}

/** A multipart body as API Gateway delivers it: base64 of the raw body, `isBase64Encoded`. */
export function multipartEvent(
  template: ApiEvent,
  id: number | string,
  token: string,
  fields: Record<string, string | FilePart>,
): ApiEvent {
  const boundary = '----formdata-undici-031254748553';
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value === 'string') {
      parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
    } else {
      parts.push(
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${value.filename}"\r\n` +
            `Content-Type: ${value.type}\r\n\r\n`,
        ),
        value.bytes,
        Buffer.from('\r\n'),
      );
    }
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  const body = Buffer.concat(parts).toString('base64');
  return withRequest(template, id, token, `multipart/form-data; boundary=${boundary}`, body, true);
}

/** Bytes of the body once decoded, what the handler's limits and the memory target refer to. */
export const decodedBodyBytes = (event: ApiEvent): number =>
  event.isBase64Encoded ? Buffer.byteLength(event.body ?? '', 'base64') : Buffer.byteLength(event.body ?? '');
