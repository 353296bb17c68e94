// The AWS clients, configured from Config. The handler creates them once per container.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { Config } from './config.ts';
import { commonClientOptions, createDynamoClient, LOCAL_CREDENTIALS } from './dynamo-client.ts';

export interface AwsClients {
  /** The plain client: lib/users-table.ts marshalls its few values itself (see there why). */
  dynamo: DynamoDBClient;
  s3: S3Client;
}

export function createAwsClients(config: Config): AwsClients {
  const common = commonClientOptions(config);
  const dynamo = createDynamoClient(config);
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
