// Configuration is read from the environment once per container. Every setting the deployed
// function needs is required; the local-only ones (endpoints, key file) are optional and only the
// local stage sets them.
import { DEFAULT_RESERVED_USERNAMES } from '../users/usernames.ts';
import { LARGEST_REQUEST_FILE_BYTES } from '../http/event-limit.ts';

export interface ImageLimits {
  /** Largest accepted avatar file, in bytes. */
  avatarMaxBytes: number;
  /** Largest accepted cover file, in bytes. */
  coverMaxBytes: number;
  /** Largest accepted width or height, in pixels. */
  maxSide: number;
  /** Largest accepted width × height of one frame. */
  maxPixels: number;
  /** Most frames of an accepted animation. */
  maxFrames: number;
  /** Largest accepted width × height × frames of an animation. */
  maxAnimationPixels: number;
  /** Most scans of an accepted JPEG. */
  maxJpegScans: number;
  /** Largest estimated decoder memory of the images of one request together, in bytes. */
  maxDecodeBytes: number;
  /** Side of the stored (square) avatar, in pixels; smaller images are not scaled up. */
  avatarSize: number;
  /** Longest side of the stored cover, in pixels; smaller images are not scaled up. */
  coverMaxSide: number;
  /**
   * Time budget of decoding and re-encoding all the images of one request together, in seconds;
   * with the AWS calls after it, it fits the function's timeout (README, Memory and timeout).
   */
  timeoutSeconds: number;
}

