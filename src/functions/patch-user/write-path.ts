// Applies a validated patch to a user: new images go to S3 first (tagged pending), then one
// conditional DynamoDB write, a transaction that also checks the owner (src/store/users-table.ts; for a
// new username, a read and then the transaction).
//
// After the write the handler touches S3 no more: the table's stream (src/functions/media-events/handler.ts)
// tags the keys a user now holds live and deletes the ones it no longer holds. That is what makes
// a lost answer harmless: whatever a retried write says, nothing it replaced is deleted here.
//
// Uploads are deleted only when the write definitely did not happen (a condition or a validation
// said no, or it was never sent). When its outcome is unknown (a timeout, a lost connection, a 5xx,
// the request deadline) they stay: if the write landed the stream marks them live, if not the
// bucket's lifecycle rule expires them as pending.
import { ApiError, WriteOutcomeUnknownError } from '../../http/errors.ts';
import type { Logger } from '../../platform/log.ts';
import type { MediaStore } from '../../store/media-uploads.ts';
import type { ImageUpload, Patch } from '../../users/patch-fields.ts';
import { isEmptyPatch } from '../../users/patch-fields.ts';
import { heldImageKeys, imageKeyAttribute, IMAGE_FIELDS, type ImageField, type UserItem } from '../../users/user-record.ts';
import { galleryAttributes, readGallery, replacePrimary } from '../../users/avatar-gallery.ts';
import { ConcurrentChangeError } from '../../http/errors.ts';
import type { ChangesOf, ItemChanges, Preconditions, UsersTable } from '../../store/users-table.ts';

export interface PatchUserDeps {
  users: UsersTable;
  media: MediaStore;
  log: Logger;
  /** Most avatars in a gallery (config MAX_AVATARS): a new avatar where there is no primary adds one. */
  maxAvatars: number;
}

export interface PatchUserInput {
  id: number;
  sub: string;
  patch: Patch;
  /** The request's If-Match and If-None-Match, part of the write's own condition. */
  preconditions?: Preconditions;
}

export async function patchUser(deps: PatchUserDeps, { id, sub, patch, preconditions }: PatchUserInput): Promise<UserItem> {
  const { users, media, maxAvatars } = deps;
  if (isEmptyPatch(patch)) return users.getOwnedUser(id, sub, preconditions);

  const uploads = plannedUploads(media, id, patch);
  const changes = itemChanges(patch, uploads);
  // A new avatar (or its removal) changes the gallery, which the write works out from the user as
  // read: the primary leaves it, the new one joins it (contract, "Avatars").
  const avatar = 'avatar' in patch.images ? (uploads.find((u) => u.field === 'avatar') ?? null) : undefined;
  const uploaded = new Date().toISOString();
  const changesOf: ChangesOf | undefined =
    avatar === undefined
      ? undefined
      : (current) => {
          // Our own fresh key already held: a retry of ours landed, the user as read is the answer.
          if (avatar && heldImageKeys(current).includes(avatar.key)) return undefined;
          const gallery = replacePrimary(readGallery(current), avatar && { key: avatar.key, uploaded }, maxAvatars);
          const gallerySet = galleryAttributes(gallery);
          const set = { ...changes.set, ...gallerySet.set };
          for (const name of gallerySet.remove) delete set[name];
          // One action per attribute: `avatar_key` is set or removed by the gallery, not both.
          const remove = [...new Set([...changes.remove, ...gallerySet.remove])].filter((name) => !(name in set));
          return { set, remove };
        };
  // The username and the avatar read the user first; the uploads go out at the same time.
  const read = patch.username !== undefined || changesOf ? () => users.getUserToRename(id, sub) : undefined;
  return writeAfterUploads(deps, id, uploads, read, async (current) => {
    if (patch.username !== undefined) return (await users.rename(id, sub, patch.username, changesOf ?? changes, current!, preconditions)).after;
    if (changesOf) return (await users.updateFrom(id, sub, current!, changesOf, preconditions)).after;
    return (await users.update(id, sub, changes, preconditions)).after;
  });
}

/**
 * The uploads, tagged pending, in parallel with the read of the user where the write needs one;
 * then the write. The uploads are deleted when the write was definitely not applied, and kept when
 * its outcome is unknown (the stream or the lifecycle rule decides then). Every write with images
 * goes through here: PATCH /{id}/ and the gallery's POST.
 */
