// POST, PATCH and DELETE /api/v2/user/avatar/: the caller's own avatar gallery (contract,
// "Avatars"; docs/avatars.md). Each is one write of the user item, worked out from the user as
// read and conditioned on its version (src/store/users-table.ts updateFrom); a new avatar is
// uploaded (pending) before it, through the same path as PATCH /{id}/'s images (./write-path.ts).
import type { ApiRequest, Route } from '../../http/frame.ts';
import { NotFoundError } from '../../http/errors.ts';
import { queryParameters } from '../../http/pagination.ts';
import { parseBody, type RawFields } from '../../http/request-body.ts';
import { jsonResponse, type HttpResponse } from '../../http/response.ts';
import type { Config } from '../../platform/config.ts';
import type { AwsClients } from '../../store/aws-clients.ts';
import { MediaStore } from '../../store/media-uploads.ts';
import { UsersTable } from '../../store/users-table.ts';
import {
  addAvatar,
  galleryAttributes,
  makePrimary,
  readGallery,
  removeAvatar,
  renderAvatar,
  type Gallery,
} from '../../users/avatar-gallery.ts';
import { buildAvatarUpload, readAvatarId } from '../../users/patch-fields.ts';
import { heldImageKeys } from '../../users/user-record.ts';
import { normalizeImages } from './images.ts';
import { writeAfterUploads } from './write-path.ts';

/** A fresh answer each time: the frame adds its headers to the object. */
const noContent = (): HttpResponse => ({ statusCode: 204, headers: {}, body: '' });

export function avatarRoutes(config: Config, clients: AwsClients): Record<'POST' | 'PATCH' | 'DELETE', Route> {
  const tables = ({ deadline }: ApiRequest) => {
    const sendOptions = { abortSignal: deadline() };
    return {
      users: new UsersTable(clients.dynamo, config.tableName, sendOptions),
      media: new MediaStore(clients.s3, config.mediaBucket, sendOptions),
    };
  };
  const body = (request: ApiRequest, maxFileBytes: number): Promise<RawFields> =>
    parseBody(
      { body: request.event.body, isBase64Encoded: request.event.isBase64Encoded, contentType: request.header('content-type') },
      { maxBodyBytes: config.maxBodyBytes, maxFileBytes },
    );

  /** The caller's user id, from its sub index item; a caller without a user has no gallery (404). */
  async function ownId(request: ApiRequest, idOfSub: Promise<number | undefined>): Promise<number> {
    const id = await idOfSub;
    if (id === undefined) throw new NotFoundError();
    request.userId = id;
    return id;
  }

  /** A write without uploads: read the caller's user, then the gallery change, one transaction. */
  async function change(request: ApiRequest, id: number, next: (gallery: Gallery) => Gallery) {
    const { users } = tables(request);
    const read = await users.getUserToRename(id, request.sub);
    await users.updateFrom(id, request.sub, read, (current) => galleryAttributes(next(readGallery(current))));
  }

  async function post(request: ApiRequest) {
    const fields = await body(request, config.images.avatarMaxBytes);
    const upload = buildAvatarUpload(fields, config.images);
    const { users, media } = tables(request);
    // The sub index is read while the image is decoded; its failure waits for the image's.
    const idOfSub = users.userIdOfSub(request.sub);
    idOfSub.catch(() => {});
    const image = (await normalizeImages({ text: {}, images: { avatar: upload } }, config)).images.avatar!;
    const id = await ownId(request, idOfSub);
    const key = media.newKey('avatar', id, image.info.ext);
    const uploaded = new Date().toISOString();
    const { after } = await writeAfterUploads(
      { users, media, log: request.log },
      id,
      [{ field: 'avatar', key, image }],
      () => users.getUserToRename(id, request.sub),
      (read) =>
        users.updateFrom(id, request.sub, read!, (current) =>
          // Our fresh key already held: an attempt of ours landed, its answer lost.
          heldImageKeys(current).includes(key)
            ? undefined
            : galleryAttributes(addAvatar(readGallery(current), key, uploaded, config.maxAvatars)),
        ),
    );
    const gallery = readGallery(after);
    const entry = gallery.entries.find((e) => e.key === key)!;
    return { response: jsonResponse(201, renderAvatar(gallery, entry, id, config.mediaBaseUrl)), outcome: 'avatar_added' };
  }

  async function patch(request: ApiRequest) {
    const avatarId = readAvatarId(await body(request, 0));
    const id = await ownId(request, tables(request).users.userIdOfSub(request.sub));
    await change(request, id, (gallery) => makePrimary(gallery, avatarId));
    return { response: noContent(), outcome: 'avatar_primary' };
  }

  async function remove(request: ApiRequest) {
    const avatarId = readAvatarId(await body(request, 0), queryParameters(request.event));
    const id = await ownId(request, tables(request).users.userIdOfSub(request.sub));
    await change(request, id, (gallery) => removeAvatar(gallery, avatarId));
    return { response: noContent(), outcome: 'avatar_removed' };
  }

  return { POST: post, PATCH: patch, DELETE: remove };
}
