// The AWS clients, configured from Config. Each function creates them once per container. The
// EventBridge client is in src/functions/media-events/event-bus.ts: only the stream function sends events.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../platform/config.ts';
import { commonClientOptions, createDynamoClient, LOCAL_CREDENTIALS, type DynamoClientSettings } from './dynamo-client.ts';

export interface AwsClients {
  /** The plain client: src/store/users-table.ts marshalls its few values itself (see there why). */
  dynamo: DynamoDBClient;
  s3: S3Client;
}

/** What every client is made from: the API's Config and the stream function's both have it. */
export type ClientSettings = Omit<DynamoClientSettings, 'dynamodbEndpoint'>;

export function createAwsClients(config: Config): AwsClients {
  return { dynamo: createDynamoClient(config), s3: createS3Client(config, config.s3Endpoint) };
}

export function createS3Client(settings: ClientSettings, endpoint?: string): S3Client {
  return new S3Client({
    ...commonClientOptions(settings),
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
