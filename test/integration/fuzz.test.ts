// Property-based fuzzing of the real handler against DynamoDB Local and the S3 emulator: whatever
// the request (method, token, path id, content type, body, base64 flag), the answer is a 2xx
// User object or a 4xx in the contract's envelope whose status fits the request; never a 5xx,
// never a throw, never a change to the stored user on a refusal. Then the table and the bucket
// must still satisfy the data model's invariants.
//
//   FUZZ_RUNS=N     number of generated requests (default 2000)
//   FUZZ_SEED=S     replay a run (fast-check prints the seed and path of a failure)
//   FUZZ_PATH=P     with FUZZ_SEED: replay just the shrunk counterexample
//   FUZZ_STATS=1    print how often each status, error code and body kind came up
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { createHandler, type ApiEvent, type Handler } from '../../src/functions/patch-user/handler.ts';
import type { HttpResponse } from '../../src/http/response.ts';
import type { UserItem } from '../../src/users/user-record.ts';
import { createHandler as createMediaEventsHandler, type Handler as MediaEventsHandler } from '../../src/functions/media-events/handler.ts';
import { checkInvariants } from '../../tools/cli/check-invariants.ts';
import { startEventBridgeRecorder, type EventBridgeRecorder } from '../../tools/local/eventbridge-recorder.ts';
import { accessTokenPayload } from '../../tools/local/keys.ts';
import {
  POOL,
  STRANGER_SUB,
  TEXT_FIELD_NAMES,
  buildBody,
  conditionHolds,
  conditionValue,
  fileBytes,
  isValidAuth,
  requestArb,
  resolvePathId,
  SETTING_DEFAULTS,
  formPairs,
  settingsRequestArb,
  settingsVerdict,
  type SettingsRequest,
  type AuthSpec,
  type BuiltBody,
  type FileContent,
  type FuzzRequest,
  type Pair,
} from '../support/arbitraries.ts';
import { fixtureEvent, multipartBody, startTestBackend, type TestBackend } from '../support/backend.ts';
import { profileEvent } from '../support/profile-requests.ts';
import { avatarEvent } from '../support/avatars.ts';
import { createHandler as createGetHandler } from '../../src/functions/get-user/handler.ts';
import { FIELD_ERROR_CODES, MAX_ERROR_MESSAGE_CHARS, USER_FIELDS as CONTRACT_USER_FIELDS } from '../support/contract.ts';
import { displayTextAllowed, expectedUser, isReservedUsername, mediaTypeVerdict, PRIVATE_USER_FIELDS } from '../support/oracle.ts';
import { openTableStream, streamConfigFor, type TableStream } from '../support/stream.ts';
import { accessToken, makeKey, signToken } from '../../tools/support/tokens.ts';

const USER_FIELDS = [...CONTRACT_USER_FIELDS].sort();
const INTEGER_FIELDS = [
  'id', 'followings_counter', 'followers_counter', 'posts_counter', 'discussions_counter', 'polls_counter',
  'categories_counter', 'reputation',
];
const STRING_FIELDS = [
  'username', 'real_name', 'date_joined', 'bio', 'location', 'location_lat_lng', 'position_lat_lng', 'date_of_birth',
  'description', 'gender', 'website', 'company_name', 'company_role', 'language',
];
const BOOLEAN_FIELDS = ['community_badge', 'reg_approved', 'deleted'];
const FIELD_CODES = new Set<string>(FIELD_ERROR_CODES);
/** Attributes of the stored user a patch may change; everything else must survive any request. */
const MUTABLE = new Set(['username', 'username_claim', 'version', 'avatar_key', 'cover_key', 'avatars', 'avatar_seq', ...TEXT_FIELD_NAMES]);

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const RUN_TIMEOUT_MS = 10_000;
/** Lambda's limit on a synchronous invocation's response payload (6 MB). */
const LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024;

const key = makeKey();
const strangerKey = makeKey();
let backend: TestBackend;
let handler: Handler;
const tokens = new Map<string, string>();
/** The stored pool users, as of the last request. */
const snapshots = new Map<number, UserItem>();

let recorder: EventBridgeRecorder;
let stream: TableStream;
let mediaEvents: MediaEventsHandler;

before(async () => {
  backend = await startTestBackend({ keys: [key] });
  handler = createHandler(backend.config);
  recorder = await startEventBridgeRecorder();
  stream = await openTableStream(backend);
  mediaEvents = createMediaEventsHandler(streamConfigFor(backend, recorder.endpoint));
  await backend.seed(POOL.map((u) => ({ ...u })));
  for (const u of POOL) snapshots.set(u.id, (await backend.getUser(u.id))!);
});
after(async () => {
  stream?.stop();
  await recorder?.stop();
  await backend?.stop();
});

/** The invariants once the stream function has caught up with the table (it makes images live). */
async function invariantsAfterStream() {
  const { deadLetters } = await stream.drain(mediaEvents);
  assert.deepEqual(deadLetters, [], 'every stream record applied');
  // Events carry the public view: the owner's private fields never leave the table (contract, "Events").
  for (const event of recorder.events()) {
    const user = (event.detail as { user?: Record<string, unknown> }).user ?? {};
    for (const field of PRIVATE_USER_FIELDS) assert.equal(user[field], '', `${field} in a ${event.detailType} event`);
  }
  recorder.clear();
  return checkInvariants(backend.dynamo, backend.s3, backend.config);
}

// ---------------------------------------------------------------------------------------------
// Requests

