// The whole local stack: emulators, EventBridge recorder, `osls offline`, demo users and the stream
// poller, started in order and stopped together by one supervisor.

import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { LOCAL_CREDENTIALS } from '../../src/store/dynamo-client.ts';
import { createDynamoDbClient, createS3Client } from './clients.ts';
import { LocalStackError, MEDIA_EVENTS_FUNCTION, PROJECT_DIR } from './config.ts';
import type { LocalStackConfig } from './config.ts';
import { DEMO_USERS } from './demo-users.ts';
import { ensureTable, startDynamoDbLocal, waitForDynamoDb } from './dynamodb-local.ts';
import { startEventBridgeRecorder } from './eventbridge-recorder.ts';
import type { EventBridgeRecorder } from './eventbridge-recorder.ts';
import { ensureLocalKeys, readJwksFile, signAccessToken } from './keys.ts';
import type { LocalKeys } from './keys.ts';
import { failureInOutput, readStreamTriggerSettings, startOffline } from './offline.ts';
import { assertPortsFree, findFreePortExcept } from './ports.ts';
import { ensureBucket, startS3Server, stopS3Server } from './s3-server.ts';
import { signInLocally, signUpLocally, writeStackFile } from './signup.ts';
import { rememberLocalUser } from './local-users.ts';
import { StreamPoller, offlineInvoker } from './stream-poller.ts';
import { LocalStackSupervisor, waitUntil } from './supervisor.ts';
import { startPageServer, type PageServer, type PageUser } from '../page/server.ts';
import { readLocalUsers } from './local-users.ts';
import { DEFAULT_PAGE_PORT } from './config.ts';
import type { ChildExit, ManagedChild } from './supervisor.ts';

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
  /** The stock-UI page (docs/stock-ui.md), when started with `page: true`. */
  page: PageServer | undefined;
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
  /**
   * Serves the stock-UI page on config.pagePort and lets its origin call the API (CORS); npm start
   * does. Default false: the other stacks' API answers stay as configured.
   */
  page?: boolean;
}

/**
 * Starts everything and resolves once the API answers, the table and bucket exist and the demo
 * users are in. On failure it stops whatever it had started and rejects (PortInUseError when a
 * configured port is taken, ChildExitedError when a child dies, StackStoppedError when stopped).
 */
export async function startLocalStack(
  givenConfig: LocalStackConfig,
  options: StartLocalStackOptions = {},
): Promise<LocalStack> {
  let config = givenConfig;
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

    // Before osls offline: the page's origin is one the API must allow.
    let page: PageServer | undefined;
    let lambdaPortOfPage = 0;
    let dynamoOfPage: ReturnType<typeof createDynamoDbClient> | undefined;
    if (options.page) {
      const signedUpHere = new Map<string, PageUser>();
      const known = DEMO_USERS.map((user): PageUser => ({ sub: user.sub, id: user.id, username: user.username, email: user.email }));
      const stackConfig = config;
      page = await startPageServer({
        port: config.pagePort,
        // A second `npm start` (another PORT) must not fail for the page's default port.
        fallback: config.pagePort === DEFAULT_PAGE_PORT,
        apiBaseUrl: config.baseUrl,
        users: async () => {
          const people = new Map(known.map((user) => [user.sub, user]));
          for (const [sub, user] of Object.entries(await readLocalUsers(stackConfig.stateDir))) {
            if (!people.has(sub)) people.set(sub, signedUpHere.get(sub) ?? { sub, username: '', email: user.email });
          }
          return [...people.values()];
        },
        mintToken: async (sub) => {
          const person = (await readLocalUsers(stackConfig.stateDir))[sub];
          // A sign-in, as `npm run token` makes it: the trigger refreshes the e-mail /me/ answers.
          if (person) await signInLocally(lambdaPortOfPage, stackConfig, { sub, email: person.email });
          return signAccessToken(keys, {
            sub,
            region: stackConfig.region,
            userPoolId: stackConfig.userPoolId,
            clientId: stackConfig.clientId,
            groups: person?.groups ?? [],
          });
        },
        signUp: async (email) => {
          const user = await signUpLocally(lambdaPortOfPage, dynamoOfPage!, stackConfig.tableName, stackConfig, { email });
          await rememberLocalUser(stackConfig.stateDir, user.sub, { email, groups: [] });
          const person: PageUser = { ...user, email };
          signedUpHere.set(user.sub, person);
          return person;
        },
      });
      const startedPage = page;
      supervisor.onStop('page server', () => startedPage.stop());
      config = { ...config, corsAllowedOrigins: [...new Set([...config.corsAllowedOrigins, ...page.origins])] };
      log(`stock-UI page on ${page.url}`);
    }

    // Started before the emulators are ready: its build is the slowest part. Each stack bundles
    // into its own folder, so side-by-side stacks never rewrite each other's handler.
    log(`starting osls offline on port ${config.port} (lambda port ${lambdaPort})`);
    const offline = startOffline(supervisor, config, {
      lambdaPort,
      esbuildWorkFolder: relative(PROJECT_DIR, join(workDir, 'esbuild')),
      eventbridgeEndpoint: events.endpoint,
    });

    const dynamoClient = createDynamoDbClient(config);
    dynamoOfPage = dynamoClient;
    lambdaPortOfPage = lambdaPort;
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
        // Their pool e-mail and groups, for `npm run token` (tools/local/local-users.ts).
        await rememberLocalUser(config.stateDir, demoUser.sub, { email: demoUser.email, groups: [...demoUser.groups] });
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
      page,
      startupMs: Date.now() - started,
      died: supervisor.died,
      stop: () => supervisor.stop(),
    };
  } catch (error) {
    await supervisor.stop();
    throw error;
  }
}
