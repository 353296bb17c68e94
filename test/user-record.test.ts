import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { claimKey, renderUser, userKey, type UserItem } from '../lib/user-record.ts';
import { applyChanges } from '../lib/users-table.ts';

const item: UserItem = {
  pk: userKey(7),
  id: 7,
  sub: 'secret-sub',
  username: 'Ada',
  version: 3,
  date_joined: '2024-01-02T03:04:05.000Z',
  avatar_key: 'avatar/7/abc.png',
  bio: 'Hi',
};

describe('renderUser', () => {
  it('renders defaults, image URLs, and never the sub or storage keys', () => {
    const user = renderUser(item, 'https://media.example.org');
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

describe('keys', () => {
  it('claims are case-insensitive', () => {
    assert.equal(claimKey('Ada_Lovelace'), claimKey('ada_LOVELACE'));
    assert.equal(claimKey('Ada'), 'USERNAME#ada');
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
