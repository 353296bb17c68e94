// PATCH /api/v2/user/{id}/ — parse, authenticate, validate, act, answer.
import { rawPathId, requestMethod, userIdOf, type ApiEvent, type LambdaContext } from '../lib/api-event.ts';
import { lambdaEntry, type ApiHandler } from '../lib/api-entry.ts';
import { createAuthenticator } from '../lib/auth.ts';
import { createAwsClients, type AwsClients } from '../lib/aws-clients.ts';
import { readConfig, type Config } from '../lib/config.ts';
import { corsHeaders } from '../lib/cors.ts';
import { entityTag, parseIfMatch } from '../lib/etag.ts';
import { MethodNotAllowedError, NotFoundError } from '../lib/errors.ts';
import { allowedMethods, errorResponse, headerValue, jsonResponse, type HttpResponse } from '../lib/http.ts';
import { createLogger } from '../lib/log.ts';
import { MediaStore } from '../lib/media-store.ts';
import { buildPatch, type Patch } from '../lib/patch-fields.ts';
import { patchUser } from '../lib/patch-user.ts';
import { parseBody } from '../lib/request-body.ts';
import { logRequest } from '../lib/request-log.ts';
import { renderUser } from '../lib/user-record.ts';
import { UsersTable } from '../lib/users-table.ts';

export type { ApiEvent, LambdaContext };

export type Handler = ApiHandler;

export function createHandler(config: Config, clients: AwsClients = createAwsClients(config)): Handler {
  const authenticate = createAuthenticator(config);
  const maxFileBytes = Math.max(config.images.avatarMaxBytes, config.images.coverMaxBytes);

  return async (event, context) => {
    const started = performance.now();
    const requestId = context?.awsRequestId ?? event.requestContext?.requestId;
    const log = createLogger({ requestId });
    const pathId = rawPathId(event);
    let response: HttpResponse;
    let failure: unknown;
    try {
      // Authentication comes first: without a valid token the answer is 401 whatever the path,
      // id or method (Django REST Framework authenticates before it looks for the method's handler).
      const sub = await authenticate(headerValue(event.headers, 'authorization'));
      const method = requestMethod(event);
      const path = event.path ?? event.rawPath ?? '';
      // `/me/` is read-only: a PATCH there is refused, not taken for a user called "me".
      if (method !== 'PATCH' || !allowedMethods(path).includes('PATCH')) {
        throw new MethodNotAllowedError(method, path);
      }
      const id = parseUserId(pathId);
      const ifMatch = parseIfMatch(headerValue(event.headers, 'if-match'));
      const fields = await parseBody(
        {
          body: event.body,
          isBase64Encoded: event.isBase64Encoded,
          contentType: headerValue(event.headers, 'content-type'),
        },
        { maxBodyBytes: config.maxBodyBytes, maxFileBytes },
      );
      const patch = await normalizeImages(buildPatch(fields, config.images), config);
      const sendOptions = { abortSignal: requestDeadline(config, context) };
      const users = new UsersTable(clients.dynamo, config.tableName, { ...sendOptions, ifMatch });
      const media = new MediaStore(clients.s3, config.mediaBucket, sendOptions);
      const user = await patchUser({ users, media, log }, { id, sub, patch });
      response = jsonResponse(200, renderUser(user, config.mediaBaseUrl), { ETag: entityTag(user.version) });
    } catch (error) {
      failure = error;
      response = errorResponse(error);
    }
    Object.assign(response.headers, corsHeaders(config.corsAllowedOrigins, headerValue(event.headers, 'origin')));
    logRequest(log, {
      response,
      failure,
      userId: userIdOf(pathId) ?? null,
      success: 'updated',
      durationMs: performance.now() - started,
    });
    return response;
  };
}

/**
 * New images are decoded and re-encoded before anything is stored. The module (and sharp behind
 * it) is imported only here, when the patch carries an image: a text-only request never loads it.
 */
async function normalizeImages(patch: Patch, config: Config): Promise<Patch> {
  if (!Object.values(patch.images).some(Boolean)) return patch;
  const { normalizeImages: normalize } = await import('../lib/image-normalize.ts');
  return normalize(patch, config.images);
}

/**
 * Each AWS call attempt has its own timeout, but a slow DynamoDB after a slow S3 could still add
 * up past the Lambda timeout. Uploads and writes stop when the invocation has only enough time
 * left for one more call (deleting the uploads of a write that was never sent, or a read that
 * tells a refused write from our own), and the answer is a 503 with `Retry-After`.
 */
function requestDeadline(config: Config, context: LambdaContext | undefined): AbortSignal | undefined {
  const remaining = context?.getRemainingTimeInMillis?.();
  if (remaining === undefined) return undefined;
  return AbortSignal.timeout(Math.max(0, remaining - config.awsRequestTimeoutMs - 500));
}

function parseUserId(raw: string | undefined): number {
  const id = userIdOf(raw);
  if (id === undefined) throw new NotFoundError();
  return id;
}

/** The Lambda entry: configuration and clients are made once per container, on first use. */
export const handler: Handler = lambdaEntry(() => createHandler(readConfig()));
