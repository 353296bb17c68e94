// What bench/run.ts hands to its child processes and what they send back.
import type { ApiEvent } from '../src/functions/patch-user/handler.ts';
import type { Config } from '../src/platform/config.ts';

/** A user the warm child seeds before it starts, with a token for it. */
export interface BenchUser {
  id: number;
  sub: string;
  username: string;
  token: string;
}

export interface WarmInput {
  config: Config;
  /** Users by role; see bench/warm.ts. */
  users: Record<string, BenchUser>;
  /** A user id that does not exist. */
  missingId: number;
  /** Files written by bench/fixtures.ts: image bytes and whole API Gateway events. */
  files: {
    avatarImage: string;
    coverImage: string;
    smallImage: string;
    /** A 12-MP phone JPEG (bench/images.ts phoneJpeg) and a small PNG, for the gallery's POST. */
    phoneImage: string;
    smallPng: string;
  };
  /** Event template (a recorded REST API event) the child fills in. */
  eventTemplate: { json: ApiEvent; multipart: ApiEvent };
  samples: number;
  warmup: number;
}

/** One AWS call as the counting middleware saw it (one HTTP attempt). */
export interface CallRecord {
  service: 'dynamodb' | 's3';
  command: string;
  /** The kind of item a DynamoDB call names (`USER#`, `SUB#`, `HIDDEN#`), where it names one. */
  item?: string;
  start: number;
  end: number;
}

export interface RequestTrace {
  scenario: string;
  status: number;
  calls: CallRecord[];
}

export interface Timing {
  scenario: string;
  handler: number[];
  floor: number[];
  /** Handler time outside any AWS call (the SDK's own per-attempt work inside a call excluded). */
  own: number[];
  floorOwn: number[];
  /** AWS calls of one handler request and of one floor run, by command, to show they match. */
  handlerCalls: Record<string, number>;
  floorCalls: Record<string, number>;
}

export interface WarmResult {
  traces: RequestTrace[];
  timings: Timing[];
}
