// API Gateway proxy responses, and the one place where an error becomes a status and an envelope.
import { isAwsUnavailable } from './aws-errors.ts';
import { ApiError, ServiceUnavailableError } from './errors.ts';

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
  const headers: Record<string, string> = known.status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {};
  return jsonResponse(known.status, known.envelope(), headers);
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
