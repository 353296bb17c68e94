// The warm part of the benchmark, run by bench/run.ts as a bundled child process (built with the
// deployed esbuild options) against DynamoDB Local and s3rver, with both API functions' handlers
// (GET to getUser, writes to patchUser, as serverless.yml routes them):
//   - every AWS call counted by a middleware on the handler's own clients, per request;
//   - warm timings: the handler next to its floor, the same AWS calls issued directly with the
//     same clients (plus decoding the base64 body where there is one), interleaved.
// Its stdout is discarded (the handler logs a line per request); results go back over IPC.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  CreateTableCommand,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  CreateBucketCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import sharp from 'sharp';
import { createHandler as createReadHandler } from '../src/functions/get-user/handler.ts';
import { createHandler, type ApiEvent } from '../src/functions/patch-user/handler.ts';
import { requestMethod } from '../src/http/api-event.ts';
import { createAwsClients } from '../src/store/aws-clients.ts';
import { decodeBase64 } from '../src/http/request-body.ts';
import { hiddenKey, subKey, userKey } from '../src/users/user-record.ts';
import { claimKey } from '../src/users/username-keys.ts';
import { jsonEvent, multipartEvent } from '../tools/support/api-events.ts';
import { multipartBody, type FormValue } from '../tools/support/multipart.ts';
import { galleryFloor } from './gallery-floor.ts';
import { directJpegPipeline, directPipeline } from './image-pipelines.ts';
import type { BenchUser, CallRecord, RequestTrace, Timing, WarmInput, WarmResult } from './protocol.ts';

const input = JSON.parse(readFileSync(process.env.BENCH_WARM_INPUT!, 'utf8')) as WarmInput;
const { config, users } = input;
/** The users the reader hides (bench/local-setup.ts): more than a page of hidden_users/. */
const CROWD = Object.keys(users).filter((role) => role.startsWith('crowd')).length;
const clients = createAwsClients(config);

// ---------------------------------------------------------------------------------------------
// Counting: one record per HTTP attempt (the middleware sits below the retry middleware).

let recording: CallRecord[] | undefined;
function countCalls(service: CallRecord['service'], stack: DynamoDBClient['middlewareStack']) {
  stack.add(
    (next, context) => async (args) => {
      const record: CallRecord = {
        service,
        command: String(context.commandName).replace(/Command$/, ''),
        item: itemKind((args as { input?: DynamoInput }).input),
        start: performance.now(),
        end: 0,
      };
      recording?.push(record);
      try {
        return await next(args);
      } finally {
        record.end = performance.now();
      }
    },
    { step: 'finalizeRequest', priority: 'low', name: 'benchCountCalls' },
  );
}
interface DynamoInput {
  Key?: { pk?: { S?: string } };
  RequestItems?: Record<string, { Keys?: { pk?: { S?: string } }[] }>;
}

/** `USER#` of `USER#5`: which kind of item a single-item or batch call reads or writes. */
function itemKind(input: DynamoInput | undefined): string | undefined {
  const pk = input?.Key?.pk?.S ?? Object.values(input?.RequestItems ?? {})[0]?.Keys?.[0]?.pk?.S;
  return pk === undefined ? undefined : /^[A-Z]+#/.exec(pk)?.[0];
}

countCalls('dynamodb', clients.dynamo.middlewareStack);
// Both stacks take the same middleware; their types differ only in the commands' shapes.
countCalls('s3', clients.s3.middlewareStack as unknown as DynamoDBClient['middlewareStack']);

async function recorded<T>(run: () => Promise<T>): Promise<{ result: T; calls: CallRecord[] }> {
  const calls: CallRecord[] = [];
  recording = calls;
  try {
    return { result: await run(), calls };
  } finally {
    recording = undefined;
  }
}

const byCommand = (calls: CallRecord[]): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const call of calls) counts[call.command] = (counts[call.command] ?? 0) + 1;
  return counts;
};

// ---------------------------------------------------------------------------------------------
// Table, bucket, users

