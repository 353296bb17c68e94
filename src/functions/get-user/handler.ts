// GET /api/v2/user/me/ and GET /api/v2/user/{id}/ — authenticate, read, answer with an ETag.
// A function of its own: its cold start loads no body parser, image code or S3 client.
import { rawPathId, requestMethod, userIdOf } from '../../http/api-event.ts';
import { lambdaEntry, type ApiHandler } from '../../http/api-entry.ts';
import { createAuthenticator } from '../../http/auth.ts';
import { readConfig, type Config } from '../../platform/config.ts';
import { corsHeaders } from '../../http/cors.ts';
import { createDynamoClient } from '../../store/dynamo-client.ts';
import { entityTag, matches, parseIfNoneMatch } from '../../http/etag.ts';
import { MethodNotAllowedError, NotFoundError } from '../../http/errors.ts';
import { errorResponse, headerValue, jsonResponse, type HttpResponse } from '../../http/response.ts';
import { createLogger } from '../../platform/log.ts';
import { logRequest } from '../../http/request-log.ts';
import { renderUser } from '../../users/user-record.ts';
import { UsersTable } from '../../store/users-table.ts';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export type Handler = ApiHandler;

// A user's answer may be stored by the browser but never used without asking again (the ETag
// makes asking again cheap); shared caches never store it, as it was read with a token.
const READ_CACHE_CONTROL = 'private, no-cache';

export function createHandler(config: Config, dynamo: DynamoDBClient = createDynamoClient(config)): Handler {
  const authenticate = createAuthenticator(config);

  return async (event, context) => {
    const started = performance.now();
    const log = createLogger({ requestId: context?.awsRequestId ?? event.requestContext?.requestId });
    const pathId = rawPathId(event);
    let response: HttpResponse;
    let failure: unknown;
    let userId: number | undefined;
    try {
      // Authentication comes first: without a valid token the answer is 401 whatever the path or
      // method (Django REST Framework authenticates before it looks for the method's handler).
      const sub = await authenticate(headerValue(event.headers, 'authorization'));
      const method = requestMethod(event);
      if (method !== 'GET') throw new MethodNotAllowedError(method, event.path ?? event.rawPath ?? '');
      const users = new UsersTable(dynamo, config.tableName);
      if (pathId === 'me') {
        userId = await users.userIdOfSub(sub);
      } else {
        userId = userIdOf(pathId);
      }
      const user = userId === undefined ? undefined : await users.getUser(userId);
      if (!user) throw new NotFoundError();
      // The owner's own fields (date of birth, current position) go to the owner's token only.
      const view = user.sub === sub ? 'owner' : 'public';
      const etag = entityTag(user.version);
      const cacheHeaders = { ETag: etag, 'Cache-Control': READ_CACHE_CONTROL };
      const ifNoneMatch = parseIfNoneMatch(headerValue(event.headers, 'if-none-match'));
      response =
        ifNoneMatch !== undefined && matches(ifNoneMatch, user.version)
          ? { statusCode: 304, headers: cacheHeaders, body: '' }
          : jsonResponse(200, renderUser(user, config.mediaBaseUrl, view), cacheHeaders);
    } catch (error) {
      failure = error;
      response = errorResponse(error);
    }
    Object.assign(response.headers, corsHeaders(config.corsAllowedOrigins, headerValue(event.headers, 'origin')));
    // One ETag, two bodies (the owner's view has the private fields): a browser must not answer
    // one token's request with what it kept from another's, not even after a 304.
    response.headers.Vary = [response.headers.Vary, 'Authorization'].filter(Boolean).join(', ');
    logRequest(log, {
      response,
      failure,
      userId: userId ?? userIdOf(pathId) ?? null,
      success: response.statusCode === 304 ? 'not_modified' : 'read',
      durationMs: performance.now() - started,
    });
    return response;
  };
}

/** The Lambda entry: configuration and clients are made once per container, on first use. */
export const handler: Handler = lambdaEntry(() => createHandler(readConfig()));
