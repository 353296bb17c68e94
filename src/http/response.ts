// API Gateway proxy responses, and the one place where an error becomes a status and an envelope.
import { isAwsUnavailable } from '../store/aws-errors.ts';
import { ApiError, MethodNotAllowedError, ServiceUnavailableError } from './errors.ts';
import { allowedMethods } from './paths.ts';

export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

const JSON_HEADERS = {
  'Content-Type': 'application/json',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
};

export function jsonResponse(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

/** The client's view of an error: ours as they are, AWS outages as 503, anything else a bare 500. */
export function clientError(error: unknown): ApiError | undefined {
  if (error instanceof ApiError) return error;
  if (isAwsUnavailable(error)) return new ServiceUnavailableError();
  return undefined;
}

export function errorResponse(error: unknown): HttpResponse {
  const known = clientError(error);
  if (!known) {
    return jsonResponse(500, { errors: [{ code: 'server_error', message: 'A server error occurred.' }] });
  }
  return jsonResponse(known.status, known.envelope(), errorHeaders(known));
}

/** Seconds a client should wait before trying a 503 again: retries inside AWS settle in about that. */
export const RETRY_AFTER_SECONDS = 1;

function errorHeaders(error: ApiError): Record<string, string> {
  if (error.status === 401) return { 'WWW-Authenticate': 'Bearer' };
  if (error.status === 503) return { 'Retry-After': String(RETRY_AFTER_SECONDS) };
  if (error instanceof MethodNotAllowedError) return { Allow: allowedMethods(error.path).join(', ') };
  return {};
}

/** A header's value, whatever case the client or API Gateway gave its name. */
export function headerValue(headers: Record<string, string | undefined> | null | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}
