// Applies a validated patch to a user: new images go to S3 first, then one conditional DynamoDB
// write (an UpdateItem, or a read and a transaction for a new username). If the write fails, the
// uploads are deleted; once it succeeds, the uploads are marked live and the replaced images
// deleted. Either way the user, its claim and its images are never left half-done.
import type { Logger } from './log.ts';
import type { MediaStore } from './media-store.ts';
import type { ImageUpload, Patch } from './patch-fields.ts';
import { isEmptyPatch } from './patch-fields.ts';
import { imageKeyAttribute, IMAGE_FIELDS, type ImageField, type UserItem } from './user-record.ts';
import type { ItemChanges, UsersTable } from './users-table.ts';

export interface PatchUserDeps {
  users: UsersTable;
  media: MediaStore;
  log: Logger;
}

export interface PatchUserInput {
  id: number;
  sub: string;
  patch: Patch;
}

export async function patchUser(deps: PatchUserDeps, { id, sub, patch }: PatchUserInput): Promise<UserItem> {
  const { users, media, log } = deps;
  if (isEmptyPatch(patch)) return users.getOwnedUser(id, sub);

  const uploads = plannedUploads(media, id, patch);
  const changes = itemChanges(patch, uploads);

  // The username path reads the user first; the uploads go out at the same time.
  const [uploadResults, read] = await Promise.all([
    Promise.allSettled(uploads.map((u) => media.putPending(u.key, u.image.bytes, u.image.info.mime))),
    patch.username === undefined ? undefined : settle(users.getOwnedUser(id, sub)),
  ]);
  const uploaded = uploads.filter((_, i) => uploadResults[i]!.status === 'fulfilled').map((u) => u.key);
  const uploadFailure = uploadResults.find((r): r is PromiseRejectedResult => r.status === 'rejected');

  let written: { before: UserItem; after: UserItem };
  try {
    if (uploadFailure) throw uploadFailure.reason;
    if (read === undefined || patch.username === undefined) {
      written = await users.update(id, sub, changes);
    } else {
      if (!read.ok) throw read.error;
      written = await users.rename(id, sub, patch.username, changes, read.value);
    }
  } catch (error) {
    await cleanUp(log, uploaded, (key) => media.delete(key), 'delete_unused_upload');
    throw error;
  }

  const replaced = IMAGE_FIELDS.filter((field) => field in patch.images)
    .map((field) => written.before[imageKeyAttribute(field)])
    .filter((key): key is string => !!key);
  await Promise.all([
    cleanUp(log, uploaded, (key) => media.markLive(key), 'mark_upload_live'),
    cleanUp(log, replaced, (key) => media.delete(key), 'delete_replaced_image'),
  ]);
  return written.after;
}

interface PlannedUpload {
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
 * Runs an S3 clean-up on each key, in parallel. A failure is logged, not thrown: the write's
 * outcome is what the caller must hear, and the lifecycle rule catches a pending object left over.
 */
async function cleanUp(log: Logger, keys: string[], action: (key: string) => Promise<void>, step: string) {
  const results = await Promise.allSettled(keys.map(action));
  results.forEach((result, i) => {
    if (result.status === 'rejected') {
      const error = result.reason as Error;
      log.error('media clean-up failed', { step, key: keys[i], error: error?.name });
    }
  });
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };
const settle = <T>(promise: Promise<T>): Promise<Settled<T>> =>
  promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
