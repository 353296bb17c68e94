// The local stack's settings: ports, names and paths from the environment, and the environment
// `osls offline` gets from them.

import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_DIR = fileURLToPath(new URL('../..', import.meta.url));

export const DEFAULT_TABLE_NAME = 'selfcommunity-users-local';
export const DEFAULT_EVENT_BUS_NAME = 'selfcommunity-users-local';
export const DEFAULT_BUCKET = 'selfcommunity-media-local';
/** The stream function's name in serverless-offline: `<service>-<stage>-<function key>`. */
export const MEDIA_EVENTS_FUNCTION = 'selfcommunity-user-patch-local-mediaEvents';
export const DEAD_LETTER_FILE_NAME = 'media-events-dead-letters.jsonl';
export const DEFAULT_PAGE_PORT = 3100;

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
  /** Port of the stock-UI page (PAGE_PORT, default 3100; taken: a free one); 0 picks a free one. */
  pagePort: number;
  /** Browser origins the API allows (CORS_ALLOWED_ORIGINS), the page's own added when it runs. */
  corsAllowedOrigins: string[];
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
  const pagePort = env.PAGE_PORT?.trim() === '0' ? 0 : portFrom(env, 'PAGE_PORT', DEFAULT_PAGE_PORT);
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
    pagePort,
    corsAllowedOrigins: (value('CORS_ALLOWED_ORIGINS') ?? '').split(',').map((origin) => origin.trim()).filter(Boolean),
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
    // serverless.yml's corsAllowedOrigins: the preflights and the functions' own CORS headers.
    ...(config.corsAllowedOrigins.length > 0 && { CORS_ALLOWED_ORIGINS: config.corsAllowedOrigins.join(',') }),
    ...(eventbridgeEndpoint ? { EVENTBRIDGE_ENDPOINT: eventbridgeEndpoint } : {}),
    ...(esbuildWorkFolder ? { ESBUILD_WORK_FOLDER: esbuildWorkFolder } : {}),
  };
}
