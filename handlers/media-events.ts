// The table's DynamoDB stream (new and old images): S3 follows the table, and user changes go to
// EventBridge. Failed records come back through Lambda's partial batch responses.
import { createS3Client } from '../lib/aws-clients.ts';
import { createEventBridgeClient, EventBus } from '../lib/event-bus.ts';
import { createLogger } from '../lib/log.ts';
import { processStreamBatch, type BatchResponse, type StreamEvent } from '../lib/media-events.ts';
import { MediaObjects } from '../lib/media-objects.ts';
import { readStreamConfig, type StreamConfig } from '../lib/stream-config.ts';

export type MediaEventsHandler = (event: StreamEvent, context?: { awsRequestId?: string }) => Promise<BatchResponse>;

export function createMediaEventsHandler(
  config: StreamConfig,
  clients = {
    s3: createS3Client(config, config.s3Endpoint),
    eventBridge: createEventBridgeClient(config, config.eventBridgeEndpoint),
  },
): MediaEventsHandler {
  const media = new MediaObjects(clients.s3, config.mediaBucket);
  const events = new EventBus(clients.eventBridge, config.eventBusName);
  return async (event, context) => {
    const log = createLogger({ requestId: context?.awsRequestId });
    const response = await processStreamBatch({ media, events, mediaBaseUrl: config.mediaBaseUrl, log }, event);
    log.info('stream batch handled', {
      records: event.Records?.length ?? 0,
      failed: response.batchItemFailures.length,
    });
    return response;
  };
}

let cached: MediaEventsHandler | undefined;

/**
 * The Lambda entry. A configuration error throws: the whole batch is retried and the error shows
 * in the function's error metric, rather than records being dropped.
 */
export const handler: MediaEventsHandler = async (event, context) => {
  cached ??= createMediaEventsHandler(readStreamConfig());
  return cached(event, context);
};
