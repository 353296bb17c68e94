// The local stack: DynamoDB Local (java child), s3rver (in-process), and `osls offline` (child)
// running the esbuild-bundled handler against them, with a locally signed stand-in for Cognito.
// tools/cli/start.ts is the command-line front; tests use the pieces directly. This module is the
// public face; each concern lives in its own file beside it.

export {
  DEAD_LETTER_FILE_NAME,
  DEFAULT_BUCKET,
  DEFAULT_EVENT_BUS_NAME,
  DEFAULT_TABLE_NAME,
  LocalStackError,
  MEDIA_EVENTS_FUNCTION,
  offlineEnvironment,
  PROJECT_DIR,
  readLocalStackConfig,
} from './config.ts';
export type { LocalStackConfig } from './config.ts';
export { createDocumentClient, createDynamoDbClient, createS3Client, LOCAL_CREDENTIALS } from './clients.ts';
export { assertPortsFree, findFreePort, findFreePortExcept, findFreePorts, isPortFree, PortInUseError } from './ports.ts';
export { ChildExitedError, LocalStackSupervisor, StackStoppedError, waitUntil } from './supervisor.ts';
export type { ChildExit, ManagedChild } from './supervisor.ts';
export { ensureTable, startDynamoDbLocal, waitForDynamoDb } from './dynamodb-local.ts';
export { ensureBucket, startS3Server, stopS3Server } from './s3-server.ts';
export { startEmulators } from './emulators.ts';
export { readStreamTriggerSettings, startOffline } from './offline.ts';
export type { StreamTriggerSettings } from './offline.ts';
export { DEMO_USERS } from './demo-users.ts';
export { startLocalStack } from './stack.ts';
export type { LocalStack, StartLocalStackOptions } from './stack.ts';
export { formatReadyBanner, parseStartOutput } from './banner.ts';
