// The reference's list answers (Django REST Framework's LimitOffsetPagination), for the avatar
// gallery and the hidden users: `{count, next, previous, results}`, `limit` and `offset` from the
// query string, `next` / `previous` absolute URLs of the same request with another offset.
import type { ApiEvent } from './api-event.ts';
import { headerValue } from './response.ts';

export interface PageRequest {
  limit: number;
  offset: number;
}

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

export const DEFAULT_PAGE_LIMIT = 20;
export const MAX_PAGE_LIMIT = 100;

/** The query string as one value per name (the last, as Django's `QueryDict.get` reads it). */
export function queryParameters(event: ApiEvent): Record<string, string> {
  const multi = event.multiValueQueryStringParameters ?? {};
  const single = event.queryStringParameters ?? {};
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(single)) if (value !== undefined) values[name] = value;
  for (const [name, list] of Object.entries(multi)) if (list?.length) values[name] = list[list.length - 1]!;
  return values;
}

/**
 * `limit` and `offset` as DRF reads them: a limit that is not a positive integer is the default,
 * one above the maximum is the maximum; an offset that is not a non-negative integer is 0.
 */
export function pageRequest(query: Record<string, string>): PageRequest {
  const limit = nonNegativeInteger(query.limit);
  const offset = nonNegativeInteger(query.offset);
  return {
    limit: limit === undefined || limit === 0 ? DEFAULT_PAGE_LIMIT : Math.min(limit, MAX_PAGE_LIMIT),
    offset: offset ?? 0,
  };
}

function nonNegativeInteger(raw: string | undefined): number | undefined {
  if (raw === undefined || !/^\s*\+?[0-9]{1,15}\s*$/.test(raw)) return undefined;
  return Number(raw.trim());
}

/** One page of `all` (already in the list's order), with links built from the request's URL. */
export function page<T>(event: ApiEvent, { limit, offset }: PageRequest, all: readonly T[]): Page<T> {
  const count = all.length;
  const url = requestUrl(event);
  const withOffset = (next: number): string => {
    const link = new URL(url);
    link.searchParams.set('limit', String(limit));
    // DRF leaves `offset` out of the link to the first page.
    if (next > 0) link.searchParams.set('offset', String(next));
    else link.searchParams.delete('offset');
    return link.toString();
  };
  return {
    count,
    next: offset + limit < count ? withOffset(offset + limit) : null,
    previous: offset <= 0 ? null : withOffset(Math.max(0, Math.min(offset, count) - limit)),
    results: all.slice(offset, offset + limit),
  };
}

/**
 * The URL the client called: its Host, the path API Gateway saw (with the stage, which the client
 * sent: `requestContext.path`), and its query. HTTPS unless the request says otherwise (API Gateway
 * serves HTTPS only; the local stack sets no X-Forwarded-Proto and serves HTTP on localhost).
 */
export function requestUrl(event: ApiEvent): string {
  const host = headerValue(event.headers, 'host') ?? 'localhost';
  const forwarded = headerValue(event.headers, 'x-forwarded-proto')?.split(',')[0]?.trim();
  const local = /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/i.test(host);
  const scheme = forwarded === 'http' || forwarded === 'https' ? forwarded : local ? 'http' : 'https';
  const path = event.requestContext?.path ?? event.path ?? event.rawPath ?? '/';
  const url = new URL(`${scheme}://${host}`);
  url.pathname = path;
  for (const [name, value] of Object.entries(queryParameters(event))) url.searchParams.set(name, value);
  return url.toString();
}
