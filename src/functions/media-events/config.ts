// Configuration of the stream function (src/functions/media-events/handler.ts), read from the environment once
// per container. It needs the bucket, the media URL base and the event bus, nothing of Cognito or
// the table: the table's stream hands it every change. Endpoints and the dead-letter file are set
// on the local stage only; the queue and the distribution on deployed stages.
import { DEFAULTS, envReader, type Env } from '../../platform/config.ts';

export interface StreamConfig {
  region: string;
  mediaBucket: string;
  /** Public base URL of media objects, as the API answers them; no trailing slash. */
  mediaBaseUrl: string;
  /** Name (or ARN) of the EventBridge bus that receives `user.created` / `user.updated`. */
  eventBusName: string;
  /** Local stage only: S3 endpoint (the S3 emulator). */
  s3Endpoint?: string;
  /** Local stage only: an endpoint speaking EventBridge's PutEvents (the local recorder). */
  eventBridgeEndpoint?: string;
  /**
   * Deployed: the SQS queue (its URL) that records no retry can fix are sent to, with their
   * content. Exactly one of this and `deadLetterFile` is set.
   */
  deadLetterQueueUrl?: string;
  /** Local stage only: the JSON-lines file of the local stack's dead letters instead of the queue. */
  deadLetterFile?: string;
  /** The CloudFront distribution serving the media: deleted objects are invalidated there. Absent locally. */
  cdnDistributionId?: string;
  awsRequestTimeoutMs: number;
  awsMaxAttempts: number;
}

export function readStreamConfig(env: Env = process.env): StreamConfig {
  const read = envReader(env);
  const config: StreamConfig = {
    region: read.required('AWS_REGION'),
    mediaBucket: read.required('MEDIA_BUCKET'),
    mediaBaseUrl: read.mediaBaseUrl('MEDIA_BASE_URL'),
    eventBusName: read.required('EVENT_BUS_NAME'),
    s3Endpoint: read.optional('S3_ENDPOINT'),
    eventBridgeEndpoint: read.optional('EVENTBRIDGE_ENDPOINT'),
    deadLetterQueueUrl: read.optional('DEAD_LETTER_QUEUE_URL'),
    deadLetterFile: read.optional('DEAD_LETTER_FILE'),
    cdnDistributionId: read.optional('CDN_DISTRIBUTION_ID'),
    awsRequestTimeoutMs: read.positiveInt('AWS_REQUEST_TIMEOUT_MS', DEFAULTS.awsRequestTimeoutMs),
    awsMaxAttempts: read.positiveInt('AWS_MAX_ATTEMPTS', DEFAULTS.awsMaxAttempts),
  };
  // Without either, an unprocessable record would have nowhere to go but the log.
  if (!config.deadLetterQueueUrl === !config.deadLetterFile) {
    read.problem('exactly one of DEAD_LETTER_QUEUE_URL and DEAD_LETTER_FILE must be set');
  }
  read.check();
  return config;
}
