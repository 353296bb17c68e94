// A stand-in for Amazon EventBridge's PutEvents, for tests and the local stack: an HTTP server that
// speaks the service's JSON protocol (POST, `X-Amz-Target: AWSEvents.PutEvents`,
// `Content-Type: application/x-amz-json-1.1`), validates each request as EventBridge does, and
// keeps the events it accepted. The SDK's EventBridge client talks to it through `endpoint`.
//
// Validation, as the service documents it:
//   - 1 to 10 entries per request, else a ValidationException (400) and nothing is kept;
//   - the entries' total size (Source, DetailType, Detail, Resources, Time) at most 256 KB, else a
//     ValidationException;
//   - per entry: Source, DetailType and Detail required, Detail a JSON object, the bus one that
//     exists; a bad entry fails on its own (ErrorCode in its result, counted in FailedEntryCount)
//     while the good ones in the same request are kept.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedEvent {
  id: string;
  eventBusName: string;
  source: string;
  detailType: string;
  /** The parsed Detail. */
  detail: Record<string, unknown>;
  resources: string[];
  time: string;
}

export interface EventBridgeRecorder {
  /** `http://127.0.0.1:<port>`: the client's `endpoint`, or EVENTBRIDGE_ENDPOINT. */
  endpoint: string;
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
  /** Bus names that exist (`default` always does); absent: any name is accepted. */
  busNames?: string[];
}

/** 256 KB: the largest PutEvents request, counted as the service counts it. */
export const MAX_REQUEST_ENTRIES_BYTES = 256 * 1024;
export const MAX_ENTRIES = 10;

const TARGET = 'AWSEvents.PutEvents';
const CONTENT_TYPE = 'application/x-amz-json-1.1';
/** Request bodies past this are refused without parsing: far above any valid PutEvents. */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

interface PutEventsEntry {
  Source?: unknown;
  DetailType?: unknown;
  Detail?: unknown;
  EventBusName?: unknown;
  Resources?: unknown;
  Time?: unknown;
}

type EntryResult = { EventId: string } | { ErrorCode: string; ErrorMessage: string };

export async function startEventBridgeRecorder(options: RecorderOptions = {}): Promise<EventBridgeRecorder> {
  const recorded: RecordedEvent[] = [];
  const buses = options.busNames && new Set(['default', ...options.busNames]);

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) sendError(response, 500, 'InternalException', String((error as Error)?.message ?? error));
      else response.destroy();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse) {
    if (request.method !== 'POST') return sendError(response, 405, 'UnknownOperationException', 'POST only.');
    if (request.headers['x-amz-target'] !== TARGET) {
      return sendError(response, 400, 'UnknownOperationException', `Unknown operation ${request.headers['x-amz-target'] ?? ''}`);
    }
    if (!String(request.headers['content-type'] ?? '').startsWith(CONTENT_TYPE)) {
      return sendError(response, 400, 'SerializationException', `Expected Content-Type ${CONTENT_TYPE}.`);
    }
    const body = await readBody(request);
    if (body === undefined) return sendError(response, 413, 'ValidationException', 'Request too large.');
    let input: { Entries?: unknown };
    try {
      input = JSON.parse(body.toString('utf8')) as { Entries?: unknown };
    } catch {
      return sendError(response, 400, 'SerializationException', 'Request body is not JSON.');
    }
    const entries = input?.Entries;
    if (!Array.isArray(entries) || entries.length < 1 || entries.length > MAX_ENTRIES) {
      return sendError(
        response,
        400,
        'ValidationException',
        `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and ${MAX_ENTRIES}`,
      );
    }
    const size = (entries as PutEventsEntry[]).reduce((total, entry) => total + entrySize(entry), 0);
    if (size > MAX_REQUEST_ENTRIES_BYTES) {
      return sendError(response, 400, 'ValidationException', `Total size of the entries in the request is over the limit (${size} bytes).`);
    }
    const results: EntryResult[] = (entries as PutEventsEntry[]).map((entry) => {
      const problem = entryProblem(entry, buses);
      if (problem) return problem;
      const event: RecordedEvent = {
        id: randomUUID(),
        eventBusName: typeof entry.EventBusName === 'string' && entry.EventBusName ? entry.EventBusName : 'default',
        source: entry.Source as string,
        detailType: entry.DetailType as string,
        detail: JSON.parse(entry.Detail as string) as Record<string, unknown>,
        resources: Array.isArray(entry.Resources) ? (entry.Resources as string[]) : [],
        time: timeOf(entry.Time),
      };
      recorded.push(event);
      return { EventId: event.id };
    });
    const failed = results.filter((result) => 'ErrorCode' in result).length;
    send(response, 200, { FailedEntryCount: failed, Entries: results });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://${options.host ?? '127.0.0.1'}:${port}`,
    events: () => structuredClone(recorded),
    clear: () => void recorded.splice(0),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The entry's size as EventBridge counts it: UTF-8 bytes of its text fields, 14 for a Time. */
export function entrySize(entry: PutEventsEntry): number {
  let size = entry.Time === undefined ? 0 : 14;
  for (const field of [entry.Source, entry.DetailType, entry.Detail]) {
    if (typeof field === 'string') size += Buffer.byteLength(field, 'utf8');
  }
  if (Array.isArray(entry.Resources)) {
    for (const resource of entry.Resources) if (typeof resource === 'string') size += Buffer.byteLength(resource, 'utf8');
  }
  return size;
}

function entryProblem(entry: PutEventsEntry, buses: Set<string> | undefined): EntryResult | undefined {
  const invalid = (message: string) => ({ ErrorCode: 'InvalidArgument', ErrorMessage: message });
  if (typeof entry !== 'object' || entry === null) return invalid('Entry is not an object.');
  if (typeof entry.Source !== 'string' || !entry.Source) return invalid('Parameter Source is not valid. Reason: Source is a required argument.');
  if (typeof entry.DetailType !== 'string' || !entry.DetailType) {
    return invalid('Parameter DetailType is not valid. Reason: DetailType is a required argument.');
  }
  if (typeof entry.Detail !== 'string' || !entry.Detail) return invalid('Parameter Detail is not valid. Reason: Detail is a required argument.');
  let detail: unknown;
  try {
    detail = JSON.parse(entry.Detail);
  } catch {
    return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
  }
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) {
    return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed: not a JSON object.' };
  }
  const bus = entry.EventBusName;
  if (bus !== undefined && typeof bus !== 'string') return invalid('Parameter EventBusName is not valid.');
  if (buses && !buses.has(busName(bus ?? 'default'))) {
    return { ErrorCode: 'ResourceNotFoundException', ErrorMessage: `Event bus ${bus} does not exist.` };
  }
  return undefined;
}

/** A bus is named by its name or its ARN (`arn:aws:events:<region>:<account>:event-bus/<name>`). */
const busName = (nameOrArn: string): string => nameOrArn.replace(/^arn:[^:]+:events:[^:]*:[^:]*:event-bus\//, '');

function timeOf(time: unknown): string {
  // The SDK's JSON protocol sends timestamps as epoch seconds.
  if (typeof time === 'number') return new Date(time * 1000).toISOString();
  return new Date().toISOString();
}

async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of request) {
    length += (chunk as Buffer).length;
    if (length > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(response: ServerResponse, status: number, body: unknown) {
  response.writeHead(status, { 'Content-Type': CONTENT_TYPE, 'x-amzn-RequestId': randomUUID() });
  response.end(JSON.stringify(body));
}

function sendError(response: ServerResponse, status: number, type: string, message: string) {
  send(response, status, { __type: type, message });
}
