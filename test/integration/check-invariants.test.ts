// tools/cli/check-invariants.ts finds each broken invariant of the data model (design.md), on a real
// table and bucket: claims and sub index items without their user, held images missing or not
// live, live images nobody holds, hidden-users items of no user.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand, PutObjectTaggingCommand } from '@aws-sdk/client-s3';
import { DeleteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { checkInvariants } from '../../tools/cli/check-invariants.ts';
import { startTestBackend, type TestBackend } from '../support/backend.ts';
import { makeKey } from '../../tools/support/tokens.ts';

let backend: TestBackend;
before(async () => {
  backend = await startTestBackend({ keys: [makeKey()] });
});
after(() => backend.stop());

const put = (item: Record<string, unknown>) => backend.dynamo.send(new PutCommand({ TableName: backend.config.tableName, Item: item }));
const upload = async (key: string, state?: 'live' | 'pending') => {
  await backend.s3.send(new PutObjectCommand({ Bucket: backend.config.mediaBucket, Key: key, Body: Buffer.from('x') }));
  if (state) {
    await backend.s3.send(
      new PutObjectTaggingCommand({ Bucket: backend.config.mediaBucket, Key: key, Tagging: { TagSet: [{ Key: 'state', Value: state }] } }),
    );
  }
};
const problems = async () => (await checkInvariants(backend.dynamo, backend.s3, backend.config)).problems;

describe('check-invariants', () => {
  it('a consistent table and bucket: no problems; an unheld pending upload is listed, not a problem', async () => {
    await backend.seed([{ id: 1, sub: 'sub-1', username: 'one' }]);
    await put({ pk: 'SUB#sub-1', user_id: 1 });
    await put({ pk: 'COUNTER#user', last_id: 1 });
    await upload('avatar/1/held.png', 'live');
    await backend.dynamo.send(
      new UpdateCommand({
        TableName: backend.config.tableName,
        Key: { pk: 'USER#1' },
        UpdateExpression: 'SET avatar_key = :k',
        ExpressionAttributeValues: { ':k': 'avatar/1/held.png' },
      }),
    );
    await upload('avatar/1/left.png', 'pending');
    const report = await checkInvariants(backend.dynamo, backend.s3, backend.config);
    assert.deepEqual(report.problems, []);
    assert.deepEqual(report.pendingOrphans, ['avatar/1/left.png']);
    assert.equal(report.subIndexes, 1);
  });

  it('finds a sub index without its user, one pointing at a user of another sub, a claim without its user', async () => {
    await put({ pk: 'SUB#ghost', user_id: 404 });
    await put({ pk: 'SUB#impostor', user_id: 1 });
    await put({ pk: 'USERNAME#nobody', user_id: 405 });
    assert.deepEqual((await problems()).sort(), [
      'claim USERNAME#nobody points at missing user 405',
      'sub index SUB#ghost points at missing user 404',
      'sub index SUB#impostor points at user 1, whose sub differs',
    ]);
    for (const pk of ['SUB#ghost', 'SUB#impostor', 'USERNAME#nobody']) {
      await backend.dynamo.send(new DeleteCommand({ TableName: backend.config.tableName, Key: { pk } }));
    }
  });

  it('lists users whose names look alike (from before lookalike claim keys) apart from the problems', async () => {
    // As the first version wrote them: lower-case claim keys, no `username_claim`; "Bill" and "bi11"
    // (digit one for l) and "ROOM" and "roorn" (rn for m) each look alike.
    const legacy = [[40, 'Bill'], [41, 'bi11'], [42, 'ROOM'], [43, 'roorn'], [44, 'distinct']] as const;
    for (const [id, username] of legacy) {
      await put({ pk: `USER#${id}`, id, sub: `sub-${id}`, username, version: 1, date_joined: '2024-01-01T00:00:00.000Z' });
      await put({ pk: `USERNAME#${username.toLowerCase()}`, user_id: id });
      await put({ pk: `SUB#sub-${id}`, user_id: id });
    }
    await put({ pk: 'COUNTER#user', last_id: 44 });
    const report = await checkInvariants(backend.dynamo, backend.s3, backend.config);
    assert.deepEqual(report.problems, []);
    const groups = report.lookalikes.map((group) => group.map((u) => u.username).sort()).sort();
    assert.deepEqual(groups, [['Bill', 'bi11'], ['ROOM', 'roorn']]);
    for (const [id, username] of legacy) {
      for (const pk of [`USER#${id}`, `USERNAME#${username.toLowerCase()}`, `SUB#sub-${id}`]) {
        await backend.dynamo.send(new DeleteCommand({ TableName: backend.config.tableName, Key: { pk } }));
      }
    }
  });

  it('takes a hidden-users item that hides other users; finds one of no user, one hiding its own user or a missing one', async () => {
    await backend.seed([{ id: 50, sub: 'sub-50', username: 'fifty' }, { id: 51, sub: 'sub-51', username: 'fiftyone' }]);
    await put({ pk: 'HIDDEN#50', hidden: new Set([51]) });
    await put({ pk: 'HIDDEN#51' });
    assert.deepEqual(await problems(), []);
    await put({ pk: 'HIDDEN#52', hidden: new Set([50]) });
    await put({ pk: 'HIDDEN#51', hidden: new Set([51, 404]) });
    assert.deepEqual((await problems()).sort(), [
      'HIDDEN#51 hides its own user',
      'HIDDEN#51 hides missing user 404',
      'HIDDEN#52 belongs to no user',
    ]);
    for (const pk of ['HIDDEN#50', 'HIDDEN#51', 'HIDDEN#52']) {
      await backend.dynamo.send(new DeleteCommand({ TableName: backend.config.tableName, Key: { pk } }));
    }
  });

  it('finds a held image that is missing or still pending, and a live image nobody holds', async () => {
    await backend.seed([{ id: 2, sub: 'sub-2', username: 'two' }, { id: 3, sub: 'sub-3', username: 'three' }]);
    await upload('cover/2/pending.png', 'pending');
    await upload('cover/9/orphan.png', 'live');
    for (const [id, key] of [[2, 'cover/2/pending.png'], [3, 'cover/3/missing.png']] as const) {
      await backend.dynamo.send(
        new UpdateCommand({
          TableName: backend.config.tableName,
          Key: { pk: `USER#${id}` },
          UpdateExpression: 'SET cover_key = :k',
          ExpressionAttributeValues: { ':k': key },
        }),
      );
    }
    // An object nobody holds without the pending tag (S3 expires only what the rule's tag filter
    // names) would stay forever.
    await upload('cover/9/untagged.png');
    assert.deepEqual((await problems()).sort(), [
      'image cover/2/pending.png is pointed at but not marked live',
      'image cover/3/missing.png is pointed at but does not exist',
      'image cover/9/orphan.png is live but no user points at it',
      'image cover/9/untagged.png is held by no user and not tagged pending: the lifecycle rule never expires it',
    ]);
  });
});

describe('check-invariants: the avatar gallery', () => {
  it('an avatar only a gallery holds is held (live, no problem); a missing or pending one is; a primary outside its gallery is', async () => {
    await backend.seed([{ id: 5, sub: 'sub-5', username: 'five' }, { id: 6, sub: 'sub-6', username: 'six' }]);
    await upload('avatar/5/a.png', 'live');
    await upload('avatar/5/b.png', 'live');
    await upload('avatar/5/c.png', 'pending');
    const gallery = (id: number, primary: string, keys: string[]) =>
      backend.dynamo.send(
        new UpdateCommand({
          TableName: backend.config.tableName,
          Key: { pk: `USER#${id}` },
          UpdateExpression: 'SET avatar_key = :p, avatars = :a, avatar_seq = :s',
          ExpressionAttributeValues: { ':p': primary, ':a': keys.map((key, i) => ({ id: i + 1, key, uploaded: '2025-01-01T00:00:00Z' })), ':s': keys.length },
        }),
      );
    await gallery(5, 'avatar/5/a.png', ['avatar/5/a.png', 'avatar/5/b.png', 'avatar/5/c.png', 'avatar/5/gone.png']);
    await gallery(6, 'avatar/5/a.png', []);
    const found = (await problems()).filter((p) => p.includes('avatar/5/') || p.startsWith('user 6'));
    assert.deepEqual(found.sort(), [
      'image avatar/5/c.png is pointed at but not marked live',
      'image avatar/5/gone.png is pointed at but does not exist',
      'user 6: its avatar avatar/5/a.png is not in its gallery',
    ]);
  });
});
