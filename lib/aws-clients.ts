// The AWS clients, configured from Config. The handler creates them once per container.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { Config } from './config.ts';

export interface AwsClients {
  dynamo: DynamoDBDocumentClient;
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
    ...(config.s3Endpoint && {
      endpoint: config.s3Endpoint,
      credentials: LOCAL_CREDENTIALS,
      forcePathStyle: true,
      // With flexible checksums the emulator stores aws-chunked framing as object bytes.
      requestChecksumCalculation: 'WHEN_REQUIRED' as const,
      responseChecksumValidation: 'WHEN_REQUIRED' as const,
    }),
  });
  return {
    dynamo: DynamoDBDocumentClient.from(dynamo, {
      marshallOptions: { removeUndefinedValues: true },
    }),
    s3,
  };
}
