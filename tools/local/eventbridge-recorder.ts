// A stand-in for Amazon EventBridge's PutEvents, for tests and the local stack: an HTTP server that
// speaks the service's JSON protocol (POST `/`, `X-Amz-Target: AWSEvents.PutEvents`,
// `Content-Type: application/x-amz-json-1.1`, what @aws-sdk/client-eventbridge sends to a
// configured `endpoint`), refuses what EventBridge refuses, and keeps the events it accepted.
// `GET /events` serves them as JSON lines.
//
// Validation, as the service documents it:
//   - 1 to 10 entries per request, else a ValidationException (400) and nothing is kept;
//   - the entries' total size (Source, DetailType, Detail, Resources, Time) at most 256 KB, else a
//     ValidationException;
//   - per entry: Source, DetailType and Detail required, Detail a JSON object, Resources strings,
//     Time a timestamp, the bus one that exists; a bad entry fails on its own (ErrorCode in its
//     result, counted in FailedEntryCount) while the good ones in the same request are kept.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

export const PUT_EVENTS_TARGET = 'AWSEvents.PutEvents';
export const AMZ_JSON = 'application/x-amz-json-1.1';
/** EventBridge's limits: entries per request, and the total entry size of one request. */
export const MAX_ENTRIES = 10;
export const MAX_REQUEST_ENTRY_BYTES = 256 * 1024;
// Far above any accepted request (256 KB of entries plus JSON framing and escaping).
const MAX_BODY_BYTES = 2 * 1024 * 1024;

/** An accepted event as `GET /events` serves it: the entry as sent, with its id and arrival. */
export interface StoredEvent {
  EventId: string;
  EventBusName: string;
  Source: string;
  DetailType: string;
  /** The entry's Detail as sent (a JSON text). */
  Detail: string;
  Resources: string[];
  /** The entry's Time, or the time of the call when it had none (ISO 8601). */
  Time: string;
  /** When the recorder accepted it (ISO 8601). */
  ReceivedAt: string;
}

/** An accepted event as tests read it: the same fields, the Detail parsed. */
export interface RecordedEvent {
  id: string;
  /** The bus's name (an ARN sent is reduced to the name). */
  eventBusName: string;
  source: string;
  detailType: string;
  /** The parsed Detail. */
  detail: Record<string, unknown>;
  resources: string[];
  time: string;
  receivedAt: string;
}

type ResultEntry = { EventId: string } | { ErrorCode: string; ErrorMessage: string };

export interface EventBridgeRecorder {
  /** `http://127.0.0.1:<port>`: the client's `endpoint` (EVENTBRIDGE_ENDPOINT); events at `/events`. */
  endpoint: string;
  port: number;
  /** Every event accepted so far, oldest first (copies). */
  events(): RecordedEvent[];
  /** Forgets the events accepted so far. */
  clear(): void;
  stop(): Promise<void>;
}

export interface RecorderOptions {
  /** 0 or absent: any free port. */
  port?: number;
  host?: string;
  /**
   * Buses that exist besides `default` (which always does, as in every account); an entry naming
   * another is refused. Absent: any bus is accepted.
   */
  busNames?: string[];
  /**
   * The buses the caller may put to, as the stack's IAM and bus policies allow the stream function
   * (serverless.yml UserEventBus): a request with an entry for another bus, `default` included, is
   * refused whole with AccessDeniedException, as AWS refuses it. Absent: any existing bus.
   */
  putAllowed?: string[];
  /** The region of the bus ARNs taken for a bus's name (another region's ARN names no bus here); absent: any. */
  region?: string;
  /** The account of the bus ARNs taken for a bus's name; absent: any. */
  accountId?: string;
  /** More read-only JSON documents of the local stack, by path (e.g. `/stream`). */
  statusRoutes?: Record<string, () => unknown>;
}

class RequestError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const utf8Bytes = (value: string): number => Buffer.byteLength(value, 'utf8');

