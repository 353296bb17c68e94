// One error hierarchy for everything a client may see. Each step throws the error it finds; one
// function (src/http/response.ts) turns any error into a response. Anything that is not an ApiError is a 500
// whose details stay in the log.

/**
 * The most characters of client input (or of a parser's diagnostic that quotes it) an error
 * message repeats: an answer never grows with the input.
 */
export const MAX_ECHOED_CHARS = 80;

/**
 * Client input as an error message quotes it: at most MAX_ECHOED_CHARS characters (code points,
 * so no pair is split), then "…", and a lone surrogate replaced (U+FFFD). Every message that
 * repeats what the client sent goes through here.
 */
export function echoed(input: string): string {
  let end = 0;
  for (let chars = 0; end < input.length && chars < MAX_ECHOED_CHARS; chars++) {
    end += input.codePointAt(end)! > 0xffff ? 2 : 1;
  }
  return (end < input.length ? `${input.slice(0, end)}…` : input).toWellFormed();
}

export interface FieldMessage {
  code: string;
  message: string;
}

export interface FieldErrorEntry {
  field: string;
  messages: FieldMessage[];
}

export type ErrorEnvelope = {
  errors: Array<FieldErrorEntry | FieldMessage>;
};

export abstract class ApiError extends Error {
  abstract readonly status: number;
  abstract readonly code: string;
  override name = 'ApiError';

  envelope(): ErrorEnvelope {
    return { errors: [{ code: this.code, message: this.message }] };
  }
}

/** 400 with one entry per invalid field, every field reported at once. */
export class ValidationError extends ApiError {
  readonly status = 400;
  readonly code = 'invalid';
  readonly fields: FieldErrorEntry[];

  constructor(fields: FieldErrorEntry[]) {
    super(`Invalid fields: ${fields.map((f) => f.field).join(', ')}`);
    this.fields = fields;
  }

  static single(field: string, code: string, message: string): ValidationError {
    return new ValidationError([{ field, messages: [{ code, message }] }]);
  }

  override envelope(): ErrorEnvelope {
    return { errors: this.fields };
  }
}

/** The claim of the username asked for is held by another user (Django's unique check). */
export class UsernameTakenError extends ValidationError {
  constructor() {
    super([
      {
        field: 'username',
        messages: [{ code: 'unique', message: 'A user with that username already exists.' }],
      },
    ]);
  }
}

/** Collects field errors so that every invalid field is reported at once. */
export class FieldErrors {
  private readonly byField = new Map<string, FieldMessage[]>();

  add(field: string, code: string, message: string): void {
    const messages = this.byField.get(field) ?? [];
    messages.push({ code, message });
    this.byField.set(field, messages);
  }

  throwIfAny(): void {
    if (this.byField.size === 0) return;
    throw new ValidationError([...this.byField].map(([field, messages]) => ({ field, messages })));
  }
}

/** 400 about the request as a whole, not one of its fields: `{"errors": [{"code": "invalid", …}]}`. */
export class InvalidRequestError extends ApiError {
  readonly status = 400;
  readonly code = 'invalid';
}

export class ParseError extends ApiError {
  readonly status = 400;
  readonly code = 'parse_error';
  constructor(message = 'Malformed request body.') {
    super(message);
  }
}

export class AuthenticationError extends ApiError {
  readonly status = 401;
  readonly code: 'not_authenticated' | 'authentication_failed';
  /** Why verification failed: for the log only, never sent to the client. */
  readonly reason: string;

  constructor(code: 'not_authenticated' | 'authentication_failed', reason: string) {
    super(
      code === 'not_authenticated'
        ? 'Authentication credentials were not provided.'
        : 'Incorrect authentication credentials.',
    );
    this.code = code;
    this.reason = reason;
  }
}

export class PermissionDeniedError extends ApiError {
  readonly status = 403;
  readonly code = 'permission_denied';
  constructor() {
    super('You do not have permission to perform this action.');
  }
}

export class NotFoundError extends ApiError {
  readonly status = 404;
  readonly code = 'not_found';
  constructor() {
    super('Not found.');
  }
}

export class MethodNotAllowedError extends ApiError {
  readonly status = 405;
  readonly code = 'method_not_allowed';
  /** The request's path: src/http/response.ts answers with the methods that path serves (`Allow`). */
  readonly path: string;
  constructor(method: string, path: string) {
    super(`Method "${echoed(method)}" not allowed.`);
    this.path = path;
  }
}

export class RequestTooLargeError extends ApiError {
  readonly status = 413;
  readonly code = 'request_too_large';
  constructor(message = 'Request body is too large.') {
    super(message);
  }
}

export class UnsupportedMediaTypeError extends ApiError {
  readonly status = 415;
  readonly code = 'unsupported_media_type';
  constructor(contentType: string) {
    super(`Unsupported media type "${echoed(contentType)}" in request.`);
  }
}

export class ServiceUnavailableError extends ApiError {
  readonly status = 503;
  readonly code = 'service_unavailable';
  constructor(message = 'The service is temporarily unavailable, try again later.', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The user changed between a read and a conditional write; the write is tried again or reported. */
export class ConcurrentChangeError extends ServiceUnavailableError {
  constructor() {
    super('The user is being changed by another request; try again.');
  }
}

/**
 * A write whose answer was lost: it may or may not have been applied. The client hears 503 and
 * tries again; what is stored is either as before or exactly as after the write.
 */
export class WriteOutcomeUnknownError extends ServiceUnavailableError {
  constructor(cause: unknown) {
    super('The outcome of the update is unknown; read the user or try again.', { cause });
  }
}

/**
 * `If-Match` named versions of which none is the stored one, or `If-None-Match` named the stored
 * one (or `*`): nothing was changed.
 */
export class PreconditionFailedError extends ApiError {
  readonly status = 412;
  readonly code = 'precondition_failed';
  constructor() {
    super('The stored version of the user does not meet the request’s If-Match or If-None-Match.');
  }
}
