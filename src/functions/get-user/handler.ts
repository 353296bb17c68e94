// GET /api/v2/user/me/ and GET /api/v2/user/{id}/ — read, answer with an ETag (src/http/frame.ts
// authenticates, routes, maps errors, adds CORS and logs). Settings and hidden users: ./settings-hidden.ts.
// A function of its own: its cold start loads no body parser, image code or S3 client.
import { requestMethod } from '../../http/api-event.ts';
import { apiEntry, apiFunction, lazyRoutes, type ApiHandler, type ApiRequest } from '../../http/frame.ts';
import { readConfig, type Config } from '../../platform/config.ts';
import { createDynamoClient } from '../../store/dynamo-client.ts';
import { entityTag, matches, parseIfNoneMatch } from '../../http/etag.ts';
import { NotFoundError } from '../../http/errors.ts';
import { jsonResponse } from '../../http/response.ts';
import { renderUser } from '../../users/user-record.ts';
import { readGallery, renderAvatars } from '../../users/avatar-gallery.ts';
import { page, pageRequest, queryParameters } from '../../http/pagination.ts';
import { UsersTable } from '../../store/users-table.ts';
import { communityReads } from './community.ts';
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
    // The ETag is the stored version in every view, /me/'s too: it is the one a PATCH's If-Match
    // names. What /me/ adds from the item (email, email_verified) moves the version when it
    // changes (the Post authentication trigger); its `role` comes from the token, and a token
    // with other groups is another Authorization, which `Vary` keeps apart (docs/users.md).
    const cacheHeaders = { ETag: entityTag(user.version), 'Cache-Control': READ_CACHE_CONTROL };
    const ifNoneMatch = parseIfNoneMatch(header('if-none-match'));
    if (ifNoneMatch !== undefined && matches(ifNoneMatch, user.version)) {
      return { response: { statusCode: 304, headers: cacheHeaders, body: '' }, outcome: 'not_modified' };
    }
    // The owner's own fields (date of birth, current position) go to the owner's token only, and
    // the caller's private fields (e-mail, role) to /me/ only: never to `/{id}/`, the owner's included.
    // (A sub index naming a user of another sub, a broken table, shows nothing private.)
    const own = !request.anonymous && user.sub === sub;
    const body = !own
      ? renderUser(user, config.mediaBaseUrl, 'public')
      : pathId === 'me'
        ? renderUser(user, config.mediaBaseUrl, 'me', request)
        : renderUser(user, config.mediaBaseUrl, 'owner');
    return { response: jsonResponse(200, body, cacheHeaders), outcome: 'read' };
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
  // The community's configuration is read before anyone signs in, in a private community too.
  const anonymous = ({ event, path }: ApiRequest) =>
    requestMethod(event) === 'GET' &&
    ((!config.readRequiresToken && path === 'user') || path === 'dynamic_preference' || path === 'feature');
  // The settings' and hidden users' reads are loaded by their first request: a cold start of a
  // profile read never reads their code.
  const settingsAndHidden = lazyRoutes(
    { settings: ['GET'], is_hidden: ['GET'], is_hidden_by: ['GET'], hidden_users: ['GET'], hidden_users_id: ['GET'] },
    () => import('./settings-hidden.ts').then(({ settingsAndHiddenReads }) => settingsAndHiddenReads(config, dynamo)),
  );
  const routes = { user: { GET: read }, me: { GET: read }, avatar: { GET: avatars }, ...settingsAndHidden, ...communityReads() };
  return apiFunction(config, { routes, vary: ['Authorization'], anonymous });
}

/** The Lambda entry: configuration and clients are made once per container, on first use. */
export const handler: Handler = apiEntry(() => createHandler(readConfig()));