/** The Authorization header of an auth spec (tokens made once and reused). */
function authorization(auth: AuthSpec): string | undefined {
  if (auth.kind === 'raw') return auth.header;
  const cacheKey = JSON.stringify(auth);
  const hit = tokens.get(cacheKey);
  if (hit !== undefined) return hit;
  let header: string;
  if (auth.kind === 'signed') {
    const p: Record<string, unknown> = { ...accessTokenPayload({ ...backend.pool, sub: POOL[auth.user]!.sub }), ...auth.claims };
    for (const claim of auth.remove) delete p[claim];
    header = `Bearer ${signToken({ alg: 'RS256', kid: key.kid }, p, { key: key.privateKey })}`;
  } else if (auth.kind === 'jwtJunk') {
    const h = auth.ourKid && auth.header && typeof auth.header === 'object' && !Array.isArray(auth.header) ? { ...auth.header, kid: key.kid } : auth.header;
    const part = (v: unknown) => Buffer.from(JSON.stringify(v) ?? '').toString('base64url');
    header = `Bearer ${part(h)}.${part(auth.payload)}.${auth.signature.replace(/=+$/, '')}`;
  } else if (auth.kind === 'stranger') {
    header = `Bearer ${accessToken(key, { sub: STRANGER_SUB }, backend.pool)}`;
  } else if (auth.kind === 'token') {
    const token = accessToken(key, { sub: POOL[auth.user]!.sub }, backend.pool);
    header = {
      Bearer: `Bearer ${token}`,
      bearer: `bearer ${token}`,
      BEARER: `BEARER ${token}`,
      tab: `Bearer\t${token}`,
      spaces: `  Bearer   ${token}  `,
    }[auth.form];
  } else {
    const sub = POOL[auth.user]!.sub;
    const payload = () => accessTokenPayload({ ...backend.pool, sub }) as unknown as Record<string, unknown>;
    const rs256 = (p: Record<string, unknown>) => signToken({ alg: 'RS256', kid: key.kid }, p, { key: key.privateKey });
    const now = Math.floor(Date.now() / 1000);
    let token: string;
    switch (auth.how) {
      case 'expired':
        token = accessToken(key, { sub, expiresInSeconds: -120 }, backend.pool);
        break;
      case 'wrongClient':
        token = accessToken(key, { sub, clientId: 'someotherclient' }, backend.pool);
        break;
      case 'wrongPool':
        token = accessToken(key, { sub, userPoolId: 'us-east-1_OtherPool' }, backend.pool);
        break;
      case 'unknownKey':
        token = accessToken(strangerKey, { sub }, backend.pool);
        break;
      case 'algNone':
        token = signToken({ alg: 'none', kid: key.kid }, payload());
        break;
      case 'hs256':
        token = signToken({ alg: 'HS256', kid: key.kid }, payload(), { secret: Buffer.from(key.jwk.n) });
        break;
      case 'tampered': {
        // Another user's payload under this token's signature.
        const [h, , s] = accessToken(key, { sub }, backend.pool).split('.');
        const other = POOL[(auth.user + 1) % POOL.length]!.sub;
        const p = Buffer.from(JSON.stringify({ ...payload(), sub: other })).toString('base64url');
        token = `${h}.${p}.${s}`;
        break;
      }
      case 'noExp': {
        const p = payload();
        delete p.exp;
        token = rs256(p);
        break;
      }
      case 'idToken':
        token = rs256({ ...payload(), token_use: 'id', aud: backend.pool.clientId });
        break;
      case 'notYetValid':
        token = rs256({ ...payload(), nbf: now + 3600 });
        break;
      case 'truncated':
        token = accessToken(key, { sub }, backend.pool).slice(0, -6);
        break;
    }
    header = `Bearer ${token}`;
  }
  tokens.set(cacheKey, header);
  return header;
}

function headerName(name: 'Authorization' | 'Content-Type', spelling: FuzzRequest['headerCase']): string {
  if (spelling === 'lower') return name.toLowerCase();
  if (spelling === 'upper') return name.toUpperCase();
  return name;
}

function buildEvent(req: FuzzRequest, built: BuiltBody, storedVersion: number | undefined): ApiEvent {
  const event = fixtureEvent('json', { id: req.path.raw });
  const headers: Record<string, string | undefined> = { ...event.headers };
  delete headers.Authorization;
  delete headers['Content-Type'];
  const auth = authorization(req.auth);
  if (auth !== undefined) headers[headerName('Authorization', req.headerCase)] = auth;
  if (built.contentType !== undefined) headers[headerName('Content-Type', req.headerCase)] = built.contentType;
  if (req.condition) headers[req.condition.header] = conditionValue(req.condition, storedVersion ?? 0);
  event.headers = headers;
  event.body = built.body;
  event.isBase64Encoded = built.isBase64Encoded;

  const path = `/api/v2/user/${req.path.raw}/`;
  switch (req.path.via) {
    case 'params':
      break;
    case 'path':
      event.pathParameters = null;
      break;
    case 'pathNoSlash':
      event.pathParameters = null;
      event.path = path.slice(0, -1);
      break;
    case 'rawPath':
      event.pathParameters = null;
      delete event.path;
      event.rawPath = path;
      break;
    case 'both': // the path parameter is what API Gateway matched: it wins over the path
      event.path = `/api/v2/user/${POOL[0]!.id}/`;
      break;
  }
  switch (req.method.via) {
    case 'rest':
      event.httpMethod = req.method.value;
      break;
    case 'http':
      delete event.httpMethod;
      event.requestContext = { ...event.requestContext, http: { method: req.method.value } };
      break;
    case 'both':
      event.httpMethod = req.method.value;
      event.requestContext = { ...event.requestContext, http: { method: 'GET' } };
      break;
  }
  return event;
}

// ---------------------------------------------------------------------------------------------
// What an answer must look like

type Json = Record<string, any>;

function parseJsonBody(res: HttpResponse): Json {
  assert.equal(res.headers['Content-Type'], 'application/json', 'every answer is JSON');
  let json: unknown;
  assert.doesNotThrow(() => (json = JSON.parse(res.body)), 'the body parses as JSON');
  assert.ok(json !== null && typeof json === 'object' && !Array.isArray(json), 'the body is an object');
  return json as Json;
}

