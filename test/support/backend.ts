// A real backend for handler and integration tests: DynamoDB Local and the S3 emulator, a fresh
// table and bucket, the handler's Config pointing at them, and helpers to look at what is stored.
import { readFileSync } from 'node:fs';
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import {
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import type { ApiEvent } from '../../src/functions/patch-user/handler.ts';
import { createAwsClients } from '../../src/store/aws-clients.ts';
import { readConfig, type Config } from '../../src/platform/config.ts';
import { userKey, type ClaimItem, type UserItem } from '../../src/users/user-record.ts';
import { claimKey } from '../../src/users/username-keys.ts';
import { createDynamoDbClient, ensureBucket, ensureTable } from '../../tools/local/local-stack.ts';
import { seedUsers } from '../../tools/local/seed-users.ts';
import { startTestEmulators, type Emulators } from '../../tools/support/emulators.ts';
import { TEST_POOL, writeJwksFile, type PoolSettings, type TestKey } from '../../tools/support/tokens.ts';

export interface TestBackend {
  config: Config;
  pool: PoolSettings;
  emulators: Emulators;
  dynamo: DynamoDBDocumentClient;
  s3: S3Client;
  seed(users: Record<string, unknown>[]): Promise<void>;
  getUser(id: number): Promise<UserItem | undefined>;
  getClaim(username: string): Promise<ClaimItem | undefined>;
  scanTable(): Promise<Record<string, unknown>[]>;
  objectKeys(prefix?: string): Promise<string[]>;
  objectExists(key: string): Promise<boolean>;
  objectTags(key: string): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

let counter = 0;

export async function startTestBackend(options: {
  keys: TestKey[];
  env?: Record<string, string>;
  emulators?: Emulators;
}): Promise<TestBackend> {
  const emulators = options.emulators ?? (await startTestEmulators());
  const suffix = `${process.pid}-${++counter}`;
  const config = readConfig({
    AWS_REGION: TEST_POOL.region,
    TABLE_NAME: `users-test-${suffix}`,
    MEDIA_BUCKET: `media-test-${suffix}`,
    MEDIA_BASE_URL: `${emulators.s3Endpoint}/media-test-${suffix}`,
    COGNITO_USER_POOL_ID: TEST_POOL.userPoolId,
    COGNITO_CLIENT_ID: TEST_POOL.clientId,
    COGNITO_JWKS_FILE: writeJwksFile(options.keys),
    DYNAMODB_ENDPOINT: emulators.dynamodbEndpoint,
    S3_ENDPOINT: emulators.s3Endpoint,
    ...options.env,
  });
  // The handler's clients, with the document client on top for the helpers below.
  const clients = createAwsClients(config);
  const dynamo = DynamoDBDocumentClient.from(clients.dynamo, { marshallOptions: { removeUndefinedValues: true } });
  const { s3 } = clients;
  const admin = createDynamoDbClient({ region: config.region, dynamodbEndpoint: emulators.dynamodbEndpoint });
  try {
    await ensureTable(admin, config.tableName);
    await ensureBucket(s3, config.mediaBucket);
  } catch (error) {
    if (!options.emulators) await emulators.stop();
    throw error;
  } finally {
    admin.destroy();
  }

  return {
    config,
    pool: TEST_POOL,
    emulators,
    dynamo,
    s3,
    async seed(users) {
      await seedUsers(dynamo, config.tableName, users, { warn: () => {} });
    },
    async getUser(id) {
      const { Item } = await dynamo.send(new GetCommand({ TableName: config.tableName, Key: { pk: userKey(id) }, ConsistentRead: true }));
      return Item as UserItem | undefined;
    },
    async getClaim(username) {
      const { Item } = await dynamo.send(new GetCommand({ TableName: config.tableName, Key: { pk: claimKey(username) }, ConsistentRead: true }));
      return Item as ClaimItem | undefined;
    },
    async scanTable() {
      const items: Record<string, unknown>[] = [];
      let ExclusiveStartKey: Record<string, unknown> | undefined;
      do {
        const page = await dynamo.send(new ScanCommand({ TableName: config.tableName, ConsistentRead: true, ExclusiveStartKey }));
        items.push(...(page.Items ?? []));
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey);
      return items;
    },
    async objectKeys(prefix = '') {
      const { Contents } = await s3.send(new ListObjectsV2Command({ Bucket: config.mediaBucket, Prefix: prefix }));
      return (Contents ?? []).map((o) => o.Key!).sort();
    },
    async objectExists(key) {
      try {
        await s3.send(new HeadObjectCommand({ Bucket: config.mediaBucket, Key: key }));
        return true;
      } catch (error) {
        if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
        throw error;
      }
    },
    async objectTags(key) {
      const { TagSet } = await s3.send(new GetObjectTaggingCommand({ Bucket: config.mediaBucket, Key: key }));
      return Object.fromEntries((TagSet ?? []).map((t) => [t.Key!, t.Value!]));
    },
    async stop() {
      dynamo.destroy();
      s3.destroy();
      if (!options.emulators) await emulators.stop();
    },
  };
}

const FIXTURES = new URL('../fixtures/events/', import.meta.url);
const fixtureCache = new Map<string, ApiEvent>();

/**
 * A copy of a recorded API Gateway event (`rest-api-patch-<kind>.json`) for user `id`, with the
 * Authorization header, body and content type replaced where given.
 */
export function fixtureEvent(
  kind: 'json' | 'multipart',
  options: {
    id: number | string;
    token?: string;
    rawAuthorization?: string;
    body?: string;
    contentType?: string;
    isBase64Encoded?: boolean;
  },
): ApiEvent {
  let template = fixtureCache.get(kind);
  if (!template) {
    template = JSON.parse(readFileSync(new URL(`rest-api-patch-${kind}.json`, FIXTURES), 'utf8')) as ApiEvent;
    fixtureCache.set(kind, template);
  }
  const event = structuredClone(template);
  const headers: Record<string, string | undefined> = { ...event.headers };
  delete headers.Authorization;
  const authorization = options.rawAuthorization ?? (options.token ? `Bearer ${options.token}` : undefined);
  if (authorization !== undefined) headers.Authorization = authorization;
  if ('contentType' in options) {
    delete headers['Content-Type'];
    if (options.contentType !== undefined) headers['Content-Type'] = options.contentType;
  }
  if (options.body !== undefined) {
    event.body = options.body;
    event.isBase64Encoded = options.isBase64Encoded ?? false;
  }
  event.headers = headers;
  event.pathParameters = { id: String(options.id) };
  event.path = `/api/v2/user/${options.id}/`;
  return event;
}

export { multipartBody, type FormValue } from '../../tools/support/multipart.ts';

export interface SeededUser {
  id: number;
  sub: string;
  username: string;
}

/**
 * Fresh users for the tests of one file, so that tests do not depend on each other's writes: ids
 * from `firstId` up (each file its own range), sub `sub-<id>`, username `<prefix><id>`, then
 * `defaults`, then the fields of the call. `backend` is read at each call (it is made in `before`).
 */
export function userSeeder(backend: () => TestBackend, prefix: string, firstId: number, defaults: Record<string, unknown> = {}) {
  let nextId = firstId;
  const make = <T extends Record<string, unknown>>(fields?: T): SeededUser & T => {
    const id = nextId++;
    return { id, sub: `sub-${id}`, username: `${prefix}${id}`, ...defaults, ...fields } as SeededUser & T;
  };
  /** One user, seeded. */
  const seedOne = async <T extends Record<string, unknown> = Record<never, never>>(fields?: T): Promise<SeededUser & T> => {
    const user = make(fields);
    await backend().seed([user]);
    return user;
  };
  /** `count` users, seeded in one go. */
  const seedMany = async (count: number): Promise<SeededUser[]> => {
    const users = Array.from({ length: count }, () => make());
    await backend().seed(users);
    return users;
  };
  return Object.assign(seedOne, { many: seedMany });
}
