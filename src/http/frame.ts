// The frame every API function runs in: the caller is authenticated, the method routed, what is
// thrown becomes the contract's envelope (src/http/response.ts), CORS headers are added, and one
// request line is logged. A route is left with only its own steps: parse, validate, act, answer.
import { requestMethod, userIdOf, type ApiEvent, type LambdaContext } from './api-event.ts';
import { createAuthenticator } from './auth.ts';
import { corsHeaders } from './cors.ts';
import { assertBodyFitsEvent } from './event-limit.ts';
import { MethodNotAllowedError, NotFoundError } from './errors.ts';
import { matchPath, type PathName } from './paths.ts';
import { logRequest } from './request-log.ts';
import { errorResponse, headerValue, type HttpResponse } from './response.ts';
import type { Config } from '../platform/config.ts';
import { lambdaEntry } from '../platform/entry.ts';
import { invocationLogger, type Logger } from '../platform/log.ts';

export type { ApiEvent, LambdaContext };

export type ApiHandler = (event: ApiEvent, context?: LambdaContext) => Promise<HttpResponse>;

/** What a route is given: the request, its caller and the request's logger. */
export interface ApiRequest {
  event: ApiEvent;
  context: LambdaContext | undefined;
  log: Logger;
  /** The caller's Cognito sub, from a verified access token; '' for an anonymous caller. */
  sub: string;
  /** The pool groups the caller's token names (`cognito:groups`); none for an anonymous caller. */
  groups: readonly string[];
  /** Which of the service's paths (src/http/paths.ts) the request is for; undefined for none. */
  path: PathName | undefined;
  /** No Authorization header, on a route that lets anonymous callers in (ApiFunctionOptions.anonymous). */
  anonymous: boolean;
  /** The `{id}` segment of the path as sent (`me` for `/me/`); undefined on paths without one. */
  pathId: string | undefined;
  header(name: string): string | undefined;
  /**
   * The user the request is about, for the request log: the path's id unless the route found
   * another (`me`). Set it before a step that may throw, so a failure is logged with it too.
   */
  userId: number | undefined;
  /**
   * Ends the AWS calls of a write in time for an answer. Each call attempt has its own timeout, but
   * a slow DynamoDB after a slow S3 could still add up past the Lambda timeout: this signal fires
   * when the invocation has only enough time left for one more call (deleting the uploads of a
   * write that was never sent, or a read that tells a refused write from our own), and the answer
   * is a 503 with `Retry-After`. Undefined outside Lambda (no remaining time to read).
   */
  deadline(): AbortSignal | undefined;
}

export interface RouteAnswer {
  response: HttpResponse;
  /** The request log's outcome of a success, e.g. `updated` or `read`. */
  outcome: string;
}

export type Route = (request: ApiRequest) => Promise<RouteAnswer>;

/** A function's routes: by path (src/http/paths.ts), then by method. */
export type Routes = Partial<Record<PathName, Partial<Record<string, Route>>>>;

export interface ApiFunctionOptions {
  /**
   * The function's routes; a method the path does not serve, or that this function does not (API
   * Gateway sends it to another), is a 405 with the path's `Allow`.
   */
  routes: Routes;
  /** Request headers every answer depends on beyond CORS's Origin (added to `Vary`). */
  vary?: readonly string[];
  /**
   * Whether a request without an Authorization header may go on as an anonymous caller (no
   * token verified, no key fetched). A header that is sent is always verified: a bad token is a
   * 401, never silently anonymous.
   */
  anonymous?: (request: ApiRequest) => boolean;
}

export function apiFunction(config: Config, { routes, vary = [], anonymous }: ApiFunctionOptions): ApiHandler {
  const authenticate = createAuthenticator(config);

  return async (event, context) => {
    const started = performance.now();
    const log = invocationLogger(context, event.requestContext?.requestId);
    const requestPath = event.path ?? event.rawPath ?? '';
    const matched = matchPath(requestPath);
    // `me` is a name of its own, but it stands for the caller's id, as `{id}` would.
    const pathId = matched?.path.name === 'me' ? 'me' : (event.pathParameters?.id ?? matched?.id);
    const header = (name: string) => headerValue(event.headers, name);
    const deadline = () => requestDeadline(config, context);
    const request: ApiRequest = {
      event,
      context,
      log,
      sub: '',
      groups: [],
      path: matched?.path.name,
      anonymous: false,
      pathId,
      header,
      userId: userIdOf(pathId),
      deadline,
    };
    let response: HttpResponse;
    let failure: unknown;
    let outcome = '';
    try {
      // A body no Lambda event can carry never reaches a function on AWS: API Gateway answers 413
      // before any token is looked at. The same here, on every path, whatever the method.
      assertBodyFitsEvent(event);
      // Authentication comes first: without a valid token the answer is 401 whatever the path, id
      // or method (Django REST Framework authenticates before it looks for the method's handler),
      // except where the function lets a request without any Authorization header in.
      const authorization = header('authorization');
      if (authorization === undefined && anonymous?.(request)) request.anonymous = true;
      else ({ sub: request.sub, groups: request.groups } = await authenticate(authorization));
      // API Gateway routes only the service's paths here; anything else came another way.
      if (!matched) throw new NotFoundError();
      const method = requestMethod(event);
      const byMethod = routes[matched.path.name] ?? {};
      const route = Object.hasOwn(byMethod, method) ? byMethod[method] : undefined;
      // `/me/` is read-only: a PATCH there is refused, not taken for a user called "me".
      if (!route || !matched.path.methods.includes(method)) throw new MethodNotAllowedError(method, requestPath);
      ({ response, outcome } = await route(request));
    } catch (error) {
      failure = error;
      response = errorResponse(error);
    }
    Object.assign(response.headers, corsHeaders(config.corsAllowedOrigins, header('origin')));
    if (vary.length > 0) response.headers.Vary = [response.headers.Vary, ...vary].filter(Boolean).join(', ');
    logRequest(log, {
      response,
      failure,
      userId: request.userId ?? null,
      success: outcome,
      durationMs: performance.now() - started,
    });
    return response;
  };
}

function requestDeadline(config: Config, context: LambdaContext | undefined): AbortSignal | undefined {
  const remaining = context?.getRemainingTimeInMillis?.();
  if (remaining === undefined) return undefined;
  return AbortSignal.timeout(Math.max(0, remaining - config.awsRequestTimeoutMs - 500));
}

/**
 * Routes whose code is imported by their first request: a cold start of the function's other
 * routes never loads it (the request that needs it pays one import, once per container). `served`
 * names the methods of each path that `load`'s routes answer; a failed import is tried again by
 * the next request.
 */
export function lazyRoutes(served: Partial<Record<PathName, readonly string[]>>, load: () => Promise<Routes>): Routes {
  let loaded: Promise<Routes> | undefined;
  const routes: Routes = {};
  for (const [path, methods] of Object.entries(served) as Array<[PathName, readonly string[]]>) {
    const byMethod: Partial<Record<string, Route>> = {};
    for (const method of methods) {
      byMethod[method] = async (request) => {
        const module = (loaded ??= load().catch((error: unknown) => {
          loaded = undefined;
          throw error;
        }));
        const route = (await module)[path]?.[method];
        if (!route) throw new Error(`no ${method} route for ${path} in the loaded module`);
        return route(request);
      };
    }
    routes[path] = byMethod;
  }
  return routes;
}

/** An API function's Lambda entry: a failed configuration is answered as a server error. */
export function apiEntry(create: () => ApiHandler): ApiHandler {
  return lambdaEntry(create, errorResponse);
}