export interface Config {
  region: string;
  tableName: string;
  mediaBucket: string;
  /** Public base URL that serves media objects; an object's URL is this plus `/` plus its key. */
  mediaBaseUrl: string;
  cognitoUserPoolId: string;
  cognitoClientId: string;
  /** Which Cognito token kind is accepted: `access` (default) or `id`. */
  cognitoTokenUse: 'access' | 'id';
  /** Local stage only: a JWKS file trusted instead of fetching the pool's keys. */
  cognitoJwksFile?: string;
  /** Local stage only: DynamoDB endpoint (DynamoDB Local). */
  dynamodbEndpoint?: string;
  /** Local stage only: S3 endpoint (the S3 emulator). */
  s3Endpoint?: string;
  /** Largest request body accepted, in bytes, after base64 decoding. */
  maxBodyBytes: number;
  images: ImageLimits;
  /** Time limit of one AWS call attempt, in milliseconds; kept below the Lambda timeout. */
  awsRequestTimeoutMs: number;
  /** Attempts per AWS call, the first included. */
  awsMaxAttempts: number;
  /** Browser origins allowed to read the answers (`*` for any); empty: no CORS headers. */
  corsAllowedOrigins: string[];
  /** Names nobody may take: the contract's list plus RESERVED_USERNAMES (comma-separated). */
  reservedUsernames: string[];
  /**
   * `GET /api/v2/user/{id}/` needs a token (READ_REQUIRES_TOKEN=true: a private community). By
   * default it does not, as in the reference: a logged-out visitor reads the public view.
   */
  readRequiresToken: boolean;
  /** Most users one user may hide (MAX_HIDDEN_USERS; contract, "Hidden users"). */
  maxHiddenUsers: number;
  /** Most avatars one user's gallery holds (contract, "Avatars"); one more is `max_avatars`. */
  maxAvatars: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const MiB = 1024 * 1024;

export const DEFAULTS = {
  cognitoTokenUse: 'access',
  // Lambda's synchronous payload limit is 6 MB; API Gateway delivers at most that.
  maxBodyBytes: 6_000_000,
  // Phone photos are 3-5 MB: both take the largest file one request carries (4,693,501 bytes).
  avatarMaxBytes: LARGEST_REQUEST_FILE_BYTES,
  coverMaxBytes: LARGEST_REQUEST_FILE_BYTES,
  maxSide: 8192,
  maxPixels: 40_000_000,
  maxFrames: 300,
  maxAnimationPixels: 60_000_000,
  maxJpegScans: 64,
  maxDecodeMegabytes: 256,
  avatarSize: 400,
  coverMaxSide: 1600,
  // 3 s of images + 2 s of uploads + 2 s of the write + 2.5 s kept for one more call stay inside
  // the function's 10 s (README, Memory and timeout).
  imageTimeoutSeconds: 3,
  awsRequestTimeoutMs: 2000,
  awsMaxAttempts: 3,
  maxHiddenUsers: 1000,
  maxAvatars: 20,
} as const;

export type Env = Record<string, string | undefined>;

/**
 * Reads settings from `env`, gathering every missing variable and every bad value, so that one
 * ConfigError (from `check`) names all of them.
 */
export function envReader(env: Env) {
  const missing: string[] = [];
  const problems: string[] = [];
  const optional = (name: string): string | undefined => env[name]?.trim() || undefined;
  const required = (name: string): string => {
    const value = env[name]?.trim();
    if (!value) missing.push(name);
    return value ?? '';
  };
  return {
    required,
    optional,
    positiveInt(name: string, fallback: number): number {
      const raw = optional(name);
      if (raw === undefined) return fallback;
      const value = Number(raw);
      if (!Number.isSafeInteger(value) || value <= 0) {
        problems.push(`${name} must be a positive integer, got "${raw}"`);
        return fallback;
      }
      return value;
    },
    /** A public base URL of media objects: absolute http(s), no trailing slash. */
    mediaBaseUrl(name: string): string {
      const url = required(name).replace(/\/+$/, '');
      if (url && !/^https?:\/\//.test(url)) problems.push(`${name} must be an absolute http(s) URL, got "${url}"`);
      return url;
    },
    problem(message: string): void {
      problems.push(message);
    },
    /** Throws the ConfigError naming what is missing first, then every bad value. */
    check(): void {
      if (missing.length) problems.unshift(`missing environment variables: ${missing.join(', ')}`);
      if (problems.length) throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
    },
  };
}

export function readConfig(env: Env = process.env): Config {
  const read = envReader(env);
  const { required, optional, positiveInt } = read;

  const tokenUse = optional('COGNITO_TOKEN_USE') ?? DEFAULTS.cognitoTokenUse;
  if (tokenUse !== 'access' && tokenUse !== 'id') {
    read.problem(`COGNITO_TOKEN_USE must be "access" or "id", got "${tokenUse}"`);
  }

  const config: Config = {
    region: required('AWS_REGION'),
    tableName: required('TABLE_NAME'),
    mediaBucket: required('MEDIA_BUCKET'),
    mediaBaseUrl: read.mediaBaseUrl('MEDIA_BASE_URL'),
    cognitoUserPoolId: required('COGNITO_USER_POOL_ID'),
    cognitoClientId: required('COGNITO_CLIENT_ID'),
    cognitoTokenUse: tokenUse === 'id' ? 'id' : 'access',
    cognitoJwksFile: optional('COGNITO_JWKS_FILE'),
    dynamodbEndpoint: optional('DYNAMODB_ENDPOINT'),
    s3Endpoint: optional('S3_ENDPOINT'),
    maxBodyBytes: positiveInt('MAX_BODY_BYTES', DEFAULTS.maxBodyBytes),
    images: {
      avatarMaxBytes: positiveInt('AVATAR_MAX_BYTES', DEFAULTS.avatarMaxBytes),
      coverMaxBytes: positiveInt('COVER_MAX_BYTES', DEFAULTS.coverMaxBytes),
      maxSide: positiveInt('IMAGE_MAX_SIDE', DEFAULTS.maxSide),
      maxPixels: positiveInt('IMAGE_MAX_PIXELS', DEFAULTS.maxPixels),
      maxFrames: positiveInt('IMAGE_MAX_FRAMES', DEFAULTS.maxFrames),
      maxAnimationPixels: positiveInt('IMAGE_MAX_ANIMATION_PIXELS', DEFAULTS.maxAnimationPixels),
      maxJpegScans: positiveInt('JPEG_MAX_SCANS', DEFAULTS.maxJpegScans),
      maxDecodeBytes: positiveInt('IMAGE_MAX_MEMORY_MB', DEFAULTS.maxDecodeMegabytes) * MiB,
      avatarSize: positiveInt('AVATAR_SIZE', DEFAULTS.avatarSize),
      coverMaxSide: positiveInt('COVER_MAX_SIDE', DEFAULTS.coverMaxSide),
      timeoutSeconds: positiveInt('IMAGE_TIMEOUT_SECONDS', DEFAULTS.imageTimeoutSeconds),
    },
    awsRequestTimeoutMs: positiveInt('AWS_REQUEST_TIMEOUT_MS', DEFAULTS.awsRequestTimeoutMs),
    awsMaxAttempts: positiveInt('AWS_MAX_ATTEMPTS', DEFAULTS.awsMaxAttempts),
    corsAllowedOrigins: (optional('CORS_ALLOWED_ORIGINS') ?? '')
      .split(',')
      .map((origin) => origin.trim().replace(/\/+$/, ''))
      .filter(Boolean),
    reservedUsernames: reservedUsernames(optional('RESERVED_USERNAMES')),
    readRequiresToken: false,
    maxHiddenUsers: positiveInt('MAX_HIDDEN_USERS', DEFAULTS.maxHiddenUsers),
    maxAvatars: positiveInt('MAX_AVATARS', DEFAULTS.maxAvatars),
  };
  const requiresToken = optional('READ_REQUIRES_TOKEN') ?? 'false';
  if (requiresToken !== 'true' && requiresToken !== 'false') {
    read.problem(`READ_REQUIRES_TOKEN must be "true" or "false", got "${requiresToken}"`);
  }
  config.readRequiresToken = requiresToken === 'true';

  read.check();
  return config;
}

/** The contract's reserved names and a deployment's own, from a comma-separated list. */
function reservedUsernames(extra: string | undefined): string[] {
  const names = (extra ?? '').split(',').map((name) => name.trim()).filter(Boolean);
  return [...DEFAULT_RESERVED_USERNAMES, ...names];
}

/** What the sign-up trigger reads: the table and how to call DynamoDB, none of the API's settings. */
export interface SignUpConfig {
  region: string;
  tableName: string;
  /** Local stage only: DynamoDB Local. */
  dynamodbEndpoint?: string;
  awsRequestTimeoutMs: number;
  awsMaxAttempts: number;
  /** As the API's: sign-up never gives out a reserved name. */
  reservedUsernames: string[];
}

export function readSignUpConfig(env: Env = process.env): SignUpConfig {
  const read = envReader(env);
  const config: SignUpConfig = {
    region: read.required('AWS_REGION'),
    tableName: read.required('TABLE_NAME'),
    dynamodbEndpoint: read.optional('DYNAMODB_ENDPOINT'),
    awsRequestTimeoutMs: read.positiveInt('AWS_REQUEST_TIMEOUT_MS', DEFAULTS.awsRequestTimeoutMs),
    awsMaxAttempts: read.positiveInt('AWS_MAX_ATTEMPTS', DEFAULTS.awsMaxAttempts),
    reservedUsernames: reservedUsernames(read.optional('RESERVED_USERNAMES')),
  };
  read.check();
  return config;
}