async function setUp() {
  await clients.dynamo.send(
    new CreateTableCommand({
      TableName: config.tableName,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await clients.s3.send(new CreateBucketCommand({ Bucket: config.mediaBucket }));
  for (const [role, user] of Object.entries(users)) await seed(user, extraOf(role, user));
  // The reader hides the crowd (more than a page of hidden_users/); readerHider hides the reader.
  const crowd = Object.entries(users).flatMap(([role, user]) => (role.startsWith('crowd') ? [user.id] : []));
  const hidden = (id: number, ids: number[]) =>
    clients.dynamo.send(new PutItemCommand({ TableName: config.tableName, Item: marshall({ pk: hiddenKey(id), hidden: new Set(ids) }) }));
  await hidden(users.reader!.id, crowd);
  await hidden(users.readerHider!.id, [users.reader!.id]);
}

/** What some users' items hold beyond a bare profile: /me/'s private fields, stored settings, a gallery. */
function extraOf(role: string, user: BenchUser): Record<string, unknown> {
  if (role === 'reader') return { email: 'reader@example.org', email_verified: true, qa_frequency: 0, show_toast_notifications: 0 };
  if (role === 'galleryReader') return galleryOf(user, GALLERY_READ);
  if (role.startsWith('gallery')) return galleryOf(user, GALLERY_WRITE);
  return {};
}

/** Avatars in the gallery the reader pages through, and in the writers' galleries before each request. */
const GALLERY_READ = 8;
const GALLERY_WRITE = 3;

/** A gallery of `n` avatars, the first primary (their objects are never read here, so none is stored). */
function galleryOf(user: BenchUser, n: number) {
  const avatars = Array.from({ length: n }, (_, k) => ({
    id: k + 1,
    key: `avatar/${user.id}/seed-${k + 1}.jpg`,
    uploaded: `2024-02-${String(k + 1).padStart(2, '0')}T00:00:00.000Z`,
  }));
  return { avatars, avatar_seq: n, avatar_key: avatars[0]!.key };
}

/** The writer's gallery back as seeded (the user item alone), so every timed request starts alike. */
const resetGallery = (...writers: BenchUser[]) =>
  Promise.all(writers.map((user) => clients.dynamo.send(new PutItemCommand({ TableName: config.tableName, Item: marshall(userItem(user, galleryOf(user, GALLERY_WRITE))) }))));

function userItem(user: BenchUser, extra: Record<string, unknown>) {
  return {
    ...extra,
    pk: userKey(user.id),
    id: user.id,
    sub: user.sub,
    username: user.username,
    username_claim: claimKey(user.username),
    version: 1,
    date_joined: '2024-01-01T00:00:00.000Z',
    real_name: 'Bench User',
    bio: 'A profile used by the benchmark.',
    followers_counter: 12,
  };
}

async function seed(user: BenchUser, extra: Record<string, unknown> = {}) {
  await clients.dynamo.send(new PutItemCommand({ TableName: config.tableName, Item: marshall(userItem(user, extra)) }));
  await clients.dynamo.send(
    new PutItemCommand({ TableName: config.tableName, Item: marshall({ pk: claimKey(user.username), user_id: user.id }) }),
  );
  // The sub index, which every write's owner check reads.
  await clients.dynamo.send(
    new PutItemCommand({ TableName: config.tableName, Item: marshall({ pk: subKey(user.sub), user_id: user.id }) }),
  );
}

// ---------------------------------------------------------------------------------------------
// Requests

const handler = createHandler(config, clients);
// The reads' function (serverless.yml getUser), on the same counted DynamoDB client.
const readHandler = createReadHandler(config, clients.dynamo);
/** The function API Gateway sends a request to: GET to getUser, writes to patchUser. */
const functionFor = (request: ApiEvent) => (requestMethod(request) === 'GET' ? readHandler : handler);
const template = input.eventTemplate;
const image = (file: string, name: string) => ({ bytes: readFileSync(file), filename: name, type: 'image/jpeg' });
const avatarImage = image(input.files.avatarImage, 'avatar.jpg');
const coverImage = image(input.files.coverImage, 'cover.jpg');
const smallImage = image(input.files.smallImage, 'small.jpg');

const event = {
  text: (user: BenchUser, i: number) =>
    jsonEvent(template.json, user.id, user.token, { bio: `Benchmark run, request ${i}.`, real_name: i % 2 ? 'Ada' : 'Ada L.' }),
  json: (user: BenchUser, fields: Record<string, unknown>, id: number = user.id) =>
    jsonEvent(template.json, id, user.token, fields),
  avatar: (user: BenchUser, fields: Record<string, string> = {}) =>
    multipartEvent(template.multipart, user.id, user.token, { ...fields, avatar: avatarImage }),
  cover: (user: BenchUser) => multipartEvent(template.multipart, user.id, user.token, { cover: coverImage }),
};

/**
 * A request to `/api/v2/user/<path>` as API Gateway sends it (the recorded event with this path,
 * method and query); without a user, no Authorization header: an anonymous caller.
 */
function pathEvent(
  method: string,
  path: string,
  user?: BenchUser,
  options: { body?: unknown; form?: Record<string, FormValue>; query?: Record<string, string> } = {},
): ApiEvent {
  const event = structuredClone(template.json);
  const headers: Record<string, string | undefined> = { ...event.headers };
  for (const name of ['Authorization', 'Content-Type', 'Content-Length']) delete headers[name];
  if (user) headers.Authorization = `Bearer ${user.token}`;
  // A form as API Gateway delivers it (base64); a fixed boundary, so every run sends the same bytes.
  const form = options.form && multipartBody(options.form, '----formdata-undici-031254748553');
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  if (form) headers['Content-Type'] = form.contentType;
  const full = `/api/v2/user/${path}`;
  const id = /^(\d+)\//.exec(path)?.[1];
  return {
    ...event,
    httpMethod: method,
    headers,
    path: full,
    pathParameters: id === undefined ? null : { id },
    queryStringParameters: options.query ?? null,
    multiValueQueryStringParameters: options.query
      ? Object.fromEntries(Object.entries(options.query).map(([name, value]) => [name, [value]]))
      : null,
    requestContext: { ...event.requestContext, path: `/prod${full}` },
    body: form ? form.body : options.body === undefined ? null : JSON.stringify(options.body),
    isBase64Encoded: form !== undefined,
  };
}

/** The profile pages' requests (issue 15), served by getUser (GET) and patchUser (writes). */
const profile = {
  anonymous: (of: BenchUser) => pathEvent('GET', `${of.id}/`),
  me: (caller: BenchUser) => pathEvent('GET', 'me/', caller),
  settings: (caller: BenchUser) => pathEvent('GET', `${caller.id}/settings/`, caller),
  patchSettings: (caller: BenchUser, i: number) =>
    pathEvent('PATCH', `${caller.id}/settings/`, caller, { body: { qa_frequency: QA_CHOICES[i % 3] } }),
  hide: (caller: BenchUser, target: BenchUser) => pathEvent('POST', `${target.id}/hide/`, caller),
  isHidden: (caller: BenchUser, target: BenchUser) => pathEvent('GET', `${target.id}/is_hidden/`, caller),
  isHiddenBy: (caller: BenchUser, target: BenchUser) => pathEvent('GET', `${target.id}/is_hidden_by/`, caller),
  hiddenUsers: (caller: BenchUser) => pathEvent('GET', 'hidden_users/', caller, { query: { limit: '20' } }),
  hiddenUsersId: (caller: BenchUser) => pathEvent('GET', 'hidden_users_id/', caller),
  // The avatar gallery (issue 15): the caller's own, /api/v2/user/avatar/.
  avatarPost: (caller: BenchUser, file: { bytes: Buffer; filename: string; type: string }) =>
    pathEvent('POST', 'avatar/', caller, { form: { avatar: file } }),
  avatarPrimary: (caller: BenchUser, avatarId: number) => pathEvent('PATCH', 'avatar/', caller, { body: { avatar_id: avatarId } }),
  avatarDelete: (caller: BenchUser, avatarId: number) => pathEvent('DELETE', 'avatar/', caller, { query: { avatar_id: String(avatarId) } }),
  avatars: (caller: BenchUser) => pathEvent('GET', 'avatar/', caller),
};
const phoneImage = { bytes: readFileSync(input.files.phoneImage), filename: 'IMG_0001.jpg', type: 'image/jpeg' };
const smallPng = { bytes: readFileSync(input.files.smallPng), filename: 'screenshot.png', type: 'image/png' };
const QA_CHOICES = [-1, 1, 0] as const;

/** A rename between two names, alternating; the user was seeded with the second one. */
const renameTo = (user: BenchUser, i: number) => `${user.username.replace(/_b$/, '')}_${i % 2 ? 'b' : 'a'}`;

// ---------------------------------------------------------------------------------------------
// Floors: what the handler's AWS calls cost when issued directly, with nothing of ours around
// them. Same clients, same parameters, same order and parallelism.

const TABLE = config.tableName;
const BUCKET = config.mediaBucket;
const S = (value: string) => ({ S: value });

/** The owner check of every write: the user's sub index names it (src/store/users-table.ts). */
const ownerCheck = (user: BenchUser) => ({
  ConditionCheck: {
    TableName: TABLE,
    Key: { pk: S(subKey(user.sub)) },
    ConditionExpression: 'user_id = :id',
    ExpressionAttributeValues: { ':id': { N: String(user.id) } },
  },
});

/** A patch as the handler writes it: one transaction, then the consistent read its answer needs. */
async function updateUser(dynamo: DynamoDBClient, user: BenchUser, set: Record<string, string>) {
  const names: Record<string, string> = { '#version': 'version' };
  const values: Record<string, { S: string } | { N: string }> = { ':one': { N: '1' } };
  const sets = Object.entries(set).map(([attribute, value], n) => {
    names[`#a${n}`] = attribute;
    values[`:v${n}`] = S(value);
    return `#a${n} = :v${n}`;
  });
  await dynamo.send(
    new TransactWriteItemsCommand({
      TransactItems: [
        {
          Update: {
            TableName: TABLE,
            Key: { pk: S(userKey(user.id)) },
            UpdateExpression: `SET ${sets.join(', ')} ADD #version :one`,
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        ownerCheck(user),
      ],
    }),
  );
  return dynamo.send(new GetItemCommand({ TableName: TABLE, Key: { pk: S(userKey(user.id)) }, ConsistentRead: true }));
}

async function floorText(user: BenchUser, i: number) {
  await updateUser(clients.dynamo, user, { bio: `Benchmark run, request ${i}.`, real_name: i % 2 ? 'Ada' : 'Ada L.' });
}

async function floorRename(user: BenchUser, i: number) {
  const { Item } = await clients.dynamo.send(
    new GetItemCommand({ TableName: TABLE, Key: { pk: S(userKey(user.id)) }, ConsistentRead: true }),
  );
  const current = Item!.username!.S!;
  const version = Item!.version!.N!;
  const username = renameTo(user, i);
  await clients.dynamo.send(
    new TransactWriteItemsCommand({
      TransactItems: [
        {
          Put: {
            TableName: TABLE,
            Item: { pk: S(claimKey(username)), user_id: { N: String(user.id) } },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        {
          Delete: {
            TableName: TABLE,
            Key: { pk: S(Item!.username_claim?.S ?? claimKey(current)) },
            ConditionExpression: 'attribute_not_exists(pk) OR user_id = :id',
            ExpressionAttributeValues: { ':id': { N: String(user.id) } },
          },
        },
        {
          Update: {
            TableName: TABLE,
            Key: { pk: S(userKey(user.id)) },
            UpdateExpression: 'SET #a0 = :v0, #a1 = :v1 ADD #version :one',
            ConditionExpression: 'attribute_exists(pk) AND #version = :readVersion',
            ExpressionAttributeNames: { '#version': 'version', '#a0': 'username', '#a1': 'username_claim' },
            ExpressionAttributeValues: {
              ':one': { N: '1' },
              ':v0': S(username),
              ':v1': S(claimKey(username)),
              ':readVersion': { N: version },
            },
          },
        },
        ownerCheck(user),
      ],
    }),
  );
}

const gallery = galleryFloor(clients.dynamo, clients.s3, TABLE, BUCKET);

/** The image as the handler makes it: its size read, then the libvips pipeline (the request work in the floor). */
async function madeImage(upload: Buffer, format: 'jpeg' | 'png') {
  const { width, height } = await sharp(upload).metadata();
  const bytes = await directPipeline(upload, 'avatar', width, height, format);
  return { bytes, mime: `image/${format}`, ext: format === 'png' ? 'png' : 'jpg' };
}

/** PATCH /{id}/ with a new avatar: since the gallery, the put ∥ the user's read, then the write, no read after. */
async function floorAvatar(user: BenchUser, body: string, upload: Buffer) {
  decodeBase64(body);
  await gallery.replacePrimary(user, await madeImage(upload, 'jpeg'));
}

/** POST /avatar/: the caller's id read while the image is made, then as PATCH /{id}/ but adding an avatar. */
async function floorAvatarPost(user: BenchUser, body: string, upload: Buffer, format: 'jpeg' | 'png') {
  decodeBase64(body);
  await gallery.add(user, () => madeImage(upload, format));
}

async function floorImage(user: BenchUser, field: 'avatar' | 'cover', body: string, upload: Buffer) {
  // The body decoded (the fastest way we have), and the image normalized by libvips, as the
  // handler must: the request work in the floor.
  decodeBase64(body);
  const { width, height } = await sharp(upload).metadata();
  const bytes = await directJpegPipeline(upload, field, width, height);
  const key = `${field}/${user.id}/${randomUUID()}.jpg`;
  await clients.s3.send(
    new PutObjectCommand({
      Bucket: BUCKET,
      Key: key,
      Body: bytes,
      ContentType: 'image/jpeg',
      ContentLength: bytes.length,
      CacheControl: 'public, max-age=31536000, immutable',
      Tagging: 'state=pending',
    }),
  );
  // After the write the handler is done: the table's stream tags the upload live and deletes the
  // replaced image (src/functions/media-events/handler.ts), so the floor stops here too.
  await updateUser(clients.dynamo, user, { [`${field}_key`]: key });
}

// Floors of the profile pages' requests: the calls src/functions/get-user/settings-hidden.ts,
// src/functions/patch-user/settings-hidden.ts and src/store/hidden-users.ts make, in their order.

const consistentGet = (pk: string, projection?: string) =>
  clients.dynamo.send(
    new GetItemCommand({ TableName: TABLE, Key: { pk: S(pk) }, ConsistentRead: true, ...(projection && { ProjectionExpression: projection }) }),
  );
const userIdIn = (item: Record<string, AttributeValue> | undefined) => Number(item!.user_id!.N);
const hiddenIn = (item: Record<string, AttributeValue> | undefined): number[] =>
  [...((item && (unmarshall(item).hidden as Set<number> | undefined)) ?? [])].sort((a, b) => a - b);

async function floorMe(user: BenchUser) {
  const { Item } = await consistentGet(subKey(user.sub));
  return consistentGet(userKey(userIdIn(Item)));
}

async function floorPatchSettings(user: BenchUser, i: number) {
  await clients.dynamo.send(
    new TransactWriteItemsCommand({
      TransactItems: [
        {
          Update: {
            TableName: TABLE,
            Key: { pk: S(userKey(user.id)) },
            UpdateExpression: 'SET #s0 = :s0',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeNames: { '#s0': 'qa_frequency' },
            ExpressionAttributeValues: { ':s0': { N: String(QA_CHOICES[i % 3]) } },
          },
        },
        ownerCheck(user),
      ],
    }),
  );
  return consistentGet(userKey(user.id));
}

/** Hides `target` from `caller`, or shows them again: the caller's id ∥ the target's existence, the set, one write. */
async function floorToggle(caller: BenchUser, target: BenchUser, max: number) {
  const callersSet = async () => {
    const { Item } = await consistentGet(subKey(caller.sub));
    const id = userIdIn(Item);
    return { callerId: id, hides: hiddenIn((await consistentGet(hiddenKey(id))).Item) };
  };
  const [{ callerId, hides }] = await Promise.all([callersSet(), consistentGet(userKey(target.id), 'pk')]);
  const hide = !hides.includes(target.id);
  const common = {
    TableName: TABLE,
    Key: { pk: S(hiddenKey(callerId)) },
    ExpressionAttributeNames: { '#hidden': 'hidden' },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
  };
  const ids = { NS: [String(target.id)] };
  const id = { N: String(target.id) };
  try {
    await clients.dynamo.send(
      new UpdateItemCommand(
        hide
          ? {
              ...common,
              UpdateExpression: 'ADD #hidden :ids',
              ConditionExpression: 'attribute_not_exists(#hidden) OR (NOT contains(#hidden, :id) AND size(#hidden) < :max)',
              ExpressionAttributeValues: { ':ids': ids, ':id': id, ':max': { N: String(max) } },
            }
          : {
              ...common,
              UpdateExpression: 'DELETE #hidden :ids',
              ConditionExpression: 'contains(#hidden, :id)',
              ExpressionAttributeValues: { ':ids': ids, ':id': id },
            },
      ),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}

async function floorIsHidden(caller: BenchUser, target: BenchUser) {
  const callersSet = async () => {
    const { Item } = await consistentGet(subKey(caller.sub));
    return hiddenIn((await consistentGet(hiddenKey(userIdIn(Item)))).Item);
  };
  const [, hides] = await Promise.all([consistentGet(userKey(target.id), 'pk'), callersSet()]);
  return hides.includes(target.id);
}

async function floorIsHiddenBy(caller: BenchUser, target: BenchUser) {
  const [, sub, hides] = await Promise.all([
    consistentGet(userKey(target.id), 'pk'),
    consistentGet(subKey(caller.sub)),
    consistentGet(hiddenKey(target.id)),
  ]);
  return hiddenIn(hides.Item).includes(userIdIn(sub.Item));
}

async function floorHiddenIds(caller: BenchUser) {
  const { Item } = await consistentGet(subKey(caller.sub));
  return hiddenIn((await consistentGet(hiddenKey(userIdIn(Item)))).Item);
}

async function floorHiddenUsers(caller: BenchUser) {
  const ids = (await floorHiddenIds(caller)).slice(0, 20);
  return clients.dynamo.send(
    new BatchGetItemCommand({ RequestItems: { [TABLE]: { Keys: ids.map((id) => ({ pk: S(userKey(id)) })), ConsistentRead: true } } }),
  );
}

// ---------------------------------------------------------------------------------------------
// Runs

async function callHandler(request: ApiEvent, expected = 200): Promise<number> {
  const response = await functionFor(request)(request);
  if (response.statusCode !== expected) {
    throw new Error(`bench: expected ${expected}, got ${response.statusCode}: ${response.body.slice(0, 300)}`);
  }
  return response.statusCode;
}

async function traces(): Promise<RequestTrace[]> {
  const out: RequestTrace[] = [];
  const trace = async (scenario: string, request: ApiEvent, expected = 200, answers?: (body: any) => boolean) => {
    const { result, calls } = await recorded(() => functionFor(request)(request));
    if (result.statusCode !== expected) {
      throw new Error(`bench: ${scenario}: expected ${expected}, got ${result.statusCode}: ${result.body.slice(0, 300)}`);
    }
    // The bench times what it names: a request that answers something else is a broken bench.
    if (answers && !answers(JSON.parse(result.body))) throw new Error(`bench: ${scenario}: unexpected answer ${result.body.slice(0, 300)}`);
    out.push({ scenario, status: result.statusCode, calls });
  };
  const u = users;
  await trace('text patch', event.text(u.countText!, 1));
  await trace('empty patch', event.json(u.countText!, {}));
  await trace('not the owner (403)', event.json(u.countText!, { bio: 'x' }, u.countOther!.id), 403);
  await trace('no such user (404)', event.json(u.countText!, { bio: 'x' }, input.missingId), 404);
  await trace('username change', event.json(u.countRename!, { username: 'count_renamed' }));
  await trace('username taken (400)', event.json(u.countRename!, { username: u.countOther!.username }), 400);
  await trace('case-only rename', event.json(u.countRename!, { username: 'Count_Renamed' }));
  await callHandler(event.avatar(u.countImage!)); // an old avatar to replace
  await trace('avatar replaced', event.avatar(u.countImage!));
  await trace('avatar removed', event.json(u.countImage!, { avatar: null }));
  await callHandler(multipartEvent(template.multipart, u.countBoth!.id, u.countBoth!.token, { avatar: smallImage, cover: smallImage }));
  await trace(
    'username + avatar + cover',
    multipartEvent(template.multipart, u.countBoth!.id, u.countBoth!.token, {
      username: 'both_renamed',
      avatar: smallImage,
      cover: smallImage,
    }),
  );
  // The profile pages' requests.
  await trace('user, anonymous', profile.anonymous(u.reader!), 200, (b) => b.id === u.reader!.id && !('email' in b));
  await trace('me (email, role)', profile.me(u.reader!), 200, (b) => b.email === 'reader@example.org' && b.role === 'moderator');
  await trace('settings', profile.settings(u.reader!), 200, (b) => b.qa_frequency === 0);
  await trace('settings patch', profile.patchSettings(u.settingsHandler!, 0), 200, (b) => b.qa_frequency === QA_CHOICES[0]);
  // The toggle's caller hides nobody yet: the first request hides, the second shows again.
  await trace('hide', profile.hide(u.hideHandler!, u.reader!), 204);
  await trace('show', profile.hide(u.hideHandler!, u.reader!), 204);
  await trace('is_hidden', profile.isHidden(u.reader!, u.crowd0!), 200, (b) => b.is_hidden === true);
  await trace('is_hidden_by', profile.isHiddenBy(u.reader!, u.readerHider!), 200, (b) => b.is_hidden_by === true);
  await trace('hidden_users (a page of 20)', profile.hiddenUsers(u.reader!), 200, (b) => b.count === CROWD && b.results.length === 20);
  await trace('hidden_users_id', profile.hiddenUsersId(u.reader!), 200, (b) => Array.isArray(b) && b.length === CROWD);
  // The avatar gallery: each write from the seeded gallery of GALLERY_WRITE.
  const added = (ext: string) => (b: any) => b.id === GALLERY_WRITE + 1 && b.primary === false && String(b.avatar).endsWith(ext);
  await trace('gallery POST, 12-MP photo', profile.avatarPost(u.galleryPostHandler!, phoneImage), 201, added('.jpg'));
  await resetGallery(u.galleryPostHandler!);
  await trace('gallery POST, small PNG', profile.avatarPost(u.galleryPostHandler!, smallPng), 201, added('.png'));
  await trace('gallery PATCH primary', profile.avatarPrimary(u.galleryPrimaryHandler!, 2), 204);
  await trace('gallery DELETE', profile.avatarDelete(u.galleryDeleteHandler!, 2), 204);
  await trace('gallery GET (a page)', profile.avatars(u.galleryReader!), 200, (b) => b.count === GALLERY_READ && b.results.length === GALLERY_READ);
  return out;
}

/** Time during which at least one AWS call was under way (the union of their intervals). */
function coveredTime(calls: CallRecord[]): number {
  let total = 0;
  let until = -Infinity;
  for (const call of [...calls].sort((a, b) => a.start - b.start)) {
    if (call.end <= until) continue;
    total += call.end - Math.max(call.start, until);
    until = call.end;
  }
  return total;
}

interface Scenario {
  name: string;
  /** The status every handler request must answer (default 200). */
  expected?: number;
  /** Run before each handler/floor pair, untimed: both start from the same state every time. */
  reset?: () => Promise<unknown>;
  /** Sample and warm-up multiplier: the fast scenarios take more samples for a steadier median. */
  scale: number;
  handler: (i: number) => ApiEvent;
  floor: (i: number) => Promise<unknown>;
}

async function time(scenario: Scenario): Promise<Timing> {
  const handlerTimes: number[] = [];
  const floorTimes: number[] = [];
  const ownTimes: number[] = [];
  const floorOwnTimes: number[] = [];
  let handlerCalls: Record<string, number> = {};
  let floorCalls: Record<string, number> = {};
  const warmup = input.warmup * scenario.scale;
  const total = warmup + input.samples * scenario.scale;
  for (let i = 0; i < total; i++) {
    const request = scenario.handler(i);
    const runHandler = async () => {
      const start = performance.now();
      const { calls } = await recorded(() => callHandler(request, scenario.expected));
      const elapsed = performance.now() - start;
      if (i >= warmup) {
        handlerTimes.push(elapsed);
        ownTimes.push(elapsed - coveredTime(calls));
      }
      if (i === total - 1) handlerCalls = byCommand(calls);
    };
    const runFloor = async () => {
      const start = performance.now();
      const { calls } = await recorded(() => scenario.floor(i));
      const elapsed = performance.now() - start;
      if (i >= warmup) {
        floorTimes.push(elapsed);
        floorOwnTimes.push(elapsed - coveredTime(calls));
      }
      if (i === total - 1) floorCalls = byCommand(calls);
    };
    await scenario.reset?.();
    // Alternate which goes first, so neither always follows the other's garbage.
    if (i % 2) {
      await runHandler();
      await runFloor();
    } else {
      await runFloor();
      await runHandler();
    }
  }
  return {
    scenario: scenario.name,
    handler: handlerTimes,
    floor: floorTimes,
    own: ownTimes,
    floorOwn: floorOwnTimes,
    handlerCalls,
    floorCalls,
  };
}

async function main(): Promise<WarmResult> {
  await setUp();
  const u = users;
  if (input.samples === 0) return { traces: [], timings: [] }; // only seeding was asked for
  const result: WarmResult = { traces: await traces(), timings: [] };

  const avatarEvent = event.avatar(u.avatarHandler!);
  const coverEvent = event.cover(u.coverHandler!);
  const phoneEvent = profile.avatarPost(u.galleryPostHandler!, phoneImage);
  const pngEvent = profile.avatarPost(u.galleryPostHandler!, smallPng);
  const scenarios: Scenario[] = [
    {
      name: 'text patch',
      scale: 2,
      handler: (i) => event.text(u.textHandler!, i),
      floor: (i) => floorText(u.textFloor!, i),
    },
    {
      name: 'username change',
      scale: 2,
      handler: (i) => event.json(u.renameHandler!, { username: renameTo(u.renameHandler!, i) }),
      floor: (i) => floorRename(u.renameFloor!, i),
    },
    {
      name: '1 MB avatar',
      scale: 1,
      handler: () => avatarEvent,
      floor: () => floorAvatar(u.avatarFloor!, avatarEvent.body!, avatarImage.bytes),
    },
    {
      name: '4 MB cover',
      scale: 1,
      handler: () => coverEvent,
      floor: () => floorImage(u.coverFloor!, 'cover', coverEvent.body!, coverImage.bytes),
    },
    // The profile pages' requests; the reads' floors read what the handler reads.
    {
      name: 'user, anonymous',
      scale: 2,
      handler: () => profile.anonymous(u.reader!),
      floor: () => consistentGet(userKey(u.reader!.id)),
    },
    { name: 'me (email, role)', scale: 2, handler: () => profile.me(u.reader!), floor: () => floorMe(u.reader!) },
    { name: 'settings', scale: 2, handler: () => profile.settings(u.reader!), floor: () => consistentGet(userKey(u.reader!.id)) },
    {
      name: 'settings patch',
      scale: 2,
      handler: (i) => profile.patchSettings(u.settingsHandler!, i),
      floor: (i) => floorPatchSettings(u.settingsFloor!, i),
    },
    {
      name: 'hide / show',
      scale: 2,
      expected: 204,
      handler: () => profile.hide(u.hideHandler!, u.reader!),
      floor: () => floorToggle(u.hideFloor!, u.reader!, config.maxHiddenUsers),
    },
    {
      name: 'is_hidden',
      scale: 2,
      handler: () => profile.isHidden(u.reader!, u.crowd0!),
      floor: () => floorIsHidden(u.reader!, u.crowd0!),
    },
    {
      name: 'is_hidden_by',
      scale: 2,
      handler: () => profile.isHiddenBy(u.reader!, u.readerHider!),
      floor: () => floorIsHiddenBy(u.reader!, u.readerHider!),
    },
    {
      name: 'hidden_users (a page of 20)',
      scale: 2,
      handler: () => profile.hiddenUsers(u.reader!),
      floor: () => floorHiddenUsers(u.reader!),
    },
    { name: 'hidden_users_id', scale: 2, handler: () => profile.hiddenUsersId(u.reader!), floor: () => floorHiddenIds(u.reader!) },
    // The avatar gallery; the writes that add or remove start from the seeded gallery each time.
    {
      name: 'gallery POST, 12-MP photo',
      scale: 0.5,
      expected: 201,
      reset: () => resetGallery(u.galleryPostHandler!, u.galleryPostFloor!),
      handler: () => phoneEvent,
      floor: () => floorAvatarPost(u.galleryPostFloor!, phoneEvent.body!, phoneImage.bytes, 'jpeg'),
    },
    {
      name: 'gallery POST, small PNG',
      scale: 1,
      expected: 201,
      reset: () => resetGallery(u.galleryPostHandler!, u.galleryPostFloor!),
      handler: () => pngEvent,
      floor: () => floorAvatarPost(u.galleryPostFloor!, pngEvent.body!, smallPng.bytes, 'png'),
    },
    {
      name: 'gallery PATCH primary',
      scale: 2,
      expected: 204,
      handler: (i) => profile.avatarPrimary(u.galleryPrimaryHandler!, 2 - (i % 2)),
      floor: (i) => gallery.makePrimary(u.galleryPrimaryFloor!, 2 - (i % 2)),
    },
    {
      name: 'gallery DELETE',
      scale: 2,
      expected: 204,
      reset: () => resetGallery(u.galleryDeleteHandler!, u.galleryDeleteFloor!),
      handler: () => profile.avatarDelete(u.galleryDeleteHandler!, 2),
      floor: () => gallery.remove(u.galleryDeleteFloor!, 2),
    },
    { name: 'gallery GET (a page)', scale: 2, handler: () => profile.avatars(u.galleryReader!), floor: () => gallery.page(u.galleryReader!) },
  ];
  for (const scenario of scenarios) result.timings.push(await time(scenario));
  return result;
}

main().then(
  (result) => {
    process.send!(result, () => process.exit(0));
  },
  (error: unknown) => {
    process.stderr.write(`bench warm: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
