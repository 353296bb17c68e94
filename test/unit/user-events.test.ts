// What one change of a user item means for S3 and for consumers (pure logic), and the stream
// function's configuration, which needs no Cognito settings.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readStreamConfig } from '../../src/functions/media-events/config.ts';
import { userChange } from '../../src/users/user-events.ts';
import type { UserItem } from '../../src/users/user-record.ts';

const BASE = 'https://media.example.org';
const user = (fields: Partial<UserItem> = {}): UserItem => ({
  pk: 'USER#9', id: 9, sub: 'sub-9', username: 'nine', version: 3, date_joined: '2024-01-01T00:00:00.000Z', ...fields,
});

describe('userChange', () => {
  it('a replaced avatar: the new key to tag, the old to delete, user.updated naming avatar', () => {
    const change = userChange(user({ avatar_key: 'avatar/9/a.png' }), user({ avatar_key: 'avatar/9/b.png', version: 4 }), BASE);
    assert.deepEqual(change.held, ['avatar/9/b.png']);
    assert.deepEqual(change.released, ['avatar/9/a.png']);
    assert.equal(change.event?.detailType, 'user.updated');
    assert.deepEqual(change.event?.detail.changed, ['avatar']);
    assert.equal(change.event?.detail.version, 4);
    assert.equal(change.event?.detail.user.avatar, `${BASE}/avatar/9/b.png`);
  });
  it('only the version bumped (values equal to the stored ones): no event; the held key tagged again', () => {
    const change = userChange(user({ bio: 'x', avatar_key: 'avatar/9/a.png' }), user({ bio: 'x', avatar_key: 'avatar/9/a.png', version: 4 }), BASE);
    assert.deepEqual(change, { held: ['avatar/9/a.png'], released: [] });
  });
  it('a cleared field and a default: gender "" to Unspecified is no change, bio removed is', () => {
    const change = userChange(user({ bio: 'was', gender: 'Unspecified' }), user({ version: 4 }), BASE);
    assert.deepEqual(change.event?.detail.changed, ['bio']);
  });
  it('the event’s user is the public view: date_of_birth and position_lat_lng are "" (contract, "Events")', () => {
    const before = user({ date_of_birth: '1990-04-01', position_lat_lng: '45.4,9.1' });
    const after = user({ date_of_birth: '1990-04-01', position_lat_lng: '45.4,9.1', bio: 'new', version: 4 });
    const change = userChange(before, after, BASE);
    assert.deepEqual(change.event?.detail.changed, ['bio']);
    assert.equal(change.event?.detail.user.date_of_birth, '');
    assert.equal(change.event?.detail.user.position_lat_lng, '');
    const created = userChange(undefined, after, BASE);
    assert.equal(created.event?.detail.user.date_of_birth, '');
    assert.equal(created.event?.detail.user.position_lat_lng, '');
    assert.ok(!JSON.stringify(created.event).includes('1990-04-01') && !JSON.stringify(created.event).includes('45.4'));
  });
  it('a change of private fields only emits nothing: even its timing would tell (a new position)', () => {
    const change = userChange(user({ position_lat_lng: '45.4,9.1' }), user({ position_lat_lng: '48.8,2.3', date_of_birth: '2000-01-01', version: 4 }), BASE);
    assert.equal(change.event, undefined);
  });
  it('an insert: user.created listing every field; a removal: its images deleted, no event', () => {
    const created = userChange(undefined, user({ cover_key: 'cover/9/c.jpg' }), BASE);
    assert.equal(created.event?.detailType, 'user.created');
    assert.equal(created.event?.detail.changed.length, 30);
    assert.deepEqual(created.held, ['cover/9/c.jpg']);
    const removed = userChange(user({ cover_key: 'cover/9/c.jpg' }), undefined, BASE);
    assert.deepEqual(removed, { held: [], released: ['cover/9/c.jpg'] });
  });
});

describe('readStreamConfig', () => {
  const env = {
    AWS_REGION: 'eu-west-1',
    MEDIA_BUCKET: 'media',
    MEDIA_BASE_URL: 'https://media.example.org/',
    EVENT_BUS_NAME: 'users',
    DEAD_LETTER_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/dead-letters',
  };
  it('reads its settings without any Cognito setting', () => {
    const config = readStreamConfig(env);
    assert.equal(config.mediaBaseUrl, 'https://media.example.org');
    assert.equal(config.eventBusName, 'users');
    assert.equal(config.eventBridgeEndpoint, undefined);
  });
  it('names every missing setting', () => {
    assert.throws(() => readStreamConfig({ AWS_REGION: 'eu-west-1' }), /MEDIA_BUCKET, MEDIA_BASE_URL, EVENT_BUS_NAME/);
  });
  it('needs somewhere to send records no retry can fix: the queue or, locally, a file, not both', () => {
    const { DEAD_LETTER_QUEUE_URL: _queue, ...withoutQueue } = env;
    assert.throws(() => readStreamConfig(withoutQueue), /DEAD_LETTER_QUEUE_URL and DEAD_LETTER_FILE/);
    assert.throws(() => readStreamConfig({ ...env, DEAD_LETTER_FILE: '/tmp/x.jsonl' }), /DEAD_LETTER_QUEUE_URL and DEAD_LETTER_FILE/);
    assert.equal(readStreamConfig({ ...withoutQueue, DEAD_LETTER_FILE: '/tmp/x.jsonl' }).deadLetterFile, '/tmp/x.jsonl');
  });
});