function assertUserObject(json: Json): void {
  assert.deepEqual(Object.keys(json).sort(), USER_FIELDS, 'exactly the User fields');
  for (const f of INTEGER_FIELDS) assert.ok(Number.isSafeInteger(json[f]), `${f} is an integer: ${json[f]}`);
  for (const f of STRING_FIELDS) assert.equal(typeof json[f], 'string', `${f} is a string`);
  for (const f of BOOLEAN_FIELDS) assert.equal(typeof json[f], 'boolean', `${f} is a boolean`);
  for (const f of ['avatar', 'cover', 'ext_id']) {
    assert.ok(json[f] === null || typeof json[f] === 'string', `${f} is a string or null`);
  }
  for (const f of ['avatar', 'cover'] as const) {
    if (json[f] !== null) {
      assert.match(json[f], new RegExp(`^${escape(backend.config.mediaBaseUrl)}/${f}/${json.id}/[0-9a-f-]{36}\\.(png|jpg|gif|webp)$`));
    }
  }
  assert.equal(json.connection_status, null);
  assert.ok(Array.isArray(json.tags), 'tags is an array');
  assert.ok(['Male', 'Female', 'Unspecified'].includes(json.gender), `gender ${json.gender}`);
  assert.ok(['en', 'it'].includes(json.language), `language ${json.language}`);
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const isMessage = (m: unknown): m is { code: string; message: string } =>
  !!m && typeof m === 'object' && Object.keys(m).sort().join() === 'code,message' &&
  typeof (m as Json).code === 'string' && typeof (m as Json).message === 'string';

/** A message quotes at most a little of what the client sent, and never half a surrogate pair. */
function assertShortMessage(message: string): void {
  assert.ok(message.length <= MAX_ERROR_MESSAGE_CHARS, `a message of ${message.length} characters: ${message.slice(0, 200)}`);
  assert.ok(message.isWellFormed(), `a message with a lone surrogate: ${JSON.stringify(message.slice(0, 200))}`);
}

/** `{errors: [...]}`, each entry `{code, message}` or `{field, messages: [{code, message}, ...]}`. */
function assertEnvelope(json: Json): { codes: string[]; fieldCodes: Map<string, string[]> } {
  assert.deepEqual(Object.keys(json), ['errors'], 'the envelope has only `errors`');
  assert.ok(Array.isArray(json.errors) && json.errors.length > 0, 'errors is a non-empty array');
  const codes: string[] = [];
  const fieldCodes = new Map<string, string[]>();
  for (const entry of json.errors as unknown[]) {
    if (isMessage(entry)) {
      assertShortMessage(entry.message);
      codes.push(entry.code);
      continue;
    }
    const e = entry as Json;
    assert.ok(e && typeof e === 'object' && Object.keys(e).sort().join() === 'field,messages', `entry shape: ${JSON.stringify(e)}`);
    assert.equal(typeof e.field, 'string');
    assert.ok(Array.isArray(e.messages) && e.messages.length > 0, 'messages is a non-empty array');
    for (const m of e.messages) assert.ok(isMessage(m), `message shape: ${JSON.stringify(m)}`);
    for (const m of e.messages) assertShortMessage(m.message);
    assert.ok(!fieldCodes.has(e.field), `field ${e.field} reported once`);
    fieldCodes.set(e.field, e.messages.map((m: { code: string }) => m.code));
  }
  return { codes, fieldCodes };
}

const imageExt: Record<string, string> = { png: 'png', pngText: 'png', jpeg: 'jpg', jpegExif: 'jpg', gif: 'gif', gifAnim: 'gif', webpLossy: 'webp', webpLossless: 'webp', webpExt: 'webp', webpAnim: 'webp' };
const extOf = (content: FileContent) => (content.kind === 'image' ? imageExt[content.image] : undefined);

/** For a valid body answered 200: every sent field has the value the contract says. */
function assertAppliedPatch(pairs: readonly Pair[], json: Json): void {
  for (const [name, value] of pairs) {
    const raw = 'json' in value ? value.json : undefined;
    if (name === 'username') {
      assert.equal(json.username, raw, 'the username as sent');
      assert.ok(!isReservedUsername(String(raw)), `a reserved name was given: ${String(raw)}`);
    } else if ((TEXT_FIELD_NAMES as readonly string[]).includes(name)) {
      let expected = raw === null ? '' : String(raw).trim();
      assert.ok(displayTextAllowed(name, expected), `${name} accepted control or bidi characters: ${JSON.stringify(expected)}`);
      if (name === 'gender' && expected === '') expected = 'Unspecified';
      if (name === 'language' && expected === '') expected = 'en';
      assert.equal(json[name], expected, `${name} is the trimmed value`);
    } else if (name === 'avatar' || name === 'cover' || name === 'avatar_base64' || name === 'cover_base64') {
      const field = name.replace('_base64', '');
      const content = 'file' in value ? value.file.content : 'b64' in value ? value.b64.content : undefined;
      if (content) assert.ok(json[field]?.endsWith(`.${extOf(content)}`), `${field} stored as .${extOf(content)}: ${json[field]}`);
      else assert.equal(json[field], null, `${field} removed`);
    }
  }
}

function bodyPairs(req: FuzzRequest): Pair[] {
  const spec = req.body.spec;
  if (spec.enc === 'json' || spec.enc === 'urlencoded') return spec.pairs;
  if (spec.enc === 'multipart') return spec.form.parts.map((p): Pair => [p.name, p.value]);
  return [];
}

/** Whether the request may touch the username claims or the media bucket. */
function touchesClaimsOrMedia(req: FuzzRequest): boolean {
  return bodyPairs(req).some(([name]) => /username|avatar|cover/i.test(name)) || req.body.spec.enc === 'urlencodedText' || req.body.spec.enc === 'text';
}

// ---------------------------------------------------------------------------------------------
// Running one request

/** Log lines of the handler during the current run, kept out of the test output. */
let logLines: string[] = [];
const uncaught: unknown[] = [];
let restoreStdout: (() => void) | undefined;

function captureHandlerLogs(): void {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (typeof chunk === 'string' && chunk.startsWith('{"level":')) {
      logLines.push(chunk.trimEnd());
      return true;
    }
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  restoreStdout = () => {
    process.stdout.write = write;
  };
}

async function callHandler(event: ApiEvent): Promise<HttpResponse> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the handler did not answer within ${RUN_TIMEOUT_MS} ms`)), RUN_TIMEOUT_MS);
  });
  try {
    return await Promise.race([handler(event), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const STATS = process.env.FUZZ_STATS === '1';
const stats = new Map<string, number>();
const count = (label: string) => stats.set(label, (stats.get(label) ?? 0) + 1);

/** The sub a request's token carries, if it is signed by the pool. */
function subOf(auth: AuthSpec): unknown {
  switch (auth.kind) {
    case 'token':
      return POOL[auth.user]!.sub;
    case 'stranger':
      return STRANGER_SUB;
    case 'signed':
      if (auth.remove.includes('sub')) return undefined;
      return 'sub' in auth.claims ? auth.claims.sub : POOL[auth.user]!.sub;
    default:
      return undefined;
  }
}

async function runOne(req: FuzzRequest): Promise<void> {
  try {
    await checkOne(req);
  } catch (error) {
    // A failed run may have stopped before noting what it changed.
    for (const u of POOL) snapshots.set(u.id, (await backend.getUser(u.id))!);
    throw error;
  }
}

async function checkOne(req: FuzzRequest): Promise<void> {
  logLines = [];
  uncaught.length = 0;
  const built = buildBody(req.body);
  const methodExact = req.method.value === 'PATCH';
  const methodLoose = req.method.value.toUpperCase() === 'PATCH';
  // The contract's `/api/v2/user/me/` serves GET only (when the path, not a parameter, says so).
  const pathIsMe = req.path.raw === 'me' && req.path.via !== 'both';
  // `/api/v2/user//` is none of the service's paths (API Gateway matches no `{id}` there): a 404
  // after authentication, whatever the method.
  const noPath = req.path.raw === '' && req.path.via !== 'both';
  const targetId = resolvePathId(req.path.raw);
  const target = POOL.find((u) => u.id === targetId);
  const callerSub = subOf(req.auth);
  const owner = !!target && target.sub === callerSub;
  // The user as the previous request left it (requests run one at a time; the first read is at seeding).
  const stored = target ? snapshots.get(target.id) : undefined;
  const event = buildEvent(req, built, stored?.version);
  // The precondition holds when there is none, or when its header lets a write of the stored version through.
  const preconditionHolds = !req.condition || conditionHolds(req.condition);

  let res: HttpResponse;
  try {
    res = await callHandler(event);
  } catch (error) {
    assert.fail(`the handler threw: ${(error as Error)?.stack ?? error}\nlog:\n${logLines.join('\n')}`);
  }
  // Let anything the request left running (stream events, timers) fail now, in this run.
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(uncaught, [], `uncaught exception during the request:\n${uncaught.map((e) => (e as Error)?.stack ?? String(e)).join('\n')}`);

  const status = res.statusCode;
  const where = () => `status ${status}, body ${res.body.slice(0, 600)}\nlog:\n${logLines.join('\n').slice(0, 4000)}`;
  count(`status ${status}`);
  assert.ok((status >= 200 && status < 300) || (status >= 400 && status < 500), `a 2xx or a 4xx, never a 5xx: ${where()}`);
  // Lambda refuses a synchronous response over 6 MB: API Gateway then answers 502.
  assert.ok(Buffer.byteLength(res.body) <= LAMBDA_RESPONSE_LIMIT, `the answer (${Buffer.byteLength(res.body)} bytes) is over Lambda's 6 MB response limit: ${where()}`);
  const json = parseJsonBody(res);
  for (const u of [...POOL, { sub: STRANGER_SUB }]) assert.ok(!res.body.includes(u.sub), `a sub never leaves: ${where()}`);

  if (STATS) for (const c of new Set(status === 200 ? [] : [...codesOf(json)].map((c) => c.replace(/^.*:/, '')))) count(`${status} ${c}`);
  if (STATS) count(`${req.body.spec.enc}${req.body.spec.enc === 'multipart' ? ` ${req.body.valid ? 'valid' : 'wild'}` : ''} ${status}`);
  if (status === 200) {
    assertUserObject(json);
  } else {
    const { codes, fieldCodes } = assertEnvelope(json);
    const only = (allowed: string[]) => {
      assert.equal(fieldCodes.size, 0, `no field errors with ${status}: ${where()}`);
      assert.equal(codes.length, 1, `one error with ${status}: ${where()}`);
      assert.ok(allowed.includes(codes[0]!), `code ${codes[0]} with ${status}: ${where()}`);
    };
    switch (status) {
      case 400:
        for (const c of codes) assert.equal(c, 'parse_error', `400 code: ${where()}`);
        for (const [field, list] of fieldCodes) for (const c of list) assert.ok(FIELD_CODES.has(c), `400 field ${field} code ${c}: ${where()}`);
        break;
      case 401:
        only(['not_authenticated', 'authentication_failed']);
        assert.equal(res.headers['WWW-Authenticate'], 'Bearer', '401 carries WWW-Authenticate: Bearer');
        break;
      case 403:
        only(['permission_denied']);
        break;
      case 404:
        only(['not_found']);
        break;
      case 405:
        only(['method_not_allowed']);
        assert.equal(res.headers.Allow, pathIsMe ? 'GET' : 'GET, PATCH', `405 names the path's methods: ${where()}`);
        break;
      case 412:
        only(['precondition_failed']);
        assert.ok(!preconditionHolds, `412 without a failing precondition: ${where()}`);
        break;
      case 413:
        only(['request_too_large']);
        break;
      case 415:
        only(['unsupported_media_type']);
        break;
      default:
        assert.fail(`unexpected status: ${where()}`);
    }
  }

  // The status fits the request: token, then method, then id, then body, then ownership (the
  // contract: authentication comes first, whatever the path, id or method).
  // More than one Lambda event carries comes first: on AWS API Gateway answers 413 before any
  // function runs, and the functions refuse it the same way, before the token.
  if (built.pastEvent) {
    assert.equal(status, 413, `a body past what one Lambda event carries: ${where()}`);
  } else {
    if (req.auth.kind === 'signed' && status !== 401) {
      // A token the verifier accepted: it must name somebody.
      assert.equal(typeof callerSub, 'string', `a token without a sub accepted: ${where()}`);
    }
    if (req.auth.kind === 'signed' && status === 401) {
      assert.equal(json.errors[0].code, 'authentication_failed', where());
    } else if (!isValidAuth(req.auth) && req.auth.kind !== 'signed') {
      assert.equal(status, 401, `a request without a valid token, whatever its method: ${where()}`);
      const header = req.auth.kind === 'raw' ? req.auth.header : 'Bearer x';
      if (header === undefined || header.trim() === '') assert.equal(json.errors[0].code, 'not_authenticated', where());
      if (req.auth.kind === 'broken' || req.auth.kind === 'jwtJunk') assert.equal(json.errors[0].code, 'authentication_failed', where());
    } else {
      assert.notEqual(status, 401, `a valid token refused: ${where()}`);
      if (noPath) assert.equal(status, 404, `a request to no path: ${where()}`);
      else if (!methodLoose || pathIsMe) assert.equal(status, 405, `a ${JSON.stringify(req.method.value)} request to ${event.path ?? event.rawPath}: ${where()}`);
      if (status === 405) assert.ok(!methodExact || pathIsMe, `405 for PATCH: ${where()}`);
      if (status !== 405) {
        if (targetId === undefined) assert.equal(status, 404, `a non-integer id: ${where()}`);
        if (status === 403) assert.ok(target && !owner, `403 only for another user's id: ${where()}`);
        if (status === 404) assert.ok(!target, `404 only for an unknown id: ${where()}`);
        if (status === 200) assert.ok(owner, `200 only for the owner: ${where()}`);
        if (status === 415) assert.ok(built.bytes.length > 0 || req.body.transport !== 'plain', where());
        const honest = req.body.transport === 'plain' || req.body.transport === 'base64';
        const verdict = mediaTypeVerdict(built.contentType);
        if (status === 415 && honest) assert.notEqual(verdict, 'supported', `415 for a supported type: ${where()}`);
        // A well-formed type the contract does not accept, on a body: 415 and nothing else.
        // (For the owner: the contract orders 401 before 404 before 403, but not the body's checks
        // against a missing or foreign user.)
        if (honest && verdict === 'unsupported' && built.bytes.length > 0 && owner && !built.mayBeTooLarge) {
          assert.equal(status, 415, `an unsupported type ${JSON.stringify(built.contentType)}: ${where()}`);
        }
        if (status === 413) assert.ok(built.mayBeTooLarge, `413 for a body within the limits: ${where()}`);
        if (req.body.valid && req.auth.kind !== 'signed') {
          count('valid body');
          if (!target) assert.equal(status, 404, `valid body, unknown id: ${where()}`);
          else if (!owner) assert.equal(status, 403, `valid body, another user's id: ${where()}`);
          else if (!preconditionHolds) assert.equal(status, 412, `valid body, ${req.condition!.header} not met: ${where()}`);
          else if (status === 400) {
            assert.deepEqual([...codesOf(json)], ['"username":unique'], `valid body refused: ${where()}`);
          } else {
            assert.equal(status, 200, `valid body of the owner: ${where()}`);
            assertAppliedPatch(bodyPairs(req), json);
          }
        }
      }
    }
  }

  // The stored user: unchanged by a refusal; after a 200, what the answer shows, and nothing but
  // writable attributes changed.
  if (target) {
    const now = await backend.getUser(target.id);
    snapshots.set(target.id, now!);
    if (status !== 200) {
      assert.deepEqual(now, stored, `a refused request changed the user: ${where()}`);
    } else {
      assert.ok(now && stored);
      for (const k of new Set([...Object.keys(stored), ...Object.keys(now)])) {
        if (!MUTABLE.has(k)) assert.deepEqual((now as any)[k], (stored as any)[k], `attribute ${k} changed: ${where()}`);
      }
      assert.deepEqual(json, expectedUser(now, backend.config.mediaBaseUrl), 'the answer is the stored user');
      const previous = expectedUser(stored, backend.config.mediaBaseUrl);
      // Whatever the body (a body the server reads differently from its spec included, such as
      // urlencoded pairs joined by `;`), nothing the contract refuses in display text or as a
      // username was stored by this request.
      for (const [name, value] of Object.entries(json)) {
        if (typeof value !== 'string' || value === previous[name]) continue;
        assert.ok(displayTextAllowed(name, value), `${name} accepted ${JSON.stringify(value)}: ${where()}`);
        if (name === 'username') assert.ok(!isReservedUsername(value), `the reserved name ${value} was given: ${where()}`);
      }
      count('200');
      for (const field of ['avatar', 'cover'] as const) {
        if (json[field] !== null && json[field] !== previous[field]) await assertStoredImage(req, field, json[field] as string);
      }
    }
    // Only a request that reached the write can have touched the claims or the bucket.
    const reachedWrite = status === 200 || status === 403 || status === 412 || (status === 400 && [...codesOf(json)].includes('"username":unique'));
    if (reachedWrite && touchesClaimsOrMedia(req)) {
      count('invariant checks');
      const report = await invariantsAfterStream();
      assert.deepEqual(report.problems, [], `invariants after: ${where()}`);
      assert.deepEqual(report.pendingOrphans, [], `pending uploads left after: ${where()}`);
    }
  }
}

