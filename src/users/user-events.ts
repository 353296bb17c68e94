// What one change of a user item means downstream: which image keys became held (tag them live),
// which are no longer held (delete them), and the event consumers receive. Pure: the stream
// function (src/functions/media-events/records.ts) does the calls.
import { heldImageKeys, renderUser, type User, type UserItem } from './user-record.ts';

export const EVENT_SOURCE = 'selfcommunity.users';
export type UserEventType = 'user.created' | 'user.updated';

/** The contract's event detail. Consumers deduplicate by `id` and `version`. */
export interface UserEventDetail {
  id: number;
  version: number;
  /** Fields of the User object that differ from before; on `user.created` every field. */
  changed: Array<keyof User>;
  user: User;
}

export interface UserEvent {
  detailType: UserEventType;
  detail: UserEventDetail;
}

export interface UserChange {
  /**
   * Every key the new item holds: to tag live. Not only the new ones: a change after a record
   * that ended in the dead-letter queue repairs the tag that record could not set.
   */
  held: string[];
  /** Keys the old item held that the new one does not: to delete. */
  released: string[];
  /** Absent when nothing a client sees changed (a no-op write still bumps `version`). */
  event?: UserEvent;
}

/** `before`/`after`: the item's old and new image (absent on insert / removal). */
export function userChange(before: UserItem | undefined, after: UserItem | undefined, mediaBaseUrl: string): UserChange {
  // The gallery's keys too: an avatar removed from the gallery is deleted here, like a replaced one.
  const oldKeys = heldImageKeys(before);
  const newKeys = heldImageKeys(after);
  const change: UserChange = {
    held: newKeys,
    released: oldKeys.filter((key) => !newKeys.includes(key)),
  };
  if (!after) return change;
  // The public view: private fields never leave the table through events, and a change of only
  // those (a new position) emits nothing, since even its timing would tell.
  const user = renderUser(after, mediaBaseUrl, 'public');
  const previous = before && renderUser(before, mediaBaseUrl, 'public');
  const changed = (Object.keys(user) as Array<keyof User>).filter(
    (field) => !previous || !sameValue(previous[field], user[field]),
  );
  if (previous && changed.length === 0) return change;
  change.event = {
    detailType: previous ? 'user.updated' : 'user.created',
    detail: { id: user.id, version: Number(after.version ?? 0), changed, user },
  };
  return change;
}

/** JSON values as the client sees them: equal when they serialize alike (tags are plain data). */
const sameValue = (a: unknown, b: unknown): boolean => a === b || JSON.stringify(a) === JSON.stringify(b);
