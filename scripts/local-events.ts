// The local stack's stand-in for EventBridge: an HTTP server that speaks PutEvents' JSON protocol
// (what @aws-sdk/client-eventbridge sends to a configured endpoint), refuses what EventBridge
// refuses, and keeps the events it accepted. `GET /events` serves them as JSON lines.

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

export interface RecordedEvent {
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

type ResultEntry = { EventId: string } | { ErrorCode: string; ErrorMessage: string };

export interface EventRecorder {
  /** Base URL, e.g. http://localhost:4010: the endpoint for the SDK and the events at /events. */
  url: string;
  port: number;
  events(): readonly RecordedEvent[];
  close(): Promise<void>;
}

export interface EventRecorderOptions {
  port?: number;
  /** Buses that exist; an entry naming another is refused as EventBridge refuses it. */
  eventBuses?: string[];
  region?: string;
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

function checkEntry(entry: unknown, buses: Set<string>, arnPrefix: string): { ok: Omit<RecordedEvent, 'EventId' | 'ReceivedAt'> } | { error: ResultEntry } {
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
    bus = entry.EventBusName.startsWith(arnPrefix) ? entry.EventBusName.slice(arnPrefix.length) : entry.EventBusName;
  }
  if (!buses.has(bus)) {
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

/** Starts the recorder on `port` (0 or absent: a free one). */
export async function startEventRecorder(options: EventRecorderOptions = {}): Promise<EventRecorder> {
  const buses = new Set(options.eventBuses ?? ['default']);
  const arnPrefix = `arn:aws:events:${options.region ?? 'us-east-1'}:${options.accountId ?? '000000000000'}:event-bus/`;
  const recorded: RecordedEvent[] = [];

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
    const results = entries.map((entry): ResultEntry => {
      const checked = checkEntry(entry, buses, arnPrefix);
      if ('error' in checked) return checked.error;
      const event: RecordedEvent = { EventId: randomUUID(), ...checked.ok, ReceivedAt: new Date().toISOString() };
      recorded.push(event);
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
          response.end(recorded.map((event) => `${JSON.stringify(event)}\n`).join(''));
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
        if (error instanceof RequestError) {
          answer(response, error.status, { __type: error.type, message: error.message });
        } else {
          answer(response, 500, { __type: 'InternalException', message: 'The recorder failed.' });
        }
      }
    })();
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen({ port: options.port ?? 0, host: '127.0.0.1', exclusive: true }, () => resolveListen());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the event recorder has no TCP address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    events: () => recorded,
    close: () =>
      new Promise((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose());
      }),
  };
}
