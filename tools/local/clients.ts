// Clients of the local emulators, made by the service's own factories (src/store) so that the
// tools and the functions share one set of client settings and one LOCAL_CREDENTIALS.

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client as createServiceS3Client } from '../../src/store/aws-clients.ts';
import { createDynamoClient } from '../../src/store/dynamo-client.ts';
import type { LocalStackConfig } from './config.ts';

export { LOCAL_CREDENTIALS } from '../../src/store/dynamo-client.ts';

type Endpoints = Pick<LocalStackConfig, 'region' | 'dynamodbEndpoint' | 's3Endpoint'>;

// The functions bound each attempt by their Lambda timeout; tools and tests keep the SDK's
// defaults (three attempts, no time limit, which the request handler reads from 0), as a slow
// emulator on a busy machine is no failure of theirs.
const TOOL_CLIENT_LIMITS = { awsMaxAttempts: 3, awsRequestTimeoutMs: 0 };

export function createDynamoDbClient(config: Pick<Endpoints, 'region' | 'dynamodbEndpoint'>): DynamoDBClient {
  return createDynamoClient({ region: config.region, dynamodbEndpoint: config.dynamodbEndpoint, ...TOOL_CLIENT_LIMITS });
}

export function createDocumentClient(
  config: Pick<Endpoints, 'region' | 'dynamodbEndpoint'>,
): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(createDynamoDbClient(config), {
    marshallOptions: { removeUndefinedValues: true },
  });
}

export function createS3Client(config: Pick<Endpoints, 'region' | 's3Endpoint'>): S3Client {
  return createServiceS3Client({ region: config.region, ...TOOL_CLIENT_LIMITS }, config.s3Endpoint);
}
