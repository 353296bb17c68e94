// Which AWS failures mean "the service is unavailable" (503) rather than a bug (500). The SDK has
// already retried these by the time they reach us.

const UNAVAILABLE_NAMES = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'LimitExceededException',
  'InternalServerError',
  'InternalError',
  'ServiceUnavailable',
  'SlowDown',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'AbortError',
  'TransactionInProgressException',
]);

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

export function isAwsUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const e = error as Error & {
    code?: string;
    $fault?: string;
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: number };
    cause?: unknown;
  };
  if (UNAVAILABLE_NAMES.has(e.name)) return true;
  if (e.name === 'TransactionCanceledException') return isThrottledTransaction(e);
  if (e.code && NETWORK_CODES.has(e.code)) return true;
  if (e.$retryable) return true;
  if (e.$fault === 'server') return true;
  const status = e.$metadata?.httpStatusCode;
  if (status === 429 || (status !== undefined && status >= 500)) return true;
  if (e instanceof AggregateError) return e.errors.some(isAwsUnavailable);
  return e.cause !== undefined && e.cause !== error && isAwsUnavailable(e.cause);
}

/** Cancellation reasons that say "too busy now", not "your condition failed". */
const THROTTLED_REASONS = new Set(['ThrottlingError', 'ProvisionedThroughputExceeded', 'RequestLimitExceeded']);

/**
 * A transaction cancelled because one of its items was throttled (the SDK does not retry these)
 * or conflicted with another transaction: nothing was applied, and trying again later may work.
 */
function isThrottledTransaction(error: Error): boolean {
  const reasons = (error as { CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons ?? [];
  return reasons.some((reason) => THROTTLED_REASONS.has(reason.Code ?? '') || reason.Code === 'TransactionConflict');
}
