// Both emulators on free ports, for tests and benchmarks that need no API.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDynamoDbClient } from './clients.ts';
import { LocalStackError } from './config.ts';
import { startDynamoDbLocal, waitForDynamoDb } from './dynamodb-local.ts';
import { findFreePorts } from './ports.ts';
import { startS3Server, stopS3Server } from './s3-server.ts';
import type { LocalStackSupervisor } from './supervisor.ts';

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
