// The API Gateway proxy event as the API handlers read it, and the path's user id.
import { NotFoundError } from './errors.ts';

/** The parts of an API Gateway proxy event (REST API, or HTTP API payload 2.0) that are read. */
export interface ApiEvent {
  httpMethod?: string;
  path?: string;
  rawPath?: string;
  pathParameters?: Record<string, string | undefined> | null;
  queryStringParameters?: Record<string, string | undefined> | null;
  multiValueQueryStringParameters?: Record<string, string[] | undefined> | null;
  headers?: Record<string, string | undefined> | null;
  body?: string | null;
  isBase64Encoded?: boolean;
  /** `path`: the path the client called, with the stage (REST API); `path` above lacks it. */
  requestContext?: { requestId?: string; path?: string; http?: { method?: string } };
}

export interface LambdaContext {
  awsRequestId?: string;
  functionName?: string;
  getRemainingTimeInMillis?(): number;
}

export function requestMethod(event: ApiEvent): string {
  return (event.httpMethod ?? event.requestContext?.http?.method ?? '').toUpperCase();
}

/**
 * Django's `<int:id>`: digits only, leading zeros allowed (`007` is user 7); anything else is not
 * a route to a user. At most 15 significant digits: every such number is exact as a JS number.
 */
export const USER_ID = /^0*[0-9]{1,15}$/;

/** The path's user id, or undefined when it is not one (the answer is then a 404). */
export function userIdOf(raw: string | undefined): number | undefined {
  return raw !== undefined && USER_ID.test(raw) ? Number(raw) : undefined;
}

/** The path's user id; an `{id}` that is not one answers 404 (contract, "Request"). */
export function pathUserId(raw: string | undefined): number {
  const id = userIdOf(raw);
  if (id === undefined) throw new NotFoundError();
  return id;
}
