// Scans the users table and the media bucket and checks the data model's invariants:
//   - every user's username has exactly one claim, and it points back at that user (the claim the
//     user's `username_claim` names, or the lower-case name for users from before lookalike keys);
//   - no claim without its user;
//   - every image a user points at (avatar, cover, every avatar of its gallery) exists and is
//     tagged live (one still tagged pending would be deleted by the lifecycle rule);
//   - a gallery's primary (`avatar_key`) is one of its avatars, and its ids are unique;
//   - no live image that no user points at, and none without a state tag (the lifecycle rule
//     expires only pending ones: such an object would stay forever);
//   - every user has exactly one sub index item and it points back; no sub index without its user;
//     the id counter is at least the highest user id (tools/local/sub-index.ts);
//   - every hidden-users item `HIDDEN#<id>` belongs to a user, and hides only other users that exist.
// The image checks hold once the table's stream has caught up: the stream function tags held keys
// live and deletes released ones. Objects no user points at that are still pending (an upload
// whose write was refused late, or whose outcome was unknown) are listed, not problems: the
// bucket's lifecycle rule expires them.
// Users whose names look alike (one lookalike key, src/users/username-keys.ts: NFKC, lower case, the
// confusable skeleton of UTS #39) are listed as `lookalikes`, not problems: names given before
// lookalike keys existed stay as they are, and no new name can join such a group.
// Run against the local stack: `npm run check-invariants` (same environment as `npm start`);
// `--repair` adds the sub index items users lack (tables from before sign-up existed).
import { pathToFileURL } from 'node:url';
import { GetObjectTaggingCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Config } from '../../src/platform/config.ts';
import { LIVE_TAG, PENDING_TAG } from '../../src/store/media-lifecycle.ts';
import { heldClaimKey, heldImageKeys, type ClaimItem, type UserItem } from '../../src/users/user-record.ts';
import { usernameKey } from '../../src/users/username-keys.ts';
import { checkSubIndex, repairSubIndex, SubIndexItems } from '../local/sub-index.ts';

export interface InvariantReport {
  users: number;
  claims: number;
  subIndexes: number;
  objects: number;
  /** Objects no user points at that are not live: left by a crash, expired by the lifecycle rule. */
  pendingOrphans: string[];
  problems: string[];
  /** Groups of users (id and name) whose usernames share one lookalike key: older names. */
  lookalikes: Array<Array<{ id: number; username: string }>>;
  /** Users whose sub has no index item (each is also a problem); `--repair` adds them. */
  usersWithoutSubIndex: UserItem[];
}

