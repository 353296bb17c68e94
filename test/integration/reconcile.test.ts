// npm run reconcile against DynamoDB Local and s3rver: the table is the truth. Held images end up
// tagged live; images no user holds are deleted once older than a day; pending ones are left
// to the lifecycle rule; held images that do not exist are reported.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { GetObjectTaggingCommand, HeadObjectCommand, PutObjectCommand, PutObjectTaggingCommand, type S3Client } from '@aws-sdk/client-s3';
import { NumberValue, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  PROJECT_DIR,
  createDocumentClient,
  createDynamoDbClient,
  createS3Client,
  ensureBucket,
  ensureTable,
} from '../../tools/local/local-stack.ts';
import { parseStackOutputs, reconcile } from '../../tools/cli/reconcile.ts';
import { startTestEmulators, type Emulators } from '../../tools/support/emulators.ts';

const REGION = 'us-east-1';
const DAY = 24 * 3600 * 1000;
const run = promisify(execFile);

let emulators: Emulators;
let dynamodb: DynamoDBClient;
let doc: DynamoDBDocumentClient;
let s3: S3Client;
let count = 0;

before(async () => {
  emulators = await startTestEmulators();
  const config = { region: REGION, dynamodbEndpoint: emulators.dynamodbEndpoint, s3Endpoint: emulators.s3Endpoint };
  dynamodb = createDynamoDbClient(config);
  doc = createDocumentClient(config);
  s3 = createS3Client(config);
});

after(async () => {
  dynamodb?.destroy();
  doc?.destroy();
  s3?.destroy();
  await emulators?.stop();
});

interface Stage {
  tableName: string;
  bucket: string;
}

/**
 * User 1 holds a pending avatar (its live tagging was lost) and a live cover; user 2 holds an
 * avatar that does not exist. Nobody holds an old avatar of user 1 that is still live, nor a
 * pending upload of user 2.
 */
async function stage(): Promise<Stage> {
  const n = ++count;
  const tableName = `reconcile-${process.pid}-${n}`;
  const bucket = `reconcile-${process.pid}-${n}`;
  await ensureTable(dynamodb, tableName);
  await ensureBucket(s3, bucket);
  const object = async (Key: string, state: string) => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Buffer.from('image') }));
    await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key, Tagging: { TagSet: [{ Key: 'state', Value: state }] } }));
  };
  await object('avatar/1/held-pending.png', 'pending');
  await object('cover/1/held-live.png', 'live');
  await object('avatar/1/replaced-live.png', 'live');
  await object('avatar/2/upload-pending.png', 'pending');
  await doc.send(new PutCommand({ TableName: tableName, Item: { pk: 'USER#1', id: 1, username: 'one', avatar_key: 'avatar/1/held-pending.png', cover_key: 'cover/1/held-live.png' } }));
  await doc.send(new PutCommand({ TableName: tableName, Item: { pk: 'USER#2', id: 2, username: 'two', avatar_key: 'avatar/2/gone.png' } }));
  await doc.send(new PutCommand({ TableName: tableName, Item: { pk: 'USERNAME#one', user_id: 1 } }));
  return { tableName, bucket };
}

async function state(bucket: string, key: string): Promise<string | undefined> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  } catch {
    return undefined;
  }
  const { TagSet = [] } = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }));
  return TagSet.find((tag) => tag.Key === 'state')?.Value;
}

async function states(bucket: string): Promise<Record<string, string | undefined>> {
  const keys = ['avatar/1/held-pending.png', 'cover/1/held-live.png', 'avatar/1/replaced-live.png', 'avatar/2/upload-pending.png'];
  return Object.fromEntries(await Promise.all(keys.map(async (key) => [key, await state(bucket, key)])));
}

const UNTOUCHED = {
  'avatar/1/held-pending.png': 'pending',
  'cover/1/held-live.png': 'live',
  'avatar/1/replaced-live.png': 'live',
  'avatar/2/upload-pending.png': 'pending',
};