/** EventBridge's entry size: Time 14 bytes, Source, DetailType, Detail and Resources as UTF-8. */
export function entrySize(entry: Record<string, unknown>): number {
  let size = entry.Time !== undefined ? 14 : 0;
  for (const key of ['Source', 'DetailType', 'Detail'] as const) {
    if (typeof entry[key] === 'string') size += utf8Bytes(entry[key]);
  }
  if (Array.isArray(entry.Resources)) {
    for (const resource of entry.Resources) if (typeof resource === 'string') size += utf8Bytes(resource);
  }
  return size;
}

function parseTime(value: unknown): Date | undefined {
  // The JSON protocol sends timestamps as epoch seconds; ISO text is accepted as the CLI sends it.
  if (typeof value === 'number' && Number.isFinite(value)) return new Date(value * 1000);
  if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return new Date(value);
  return undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function checkEntry(
  entry: unknown,
  buses: Set<string> | undefined,
  busArn: RegExp,
): { ok: Omit<StoredEvent, 'EventId' | 'ReceivedAt'> } | { error: ResultEntry } {
  const invalid = (ErrorMessage: string): { error: ResultEntry } => ({ error: { ErrorCode: 'InvalidArgument', ErrorMessage } });
  if (!isPlainObject(entry)) return invalid('Entry is not an object.');
  const missing = (['Source', 'DetailType', 'Detail'] as const).filter(
    (key) => typeof entry[key] !== 'string' || entry[key] === '',
  );
  if (missing.length) return invalid(`Parameter(s) ${missing.join(', ')} not specified or not a non-empty string.`);
  const { Source, DetailType, Detail } = entry as { Source: string; DetailType: string; Detail: string };
  let detail: unknown;
  try {
    detail = JSON.parse(Detail);
  } catch {
    return { error: { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' } };
  }
  if (!isPlainObject(detail)) {
    return { error: { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed: not a JSON object.' } };
  }
  if (entry.Resources !== undefined && !(Array.isArray(entry.Resources) && entry.Resources.every((r) => typeof r === 'string'))) {
    return invalid('Parameter Resources is not a list of strings.');
  }
  let time = new Date();
  if (entry.Time !== undefined) {
    const parsed = parseTime(entry.Time);
    if (!parsed) return invalid('Parameter Time is not a valid timestamp.');
    time = parsed;
  }
  // A bus is named by its name or its ARN; none means the default bus.
  let bus = 'default';
  if (entry.EventBusName !== undefined) {
    if (typeof entry.EventBusName !== 'string' || entry.EventBusName === '') {
      return invalid('Parameter EventBusName is not valid.');
    }
    bus = entry.EventBusName.replace(busArn, '');
  }
  if (buses && !buses.has(bus)) {
    return { error: { ErrorCode: 'NotFound', ErrorMessage: `Event bus ${bus} does not exist.` } };
  }
  return {
    ok: {
      EventBusName: bus,
      Source,
      DetailType,
      Detail,
      Resources: (entry.Resources as string[] | undefined) ?? [],
      Time: time.toISOString(),
    },
  };
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new RequestError(413, 'ValidationException', 'Request is too large.');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function answer(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': AMZ_JSON,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  });
  response.end(text);
}

const recordedOf = (event: StoredEvent): RecordedEvent => ({
  id: event.EventId,
  eventBusName: event.EventBusName,
  source: event.Source,
  detailType: event.DetailType,
  detail: JSON.parse(event.Detail) as Record<string, unknown>,
  resources: [...event.Resources],
  time: event.Time,
  receivedAt: event.ReceivedAt,
});

/** Starts the recorder on `port` (0 or absent: a free one). */
export async function startEventBridgeRecorder(options: RecorderOptions = {}): Promise<EventBridgeRecorder> {
  const buses = options.busNames && new Set(['default', ...options.busNames]);
  const allowed = options.putAllowed && new Set(options.putAllowed);
  const region = options.region ? escapeRegExp(options.region) : '[^:]*';
  const account = options.accountId ? escapeRegExp(options.accountId) : '[^:]*';
  const busArn = new RegExp(`^arn:[^:]+:events:${region}:${account}:event-bus/`);
  const host = options.host ?? '127.0.0.1';
  const stored: StoredEvent[] = [];

  const putEvents = (payload: unknown): { FailedEntryCount: number; Entries: ResultEntry[] } => {
    if (!isPlainObject(payload) || !Array.isArray(payload.Entries)) {
      throw new RequestError(400, 'ValidationException', "1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null");
    }
    const entries: unknown[] = payload.Entries;
    if (entries.length < 1 || entries.length > MAX_ENTRIES) {
      throw new RequestError(
        400,
        'ValidationException',
        `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and ${MAX_ENTRIES}, got ${entries.length}`,
      );
    }
    const total = entries.reduce<number>((sum, entry) => sum + (isPlainObject(entry) ? entrySize(entry) : 0), 0);
    if (total > MAX_REQUEST_ENTRY_BYTES) {
      throw new RequestError(400, 'ValidationException', `Total size of the entries in the request is over the limit (${total} > ${MAX_REQUEST_ENTRY_BYTES} bytes).`);
    }
    if (allowed) {
      for (const entry of entries) {
        const name = isPlainObject(entry) && typeof entry.EventBusName === 'string' && entry.EventBusName !== '' ? entry.EventBusName.replace(busArn, '') : 'default';
        if (!allowed.has(name)) {
          throw new RequestError(400, 'AccessDeniedException', `The caller is not authorized to perform: events:PutEvents on resource: event-bus/${name}`);
        }
      }
    }
    const results = entries.map((entry): ResultEntry => {
      const checked = checkEntry(entry, buses, busArn);
      if ('error' in checked) return checked.error;
      const event: StoredEvent = { EventId: randomUUID(), ...checked.ok, ReceivedAt: new Date().toISOString() };
      stored.push(event);
      return { EventId: event.EventId };
    });
    return { FailedEntryCount: results.filter((entry) => 'ErrorCode' in entry).length, Entries: results };
  };

  const server: Server = createServer((request, response) => {
    void (async () => {
      try {
        const path = new URL(request.url ?? '/', 'http://recorder').pathname;
        if (request.method === 'GET' && path === '/events') {
          response.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8' });
          response.end(stored.map((event) => `${JSON.stringify(event)}\n`).join(''));
          return;
        }
        const status = options.statusRoutes?.[path];
        if (request.method === 'GET' && status) {
          const text = JSON.stringify(status());
          response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
          response.end(text);
          return;
        }
        if (request.method !== 'POST' || path !== '/') {
          throw new RequestError(404, 'UnknownOperationException', 'POST / with X-Amz-Target, or GET /events.');
        }
        const body = await readBody(request);
        if (request.headers['x-amz-target'] !== PUT_EVENTS_TARGET) {
          throw new RequestError(400, 'UnknownOperationException', `Only ${PUT_EVENTS_TARGET} is recorded here.`);
        }
        const contentType = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
        if (contentType !== AMZ_JSON) {
          throw new RequestError(400, 'SerializationException', `Content-Type must be ${AMZ_JSON}.`);
        }
        let payload: unknown;
        try {
          payload = JSON.parse(body.toString('utf8'));
        } catch {
          throw new RequestError(400, 'SerializationException', 'The request body is not JSON.');
        }
        answer(response, 200, putEvents(payload));
      } catch (error) {
        if (response.headersSent) response.destroy();
        else if (error instanceof RequestError) answer(response, error.status, { __type: error.type, message: error.message });
        else answer(response, 500, { __type: 'InternalException', message: 'The recorder failed.' });
      }
    })();
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen({ port: options.port ?? 0, host, exclusive: true }, () => resolveListen());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the EventBridge recorder has no TCP address');
  return {
    endpoint: `http://${host}:${address.port}`,
    port: address.port,
    events: () => stored.map(recordedOf),
    clear: () => void stored.splice(0),
    stop: () =>
      new Promise<void>((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose());
      }),
  };
}
