// The AWS clients, configured from Config. Each function creates them once per container.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import type { Config } from './config.ts';

export interface AwsClients {
  /** The plain client: lib/users-table.ts marshalls its few values itself (see there why). */
  dynamo: DynamoDBClient;
  s3: S3Client;
}

/** What every client is made from: the API's Config and the stream function's both have it. */
export interface ClientSettings {
  region: string;
  awsMaxAttempts: number;
  awsRequestTimeoutMs: number;
}

// The emulators accept any key; without one the SDK would look for credentials the local stack
// does not have.
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

function common(settings: ClientSettings) {
  return {
    region: settings.region,
    maxAttempts: settings.awsMaxAttempts,
    // Each attempt is bounded so that retries finish well inside the Lambda timeout.
    requestHandler: {
      connectionTimeout: settings.awsRequestTimeoutMs,
      requestTimeout: settings.awsRequestTimeoutMs,
      // Without it the SDK only warns and the call hangs until the Lambda times out.
      throwOnRequestTimeout: true,
    },
  };
}

export function createAwsClients(config: Config): AwsClients {
  const dynamo = new DynamoDBClient({
    ...common(config),
    ...(config.dynamodbEndpoint && {
      endpoint: config.dynamodbEndpoint,
      credentials: LOCAL_CREDENTIALS,
    }),
  });
  return { dynamo, s3: createS3Client(config, config.s3Endpoint) };
}

export function createS3Client(settings: ClientSettings, endpoint?: string): S3Client {
  return new S3Client({
    ...common(settings),
    // By default the SDK sends `Expect: 100-continue` with bodies from 2 MiB and waits for S3's
    // go-ahead before the bytes: one more round trip for every large cover. Our bodies are at most
    // a few MiB and S3 refuses almost none of them, so sending them straight away is cheaper.
    expectContinueHeader: false,
    ...(endpoint && {
      endpoint,
      credentials: LOCAL_CREDENTIALS,
      forcePathStyle: true,
      // With flexible checksums the emulator stores aws-chunked framing as object bytes.
      requestChecksumCalculation: 'WHEN_REQUIRED' as const,
      responseChecksumValidation: 'WHEN_REQUIRED' as const,
    }),
  });
}

/** `endpoint`: the local stage's PutEvents recorder; on AWS the regional endpoint. */
export function createEventBridgeClient(settings: ClientSettings, endpoint?: string): EventBridgeClient {
  return new EventBridgeClient({
    ...common(settings),
    ...(endpoint && { endpoint, credentials: LOCAL_CREDENTIALS }),
  });
}