describe('reconcile', () => {
  test('a dry run reports and changes nothing', async () => {
    const { tableName, bucket } = await stage();
    const report = await reconcile(doc, s3, { tableName, bucket, dryRun: true, now: Date.now() + 2 * DAY });
    assert.deepEqual(report, {
      users: 2,
      objects: 4,
      taggedLive: ['avatar/1/held-pending.png'],
      deleted: ['avatar/1/replaced-live.png'],
      missing: ['avatar/2/gone.png'],
      pendingUnheld: 1,
      recentUnheld: [],
    });
    assert.deepEqual(await states(bucket), UNTOUCHED);
  });

  test('held images become live; a live image nobody holds goes once older than a day; twice changes nothing more', async () => {
    const { tableName, bucket } = await stage();
    const today = await reconcile(doc, s3, { tableName, bucket });
    assert.deepEqual(today.taggedLive, ['avatar/1/held-pending.png']);
    assert.deepEqual(today.deleted, []);
    assert.deepEqual(today.recentUnheld, ['avatar/1/replaced-live.png'], 'the stream may still be deleting it');
    assert.deepEqual(await states(bucket), { ...UNTOUCHED, 'avatar/1/held-pending.png': 'live' });

    const later = await reconcile(doc, s3, { tableName, bucket, now: Date.now() + DAY + 60_000 });
    assert.deepEqual(later.taggedLive, []);
    assert.deepEqual(later.deleted, ['avatar/1/replaced-live.png']);
    assert.deepEqual(later.missing, ['avatar/2/gone.png']);
    assert.equal(later.pendingUnheld, 1);
    assert.deepEqual(await states(bucket), {
      'avatar/1/held-pending.png': 'live',
      'cover/1/held-live.png': 'live',
      'avatar/1/replaced-live.png': undefined,
      'avatar/2/upload-pending.png': 'pending',
    });

    const again = await reconcile(doc, s3, { tableName, bucket, now: Date.now() + 2 * DAY });
    assert.deepEqual([again.taggedLive, again.deleted], [[], []]);
  });

  test('an item out of shape does not stop the replay: the image it holds is kept', async () => {
    const { tableName, bucket } = await stage();
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'avatar/3/held-pending.png', Body: Buffer.from('image') }));
    await s3.send(
      new PutObjectTaggingCommand({ Bucket: bucket, Key: 'avatar/3/held-pending.png', Tagging: { TagSet: [{ Key: 'state', Value: 'pending' }] } }),
    );
    // Written by another tool: a number no JavaScript value holds (the record of this write is
    // the one parked in the dead-letter queue).
    await doc.send(
      new PutCommand({
        TableName: tableName,
        Item: { pk: 'USER#3', id: 3, username: 'three', reputation: NumberValue.from('12345678901234567890.5'), avatar_key: 'avatar/3/held-pending.png' },
      }),
    );
    const report = await reconcile(doc, s3, { tableName, bucket });
    assert.equal(report.users, 3);
    assert.deepEqual(report.taggedLive, ['avatar/1/held-pending.png', 'avatar/3/held-pending.png']);
    assert.equal(await state(bucket, 'avatar/3/held-pending.png'), 'live');
  });

  test('an image nobody holds that lacks the pending tag is not the lifecycle rule’s: it goes once older than a day', async () => {
    const { tableName, bucket } = await stage();
    // The lifecycle rule expires only objects tagged state=pending: an untagged one would stay.
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cover/2/untagged.png', Body: Buffer.from('image') }));
    const today = await reconcile(doc, s3, { tableName, bucket });
    assert.ok(today.recentUnheld.includes('cover/2/untagged.png'));
    assert.equal(today.pendingUnheld, 1, 'only the upload tagged pending is left to the rule');
    const later = await reconcile(doc, s3, { tableName, bucket, now: Date.now() + DAY + 60_000 });
    assert.ok(later.deleted.includes('cover/2/untagged.png'), JSON.stringify(later.deleted));
    assert.equal(await state(bucket, 'cover/2/untagged.png'), undefined);
  });

  test('npm run reconcile -- --stage local works on the local stack’s table and bucket', async () => {
    const { tableName, bucket } = await stage();
    const env = {
      ...process.env,
      AWS_REGION: REGION,
      DYNAMODB_PORT: new URL(emulators.dynamodbEndpoint).port,
      S3_PORT: new URL(emulators.s3Endpoint).port,
      TABLE_NAME: tableName,
      MEDIA_BUCKET: bucket,
    };
    const failed = await run('npm', ['run', '--silent', 'reconcile', '--', '--stage', 'local'], { cwd: PROJECT_DIR, env }).then(
      () => assert.fail('a missing held image exits non-zero'),
      (error: { code: number; stdout: string }) => error,
    );
    assert.equal(failed.code, 2);
    assert.match(failed.stdout, new RegExp(`^reconcile local: table ${tableName}, bucket ${bucket}$`, 'm'));
    assert.match(failed.stdout, /^1 held images tagged live$/m);
    assert.match(failed.stdout, /^ {2}tagged live: avatar\/1\/held-pending\.png$/m);
    assert.match(failed.stdout, /^ {2}missing: avatar\/2\/gone\.png$/m);
    assert.match(failed.stdout, /^0 images no user holds \(not pending\) deleted$/m);
    assert.match(failed.stdout, /^1 images no user holds \(not pending\), under a day old: left to the stream$/m);
    assert.equal(await state(bucket, 'avatar/1/held-pending.png'), 'live');

    const usage = await run('npm', ['run', '--silent', 'reconcile'], { cwd: PROJECT_DIR, env }).then(
      () => assert.fail('no stage is an error'),
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(usage.code, 1);
    assert.match(usage.stderr, /usage: npm run reconcile -- --stage NAME/);
  });

  test('a deployed stage’s table and bucket are read from the outputs osls info --verbose prints', () => {
    const printed = [
      'service: selfcommunity-user-patch',
      'stage: prod',
      'region: eu-west-1',
      'stack: selfcommunity-user-patch-prod',
      'endpoint: PATCH - https://abc123.execute-api.eu-west-1.amazonaws.com/prod/api/v2/user/{id}',
      '',
      'Stack Outputs:',
      '  UsersTableName: selfcommunity-users-prod',
      '  MediaBucketName: selfcommunity-user-patch-prod-mediabucket-1x2y3z',
      '  MediaEventsDeadLetterQueueUrl: https://sqs.eu-west-1.amazonaws.com/000000000000/dlq',
    ].join('\n');
    const outputs = parseStackOutputs(printed);
    assert.equal(outputs.UsersTableName, 'selfcommunity-users-prod');
    assert.equal(outputs.MediaBucketName, 'selfcommunity-user-patch-prod-mediabucket-1x2y3z');
    assert.equal(outputs.MediaEventsDeadLetterQueueUrl, 'https://sqs.eu-west-1.amazonaws.com/000000000000/dlq');
  });
});

