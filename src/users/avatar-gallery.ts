// The avatar gallery (contract, "Avatars"), a pure model over the user item. The gallery lives in
// the user item (docs/avatars.md says why): `avatars`, the entries in upload order, and
// `avatar_seq`, the last id given out (ids are never reused). `avatar_key` stays the primary's
// object key, and the primary is the entry holding that key: "at most one primary" and "the
// user's avatar is the primary's URL" hold by construction. An item from before the gallery
// (`avatar_key`, no `avatars`) reads as a gallery of one; the first write stores it as such.
import { NotFoundError, ValidationError } from '../http/errors.ts';
import { mediaUrl, type GalleryEntry, type UserItem } from './user-record.ts';

export type { GalleryEntry };

export interface Gallery {
  /** In upload order (increasing ids). */
  entries: readonly GalleryEntry[];
  /** The last id given out. */
  seq: number;
  /** The primary's key (`avatar_key`); undefined when the user has no avatar. */
  primaryKey: string | undefined;
}

/** The contract's Avatar object. */
export interface Avatar {
  id: number;
  primary: boolean;
  avatar: string;
  date_uploaded: string;
  user: number;
}

/** The gallery's own attributes of the user item (IAM lets the API write these, besides avatar_key). */
export const GALLERY_ATTRIBUTES = ['avatars', 'avatar_seq'] as const;

export const MAX_AVATARS_MESSAGE = (max: number) => `A gallery holds at most ${max} avatars; remove one first.`;

export function readGallery(item: Pick<UserItem, 'avatars' | 'avatar_seq' | 'avatar_key' | 'date_joined'>): Gallery {
  if (item.avatars !== undefined) {
    return { entries: item.avatars, seq: item.avatar_seq ?? maxId(item.avatars), primaryKey: item.avatar_key };
  }
  if (item.avatar_key !== undefined) {
    return { entries: [{ id: 1, key: item.avatar_key, uploaded: item.date_joined }], seq: 1, primaryKey: item.avatar_key };
  }
  return { entries: [], seq: item.avatar_seq ?? 0, primaryKey: undefined };
}

const maxId = (entries: readonly GalleryEntry[]) => entries.reduce((max, entry) => Math.max(max, entry.id), 0);

/** Every object key the gallery holds, the primary's included. */
export const galleryKeys = (gallery: Gallery): string[] => gallery.entries.map((entry) => entry.key);

/** The avatars as the contract answers them: newest first. */
export function renderAvatars(gallery: Gallery, userId: number, mediaBaseUrl: string): Avatar[] {
  return [...gallery.entries].reverse().map((entry) => renderAvatar(gallery, entry, userId, mediaBaseUrl));
}

export function renderAvatar(gallery: Gallery, entry: GalleryEntry, userId: number, mediaBaseUrl: string): Avatar {
  return {
    id: entry.id,
    primary: entry.key === gallery.primaryKey,
    avatar: mediaUrl(mediaBaseUrl, entry.key),
    date_uploaded: entry.uploaded,
    user: userId,
  };
}

/**
 * A new avatar: id `seq + 1`, primary only when there is no primary. One more than `maxAvatars` is
 * a field error `max_avatars` on `avatar`.
 */
export function addAvatar(gallery: Gallery, key: string, uploaded: string, maxAvatars: number): Gallery {
  if (gallery.entries.length >= maxAvatars) throw maxAvatarsError(maxAvatars);
  const entry = { id: gallery.seq + 1, key, uploaded };
  return { entries: [...gallery.entries, entry], seq: entry.id, primaryKey: gallery.primaryKey ?? key };
}

/** Avatar `id` becomes primary; an id not in the gallery is a 404. */
export function makePrimary(gallery: Gallery, id: number): Gallery {
  return { ...gallery, primaryKey: entryOf(gallery, id).key };
}

/**
 * Avatar `id` leaves the gallery; removing the primary leaves the user without one (the stock UI
 * picks another itself). An id not in the gallery is a 404.
 */
export function removeAvatar(gallery: Gallery, id: number): Gallery {
  const entry = entryOf(gallery, id);
  return {
    entries: gallery.entries.filter((e) => e.id !== id),
    seq: gallery.seq,
    primaryKey: gallery.primaryKey === entry.key ? undefined : gallery.primaryKey,
  };
}

/**
 * The meaning of `avatar` in `PATCH /api/v2/user/{id}/`: a new image replaces the primary (which
 * leaves the gallery) or becomes the primary where there is none; `null` removes the primary
 * from the gallery.
 */
export function replacePrimary(
  gallery: Gallery,
  upload: { key: string; uploaded: string } | null,
  maxAvatars: number,
): Gallery {
  const withoutPrimary: Gallery = {
    entries: gallery.entries.filter((entry) => entry.key !== gallery.primaryKey),
    seq: gallery.seq,
    primaryKey: undefined,
  };
  return upload ? addAvatar(withoutPrimary, upload.key, upload.uploaded, maxAvatars) : withoutPrimary;
}

/** The entry with `id`, or a 404: an id not in the caller's gallery is not found. */
export function entryOf(gallery: Gallery, id: number): GalleryEntry {
  const entry = gallery.entries.find((e) => e.id === id);
  if (!entry) throw new NotFoundError();
  return entry;
}

/** The attributes a gallery write stores: the whole gallery (it is small) and the primary's key. */
export function galleryAttributes(gallery: Gallery): { set: Record<string, unknown>; remove: string[] } {
  const set: Record<string, unknown> = {
    avatars: gallery.entries.map(({ id, key, uploaded }) => ({ id, key, uploaded })),
    avatar_seq: gallery.seq,
  };
  if (gallery.primaryKey === undefined) return { set, remove: ['avatar_key'] };
  set.avatar_key = gallery.primaryKey;
  return { set, remove: [] };
}

const maxAvatarsError = (max: number) => ValidationError.single('avatar', 'max_avatars', MAX_AVATARS_MESSAGE(max));
