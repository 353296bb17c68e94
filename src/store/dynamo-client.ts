// The DynamoDB client of every function, on its own so that functions without S3 (reads, the
// sign-up trigger) never load the S3 client.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface DynamoClientSettings {
  region: string;
  /** Local stage only: DynamoDB Local. */
  dynamodbEndpoint?: string;
  awsRequestTimeoutMs: number;
  awsMaxAttempts: number;
}

// The emulators accept any key; without one the SDK would look for credentials the local stack
// does not have.
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** Options every AWS client shares: each attempt bounded so retries end well inside the timeout. */
export function commonClientOptions(settings: DynamoClientSettings) {
  return {
    region: settings.region,
    maxAttempts: settings.awsMaxAttempts,
    requestHandler: {
      connectionTimeout: settings.awsRequestTimeoutMs,
      requestTimeout: settings.awsRequestTimeoutMs,
      // Without it the SDK only warns and the call hangs until the Lambda times out.
      throwOnRequestTimeout: true,
    },
  };
}

export function createDynamoClient(settings: DynamoClientSettings): DynamoDBClient {
  return new DynamoDBClient({
    ...commonClientOptions(settings),
    ...(settings.dynamodbEndpoint && { endpoint: settings.dynamodbEndpoint, credentials: LOCAL_CREDENTIALS }),
  });
}
