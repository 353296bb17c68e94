import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { heldClaimKey, legacyClaimKey, renderUser, roleOf, userKey, type UserItem } from '../../src/users/user-record.ts';
import { poolEmail } from '../../src/users/pool-email.ts';
import { claimKey } from '../../src/users/username-keys.ts';
import { applyChanges } from '../../src/store/users-table.ts';

const item: UserItem = {
  pk: userKey(7),
  id: 7,
  sub: 'secret-sub',
  username: 'Ada',
  version: 3,
  date_joined: '2024-01-02T03:04:05.000Z',
  avatar_key: 'avatar/7/abc.png',
  bio: 'Hi',
  date_of_birth: '1815-12-10',
  position_lat_lng: '51.5,-0.12',
};

describe('renderUser', () => {
  it('renders defaults, image URLs, and never the sub or storage keys', () => {
    const user = renderUser(item, 'https://media.example.org', 'owner');
    assert.equal(user.avatar, 'https://media.example.org/avatar/7/abc.png');
    assert.equal(user.cover, null);
    assert.equal(user.gender, 'Unspecified');
    assert.equal(user.language, 'en');
    assert.equal(user.website, '');
    assert.equal(user.followers_counter, 0);
    assert.deepEqual(user.tags, []);
    const text = JSON.stringify(user);
    for (const hidden of ['secret-sub', 'avatar_key', '"pk"', '"version"', '"sub"']) assert.ok(!text.includes(hidden), hidden);
  });
});

describe('privacy (contract, "Reading a user")', () => {
  it('the owner sees date_of_birth and position_lat_lng; everyone else gets ""', () => {
    const owner = renderUser(item, 'https://media.example.org', 'owner');
    assert.equal(owner.date_of_birth, '1815-12-10');
    assert.equal(owner.position_lat_lng, '51.5,-0.12');
    const visitor = renderUser(item, 'https://media.example.org', 'public');
    assert.equal(visitor.date_of_birth, '');
    assert.equal(visitor.position_lat_lng, '');
    assert.equal(visitor.bio, 'Hi', 'the rest is the same');
    assert.deepEqual({ ...visitor, date_of_birth: owner.date_of_birth, position_lat_lng: owner.position_lat_lng }, owner);
  });
});

describe('/me/’s private fields (contract, "Reading a user")', () => {
  const withEmail: UserItem = { ...item, email: 'ada@example.org', email_verified: true };
  const PRIVATE = ['email', 'email_isvalid', 'role'];

  it('the me view is the owner’s User object plus email, email_isvalid and role', () => {
    const me = renderUser(withEmail, 'https://media.example.org', 'me', { groups: ['moderator'] });
    const owner = renderUser(withEmail, 'https://media.example.org', 'owner');
    assert.deepEqual(me, { ...owner, email: 'ada@example.org', email_isvalid: true, role: 'moderator' });
    assert.equal(me.date_of_birth, '1815-12-10', 'the owner’s own fields too');
  });

  it('the owner and public views never carry them, nor the stored attributes’ names', () => {
    for (const view of ['owner', 'public'] as const) {
      const user = renderUser(withEmail, 'https://media.example.org', view) as unknown as Record<string, unknown>;
      for (const name of [...PRIVATE, 'email_verified']) assert.ok(!(name in user), `${view} has ${name}`);
      assert.ok(!JSON.stringify(user).includes('ada@example.org'), view);
    }
  });

  it('a user without a mirrored e-mail: "" and false', () => {
    const me = renderUser(item, 'https://media.example.org', 'me', { groups: [] });
    assert.equal(me.email, '');
    assert.equal(me.email_isvalid, false);
    assert.equal(me.role, null);
  });

  it('role: only the groups admin, moderator and editor, case as Cognito writes them; admin over moderator over editor', () => {
    assert.equal(roleOf([]), null);
    assert.equal(roleOf(['admin']), 'admin');
    assert.equal(roleOf(['moderator']), 'moderator');
    assert.equal(roleOf(['editor']), 'editor');
    assert.equal(roleOf(['editor', 'moderator']), 'moderator');
    assert.equal(roleOf(['editor', 'admin', 'moderator']), 'admin');
    assert.equal(roleOf(['readers', 'editor']), 'editor');
    for (const other of ['Admin', 'ADMIN', 'Moderator', 'Editor', 'admins', ' admin', 'staff', 'superuser', 'administrator']) {
      assert.equal(roleOf([other]), null, other);
    }
  });

  it('the pool’s attributes as mirrored: email_verified only for the string "true"', () => {
    assert.deepEqual(poolEmail({ email: 'a@example.org', email_verified: 'true' }), { email: 'a@example.org', email_verified: true });
    assert.deepEqual(poolEmail({ email: 'a@example.org', email_verified: 'false' }), { email: 'a@example.org', email_verified: false });
    assert.deepEqual(poolEmail({ email: 'a@example.org' }), { email: 'a@example.org', email_verified: false });
    assert.deepEqual(poolEmail({ phone_number: '+390000000' }), { email: '', email_verified: false });
    assert.deepEqual(poolEmail({ email: ['a@example.org'], email_verified: ['true'] }), { email: '', email_verified: false });
    assert.deepEqual(poolEmail({ email: 'a@example.org', email_verified: 'TRUE' }), { email: 'a@example.org', email_verified: false });
  });
});

describe('keys', () => {
  it('claims are case-insensitive', () => {
    assert.equal(claimKey('Ada_Lovelace'), claimKey('ada_LOVELACE'));
    assert.equal(claimKey('Ada'), 'USERNAME#ada');
  });

  it('lookalikes share one claim: NFKC, then the confusable skeleton of UTS #39', () => {
    // Full-width, Cyrillic а (U+0430), rn for m, 1 and I for l, 0 for O: all one name.
    for (const name of ['ａｄｍｉｎ', '\u0430dmin', 'adrnin', 'ADMIN']) assert.equal(claimKey(name), claimKey('admin'), name);
    assert.equal(claimKey('pau1'), claimKey('PAUL'));
    assert.equal(claimKey('r00t'), claimKey('root'));
    assert.notEqual(claimKey('ada'), claimKey('adb'));
  });

  it('a user from before lookalike keys holds the lower-case claim; later users the one they name', () => {
    assert.equal(legacyClaimKey('William'), 'USERNAME#william');
    assert.equal(heldClaimKey({ username: 'William' }), 'USERNAME#william');
    assert.equal(heldClaimKey({ username: 'William', username_claim: claimKey('William') }), claimKey('william'));
  });
});

describe('applyChanges', () => {
  it('sets, removes and bumps the version, as the update does', () => {
    const next = applyChanges(item, { set: { real_name: 'Ada L' }, remove: ['bio', 'avatar_key'] }, 'ada2');
    assert.equal(next.real_name, 'Ada L');
    assert.equal(next.bio, undefined);
    assert.equal(next.avatar_key, undefined);
    assert.equal(next.username, 'ada2');
    assert.equal(next.version, 4);
    assert.equal(item.bio, 'Hi', 'the input is not changed');
  });
});
