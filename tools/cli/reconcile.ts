// npm run reconcile -- --stage NAME [--table NAME --bucket NAME] [--region REGION] [--dry-run]
//
// Makes a stage's media bucket follow its users table again, for when the stream function could
// not (a dead-letter alarm, records that left the stream after 24 hours): every image a user holds
// (avatar, cover, every avatar of its gallery) is tagged live; every image no user holds and older than a day is deleted, unless it is tagged
// pending: pending images no user holds are left to the bucket's lifecycle rule, and recent ones to
// the stream function, which may still be on its way to them. The table is the truth; nothing in it changes.
//
// `--stage local` works on the local stack (the same environment as `npm start`). For a deployed
// stage the table and bucket come from `--table` and `--bucket`, or else from the stack's outputs
// (`osls info --verbose`, with the deployer's AWS credentials). The caller needs dynamodb:Scan on
// the table and s3:ListBucket, s3:GetObjectTagging, s3:PutObjectTagging, s3:DeleteObject on the
// bucket.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteObjectCommand,
  GetObjectTaggingCommand,
  ListObjectsV2Command,
  PutObjectTaggingCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { heldImageKeys, IMAGE_FIELDS, imageKeyAttribute, type UserItem } from '../../src/users/user-record.ts';

const LIVE = { Key: 'state', Value: 'live' } as const;
const MEDIA_PREFIXES = IMAGE_FIELDS.map((field) => `${field}/`);
/** Live objects no user holds are deleted only when older than this: the stream may still be at work. */
export const DEFAULT_MIN_AGE_MS = 24 * 3600 * 1000;

export interface ReconcileReport {
  users: number;
  objects: number;
  /** Held images that were not tagged live, and now are. */
  taggedLive: string[];
  /** Live images no user holds, older than the minimum age: deleted. */
  deleted: string[];
  /** Held images that do not exist: nothing can bring them back (the user keeps a dead link). */
  missing: string[];
  /** Pending images no user holds: the lifecycle rule expires them. */
  pendingUnheld: number;
  /** Live images no user holds that are too recent to delete yet. */
  recentUnheld: string[];
}

export interface ReconcileOptions {
  tableName: string;
  bucket: string;
  /** Report what would be done without doing it. */
  dryRun?: boolean;
  minAgeMs?: number;
  now?: number;
}

export async function reconcile(dynamo: DynamoDBDocumentClient, s3: S3Client, options: ReconcileOptions): Promise<ReconcileReport> {
  const { tableName, bucket, dryRun = false, minAgeMs = DEFAULT_MIN_AGE_MS, now = Date.now() } = options;
  // Objects first, then the table: an image written meanwhile is then either unlisted (untouched)
  // or listed and already held in the scan, never listed and mistaken for unheld.
  const objects = new Map<string, Date | undefined>();
  for (const Prefix of MEDIA_PREFIXES) {
    let ContinuationToken: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix, ContinuationToken }));
      for (const object of page.Contents ?? []) if (object.Key) objects.set(object.Key, object.LastModified);
      ContinuationToken = page.NextContinuationToken;
    } while (ContinuationToken);
  }

  const held = new Set<string>();
  let users = 0;
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    // Only the key and the image keys: the rest of an item may be out of shape (a number another
    // tool wrote beyond what JavaScript holds), which must not stop the replay the runbook relies on.
    const page = await dynamo.send(
      new ScanCommand({
        TableName: tableName,
        ConsistentRead: true,
        ExclusiveStartKey,
        ProjectionExpression: ['#pk', '#avatars', ...IMAGE_FIELDS.map((_, i) => `#image${i}`)].join(', '),
        ExpressionAttributeNames: Object.fromEntries([
          ['#pk', 'pk'],
          // The gallery's avatars are held too (src/users/avatar-gallery.ts).
          ['#avatars', 'avatars'],
          ...IMAGE_FIELDS.map((field, i) => [`#image${i}`, imageKeyAttribute(field)]),
        ]),
      }),
    );
    for (const item of page.Items ?? []) {
      if (!String(item.pk).startsWith('USER#')) continue;
      users++;
      for (const key of heldImageKeys(item as unknown as UserItem)) held.add(key);
    }
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);

  const report: ReconcileReport = { users, objects: objects.size, taggedLive: [], deleted: [], missing: [], pendingUnheld: 0, recentUnheld: [] };
  /** The object's `state` tag: `live`, `pending`, or undefined when it has none. */
  const stateOf = async (key: string): Promise<string | undefined> => {
    const { TagSet = [] } = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }));
    return TagSet.find((tag) => tag.Key === LIVE.Key)?.Value;
  };
  const isLive = async (key: string): Promise<boolean> => (await stateOf(key)) === LIVE.Value;

  for (const key of [...held].sort()) {
    let live: boolean;
    try {
      // Also for a key the listing missed: an upload that landed after it, held by now.
      live = await isLive(key);
    } catch (error) {
      if ((error as Error).name !== 'NoSuchKey') throw error;
      report.missing.push(key);
      continue;
    }
    if (live) continue;
    if (!dryRun) await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: key, Tagging: { TagSet: [{ ...LIVE }] } }));
    report.taggedLive.push(key);
  }
  for (const [key, modified] of [...objects].sort(([a], [b]) => a.localeCompare(b))) {
    if (held.has(key)) continue;
    // Only objects tagged pending are the lifecycle rule's; one without the tag would stay forever,
    // so it is treated like a live one.
    if ((await stateOf(key)) === 'pending') {
      report.pendingUnheld++;
      continue;
    }
    if (!modified || now - modified.getTime() < minAgeMs) {
      report.recentUnheld.push(key);
      continue;
    }
    if (!dryRun) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    report.deleted.push(key);
  }
  return report;
}