export async function writeAfterUploads<T>(
  { users, media, log }: Pick<PatchUserDeps, 'users' | 'media' | 'log'>,
  id: number,
  uploads: readonly PlannedUpload[],
  read: (() => Promise<UserItem>) | undefined,
  write: (read: UserItem | undefined) => Promise<T>,
): Promise<T> {
  const [uploadResults, readResult] = await Promise.all([
    Promise.allSettled(uploads.map((u) => media.putPending(u.key, u.image.bytes, u.image.info.mime))),
    read === undefined ? undefined : settle(read()),
  ]);
  const uploadFailure = uploadResults.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  // Every planned key, not only the confirmed ones: an upload whose answer was lost may exist.
  const keys = uploads.map((u) => u.key);

  if (uploadFailure || (readResult && !readResult.ok)) {
    // The write was never sent: nothing can point at the uploads.
    await deleteUnusedUploads(log, media, keys);
    throw uploadFailure ? uploadFailure.reason : (readResult as { error: unknown }).error;
  }

  try {
    return await write(readResult?.value);
  } catch (error) {
    if (keys.length === 0 || !saidNo(error)) throw error;
    // A condition said no. If an earlier attempt of the same call was applied and only its answer
    // was lost, the "no" may be about our own write (the SDK retries timeouts): the fresh keys
    // tell, since only this request can have written them.
    let held: string[];
    try {
      held = await users.heldImageKeys(id);
    } catch {
      // Cannot tell: leave the uploads to the stream or the lifecycle rule.
      throw error;
    }
    if (keys.some((key) => held.includes(key))) throw new WriteOutcomeUnknownError(error);
    await deleteUnusedUploads(log, media, keys);
    throw error;
  }
}

/**
 * The write was refused, so it was not applied: a failed condition (404, 403, a taken username,
 * a precondition, a concurrent change) or a cancelled transaction. Anything else (timeouts, lost
 * connections, 5xx, throttling past the retries, aborts, bugs) leaves its outcome unknown.
 */
function saidNo(error: unknown): boolean {
  if (error instanceof ConcurrentChangeError) return true;
  if (error instanceof ApiError) return error.status >= 400 && error.status < 500;
  return error instanceof Error && error.name === 'TransactionCanceledException';
}

export interface PlannedUpload {
  field: ImageField;
  key: string;
  image: ImageUpload;
}

function plannedUploads(media: MediaStore, id: number, patch: Patch): PlannedUpload[] {
  const planned: PlannedUpload[] = [];
  for (const field of IMAGE_FIELDS) {
    const image = patch.images[field];
    if (image) planned.push({ field, key: media.newKey(field, id, image.info.ext), image });
  }
  return planned;
}

/** The attributes a patch sets and removes, with image fields pointing at their new keys. */
export function itemChanges(patch: Patch, uploads: readonly PlannedUpload[]): ItemChanges {
  const changes: ItemChanges = { set: {}, remove: [] };
  for (const [field, value] of Object.entries(patch.text)) {
    if (value === '') changes.remove.push(field);
    else changes.set[field] = value;
  }
  for (const field of IMAGE_FIELDS) {
    if (!(field in patch.images)) continue;
    const upload = uploads.find((u) => u.field === field);
    if (upload) changes.set[imageKeyAttribute(field)] = upload.key;
    else changes.remove.push(imageKeyAttribute(field));
  }
  return changes;
}

/**
 * Deletes uploads no write points at, in parallel. A failure is logged, not thrown: the write's
 * outcome is what the caller must hear, and the lifecycle rule expires a pending object left over.
 */
async function deleteUnusedUploads(log: Logger, media: MediaStore, keys: string[]) {
  const results = await Promise.allSettled(keys.map((key) => media.delete(key)));
  results.forEach((result, i) => {
    if (result.status === 'rejected') {
      const error = result.reason as Error;
      log.error('media clean-up failed', { step: 'delete_unused_upload', key: keys[i], error: error?.name });
    }
  });
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };
const settle = <T>(promise: Promise<T>): Promise<Settled<T>> =>
  promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
