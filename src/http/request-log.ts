// The one log line of an API request: who, what came of it, how long. Never a token, a body or a
// profile value.
import { AuthenticationError } from './errors.ts';
import { clientError, type HttpResponse } from './response.ts';
import type { LogFields, Logger } from '../platform/log.ts';

export interface RequestOutcome {
  response: HttpResponse;
  /** What was thrown, if anything; undefined when the request succeeded. */
  failure: unknown;
  /** The user the request was about, when known (null otherwise). */
  userId: number | null;
  /** The outcome of a request that succeeded, e.g. `updated` or `read`. */
  success: string;
  durationMs: number;
}

export function logRequest(log: Logger, { response, failure, userId, success, durationMs }: RequestOutcome): void {
  const known = clientError(failure);
  const fields: LogFields = {
    userId,
    status: response.statusCode,
    outcome: failure === undefined ? success : (known?.code ?? 'server_error'),
    durationMs: Math.round(durationMs * 10) / 10,
  };
  if (failure instanceof AuthenticationError) fields.reason = failure.reason;
  if (response.statusCode < 500) return log.info('request handled', fields);
  // For the operator: which failure (an AWS error's name and code); the details of a bug.
  const error = failure as (Error & { code?: string }) | undefined;
  // A write whose outcome is unknown carries the AWS failure that made it so.
  const cause = error?.cause as (Error & { code?: string }) | undefined;
  log.error('request failed', {
    ...fields,
    error: error?.name,
    code: error?.code,
    ...(cause instanceof Error && { cause: cause.name, causeCode: cause.code }),
    ...(!known && { detail: error?.message, stack: error?.stack }),
  });
}
