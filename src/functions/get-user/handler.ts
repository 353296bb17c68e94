// GET /api/v2/user/me/ and GET /api/v2/user/{id}/ — read, answer with an ETag (src/http/frame.ts
// authenticates, routes, maps errors, adds CORS and logs).
// A function of its own: its cold start loads no body parser, image code or S3 client.
import { requestMethod } from '../../http/api-event.ts';
import { apiEntry, apiFunction, type ApiHandler, type ApiRequest } from '../../http/frame.ts';
import { readConfig, type Config } from '../../platform/config.ts';
import { createDynamoClient } from '../../store/dynamo-client.ts';
import { entityTag, matches, parseIfNoneMatch } from '../../http/etag.ts';
import { NotFoundError } from '../../http/errors.ts';
import { jsonResponse } from '../../http/response.ts';
import { renderUser } from '../../users/user-record.ts';
import { readGallery, renderAvatars } from '../../users/avatar-gallery.ts';
import { page, pageRequest, queryParameters } from '../../http/pagination.ts';
import { UsersTable } from '../../store/users-table.ts';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export type Handler = ApiHandler;

// A user's answer may be stored by the browser but never used without asking again (the ETag
// makes asking again cheap); shared caches never store it, as it may have been read with a token.
const READ_CACHE_CONTROL = 'private, no-cache';

export function createHandler(config: Config, dynamo: DynamoDBClient = createDynamoClient(config)): Handler {
  async function read(request: ApiRequest) {
    const { sub, pathId, header } = request;
    const users = new UsersTable(dynamo, config.tableName);
    if (pathId === 'me') request.userId = await users.userIdOfSub(sub);
    const user = request.userId === undefined ? undefined : await users.getUser(request.userId);
    if (!user) throw new NotFoundError();
    // The owner's own fields (date of birth, current position) go to the owner's token only.
    const view = !request.anonymous && user.sub === sub ? 'owner' : 'public';
    const cacheHeaders = { ETag: entityTag(user.version), 'Cache-Control': READ_CACHE_CONTROL };
    const ifNoneMatch = parseIfNoneMatch(header('if-none-match'));
    if (ifNoneMatch !== undefined && matches(ifNoneMatch, user.version)) {
      return { response: { statusCode: 304, headers: cacheHeaders, body: '' }, outcome: 'not_modified' };
    }
    return { response: jsonResponse(200, renderUser(user, config.mediaBaseUrl, view), cacheHeaders), outcome: 'read' };
  }

  // GET /api/v2/user/avatar/: the caller's own gallery, newest first, a page of it.
  async function avatars(request: ApiRequest) {
    const users = new UsersTable(dynamo, config.tableName);
    request.userId = await users.userIdOfSub(request.sub);
    const user = request.userId === undefined ? undefined : await users.getUser(request.userId);
    if (!user || user.sub !== request.sub) throw new NotFoundError();
    const all = renderAvatars(readGallery(user), user.id, config.mediaBaseUrl);
    const body = page(request.event, pageRequest(queryParameters(request.event)), all);
    return { response: jsonResponse(200, body), outcome: 'read' };
  }

  // One ETag, two bodies (the owner's view has the private fields): a browser must not answer
  // one token's request with what it kept from another's, not even after a 304.
  // A logged-out visitor reads a profile, as in the reference (contract, "Reading a user"), unless
  // the stage requires a token; `/me/` always needs one. An anonymous read is one consistent read.
  const anonymous = ({ event, path }: ApiRequest) =>
    !config.readRequiresToken && requestMethod(event) === 'GET' && path === 'user';
  return apiFunction(config, { routes: { user: { GET: read }, me: { GET: read }, avatar: { GET: avatars } }, vary: ['Authorization'], anonymous });
}

/** The Lambda entry: configuration and clients are made once per container, on first use. */
export const handler: Handler = apiEntry(() => createHandler(readConfig()));
