// Structured JSON lines for CloudWatch. Callers pass only ids, outcomes and error names: never a
// token, a body, an image byte or a profile field.

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

type Level = 'info' | 'warn' | 'error';

export function createLogger(
  base: LogFields = {},
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Logger {
  const emit = (level: Level, message: string, fields?: LogFields) =>
    // `level` and `timestamp` are the keys Lambda's JSON log format reads for level filtering.
    write(JSON.stringify({ level, message, timestamp: new Date().toISOString(), ...base, ...fields }));
  return {
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
  };
}

/** The parts of the Lambda context the log reads. */
export interface InvocationContext {
  awsRequestId?: string;
  functionName?: string;
}

// The deployed service (serverless.yml `service`), unless Powertools' variable names another.
const SERVICE = 'selfcommunity-user-patch';

let invocations = 0;

/** Called by the Lambda entry (src/platform/entry.ts) once per invocation, for `cold_start`. */
export function invocationStarted(): void {
  invocations += 1;
}

/**
 * The logger of one invocation, with the keys Lambda tooling and Powertools users search by.
 * `requestId` stands in for the context's where there is none (an API event's own request id).
 */
export function invocationLogger(context: InvocationContext | undefined, requestId?: string): Logger {
  return createLogger({
    service: process.env.POWERTOOLS_SERVICE_NAME || SERVICE,
    cold_start: invocations <= 1,
    function_name: context?.functionName ?? process.env.AWS_LAMBDA_FUNCTION_NAME,
    function_request_id: context?.awsRequestId ?? requestId,
    xray_trace_id: traceRoot(process.env._X_AMZN_TRACE_ID),
  });
}

/** The trace id of `Root=1-…;Parent=…;Sampled=1`, as X-Ray and Powertools show it. */
function traceRoot(header: string | undefined): string | undefined {
  return header?.split(';').find((part) => part.startsWith('Root='))?.slice('Root='.length);
}
