// Configuration of the stream function (handlers/media-events.ts), read from the environment once
// per container. It needs the bucket, the media URL base and the event bus, nothing of Cognito or
// the table: the table's stream hands it every change. Endpoints are set on the local stage only.
import { ConfigError, DEFAULTS } from './config.ts';

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
  awsRequestTimeoutMs: number;
  awsMaxAttempts: number;
}

type Env = Record<string, string | undefined>;

export function readStreamConfig(env: Env = process.env): StreamConfig {
  const missing: string[] = [];
  const problems: string[] = [];
  const required = (name: string): string => {
    const value = env[name]?.trim();
    if (!value) missing.push(name);
    return value ?? '';
  };
  const optional = (name: string): string | undefined => env[name]?.trim() || undefined;
  const positiveInt = (name: string, fallback: number): number => {
    const raw = optional(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value <= 0) {
      problems.push(`${name} must be a positive integer, got "${raw}"`);
      return fallback;
    }
    return value;
  };

  const config: StreamConfig = {
    region: required('AWS_REGION'),
    mediaBucket: required('MEDIA_BUCKET'),
    mediaBaseUrl: required('MEDIA_BASE_URL').replace(/\/+$/, ''),
    eventBusName: required('EVENT_BUS_NAME'),
    s3Endpoint: optional('S3_ENDPOINT'),
    eventBridgeEndpoint: optional('EVENTBRIDGE_ENDPOINT'),
    awsRequestTimeoutMs: positiveInt('AWS_REQUEST_TIMEOUT_MS', DEFAULTS.awsRequestTimeoutMs),
    awsMaxAttempts: positiveInt('AWS_MAX_ATTEMPTS', DEFAULTS.awsMaxAttempts),
  };
  if (config.mediaBaseUrl && !/^https?:\/\//.test(config.mediaBaseUrl)) {
    problems.push(`MEDIA_BASE_URL must be an absolute http(s) URL, got "${config.mediaBaseUrl}"`);
  }
  if (missing.length) problems.unshift(`missing environment variables: ${missing.join(', ')}`);
  if (problems.length) throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  return config;
}
