// Scans the users table and the media bucket and checks the data model's invariants:
//   - every user's username has exactly one claim, and it points back at that user;
//   - no claim without its user;
//   - no sub index item (`SUB#<sub>`) without its user, and each points at the user with that sub;
//   - every image a user points at exists and is tagged live (one still tagged pending would be
//     deleted by the lifecycle rule);
//   - no live image that no user points at.
// The image checks hold once the table's stream has caught up: the stream function tags held keys
// live and deletes released ones. Objects no user points at that are still pending (an upload
// whose write was refused late, or whose outcome was unknown) are listed, not problems: the
// bucket's lifecycle rule expires them.
// Run against the local stack: `npm run check-invariants` (same environment as `npm start`).
import { pathToFileURL } from 'node:url';
import { GetObjectTaggingCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Config } from '../lib/config.ts';
import { LIVE_TAG } from '../lib/media-store.ts';
import { claimKey, IMAGE_FIELDS, imageKeyAttribute, type ClaimItem, type UserItem } from '../lib/user-record.ts';

export interface InvariantReport {
  users: number;
  claims: number;
  subIndexes: number;
  objects: number;
  /** Objects no user points at that are not live: left by a crash, expired by the lifecycle rule. */
  pendingOrphans: string[];
  problems: string[];
}

export async function checkInvariants(
  dynamo: DynamoDBDocumentClient,
  s3: S3Client,
  config: Pick<Config, 'tableName' | 'mediaBucket'>,
): Promise<InvariantReport> {
  const items = await scanAll(dynamo, config.tableName);
  const users = new Map<number, UserItem>();
  const claims = new Map<string, ClaimItem>();
  const subIndexes = new Map<string, ClaimItem>();
  const problems: string[] = [];
  for (const item of items) {
    const pk = String(item.pk);
    if (pk.startsWith('USER#')) users.set(Number(pk.slice(5)), item as unknown as UserItem);
    else if (pk.startsWith('USERNAME#')) claims.set(pk, item as unknown as ClaimItem);
    else if (pk.startsWith('SUB#')) subIndexes.set(pk.slice(4), item as unknown as ClaimItem);
    else if (pk !== 'COUNTER#user') problems.push(`unexpected item ${pk}`);
  }
  for (const [sub, index] of subIndexes) {
    const owner = users.get(Number(index.user_id));
    if (!owner) problems.push(`sub index SUB#${sub} points at missing user ${index.user_id}`);
    else if (owner.sub !== sub) problems.push(`sub index SUB#${sub} points at user ${index.user_id}, whose sub differs`);
  }

  const referenced = new Set<string>();
  for (const [id, user] of users) {
    const claim = claims.get(claimKey(user.username));
    if (!claim) problems.push(`user ${id} (${user.username}) has no claim`);
    else if (claim.user_id !== id) problems.push(`user ${id} (${user.username}): its claim points at user ${claim.user_id}`);
    for (const field of IMAGE_FIELDS) {
      const key = user[imageKeyAttribute(field)];
      if (key) referenced.add(key);
    }
  }
  for (const [pk, claim] of claims) {
    const owner = users.get(claim.user_id);
    if (!owner) problems.push(`claim ${pk} points at missing user ${claim.user_id}`);
    else if (claimKey(owner.username) !== pk) {
      problems.push(`claim ${pk} points at user ${claim.user_id}, whose username is ${owner.username}`);
    }
  }

  const objects = await listAll(s3, config.mediaBucket);
  const isLive = async (key: string) => {
    const { TagSet = [] } = await s3.send(new GetObjectTaggingCommand({ Bucket: config.mediaBucket, Key: key }));
    return TagSet.some((tag) => tag.Key === LIVE_TAG.Key && tag.Value === LIVE_TAG.Value);
  };
  for (const key of referenced) {
    if (!objects.has(key)) problems.push(`image ${key} is pointed at but does not exist`);
    else if (!(await isLive(key))) problems.push(`image ${key} is pointed at but not marked live`);
  }
  const pendingOrphans: string[] = [];
  for (const key of objects) {
    if (referenced.has(key)) continue;
    if (await isLive(key)) problems.push(`image ${key} is live but no user points at it`);
    else pendingOrphans.push(key);
  }
  return { users: users.size, claims: claims.size, subIndexes: subIndexes.size, objects: objects.size, pendingOrphans, problems };
}

async function scanAll(dynamo: DynamoDBDocumentClient, tableName: string) {
  const items: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey }));
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

async function listAll(s3: S3Client, bucket: string) {
  const keys = new Set<string>();
  let ContinuationToken: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken }));
    for (const object of page.Contents ?? []) keys.add(object.Key!);
    ContinuationToken = page.NextContinuationToken;
  } while (ContinuationToken);
  return keys;
}

async function main() {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { readLocalStackConfig, createDocumentClient, createS3Client } = await import('./local-stack.ts');
  const config = readLocalStackConfig();
  const dynamo = createDocumentClient(config);
  const s3 = createS3Client(config);
  const report = await checkInvariants(dynamo, s3, { tableName: config.tableName, mediaBucket: config.bucket });
  console.log(
    `${report.users} users, ${report.claims} claims, ${report.subIndexes} sub indexes, ${report.objects} objects, ` +
      `${report.pendingOrphans.length} pending orphans, ${report.problems.length} problems`,
  );
  for (const problem of report.problems) console.log(`  problem: ${problem}`);
  for (const key of report.pendingOrphans) console.log(`  pending orphan (expired by the lifecycle rule): ${key}`);
  process.exitCode = report.problems.length ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
