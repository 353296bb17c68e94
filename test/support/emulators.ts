// DynamoDB Local and the S3 emulator for tests. `npm test` starts one pair for the whole run and
// passes their endpoints in TEST_DYNAMODB_ENDPOINT / TEST_S3_ENDPOINT; a test file run on its own
// starts its own pair on free ports.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LocalStackSupervisor,
  createDynamoDbClient,
  findFreePorts,
  startDynamoDbLocal,
  startS3Server,
  stopS3Server,
  waitForDynamoDb,
} from '../../scripts/local-stack.ts';

export interface Emulators {
  dynamodbEndpoint: string;
  s3Endpoint: string;
  stop(): Promise<void>;
}

export async function startEmulators(): Promise<Emulators> {
  const shared = { dynamodbEndpoint: process.env.TEST_DYNAMODB_ENDPOINT, s3Endpoint: process.env.TEST_S3_ENDPOINT };
  if (shared.dynamodbEndpoint && shared.s3Endpoint) {
    return { dynamodbEndpoint: shared.dynamodbEndpoint, s3Endpoint: shared.s3Endpoint, stop: async () => {} };
  }
  return startOwnEmulators();
}

export async function startOwnEmulators(): Promise<Emulators> {
  const [dynamodbPort, s3Port] = await findFreePorts(2);
  const supervisor = new LocalStackSupervisor();
  startDynamoDbLocal(supervisor, dynamodbPort!);
  const directory = await mkdtemp(join(tmpdir(), 's3rver-test-'));
  const s3 = await startS3Server(s3Port!, directory);
  const dynamodbEndpoint = `http://localhost:${dynamodbPort}`;
  const client = createDynamoDbClient({ region: 'us-east-1', dynamodbEndpoint });
  await waitForDynamoDb(client);
  client.destroy();
  return {
    dynamodbEndpoint,
    s3Endpoint: `http://localhost:${s3Port}`,
    async stop() {
      await Promise.all([supervisor.stop(), stopS3Server(s3)]);
      await rm(directory, { recursive: true, force: true });
    },
  };
}