export async function checkInvariants(
  dynamo: DynamoDBDocumentClient,
  s3: S3Client,
  config: Pick<Config, 'tableName' | 'mediaBucket'>,
): Promise<InvariantReport> {
  const items = await scanAll(dynamo, config.tableName);
  const users = new Map<number, UserItem>();
  const claims = new Map<string, ClaimItem>();
  const subIndex = new SubIndexItems();
  const hidden = new Map<string, Record<string, unknown>>();
  const problems: string[] = [];
  for (const item of items) {
    const pk = String(item.pk);
    if (pk.startsWith('USER#')) users.set(Number(pk.slice(5)), item as unknown as UserItem);
    else if (pk.startsWith('USERNAME#')) claims.set(pk, item as unknown as ClaimItem);
    else if (pk.startsWith('HIDDEN#')) hidden.set(pk, item);
    else if (!subIndex.take(item)) problems.push(`unexpected item ${pk}`);
  }
  const subIndexReport = checkSubIndex(users, subIndex);
  problems.push(...subIndexReport.problems);

  const referenced = new Set<string>();
  for (const [id, user] of users) {
    const claim = claims.get(heldClaimKey(user));
    if (!claim) problems.push(`user ${id} (${user.username}) has no claim`);
    else if (claim.user_id !== id) problems.push(`user ${id} (${user.username}): its claim points at user ${claim.user_id}`);
    for (const key of heldImageKeys(user)) referenced.add(key);
    problems.push(...galleryProblems(id, user));
  }
  for (const [pk, claim] of claims) {
    const owner = users.get(claim.user_id);
    if (!owner) problems.push(`claim ${pk} points at missing user ${claim.user_id}`);
    else if (heldClaimKey(owner) !== pk) {
      problems.push(`claim ${pk} points at user ${claim.user_id}, whose username is ${owner.username}`);
    }
  }

  for (const [pk, item] of hidden) {
    const owner = Number(pk.slice('HIDDEN#'.length));
    if (!users.has(owner)) problems.push(`${pk} belongs to no user`);
    const ids = item.hidden;
    if (ids === undefined) continue;
    if (!(ids instanceof Set)) {
      problems.push(`${pk}: hidden is not a number set`);
      continue;
    }
    for (const id of ids as Set<unknown>) {
      if (id === owner) problems.push(`${pk} hides its own user`);
      else if (!users.has(Number(id))) problems.push(`${pk} hides missing user ${String(id)}`);
    }
  }

  const byKey = new Map<string, Array<{ id: number; username: string }>>();
  for (const [id, user] of users) {
    const key = usernameKey(user.username);
    byKey.set(key, [...(byKey.get(key) ?? []), { id, username: user.username }]);
  }
  const lookalikes = [...byKey.values()].filter((group) => group.length > 1);

  const objects = await listAll(s3, config.mediaBucket);
  const stateOf = async (key: string) => {
    const { TagSet = [] } = await s3.send(new GetObjectTaggingCommand({ Bucket: config.mediaBucket, Key: key }));
    return TagSet.find((tag) => tag.Key === LIVE_TAG.Key)?.Value;
  };
  const isLive = async (key: string) => (await stateOf(key)) === LIVE_TAG.Value;
  for (const key of referenced) {
    if (!objects.has(key)) problems.push(`image ${key} is pointed at but does not exist`);
    else if (!(await isLive(key))) problems.push(`image ${key} is pointed at but not marked live`);
  }
  const pendingOrphans: string[] = [];
  for (const key of objects) {
    if (referenced.has(key)) continue;
    const state = await stateOf(key);
    if (state === PENDING_TAG.Value) pendingOrphans.push(key);
    else if (state === LIVE_TAG.Value) problems.push(`image ${key} is live but no user points at it`);
    else problems.push(`image ${key} is held by no user and not tagged pending: the lifecycle rule never expires it`);
  }
  return {
    users: users.size,
    claims: claims.size,
    subIndexes: subIndex.bySub.size,
    objects: objects.size,
    pendingOrphans,
    problems,
    lookalikes,
    usersWithoutSubIndex: subIndexReport.usersWithoutSubIndex,
  };
}

/** The gallery's own invariants (src/users/avatar-gallery.ts): the primary is one of its avatars. */
function galleryProblems(id: number, user: UserItem): string[] {
  if (user.avatars === undefined) return [];
  const problems: string[] = [];
  const ids = user.avatars.map((entry) => entry.id);
  if (new Set(ids).size !== ids.length) problems.push(`user ${id}: its gallery repeats an avatar id`);
  if (user.avatar_seq !== undefined && ids.some((n) => n > user.avatar_seq!)) problems.push(`user ${id}: an avatar id above avatar_seq`);
  if (user.avatar_key !== undefined && !user.avatars.some((entry) => entry.key === user.avatar_key)) {
    problems.push(`user ${id}: its avatar ${user.avatar_key} is not in its gallery`);
  }
  return problems;
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
  const { readLocalStackConfig, createDocumentClient, createS3Client } = await import('../local/local-stack.ts');
  const config = readLocalStackConfig();
  const dynamo = createDocumentClient(config);
  const s3 = createS3Client(config);
  const target = { tableName: config.tableName, mediaBucket: config.bucket };
  let report = await checkInvariants(dynamo, s3, target);
  if (process.argv.includes('--repair') && report.usersWithoutSubIndex.length) {
    for (const line of await repairSubIndex(dynamo, config.tableName, report.usersWithoutSubIndex)) console.log(`  repaired: ${line}`);
    report = await checkInvariants(dynamo, s3, target);
  }
  console.log(
    `${report.users} users, ${report.claims} claims, ${report.subIndexes} sub indexes, ${report.objects} objects, ` +
      `${report.pendingOrphans.length} pending orphans, ${report.problems.length} problems`,
  );
  for (const problem of report.problems) console.log(`  problem: ${problem}`);
  for (const group of report.lookalikes) {
    console.log(`  lookalike names (kept; no new one can join): ${group.map((u) => `${u.username} (user ${u.id})`).join(', ')}`);
  }
  for (const key of report.pendingOrphans) console.log(`  pending orphan (expired by the lifecycle rule): ${key}`);
  process.exitCode = report.problems.length ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
