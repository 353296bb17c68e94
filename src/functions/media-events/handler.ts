// The table's DynamoDB stream (new and old images): S3 follows the table, and user changes go to
// EventBridge, and deleted objects are invalidated at the CDN. Records no retry can fix go to the
// dead-letter queue; other failures come back through Lambda's partial batch responses.
import type { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { createS3Client } from '../../store/aws-clients.ts';
import { CloudFrontCdn, createCloudFrontClient } from './cdn.ts';
import { createSqsClient, FileDeadLetters, QueueDeadLetters } from './dead-letters.ts';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { S3Client } from '@aws-sdk/client-s3';
import { createEventBridgeClient, EventBus } from './event-bus.ts';
import { lambdaEntry } from '../../platform/entry.ts';
import { invocationLogger, type InvocationContext } from '../../platform/log.ts';
import { processStreamBatch, type BatchResponse, type StreamEvent } from './records.ts';
import { MediaObjects } from '../../store/media-lifecycle.ts';
import { readStreamConfig, type StreamConfig } from './config.ts';

export type Handler = (event: StreamEvent, context?: InvocationContext) => Promise<BatchResponse>;

export interface MediaEventsClients {
  s3: S3Client;
  eventBridge: EventBridgeClient;
  /** Made when the configuration names a queue (deployed) and none is given. */
  sqs?: SQSClient;
  /** Made when the configuration names a distribution (deployed) and none is given. */
  cloudFront?: CloudFrontClient;
}

export function createHandler(
  config: StreamConfig,
  clients: MediaEventsClients = {
    s3: createS3Client(config, config.s3Endpoint),
    eventBridge: createEventBridgeClient(config, config.eventBridgeEndpoint),
  },
): Handler {
  const media = new MediaObjects(clients.s3, config.mediaBucket);
  const events = new EventBus(clients.eventBridge, config.eventBusName);
  const deadLetters = config.deadLetterQueueUrl
    ? new QueueDeadLetters(clients.sqs ?? createSqsClient(config), config.deadLetterQueueUrl)
    : new FileDeadLetters(config.deadLetterFile!);
  const cdn = config.cdnDistributionId
    ? new CloudFrontCdn(clients.cloudFront ?? createCloudFrontClient(config), config.cdnDistributionId)
    : undefined;
  return async (event, context) => {
    const log = invocationLogger(context);
    const response = await processStreamBatch({ media, events, deadLetters, cdn, mediaBaseUrl: config.mediaBaseUrl, log }, event);
    log.info('stream batch handled', {
      records: event.Records?.length ?? 0,
      failed: response.batchItemFailures.length,
    });
    return response;
  };
}

/**
 * The Lambda entry. A configuration error throws: the whole batch is retried and the error shows
 * in the function's error metric, rather than records being dropped.
 */
export const handler: Handler = lambdaEntry(() => createHandler(readStreamConfig()));
