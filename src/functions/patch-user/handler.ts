// PATCH /api/v2/user/{id}/ — parse, validate, act, answer (src/http/frame.ts authenticates,
// routes, maps errors, adds CORS and logs). The gallery: ./avatar-routes.ts; settings and hiding
// users: ./settings-hidden.ts.
import { pathUserId, type ApiEvent, type LambdaContext } from '../../http/api-event.ts';
import { apiEntry, apiFunction, lazyRoutes, type ApiHandler, type ApiRequest } from '../../http/frame.ts';
import { createAwsClients, type AwsClients } from '../../store/aws-clients.ts';
import { readConfig, type Config } from '../../platform/config.ts';
import { entityTag, parseIfMatch, parseWriteIfNoneMatch } from '../../http/etag.ts';
import { jsonResponse } from '../../http/response.ts';
import { MediaStore } from '../../store/media-uploads.ts';
import { buildPatch, IMAGE_BODY_FIELDS, type InspectImage } from '../../users/patch-fields.ts';
import { normalizeImages } from './images.ts';
import { patchUser } from './write-path.ts';
import { parseBody } from '../../http/request-body.ts';
import { renderUser } from '../../users/user-record.ts';
import { UsersTable } from '../../store/users-table.ts';
import { isImageWorker } from '../../images/worker-flag.ts';

// The image pipeline forks the file it was bundled into as its worker: its own chunk in the
// deployed (code-split) artifact, this entry in a single-file build, where loading it starts the
// worker's loop.
if (isImageWorker()) await import('../../images/normalize.ts');

export type { ApiEvent, LambdaContext };

export type Handler = ApiHandler;

export function createHandler(config: Config, clients: AwsClients = createAwsClients(config)): Handler {
  const maxFileBytes = Math.max(config.images.avatarMaxBytes, config.images.coverMaxBytes);
  // The reserved-name check carries Unicode's confusables (about 120 KB): loaded by the first
  // request that sends a username, so a cold start and every other patch never read it.
  let reserved: Promise<(username: string) => boolean> | undefined;
  const reservedCheck = () =>
    (reserved ??= import('../../users/username-keys.ts').then(({ reservedNames }) => reservedNames(config.reservedUsernames)));
  // The images' header pre-check (every format's walk): loaded by the first request with an image.
  const headerCheck = () => import('../../images/header-check.ts').then(({ inspectImage }) => inspectImage);

  async function patch({ event, log, sub, pathId, header, deadline }: ApiRequest) {
    const id = pathUserId(pathId);
    const ifMatch = parseIfMatch(header('if-match'));
    const ifNoneMatch = parseWriteIfNoneMatch(header('if-none-match'));
    const fields = await parseBody(
      { body: event.body, isBase64Encoded: event.isBase64Encoded, contentType: header('content-type') },
      { maxBodyBytes: config.maxBodyBytes, maxFileBytes },
    );
    const isReserved = fields.has('username') ? await reservedCheck() : NO_USERNAME_SENT;
    const inspect = IMAGE_BODY_FIELDS.some((name) => fields.has(name)) ? await headerCheck() : NO_IMAGE_SENT;
    const patch = await normalizeImages(buildPatch(fields, config.images, isReserved, inspect), config);
    const sendOptions = { abortSignal: deadline() };
    const users = new UsersTable(clients.dynamo, config.tableName, sendOptions);
    const media = new MediaStore(clients.s3, config.mediaBucket, sendOptions);
    const user = await patchUser(
      { users, media, log, maxAvatars: config.maxAvatars },
      { id, sub, patch, preconditions: { ifMatch, ifNoneMatch } },
    );
    const response = jsonResponse(200, renderUser(user, config.mediaBaseUrl, 'owner'), { ETag: entityTag(user.version) });
    return { response, outcome: 'updated' };
  }

  // The gallery's, the settings' and the hide toggle's code is loaded by their first request, so
  // a cold start of PATCH /{id}/ reads none of it (bench: own code at start).
  const gallery = lazyRoutes({ avatar: ['POST', 'PATCH', 'DELETE'] }, () =>
    import('./avatar-routes.ts').then(({ avatarRoutes }) => ({ avatar: avatarRoutes(config, clients) })),
  );
  const settingsAndHiding = lazyRoutes({ settings: ['PATCH'], hide: ['POST'] }, () =>
    import('./settings-hidden.ts').then(({ settingsAndHiddenWrites }) => settingsAndHiddenWrites(config, clients.dynamo)),
  );
  return apiFunction(config, { routes: { user: { PATCH: patch }, ...gallery, ...settingsAndHiding } });
}

/** For a body without a username, whose validation never asks. */
const NO_USERNAME_SENT = (): boolean => {
  throw new Error('the reserved-name check was not loaded for a body with a username');
};

/** For a body without an image, whose validation never asks. */
const NO_IMAGE_SENT: InspectImage = () => {
  throw new Error('the header check was not loaded for a body with an image');
};

/** The Lambda entry: configuration and clients are made once per container, on first use. */
export const handler: Handler = apiEntry(() => createHandler(readConfig()));