// ---------------------------------------------------------------------------------------------
// Command line

const run = promisify(execFile);

/** The stack outputs `osls info --verbose` prints ("  UsersTableName: …"). */
export function parseStackOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  for (const [, name, value] of text.matchAll(/^\s{2}(\w+): (\S+)\s*$/gm)) outputs[name!] = value!;
  return outputs;
}

async function deployedNames(stage: string, region: string | undefined): Promise<{ tableName: string; bucket: string }> {
  const { PROJECT_DIR } = await import('../local/local-stack.ts');
  const args = [join(PROJECT_DIR, 'node_modules', 'osls', 'bin', 'serverless.js'), 'info', '--verbose', '--stage', stage];
  if (region) args.push('--region', region);
  const { stdout } = await run(process.execPath, args, { cwd: PROJECT_DIR, maxBuffer: 10 * 1024 * 1024 }).catch((error: { stdout?: string; stderr?: string }) => {
    throw new Error(`osls info --stage ${stage} failed (deployed? credentials?):\n${error.stdout ?? ''}${error.stderr ?? ''}`);
  });
  const outputs = parseStackOutputs(stdout);
  if (!outputs.UsersTableName || !outputs.MediaBucketName) {
    throw new Error(`osls info --stage ${stage} printed no UsersTableName and MediaBucketName outputs; pass --table and --bucket`);
  }
  return { tableName: outputs.UsersTableName, bucket: outputs.MediaBucketName };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      stage: { type: 'string' },
      table: { type: 'string' },
      bucket: { type: 'string' },
      region: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
    },
  });
  if (!values.stage) throw new Error('usage: npm run reconcile -- --stage NAME [--table NAME --bucket NAME] [--region REGION] [--dry-run]');

  let dynamo: DynamoDBDocumentClient;
  let s3: S3Client;
  let tableName: string;
  let bucket: string;
  if (values.stage === 'local') {
    const { readLocalStackConfig, createDocumentClient, createS3Client } = await import('../local/local-stack.ts');
    const config = readLocalStackConfig();
    dynamo = createDocumentClient(config);
    s3 = createS3Client(config);
    tableName = values.table ?? config.tableName;
    bucket = values.bucket ?? config.bucket;
  } else {
    const region = values.region ?? process.env.AWS_REGION;
    ({ tableName, bucket } =
      values.table && values.bucket ? { tableName: values.table, bucket: values.bucket } : await deployedNames(values.stage, region));
    dynamo = DynamoDBDocumentClient.from(new DynamoDBClient(region ? { region } : {}));
    s3 = new S3Client(region ? { region } : {});
  }

  const dryRun = values['dry-run'];
  console.log(`reconcile ${values.stage}: table ${tableName}, bucket ${bucket}${dryRun ? ' (dry run: nothing changes)' : ''}`);
  try {
    const report = await reconcile(dynamo, s3, { tableName, bucket, dryRun });
    const verb = dryRun ? 'would be ' : '';
    console.log(`${report.users} users, ${report.objects} images`);
    console.log(`${report.taggedLive.length} held images ${verb}tagged live`);
    for (const key of report.taggedLive) console.log(`  tagged live: ${key}`);
    console.log(`${report.deleted.length} images no user holds (not pending) ${verb}deleted`);
    for (const key of report.deleted) console.log(`  deleted: ${key}`);
    console.log(`${report.missing.length} held images missing`);
    for (const key of report.missing) console.log(`  missing: ${key}`);
    console.log(`${report.recentUnheld.length} images no user holds (not pending), under a day old: left to the stream`);
    console.log(`${report.pendingUnheld} pending images no user holds: left to the lifecycle rule`);
    process.exitCode = report.missing.length ? 2 : 0;
  } finally {
    dynamo.destroy();
    s3.destroy();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main().catch((error: unknown) => {
    console.error(`reconcile: ${(error as Error).message}`);
    process.exitCode = 1;
  });
}
