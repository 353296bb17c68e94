// API Gateway events for the profile paths (settings, hide, is_hidden, hidden users): the
// recorded PATCH event with the path, method, query, body and token of the request.
import type { ApiEvent } from '../../src/http/api-event.ts';
import { fixtureEvent } from './backend.ts';

export interface ProfileRequest {
  /** The path after `/api/v2/user/`, e.g. `5/settings/` or `hidden_users/`. */
  path: string;
  method: string;
  token?: string;
  rawAuthorization?: string;
  body?: string;
  contentType?: string;
  isBase64Encoded?: boolean;
  query?: Record<string, string>;
}

export function profileEvent(request: ProfileRequest): ApiEvent {
  const id = /^([^/]+)\/[a-z_]+\/?$/.exec(request.path)?.[1];
  const event = fixtureEvent('json', {
    id: 0,
    ...(request.token !== undefined && { token: request.token }),
    ...(request.rawAuthorization !== undefined && { rawAuthorization: request.rawAuthorization }),
    ...('contentType' in request && { contentType: request.contentType }),
    ...(request.body !== undefined && { body: request.body, isBase64Encoded: request.isBase64Encoded ?? false }),
  });
  if (request.body === undefined) event.body = null;
  const path = `/api/v2/user/${request.path}`;
  event.httpMethod = request.method;
  event.path = path;
  event.pathParameters = id === undefined ? null : { id };
  event.requestContext = { ...event.requestContext, path: `/prod${path}` };
  event.queryStringParameters = request.query ?? null;
  event.multiValueQueryStringParameters = request.query
    ? Object.fromEntries(Object.entries(request.query).map(([name, value]) => [name, [value]]))
    : null;
  return event;
}