/** Words of the metadata in the test images (GPS, camera, XMP, comments) that must not be stored. */
const SECRETS = ['GPS', 'SecretCam', 'SN-4242', 'MakerNote', 'xmpmeta', 'ns.adobe.com/xap', 'XMP DataXMP', 'at home', 'hello', 'Comment'];

/** A new image: stored as an image that decodes, with no metadata at all and no metadata of its source. */
async function assertStoredImage(req: FuzzRequest, field: 'avatar' | 'cover', url: string): Promise<void> {
  count(`stored ${field}`);
  const got = await fetch(url);
  assert.equal(got.status, 200, `${url} is served`);
  const bytes = Buffer.from(await got.arrayBuffer());
  const meta = await sharp(bytes, { animated: true, failOn: 'error' }).metadata();
  const ext = /\.(\w+)$/.exec(url)?.[1];
  assert.equal(got.headers.get('content-type'), STORED_TYPES[meta.format], 'served with the type of its bytes');
  assert.equal(ext, STORED_EXTENSIONS[meta.format], 'the key names the stored format');
  for (const kind of ['exif', 'icc', 'iptc', 'xmp', 'comments', 'tifftagPhotoshop'] as const) {
    assert.equal(meta[kind], undefined, `the stored ${field} carries ${kind}`);
  }
  const height = meta.pageHeight ?? meta.height;
  if (field === 'avatar') assert.equal(meta.width, height, 'the avatar is square');
  assert.ok(Math.max(meta.width, height) <= (field === 'avatar' ? 400 : 1600), `the stored ${field} is ${meta.width}×${height}`);
  const source = bodyPairs(req).find(([name]) => name === field || name === `${field}_base64`)?.[1];
  const content = source && ('file' in source ? source.file.content : 'b64' in source ? source.b64.content : undefined);
  if (content?.kind === 'image' && content.mutations.length === 0) {
    for (const secret of SECRETS) assert.ok(!bytes.includes(secret), `the stored ${field} (${content.image}) contains ${JSON.stringify(secret)}`);
    // EXIF orientation is applied to the pixels: 16×8 turned by 6, 30×40 turned by 8.
    if (content.image === 'jpegExif' && field === 'cover') assert.deepEqual([meta.width, height], [8, 16], 'the JPEG is stored upright');
    if (content.image === 'webpExt' && field === 'cover') assert.deepEqual([meta.width, height], [40, 30], 'the WebP is stored upright');
  }
}

