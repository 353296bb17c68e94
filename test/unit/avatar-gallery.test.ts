// The avatar gallery as a pure model (contract, "Avatars"; issue 15's data decisions): what a user
// item's gallery reads as, and what adding, making primary, removing and the seed's PATCH avatar
// leave behind. Expected values are written out from the contract.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addAvatar,
  galleryAttributes,
  makePrimary,
  readGallery,
  removeAvatar,
  renderAvatars,
  replacePrimary,
  type Gallery,
} from '../../src/users/avatar-gallery.ts';
import { ValidationError } from '../../src/http/errors.ts';
import { userChange } from '../../src/users/user-events.ts';
import type { UserItem } from '../../src/users/user-record.ts';

const BASE = 'https://media.example.org';
const JOINED = '2024-01-01T00:00:00.000Z';
const user = (fields: Partial<UserItem> = {}): UserItem => ({
  pk: 'USER#9', id: 9, sub: 'sub-9', username: 'nine', version: 3, date_joined: JOINED, ...fields,
});
const T1 = '2025-01-01T00:00:00.000Z';
const T2 = '2025-02-01T00:00:00.000Z';
const T3 = '2025-03-01T00:00:00.000Z';

/** Field errors of a ValidationError, as the envelope lists them. */
const fieldErrors = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ValidationError, String(error));
    return error.fields.map((f) => [f.field, f.messages.map((m) => m.code)]);
  }
  assert.fail('no error');
};
const status = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as { status?: number }).status;
  }
  assert.fail('no error');
};

const ids = (gallery: Gallery) => gallery.entries.map((e) => e.id);
const primaryId = (gallery: Gallery) => gallery.entries.find((e) => e.key === gallery.primaryKey)?.id;

describe('reading a gallery', () => {
  it('a user without avatars: an empty gallery, no primary', () => {
    const gallery = readGallery(user());
    assert.deepEqual(gallery, { entries: [], seq: 0, primaryKey: undefined });
    assert.deepEqual(renderAvatars(gallery, 9, BASE), []);
  });

  it('a user from before the gallery (avatar_key, no avatars): a gallery of one, id 1, uploaded when the user joined, primary', () => {
    const gallery = readGallery(user({ avatar_key: 'avatar/9/old.png' }));
    assert.deepEqual(renderAvatars(gallery, 9, BASE), [
      { id: 1, primary: true, avatar: `${BASE}/avatar/9/old.png`, date_uploaded: JOINED, user: 9 },
    ]);
    assert.equal(addAvatar(gallery, 'avatar/9/n.png', T1, 20).entries.at(-1)!.id, 2, 'the next id follows the legacy one');
  });

  it('Avatar objects newest first, exactly the contract’s fields; the primary is the one the user’s avatar names', () => {
    const item = user({
      avatars: [
        { id: 1, key: 'avatar/9/a.png', uploaded: T1 },
        { id: 4, key: 'avatar/9/b.png', uploaded: T2 },
        { id: 5, key: 'avatar/9/c.png', uploaded: T3 },
      ],
      avatar_seq: 6,
      avatar_key: 'avatar/9/b.png',
    });
    assert.deepEqual(renderAvatars(readGallery(item), 9, BASE), [
      { id: 5, primary: false, avatar: `${BASE}/avatar/9/c.png`, date_uploaded: T3, user: 9 },
      { id: 4, primary: true, avatar: `${BASE}/avatar/9/b.png`, date_uploaded: T2, user: 9 },
      { id: 1, primary: false, avatar: `${BASE}/avatar/9/a.png`, date_uploaded: T1, user: 9 },
    ]);
  });
});

describe('adding', () => {
  it('the first avatar becomes primary; the next ones do not (the primary stays)', () => {
    let gallery = addAvatar(readGallery(user()), 'avatar/9/a.png', T1, 20);
    assert.equal(primaryId(gallery), 1);
    gallery = addAvatar(gallery, 'avatar/9/b.png', T2, 20);
    assert.deepEqual(ids(gallery), [1, 2]);
    assert.equal(primaryId(gallery), 1);
  });

  it('new id = last id given out + 1, never a reused one', () => {
    let gallery = addAvatar(addAvatar(readGallery(user()), 'a', T1, 20), 'b', T2, 20);
    gallery = removeAvatar(gallery, 2);
    gallery = addAvatar(gallery, 'c', T3, 20);
    assert.deepEqual(ids(gallery), [1, 3]);
  });

  it('a gallery without a primary (it was removed): the new one becomes primary', () => {
    let gallery = addAvatar(addAvatar(readGallery(user()), 'a', T1, 20), 'b', T2, 20);
    gallery = removeAvatar(gallery, 1);
    assert.equal(gallery.primaryKey, undefined);
    gallery = addAvatar(gallery, 'c', T3, 20);
    assert.equal(primaryId(gallery), 3);
  });

  it('at most maxAvatars: one more is a field error max_avatars on avatar', () => {
    let gallery = readGallery(user());
    for (let i = 0; i < 3; i++) gallery = addAvatar(gallery, `k${i}`, T1, 3);
    assert.deepEqual(fieldErrors(() => addAvatar(gallery, 'k3', T1, 3)), [['avatar', ['max_avatars']]]);
    // A removal makes room again.
    assert.equal(addAvatar(removeAvatar(gallery, 2), 'k3', T1, 3).entries.length, 3);
  });
});

