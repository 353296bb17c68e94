// API Gateway events for the benchmark and tests, made from a recorded REST API event (test/fixtures/events)
// so headers and shape are the real ones. No heavy imports: the children bundle this file.
import type { ApiEvent } from '../../src/functions/patch-user/handler.ts';
import { multipartBody, type FormValue } from './multipart.ts';

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

/** A multipart body as API Gateway delivers it: base64 of the raw body, `isBase64Encoded`. */
export function multipartEvent(
  template: ApiEvent,
  id: number | string,
  token: string,
  fields: Record<string, FormValue>,
): ApiEvent {
  // A fixed boundary: every run sends the same bytes.
  const { body, contentType } = multipartBody(fields, '----formdata-undici-031254748553');
  return withRequest(template, id, token, contentType, body, true);
}

/** Bytes of the body once decoded, what the handler's limits and the memory target refer to. */
export const decodedBodyBytes = (event: ApiEvent): number =>
  event.isBase64Encoded ? Buffer.byteLength(event.body ?? '', 'base64') : Buffer.byteLength(event.body ?? '');
