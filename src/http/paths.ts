// The service's paths and the methods each serves (contract, "Paths, methods and browsers"): one
// table for routing inside the functions, for the 405's `Allow`, and for what the deployed template
// routes (test/package/template-functions.test.ts compares them). API Gateway sends every method of
// these paths to a function (each method to its own, any other to getUser through an ANY route), so
// a method not listed here is answered 405 by the function, never 404 by API Gateway.

export type PathName =
  | 'me'
  | 'avatar'
  | 'hidden_users'
  | 'hidden_users_id'
  | 'user'
  | 'settings'
  | 'hide'
  | 'is_hidden'
  | 'is_hidden_by'
  | 'dynamic_preference'
  | 'feature';

export interface ServicePath {
  name: PathName;
  /** The path as API Gateway names its resource (no trailing slash; both spellings are served). */
  resource: string;
  methods: readonly string[];
}

/**
 * Static names first: `avatar`, `me`, `hidden_users` and `hidden_users_id` are never user ids, on
 * API Gateway (a static segment wins over `{id}`) as here.
 */
export const SERVICE_PATHS: readonly ServicePath[] = [
  { name: 'me', resource: '/api/v2/user/me', methods: ['GET'] },
  { name: 'avatar', resource: '/api/v2/user/avatar', methods: ['GET', 'POST', 'PATCH', 'DELETE'] },
  { name: 'hidden_users', resource: '/api/v2/user/hidden_users', methods: ['GET'] },
  { name: 'hidden_users_id', resource: '/api/v2/user/hidden_users_id', methods: ['GET'] },
  { name: 'user', resource: '/api/v2/user/{id}', methods: ['GET', 'PATCH'] },
  { name: 'settings', resource: '/api/v2/user/{id}/settings', methods: ['GET', 'PATCH'] },
  { name: 'hide', resource: '/api/v2/user/{id}/hide', methods: ['POST'] },
  { name: 'is_hidden', resource: '/api/v2/user/{id}/is_hidden', methods: ['GET'] },
  { name: 'is_hidden_by', resource: '/api/v2/user/{id}/is_hidden_by', methods: ['GET'] },
  // The community's configuration every stock front end loads first (src/community/community.ts).
  { name: 'dynamic_preference', resource: '/api/v2/dynamic_preference', methods: ['GET'] },
  { name: 'feature', resource: '/api/v2/feature', methods: ['GET'] },
];

// An empty `{id}` (`/api/v2/user//`) matches no path, as on API Gateway: a 404 whatever the method.
const MATCHERS = SERVICE_PATHS.map((path) => ({
  path,
  pattern: new RegExp(`^${path.resource.replace('{id}', '([^/]+)')}/?$`),
}));

export interface MatchedPath {
  path: ServicePath;
  /** The `{id}` segment as sent (`007`, `abc`): the route decides what it means. */
  id?: string;
}

/** The service path a request's path names; a stage prefix (`/dev/api/...`) is ignored. */
export function matchPath(requestPath: string): MatchedPath | undefined {
  const start = requestPath.indexOf('/api/');
  if (start < 0) return undefined;
  const apiPath = requestPath.slice(start);
  for (const { path, pattern } of MATCHERS) {
    const match = pattern.exec(apiPath);
    if (match) return match[1] === undefined ? { path } : { path, id: match[1] };
  }
  return undefined;
}

/** The methods the path serves, for a 405's `Allow`; none for a path the service does not have. */
export function allowedMethods(requestPath: string): readonly string[] {
  return matchPath(requestPath)?.path.methods ?? [];
}