const STORED_TYPES: Record<string, string> = { jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp' };
const STORED_EXTENSIONS: Record<string, string> = { jpeg: 'jpg', png: 'png', gif: 'gif', webp: 'webp' };

function* codesOf(json: Json): Generator<string> {
  for (const e of json.errors as Json[]) {
    if ('field' in e) for (const m of e.messages) yield `${JSON.stringify(e.field)}:${m.code}`;
    else yield e.code;
  }
}

// ---------------------------------------------------------------------------------------------

describe('fuzz: PATCH /api/v2/user/{id}/ through the real handler', () => {
  it(`answers ${RUNS} random requests with a 2xx or a 4xx that fits them`, async () => {
    const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
    captureHandlerLogs();
    const captured = (error: unknown) => uncaught.push(error);
    process.setUncaughtExceptionCaptureCallback(captured);
    try {
      await fc.assert(fc.asyncProperty(requestArb, runOne), {
        numRuns: RUNS,
        includeErrorInReport: true,
        ...(seed !== undefined && { seed }),
        ...(seed !== undefined && process.env.FUZZ_PATH && { path: process.env.FUZZ_PATH }),
      });
    } finally {
      process.setUncaughtExceptionCaptureCallback(null);
      restoreStdout?.();
    }
    if (STATS) console.log(`fuzz: ${[...stats].sort().map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  });

});

// ---------------------------------------------------------------------------------------------
// Regression cases: the smallest inputs of the bugs the fuzzer found (and one found while reading
// the code behind them). Each states the contract's answer, so none of them comes back.

describe('fuzz regressions', () => {
  const owner = POOL[0]!;
  const bearer = (payload: Record<string, unknown>) => `Bearer ${signToken({ alg: 'RS256', kid: key.kid }, payload, { key: key.privateKey })}`;
  const ownerToken = () => accessToken(key, { sub: owner.sub }, backend.pool);

  /** A multipart event whose parts are written out by hand (headers, blank line, content). */
  function handMadeMultipart(parts: string[], options: { authorization?: string } = {}): ApiEvent {
    const boundary = 'regression-boundary';
    const body = `${parts.map((p) => `--${boundary}\r\n${p}\r\n`).join('')}--${boundary}--\r\n`;
    const event = fixtureEvent('multipart', {
      id: owner.id,
      body: Buffer.from(body, 'latin1').toString('base64'),
      isBase64Encoded: true,
      contentType: `multipart/form-data; boundary=${boundary}`,
      ...(options.authorization ? { rawAuthorization: options.authorization } : { token: ownerToken() }),
    });
    return event;
  }

  /** Calls the handler and reports any exception thrown outside it meanwhile (as Lambda would see it). */
  async function callCatchingUncaught(event: ApiEvent): Promise<{ res: HttpResponse; uncaught: unknown[] }> {
    const seen: unknown[] = [];
    process.setUncaughtExceptionCaptureCallback((error) => seen.push(error));
    try {
      const res = await handler(event);
      await new Promise((resolve) => setImmediate(resolve));
      return { res, uncaught: seen };
    } finally {
      process.setUncaughtExceptionCaptureCallback(null);
    }
  }

  it('BUG 1: a multipart text part without a name is ignored or refused, never a 500', async () => {
    // Found as: [{"disposition":"normal","name":"","value":{"json":0}}]. busboy reports a part
    // without a usable name with name === undefined; src/http/request-body.ts passes it to
    // Buffer.byteLength (nameTooLong) and the TypeError becomes a 500.
    for (const disposition of ['form-data; name=""', 'form-data', "form-data; name*=utf-8''bio"]) {
      const { res, uncaught } = await callCatchingUncaught(handMadeMultipart([`Content-Disposition: ${disposition}\r\n\r\nhello`]));
      assert.deepEqual(uncaught, [], disposition);
      assert.ok([200, 400].includes(res.statusCode), `${disposition}: ${res.statusCode} ${res.body}`);
    }
  });

  it('BUG 1: a multipart file part without a name throws nothing outside the handler', async () => {
    // The same TypeError, thrown in the file stream's 'end' listener: an uncaught exception, which
    // ends the Lambda runtime process, while the handler itself answers 200.
    for (const disposition of ['form-data; filename="a.png"', 'form-data; name=""; filename="a.png"']) {
      const { res, uncaught } = await callCatchingUncaught(
        handMadeMultipart([`Content-Disposition: ${disposition}\r\nContent-Type: image/png\r\n\r\n${pngBytesLatin1()}`]),
      );
      assert.deepEqual(uncaught.map((e) => String(e)), [], disposition);
      assert.ok([200, 400].includes(res.statusCode), `${disposition}: ${res.statusCode} ${res.body}`);
    }
  });

  it('BUG 2: a token signed by the pool but without sub is refused with 401', async () => {
    // Found as: {"kind":"signed","claims":{},"remove":["sub"]}. aws-jwt-verify accepts a token
    // without sub; src/http/auth.ts returns payload.sub (undefined) as the caller. A text patch then
    // sends ConditionExpression "#sub = :sub" without :sub (removed as undefined by marshall):
    // DynamoDB ValidationException, 500. An empty patch answers 403, an unknown id 404.
    const payload: Record<string, unknown> = accessTokenPayload({ ...backend.pool, sub: owner.sub });
    delete payload.sub;
    for (const body of ['{"bio":"x"}', '{}']) {
      const res = await handler(fixtureEvent('json', { id: owner.id, rawAuthorization: bearer(payload), body }));
      assert.equal(res.statusCode, 401, `${body}: ${res.body}`);
      assert.equal(JSON.parse(res.body).errors[0].code, 'authentication_failed');
    }
  });

  it('BUG 3: a token signed by the pool with nbf or exp beyond the Date range is a 401, not a 500', async () => {
    // Found as: {"kind":"signed","claims":{"nbf":9007199254740992}}. aws-jwt-verify formats the
    // date into its error message: new Date(nbf * 1000).toISOString() throws a RangeError, which
    // src/http/auth.ts rethrows (it maps only JwtBaseError to 401): a 500.
    for (const claims of [{ nbf: 2 ** 53 }, { exp: -(2 ** 53) }]) {
      const payload = { ...accessTokenPayload({ ...backend.pool, sub: owner.sub }), ...claims };
      const res = await handler(fixtureEvent('json', { id: owner.id, rawAuthorization: bearer(payload), body: '{}' }));
      assert.equal(res.statusCode, 401, `${JSON.stringify(claims)}: ${res.body}`);
      assert.equal(JSON.parse(res.body).errors[0].code, 'authentication_failed');
    }
  });

  it("BUG 4: an invalid choice does not echo its value into an answer over Lambda's 6 MB limit", async () => {
    // Found as: a multipart `gender` of 1,100,000 U+0001 (a 1.1 MB request). The invalid_choice
    // message quotes the whole value and JSON escapes each U+0001 as six bytes: a 6.6 MB answer,
    // which Lambda refuses to return (API Gateway answers 502).
    const res = await handler(
      handMadeMultipart([`Content-Disposition: form-data; name="gender"\r\n\r\n${'\u0001'.repeat(1_100_000)}`]),
    );
    assert.equal(res.statusCode, 400);
    assert.equal(JSON.parse(res.body).errors[0].messages[0].code, 'invalid_choice');
    assert.ok(Buffer.byteLength(res.body) <= LAMBDA_RESPONSE_LIMIT, `${Buffer.byteLength(res.body)} bytes`);
  });

  it("BUG 5: a JSON body of many unknown keys does not make an answer over Lambda's 6 MB limit", async () => {
    // Found as: {"enc":"manyJsonKeys","count":60000}: a 589 KB body, one unknown_field entry per
    // key, a 7.7 MB answer (forms stop at 100 fields with a 413; JSON bodies have no such limit).
    const body = `{${Array.from({ length: 60_000 }, (_, i) => `"${i}":0`).join(',')}}`;
    const res = await handler(fixtureEvent('json', { id: owner.id, token: ownerToken(), body }));
    // The contract: too many fields is a 413 request_too_large.
    assert.equal(res.statusCode, 413, res.body.slice(0, 300));
    assert.equal(JSON.parse(res.body).errors[0].code, 'request_too_large');
    assert.ok(Buffer.byteLength(res.body) <= LAMBDA_RESPONSE_LIMIT, `${Buffer.byteLength(res.body)} bytes`);
  });

  it('BUG 6: refused choices are not kept in memory after the request', async () => {
    // Found while reading the code behind BUG 4: src/users/patch-fields.ts records every message it
    // makes in the module-level map codeOfMessage, and an invalid_choice message embeds the value.
    // Each distinct invalid gender or language stays in memory for the container's life.
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const send = (i: number) =>
      handler(fixtureEvent('json', { id: owner.id, token: ownerToken(), body: JSON.stringify({ gender: `${i}${'x'.repeat(1_000_000)}` }) }));
    assert.equal((await send(-1)).statusCode, 400); // warm-up
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 30; i++) assert.equal((await send(i)).statusCode, 400);
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    assert.ok(grown < 10_000_000, `the heap grew by ${(grown / 1e6).toFixed(1)} MB after 30 one-megabyte invalid genders`);
  });
});

/** A tiny valid PNG as a latin1 string, to embed in a hand-made multipart body. */
function pngBytesLatin1(): string {
  return fileBytes({ kind: 'image', image: 'png', mutations: [] }).toString('latin1');
}

describe('fuzz: the avatar gallery through the real handlers', () => {
  // Arbitraries of what reaches /api/v2/user/avatar/: any method, a pool user's token or none, and
  // a body (JSON, urlencoded, multipart, raw) whose avatar_id or image is anything from valid to
  // hostile, sometimes an id in the query string.
  const anyId = fc.oneof(
    fc.integer({ min: -2, max: 8 }),
    fc.integer({ min: -2, max: 8 }).map(String),
    fc.constantFrom(null, true, 1.5, '1e3', ' 2 ', '１', '', '9'.repeat(30), [1], { $gt: 0 }),
    fc.string({ maxLength: 12 }),
  );
  const tinyPng = sharp({ create: { width: 3, height: 3, channels: 3, background: '#c0ffee' } }).png().toBuffer();
  type ImageKind = 'png' | 'garbage' | 'empty';
  const imageArb = fc.constantFrom<ImageKind>('png', 'png', 'garbage', 'empty');
  const galleryRequestArb = fc.record({
    method: fc.constantFrom('GET', 'POST', 'POST', 'PATCH', 'DELETE', 'PUT'),
    user: fc.integer({ min: 0, max: 2 }),
    anonymous: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    body: fc.oneof(
      // Valid bodies often enough that the writes really happen.
      // `pick`: the id of the user's avatar at that place, when its gallery has one.
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('pick' as const), pick: fc.nat(4) }) },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('multipart' as const), image: fc.constant<ImageKind>('png'), name: fc.constant('avatar'), base64: fc.boolean() }) },
      fc.record({ kind: fc.constant('json' as const), fields: fc.dictionary(fc.constantFrom('avatar_id', 'avatar', 'avatar_base64', 'bio', '__proto__'), anyId, { maxKeys: 2 }) }),
      fc.record({ kind: fc.constant('form' as const), fields: fc.dictionary(fc.constantFrom('avatar_id', 'avatar_base64', 'x'), fc.string({ maxLength: 10 }), { maxKeys: 2 }) }),
      fc.record({ kind: fc.constant('multipart' as const), image: imageArb, name: fc.constantFrom('avatar', 'avatar_id', 'cover', 'avatar'), base64: fc.boolean() }),
      fc.record({ kind: fc.constant('raw' as const), text: fc.string({ maxLength: 30 }), type: fc.constantFrom('application/json', 'text/plain', undefined) }),
    ),
    query: fc.option(fc.record({ avatar_id: fc.oneof(fc.integer({ min: -1, max: 8 }).map(String), fc.string({ maxLength: 6 })) }), { nil: undefined }),
  });
  type GalleryRequest = typeof galleryRequestArb extends fc.Arbitrary<infer T> ? T : never;

  async function eventOf(request: GalleryRequest): Promise<ApiEvent> {
    const { body } = request;
    let parts: { body?: string; contentType?: string; isBase64Encoded?: boolean } = {};
    if (body.kind === 'pick') {
      const entries = (await backend.getUser(POOL[request.user]!.id))?.avatars ?? [];
      parts = { body: JSON.stringify({ avatar_id: entries[body.pick % Math.max(1, entries.length)]?.id ?? body.pick }), contentType: 'application/json' };
    } else if (body.kind === 'json') parts = { body: JSON.stringify(body.fields), contentType: 'application/json' };
    else if (body.kind === 'form') parts = { body: new URLSearchParams(body.fields).toString(), contentType: 'application/x-www-form-urlencoded' };
    else if (body.kind === 'raw') parts = { body: body.text, contentType: body.type };
    else {
      const bytes = body.image === 'png' ? await tinyPng : body.image === 'garbage' ? Buffer.from('GIF89a not really') : Buffer.alloc(0);
      const value = body.base64 ? `image/png;base64,${bytes.toString('base64')}` : { bytes, filename: body.image === 'empty' ? '' : 'a.png', type: 'image/png' };
      parts = multipartBody({ [body.base64 ? `${body.name}_base64` : body.name]: value });
    }
    const token = request.anonymous ? undefined : accessToken(key, { sub: POOL[request.user]!.sub }, backend.pool);
    return avatarEvent(request.method, { ...parts, token, query: request.query });
  }

  const getHandler = () => createGetHandler(backend.config);
  const STATUSES: Record<string, number[]> = {
    GET: [200, 401],
    POST: [201, 400, 401, 404, 413, 415],
    PATCH: [204, 400, 401, 404, 413, 415],
    DELETE: [204, 400, 401, 404, 413, 415],
    PUT: [401, 405],
  };

  it(`answers ${Math.ceil(RUNS / 5)} random gallery requests as the contract says; the galleries stay whole`, async () => {
    const reader = getHandler();
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(galleryRequestArb, async (request) => {
        const event = await eventOf(request);
        const user = POOL[request.user]!;
        const before = await backend.getUser(user.id);
        const response = await (request.method === 'GET' || request.method === 'PUT' ? reader : handler)(event);
        assert.ok(STATUSES[request.method]!.includes(response.statusCode), `${request.method} ${response.statusCode} ${response.body}`);
        const outcome = `${request.method} ${response.statusCode}`;
        seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
        if (response.statusCode >= 400) {
          const envelope = JSON.parse(response.body);
          assert.ok(Array.isArray(envelope.errors) && envelope.errors.length > 0, response.body);
          assert.deepEqual(await backend.getUser(user.id), before, 'a refusal changes nothing');
        }
        if (response.statusCode === 201) {
          assert.deepEqual(Object.keys(JSON.parse(response.body)).sort(), ['avatar', 'date_uploaded', 'id', 'primary', 'user']);
        }
        const stored = (await backend.getUser(user.id))!;
        const entries = stored.avatars ?? [];
        assert.ok(entries.length <= backend.config.maxAvatars);
        assert.equal(new Set(entries.map((e) => e.id)).size, entries.length);
        if (stored.avatar_key !== undefined && stored.avatars !== undefined) assert.ok(entries.some((e) => e.key === stored.avatar_key));
      }),
      { numRuns: Math.ceil(RUNS / 5), ...(process.env.FUZZ_SEED && { seed: Number(process.env.FUZZ_SEED) }) },
    );
    if (process.env.FUZZ_STATS) console.log('gallery answers', Object.fromEntries([...seen].sort()));
    // The writes really happened: a run of only refusals would prove little.
    assert.ok([...seen.keys()].some((o) => o === 'POST 201'), JSON.stringify([...seen]));
    const report = await invariantsAfterStream();
    assert.deepEqual(report.problems, []);
  });
});

describe('fuzz: afterwards', () => {
  it('leaves the table and the bucket consistent', async () => {
    const report = await invariantsAfterStream();
    assert.deepEqual(report.problems, []);
    assert.deepEqual(report.pendingOrphans, []);
    assert.equal(report.users, POOL.length);
    assert.equal(report.claims, POOL.length);
  });
});

// ---------------------------------------------------------------------------------------------
// PATCH /api/v2/user/{id}/settings/ (contract, "User settings"): any body, token and id; the answer
// is the oracle's (test/support/arbitraries/settings.ts), the stored settings follow the 200s only,
// and no request moves a user's version.

const SETTINGS_RUNS = Number(process.env.SETTINGS_FUZZ_RUNS ?? 300);

describe('fuzz: PATCH /api/v2/user/{id}/settings/ through the real handler', () => {
  it(`answers ${SETTINGS_RUNS} random settings requests as the contract says`, async () => {
    const model = new Map(POOL.map((u) => [u.id, { ...SETTING_DEFAULTS }]));
    const token = (sub: string) => accessToken(key, { sub }, backend.pool);
    const versions = async () => Promise.all(POOL.map(async (u) => (await backend.getUser(u.id))!.version));
    const property = async (request: SettingsRequest) => {
      const target = typeof request.target === 'number' ? POOL[request.target]! : undefined;
      const id = target?.id ?? (request.target === 'unknown' ? 999_999_999 : 'me1');
      const other = POOL[((typeof request.target === 'number' ? request.target : 0) + 1) % POOL.length]!;
      const sub = { owner: target?.sub ?? POOL[0]!.sub, other: other.sub, stranger: STRANGER_SUB, none: undefined }[request.caller];
      let body: { body: string; contentType: string; isBase64Encoded?: boolean };
      if (request.encoding === 'json') {
        body = { body: `{${request.pairs.map(([n, v]) => `${JSON.stringify(n)}:${JSON.stringify(v)}`).join(',')}}`, contentType: 'application/json' };
      } else if (request.encoding === 'urlencoded') {
        body = { body: new URLSearchParams(formPairs(request)).toString(), contentType: 'application/x-www-form-urlencoded' };
      } else {
        body = multipartBody(formPairs(request));
      }
      const before = await versions();
      const current = target ? model.get(target.id)! : SETTING_DEFAULTS;
      const expected = settingsVerdict(request, current);
      const response = await handler(
        profileEvent({ path: `${id}/settings/`, method: 'PATCH', ...(sub !== undefined && { token: token(sub) }), ...body }),
      );
      const json = JSON.parse(response.body) as Record<string, any>;
      assert.equal(response.statusCode, expected.status, `${response.body} for ${JSON.stringify(request)}`);
      if (expected.status === 200) {
        assert.deepEqual(json, expected.settings);
        model.set(target!.id, expected.settings);
      } else if (expected.status === 400) {
        const got = Object.fromEntries((json.errors as { field: string; messages: { code: string }[] }[]).map((e) => [e.field, e.messages.map((m) => m.code).join()]));
        assert.deepEqual(got, expected.fields);
      }
      assert.deepEqual(await versions(), before, 'a settings request moves no version');
      if (target) assert.deepEqual(settingsOf((await backend.getUser(target.id))!), model.get(target.id));
    };
    await fc.assert(fc.asyncProperty(settingsRequestArb, property), { numRuns: SETTINGS_RUNS, includeErrorInReport: true });
  });
});

const settingsOf = (item: UserItem): Record<string, number> => {
  const stored = item as unknown as Record<string, number | undefined>;
  return Object.fromEntries(Object.keys(SETTING_DEFAULTS).map((name) => [name, stored[name] ?? SETTING_DEFAULTS[name]!]));
};
describe('fuzz: /me’s private fields', () => {
  it('any pool e-mail a sign-in brings and any groups a token names: /me/ answers them as the contract says, nothing else does', async () => {
    const { createHandler: createGet } = await import('../../src/functions/get-user/handler.ts');
    const { createHandler: createSignIn } = await import('../../src/functions/post-authentication/handler.ts');
    const { readSignUpConfig } = await import('../../src/platform/config.ts');
    const get = createGet(backend.config);
    const signIn = createSignIn(readSignUpConfig({ AWS_REGION: backend.config.region, TABLE_NAME: backend.config.tableName, DYNAMODB_ENDPOINT: backend.emulators.dynamodbEndpoint }));
    const person = POOL[0]!;
    const read = async (path: string, groups: string[]) => {
      const event = fixtureEvent('json', { id: 0, token: accessToken(key, { sub: person.sub, groups }, backend.pool) });
      Object.assign(event, { httpMethod: 'GET', path, pathParameters: path.includes('/me/') ? null : { id: String(person.id) }, body: null });
      const response = await get(event);
      assert.equal(response.statusCode, 200, response.body);
      return JSON.parse(response.body) as Record<string, unknown>;
    };
    // The contract's names, in other cases and with other text around them, beside anything else.
    const roleLike = fc.constantFrom('admin', 'moderator', 'editor', 'Admin', 'EDITOR', 'admins', ' moderator', 'editor\u200b');
    const groupsArb = fc.array(fc.oneof(roleLike, fc.string({ maxLength: 12 })), { maxLength: 6 });
    const emailArb = fc.oneof(fc.emailAddress(), fc.string({ maxLength: 40 }));
    await fc.assert(
      fc.asyncProperty(groupsArb, emailArb, fc.constantFrom('true', 'false', 'True', ''), async (groups, email, verified) => {
        const event = { triggerSource: 'PostAuthentication_Authentication', request: { userAttributes: { sub: person.sub, email, email_verified: verified } }, response: {} };
        assert.deepEqual(await signIn(structuredClone(event) as never), event);
        const me = await read('/api/v2/user/me/', groups);
        assert.equal(me.email, email);
        assert.equal(me.email_isvalid, verified === 'true');
        const expected = ['admin', 'moderator', 'editor'].find((role) => groups.includes(role)) ?? null;
        assert.equal(me.role, expected, JSON.stringify(groups));
        const byId = await read(`/api/v2/user/${person.id}/`, groups);
        for (const name of ['email', 'email_isvalid', 'role']) assert.ok(!(name in byId), name);
      }),
      { numRuns: Math.min(RUNS, 150) },
    );
    const { deadLetters } = await stream.drain(mediaEvents);
    assert.deepEqual(deadLetters, []);
    for (const event of recorder.events()) {
      const user = (event.detail as { user?: Record<string, unknown> }).user ?? {};
      for (const name of ['email', 'email_isvalid', 'email_verified', 'role']) assert.ok(!(name in user), `${name} in an event`);
    }
  });
});