describe('reconcile: the avatar gallery', () => {
  test('an avatar only a gallery holds is held: tagged live, never deleted; one no gallery holds any more goes', async () => {
    const { tableName, bucket } = await stage();
    for (const [key, tag] of [['avatar/4/primary.png', 'live'], ['avatar/4/kept-pending.png', 'pending'], ['avatar/4/kept-live.png', 'live'], ['avatar/4/removed.png', 'live']] as const) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.from('image') }));
      await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: key, Tagging: { TagSet: [{ Key: 'state', Value: tag }] } }));
    }
    await doc.send(
      new PutCommand({
        TableName: tableName,
        Item: {
          pk: 'USER#4', id: 4, sub: 'sub-4', username: 'four', version: 1, date_joined: '2024-01-01T00:00:00Z',
          avatar_key: 'avatar/4/primary.png',
          avatars: [
            { id: 1, key: 'avatar/4/primary.png', uploaded: '2024-01-01T00:00:00Z' },
            { id: 3, key: 'avatar/4/kept-pending.png', uploaded: '2024-01-02T00:00:00Z' },
            { id: 4, key: 'avatar/4/kept-live.png', uploaded: '2024-01-03T00:00:00Z' },
          ],
          avatar_seq: 4,
        },
      }),
    );
    const report = await reconcile(doc, s3, { tableName, bucket, now: Date.now() + 2 * DAY });
    assert.ok(report.taggedLive.includes('avatar/4/kept-pending.png'));
    assert.ok(report.deleted.includes('avatar/4/removed.png'));
    assert.ok(!report.deleted.some((key) => key.startsWith('avatar/4/') && key !== 'avatar/4/removed.png'), JSON.stringify(report.deleted));
    assert.equal(await state(bucket, 'avatar/4/kept-pending.png'), 'live');
    assert.equal(await state(bucket, 'avatar/4/kept-live.png'), 'live');
    assert.equal(await state(bucket, 'avatar/4/removed.png'), undefined);
  });
});
