// DynamoDB Local and the S3 emulator for tests. `npm test` starts one pair for the whole run and
// passes their endpoints in TEST_DYNAMODB_ENDPOINT / TEST_S3_ENDPOINT; a test file run on its own
// starts its own pair on free ports.
import { LocalStackSupervisor, startEmulators } from '../local/local-stack.ts';

export interface Emulators {
  dynamodbEndpoint: string;
  s3Endpoint: string;
  stop(): Promise<void>;
}

export async function startTestEmulators(): Promise<Emulators> {
  const shared = { dynamodbEndpoint: process.env.TEST_DYNAMODB_ENDPOINT, s3Endpoint: process.env.TEST_S3_ENDPOINT };
  if (shared.dynamodbEndpoint && shared.s3Endpoint) {
    return { dynamodbEndpoint: shared.dynamodbEndpoint, s3Endpoint: shared.s3Endpoint, stop: async () => {} };
  }
  return startOwnEmulators();
}

export async function startOwnEmulators(): Promise<Emulators> {
  const supervisor = new LocalStackSupervisor();
  const endpoints = await startEmulators(supervisor);
  return { ...endpoints, stop: () => supervisor.stop() };
}
