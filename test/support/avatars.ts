// Requests to the avatar gallery (/api/v2/user/avatar/) as API Gateway delivers them, for the
// handler tests: the recorded PATCH event with the path, method, body and query replaced.
import type { ApiEvent } from '../../src/functions/patch-user/handler.ts';
import { fixtureEvent } from './backend.ts';

export const AVATAR_PATH = '/api/v2/user/avatar/';

export function avatarEvent(
  method: string,
  options: {
    token?: string;
    body?: string;
    contentType?: string;
    isBase64Encoded?: boolean;
    query?: Record<string, string>;
  } = {},
): ApiEvent {
  const { query, ...rest } = options;
  const event = fixtureEvent('json', {
    id: 'avatar',
    ...rest,
    ...(rest.body === undefined && { body: '' }),
  });
  event.httpMethod = method;
  event.path = AVATAR_PATH;
  event.pathParameters = null;
  (event as Record<string, unknown>).resource = '/api/v2/user/avatar';
  event.requestContext = { ...event.requestContext, path: `/prod${AVATAR_PATH}` };
  event.queryStringParameters = query ?? null;
  event.multiValueQueryStringParameters = query ? Object.fromEntries(Object.entries(query).map(([k, v]) => [k, [v]])) : null;
  return event;
}

/** A JSON body of `value`, as the official client sends plain objects. */
export const jsonBody = (value: unknown) => ({ body: JSON.stringify(value), contentType: 'application/json' });
/** An urlencoded body of `fields`. */
export const formBody = (fields: Record<string, string>) => ({
  body: new URLSearchParams(fields).toString(),
  contentType: 'application/x-www-form-urlencoded',
});
/** `image/png;base64,<data>` as the contract's avatar_base64. */
export const base64Image = (bytes: Buffer, type = 'image/png') => `data:${type};base64,${bytes.toString('base64')}`;
