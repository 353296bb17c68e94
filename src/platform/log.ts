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
    write(JSON.stringify({ level, timestamp: new Date().toISOString(), message, ...base, ...fields }));
  return {
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
  };
}
