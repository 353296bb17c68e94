// The AWS clients, configured from Config. The handler creates them once per container.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { Config } from './config.ts';

export interface AwsClients {
  /** The plain client: lib/users-table.ts marshalls its few values itself (see there why). */
  dynamo: DynamoDBClient;
  s3: S3Client;
}

// The emulators accept any key; without one the SDK would look for credentials the local stack
// does not have.
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export function createAwsClients(config: Config): AwsClients {
  const common = {
    region: config.region,
    maxAttempts: config.awsMaxAttempts,
    // Each attempt is bounded so that retries finish well inside the Lambda timeout.
    requestHandler: {
      connectionTimeout: config.awsRequestTimeoutMs,
      requestTimeout: config.awsRequestTimeoutMs,
      // Without it the SDK only warns and the call hangs until the Lambda times out.
      throwOnRequestTimeout: true,
    },
  };
  const dynamo = new DynamoDBClient({
    ...common,
    ...(config.dynamodbEndpoint && {
      endpoint: config.dynamodbEndpoint,
      credentials: LOCAL_CREDENTIALS,
    }),
  });
  const s3 = new S3Client({
    ...common,
    // By default the SDK sends `Expect: 100-continue` with bodies from 2 MiB and waits for S3's
    // go-ahead before the bytes: one more round trip for every large cover. Our bodies are at most
    // a few MiB and S3 refuses almost none of them, so sending them straight away is cheaper.
    expectContinueHeader: false,
    ...(config.s3Endpoint && {
      endpoint: config.s3Endpoint,
      credentials: LOCAL_CREDENTIALS,
      forcePathStyle: true,
      // With flexible checksums the emulator stores aws-chunked framing as object bytes.
      requestChecksumCalculation: 'WHEN_REQUIRED' as const,
      responseChecksumValidation: 'WHEN_REQUIRED' as const,
    }),
  });
  return { dynamo, s3 };
}