describe('making primary and removing', () => {
  const three = () => [1, 2, 3].reduce((g, i) => addAvatar(g, `k${i}`, T1, 20), readGallery(user()));

  it('make primary: that avatar, and only it, is primary', () => {
    const gallery = makePrimary(three(), 3);
    assert.equal(primaryId(gallery), 3);
    assert.equal(renderAvatars(gallery, 9, BASE).filter((a) => a.primary).length, 1);
  });

  it('an id not in the gallery is a 404, for either', () => {
    assert.equal(status(() => makePrimary(three(), 4)), 404);
    assert.equal(status(() => removeAvatar(three(), 4)), 404);
  });

  it('removing a non-primary avatar: the primary stays', () => {
    const gallery = removeAvatar(three(), 2);
    assert.deepEqual(ids(gallery), [1, 3]);
    assert.equal(primaryId(gallery), 1);
  });

  it('removing the primary: the user has no avatar, and no other avatar becomes primary', () => {
    const gallery = removeAvatar(three(), 1);
    assert.deepEqual(ids(gallery), [2, 3]);
    assert.equal(gallery.primaryKey, undefined);
    assert.ok(renderAvatars(gallery, 9, BASE).every((a) => !a.primary));
    assert.deepEqual(galleryAttributes(gallery).remove, ['avatar_key'], 'the user’s avatar becomes null');
  });
});

describe('the seed’s PATCH /{id}/ avatar', () => {
  const two = () => makePrimary(addAvatar(addAvatar(readGallery(user()), 'a', T1, 20), 'b', T2, 20), 1);

  it('a new avatar replaces the primary, which leaves the gallery', () => {
    const gallery = replacePrimary(two(), { key: 'c', uploaded: T3 }, 20);
    assert.deepEqual(gallery.entries.map((e) => e.key), ['b', 'c']);
    assert.equal(primaryId(gallery), 3);
  });

  it('where there is no primary, the new avatar becomes it', () => {
    const gallery = replacePrimary(removeAvatar(two(), 1), { key: 'c', uploaded: T3 }, 20);
    assert.deepEqual(gallery.entries.map((e) => e.key), ['b', 'c']);
    assert.equal(gallery.primaryKey, 'c');
  });

  it('avatar null removes the primary from the gallery; the others stay, none primary', () => {
    const gallery = replacePrimary(two(), null, 20);
    assert.deepEqual(gallery.entries.map((e) => e.key), ['b']);
    assert.equal(gallery.primaryKey, undefined);
  });

  it('a legacy user: the new avatar replaces the legacy one and gets id 2', () => {
    const gallery = replacePrimary(readGallery(user({ avatar_key: 'old' })), { key: 'new', uploaded: T3 }, 20);
    assert.deepEqual(gallery.entries, [{ id: 2, key: 'new', uploaded: T3 }]);
    assert.equal(gallery.primaryKey, 'new');
  });
});

describe('what the stream makes of gallery writes (src/users/user-events.ts)', () => {
  const item = (gallery: Gallery, version: number) => user({ ...(galleryAttributes(gallery).set as Partial<UserItem>), version });
  const start = addAvatar(addAvatar(readGallery(user()), 'avatar/9/a.png', T1, 20), 'avatar/9/b.png', T2, 20);

  it('every gallery key is held; a removed non-primary avatar is released (deleted); no user.updated', () => {
    const change = userChange(item(start, 4), item(removeAvatar(start, 2), 5), BASE);
    assert.deepEqual(change.held, ['avatar/9/a.png']);
    assert.deepEqual(change.released, ['avatar/9/b.png']);
    assert.equal(change.event, undefined, 'the User object did not change');
  });

  it('an added non-primary avatar: held, nothing released, no user.updated', () => {
    const change = userChange(item(start, 4), item(addAvatar(start, 'avatar/9/c.png', T3, 20), 5), BASE);
    assert.deepEqual(change.held.sort(), ['avatar/9/a.png', 'avatar/9/b.png', 'avatar/9/c.png']);
    assert.deepEqual(change.released, []);
    assert.equal(change.event, undefined);
  });

  it('a new primary: user.updated with changed ["avatar"], nothing released', () => {
    const change = userChange(item(start, 4), item(makePrimary(start, 2), 5), BASE);
    assert.deepEqual(change.released, []);
    assert.deepEqual(change.event?.detail.changed, ['avatar']);
    assert.equal(change.event?.detail.user.avatar, `${BASE}/avatar/9/b.png`);
  });
});
