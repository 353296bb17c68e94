// openapi.yaml: a well-formed OpenAPI 3.1 document (as far as can be checked without its meta
// schema), true to the contract, and true to the service: real answers of the local stack
// (`npm start`'s, through serverless-offline) validate against the schemas it gives for their status.
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { renderUser, type UserItem } from '../../src/users/user-record.ts';
import { signAccessToken } from '../../tools/local/keys.ts';
import {
  DEMO_USERS,
  PROJECT_DIR,
  type LocalStack,
} from '../../tools/local/local-stack.ts';
import { ERROR_CODES_BY_STATUS, FIELD_ERROR_CODES, USER_FIELDS } from '../support/contract.ts';
import { pngImage } from '../../tools/support/images.ts';
import { startTestStack } from '../support/local-stack.ts';

type Json = any;

const doc: Json = parse(await readFile(join(PROJECT_DIR, 'openapi.yaml'), 'utf8'));
const OPERATION_PATH = '/api/v2/user/{id}/';
const ME_PATH = '/api/v2/user/me/';
const AVATAR_PATH = '/api/v2/user/avatar/';
const operation = (): Json => doc.paths[OPERATION_PATH].patch;
/** The paths of the contract's "User settings" and "Hidden users". */
const SETTINGS_AND_HIDDEN_PATHS = [
  '/api/v2/user/{id}/settings/',
  '/api/v2/user/{id}/hide/',
  '/api/v2/user/{id}/is_hidden/',
  '/api/v2/user/{id}/is_hidden_by/',
  '/api/v2/user/hidden_users/',
  '/api/v2/user/hidden_users_id/',
];
/** The community's configuration the stock front ends load first (docs/stock-ui.md). */
const COMMUNITY_PATHS = ['/api/v2/dynamic_preference/', '/api/v2/feature/'];
/** Every operation of the document, as `[method path, operation]`. */
const allOperations = (): [string, Json][] =>
  Object.entries<Json>(doc.paths).flatMap(([path, item]) =>
    ['get', 'post', 'patch', 'delete'].filter((method) => item[method]).map((method): [string, Json] => [`${method} ${path}`, item[method]]),
  );

// ---------------------------------------------------------------------------------------------
// Reading the document

/** The value a local `$ref` (`#/a/b`) points at, or undefined. */
function pointer(ref: string): Json {
  assert.ok(ref.startsWith('#/'), `only local references are used: ${ref}`);
  let value: Json = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (value === null || typeof value !== 'object' || !(key in value)) return undefined;
    value = value[key];
  }
  return value;
}

const deref = (value: Json): Json => (value && typeof value.$ref === 'string' ? deref(pointer(value.$ref)) : value);

function refsIn(value: Json, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) refsIn(item, found);
  else if (value && typeof value === 'object') {
    if (typeof value.$ref === 'string') found.push(value.$ref);
    for (const item of Object.values(value)) refsIn(item, found);
  }
  return found;
}

/** The response object the document gives for `status`: exact code first, then its range. */
function documentedResponse(status: number, op: Json = operation()): Json {
  const responses = op.responses;
  const response = responses[String(status)] ?? responses[`${String(status)[0]}XX`] ?? responses.default;
  assert.ok(response, `status ${status} is not documented`);
  return deref(response);
}

// ---------------------------------------------------------------------------------------------
// Validating with the document's schemas (JSON Schema 2020-12, the dialect of OpenAPI 3.1)

const SCHEMAS_ID = 'urn:openapi:components:schemas';

/** `value` with references to component schemas pointing into the schema registered below. */
function retarget(value: Json): Json {
  if (Array.isArray(value)) return value.map(retarget);
  if (value === null || typeof value !== 'object') return value;
  const copy: Record<string, Json> = {};
  for (const [key, item] of Object.entries(value)) {
    copy[key] =
      key === '$ref' && typeof item === 'string'
        ? item.replace(/^#\/components\/schemas\//, `${SCHEMAS_ID}#/$defs/`)
        : retarget(item);
  }
  return copy;
}

const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
addFormats.default(ajv);
ajv.addSchema({ $id: SCHEMAS_ID, $defs: retarget(doc.components.schemas) });

function assertValid(schema: Json, value: unknown, what: string): void {
  const validate = ajv.compile(retarget(schema));
  assert.ok(validate(value), `${what}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value).slice(0, 2000)}`);
}

/** Checks an HTTP answer against what the document says about its status, body and headers. */
async function assertDocumented(response: Response, op: Json = operation()): Promise<Json> {
  const documented = documentedResponse(response.status, op);
  const text = await response.text();
  const what = `${response.status} answer`;
  if (!documented.content) {
    // An answer documented without content (304) has none.
    assert.equal(text, '', `${what}: a body where none is documented`);
    assertHeaders(documented, response, what);
    return undefined;
  }
  const mediaType = response.headers.get('content-type')?.split(';')[0]?.trim() ?? '';
  const content = documented.content?.[mediaType];
  assert.ok(content, `${what}: content type "${mediaType}" is not documented for it`);
  const body = JSON.parse(text);
  assertValid(content.schema, body, what);
  assertHeaders(documented, response, what);
  return body;
}

function assertHeaders(documented: Json, response: Response, what: string): void {
  for (const [name, header] of Object.entries<Json>(documented.headers ?? {})) {
    const definition = deref(header);
    const value = response.headers.get(name);
    if (definition.required) assert.ok(value !== null, `${what}: header ${name} missing`);
    if (value !== null) assertValid(definition.schema, value, `${what}, header ${name}`);
  }
}

// ---------------------------------------------------------------------------------------------

describe('openapi.yaml is a well-formed OpenAPI 3.1 document', () => {
  test('version, info, servers and the only path', () => {
    assert.match(doc.openapi, /^3\.1\.\d+$/);
    assert.equal(typeof doc.info.title, 'string');
    assert.equal(typeof doc.info.version, 'string');
    for (const server of doc.servers) {
      for (const [, name] of String(server.url).matchAll(/\{(\w+)\}/g)) {
        assert.ok(server.variables?.[name!]?.default, `server variable ${name} has a default`);
      }
    }
    assert.deepEqual(Object.keys(doc.paths).sort(), [OPERATION_PATH, ME_PATH, AVATAR_PATH, ...SETTINGS_AND_HIDDEN_PATHS, ...COMMUNITY_PATHS].sort());
    assert.deepEqual(Object.keys(doc.paths[OPERATION_PATH]).sort(), ['get', 'parameters', 'patch']);
    assert.deepEqual(Object.keys(doc.paths[ME_PATH]).sort(), ['get', 'patch']);
    assert.deepEqual(Object.keys(doc.paths[AVATAR_PATH]).sort(), ['delete', 'get', 'patch', 'post']);
  });

  test('only known top-level and component sections', () => {
    const top = ['openapi', 'info', 'jsonSchemaDialect', 'servers', 'paths', 'webhooks', 'components', 'security', 'tags', 'externalDocs'];
    for (const key of Object.keys(doc)) assert.ok(top.includes(key) || key.startsWith('x-'), `top-level ${key}`);
    const sections = ['schemas', 'responses', 'parameters', 'examples', 'requestBodies', 'headers', 'securitySchemes', 'links', 'callbacks', 'pathItems'];
    for (const key of Object.keys(doc.components)) assert.ok(sections.includes(key), `components.${key}`);
  });

  test('every $ref resolves', () => {
    const refs = refsIn(doc);
    assert.ok(refs.length > 20);
    for (const ref of refs) assert.notEqual(pointer(ref), undefined, `unresolved ${ref}`);
  });

  test('every path template parameter is a required path parameter', () => {
    for (const [path, item] of Object.entries<Json>(doc.paths)) {
      const declared = [...(item.parameters ?? []), ...(item.patch?.parameters ?? [])].map(deref);
      for (const [, name] of path.matchAll(/\{(\w+)\}/g)) {
        const parameter = declared.find((p) => p.name === name && p.in === 'path');
        assert.ok(parameter, `{${name}} declared`);
        assert.equal(parameter.required, true);
      }
    }
    const id = deref(doc.paths[OPERATION_PATH].parameters[0]);
    assert.equal(id.schema.type, 'integer');
  });

  test('responses are status codes or ranges, each described', () => {
    for (const [name, op] of allOperations()) {
      for (const [status, response] of Object.entries<Json>(op.responses)) {
        assert.match(status, /^([1-5]\d\d|[1-5]XX|default)$/);
        assert.equal(typeof deref(response).description, 'string', `${name}: response ${status} described`);
      }
    }
  });

  test('security uses the declared bearer scheme', () => {
    assert.deepEqual(doc.security, [{ cognitoAccessToken: [] }]);
    assert.deepEqual(
      { type: doc.components.securitySchemes.cognitoAccessToken.type, scheme: doc.components.securitySchemes.cognitoAccessToken.scheme },
      { type: 'http', scheme: 'bearer' },
    );
  });

  test('every schema compiles as JSON Schema 2020-12 (strict)', () => {
    for (const name of Object.keys(doc.components.schemas)) {
      assert.doesNotThrow(() => ajv.getSchema(`${SCHEMAS_ID}#/$defs/${name}`), name);
    }
    for (const [status, response] of Object.entries<Json>(operation().responses)) {
      for (const media of Object.values<Json>(deref(response).content ?? {})) {
        assert.doesNotThrow(() => ajv.compile(retarget(media.schema)), `response ${status}`);
      }
    }
    for (const media of Object.values<Json>(operation().requestBody.content)) {
      assert.doesNotThrow(() => ajv.compile(retarget(media.schema)));
    }
  });
});

describe('openapi.yaml says what the contract says', () => {
  test('the three body types, the file parts binary', () => {
    const content = operation().requestBody.content;
    assert.deepEqual(Object.keys(content).sort(), ['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data']);
    const multipart = deref(content['multipart/form-data'].schema);
    for (const field of ['avatar', 'cover']) {
      assert.equal(multipart.properties[field].type, 'string');
      assert.equal(multipart.properties[field].contentMediaType, 'application/octet-stream');
    }
  });

  test('the User schema: exactly the contract’s fields, all required, nothing else', () => {
    const user = doc.components.schemas.User;
    assert.deepEqual(Object.keys(user.properties).sort(), [...USER_FIELDS].sort());
    assert.deepEqual([...user.required].sort(), [...USER_FIELDS].sort());
    assert.equal(user.additionalProperties, false);
    assert.deepEqual(user.properties.connection_status, { type: 'null' });
    for (const field of ['avatar', 'cover', 'ext_id']) assert.deepEqual(user.properties[field].type, ['string', 'null']);
  });

  test('/me/’s CurrentUser: the User object’s fields as User gives them, plus email, email_isvalid and role; /{id}/ answers User', () => {
    const me = doc.components.schemas.CurrentUser;
    const fields = [...USER_FIELDS, 'email', 'email_isvalid', 'role'].sort();
    assert.deepEqual(Object.keys(me.properties).sort(), fields);
    assert.deepEqual([...me.required].sort(), fields);
    assert.equal(me.additionalProperties, false);
    for (const field of USER_FIELDS) assert.deepEqual(me.properties[field], { $ref: `#/components/schemas/User/properties/${field}` });
    assert.deepEqual(me.properties.email.type, 'string');
    assert.deepEqual(me.properties.email_isvalid.type, 'boolean');
    assert.deepEqual(me.properties.role.enum, ['admin', 'moderator', 'editor', null]);
    assert.equal(deref(doc.paths[ME_PATH].get.responses['200']).content['application/json'].schema.$ref, '#/components/schemas/CurrentUser');
    assert.equal(deref(doc.paths[OPERATION_PATH].get.responses['200']).content['application/json'].schema.$ref, '#/components/schemas/User');
    // The three never validate as a User: no other answer may carry them.
    const item: UserItem = { pk: 'USER#7', id: 7, sub: 'sub-7', username: 'Seven', version: 3, date_joined: '2024-05-01T10:00:00.000Z', email: 'seven@example.org', email_verified: true };
    const current = renderUser(item, 'https://media.example.org', 'me', { groups: ['editor'] });
    assertValid(me, current, 'rendered /me/');
    const validateUser = ajv.compile(retarget(doc.components.schemas.User));
    assert.equal(validateUser(current), false);
    const validateMe = ajv.compile(retarget(me));
    assert.equal(validateMe({ ...current, role: 'Admin' }), false);
    assert.equal(validateMe(renderUser(item, 'https://media.example.org', 'owner')), false);
  });

  test('a rendered user is a valid User, and a user with an internal key is not', () => {
    const item: UserItem = {
      pk: 'USER#7', id: 7, sub: 'sub-7', username: 'Seven', version: 3, date_joined: '2024-05-01T10:00:00.000Z',
      avatar_key: 'avatar/7/x.png', bio: 'Hello',
      tags: [{ id: 1, type: 'user', name: 'vip', description: '', color: '#fff', visible: true, visibility_boost: false, created_at: '2024-01-01T00:00:00Z', active: true, deleted: false }],
    };
    const user = renderUser(item, 'https://media.example.org', 'owner');
    assertValid(doc.components.schemas.User, user, 'rendered user');
    const validate = ajv.compile(retarget(doc.components.schemas.User));
    assert.equal(validate({ ...user, sub: 'sub-7' }), false);
  });

  test('every status and error code of the contract is documented', () => {
    const responses = operation().responses;
    for (const status of ['200', ...Object.keys(ERROR_CODES_BY_STATUS)]) assert.ok(responses[status], `status ${status}`);
    assert.deepEqual(doc.components.schemas.FieldErrorCode.enum, FIELD_ERROR_CODES);
    for (const [status, codes] of Object.entries(ERROR_CODES_BY_STATUS)) {
      const schema = deref(responses[status]).content['application/json'].schema;
      for (const code of codes) {
        assertValid(schema, { errors: [{ code, message: 'm' }] }, `${status} ${code}`);
      }
      assert.equal(ajv.compile(retarget(schema))({ errors: [{ code: 'no_such_code', message: 'm' }] }), false, `${status} refuses other codes`);
    }
    assertValid(deref(responses['400']).content['application/json'].schema, {
      errors: [{ field: 'username', messages: [{ code: 'unique', message: 'A user with that username already exists.' }] }],
    }, 'field errors');
  });

  test('a 401 carries WWW-Authenticate: Bearer', () => {
    const header = deref(deref(operation().responses['401']).headers['WWW-Authenticate']);
    assert.equal(header.required, true);
    assert.equal(header.schema.const, 'Bearer');
  });
});

// ---------------------------------------------------------------------------------------------

describe('answers of the local stack match openapi.yaml', { timeout: 120_000 }, () => {
  let stack: LocalStack;
  let stateDir: string;
  const [demo, alice] = DEMO_USERS;
  const url = (id: number | string) => `${stack.config.baseUrl}/api/v2/user/${id}/`;
  const patch = (id: number | string, init: { token?: string; body?: string | FormData; contentType?: string } = {}) =>
    fetch(url(id), {
      method: 'PATCH',
      headers: {
        ...(init.token !== undefined && { Authorization: `Bearer ${init.token}` }),
        ...(init.contentType && { 'Content-Type': init.contentType }),
      },
      body: init.body,
    });
  const json = (body: unknown) => ({ body: JSON.stringify(body), contentType: 'application/json' });

  before(async () => {
    ({ stack, stateDir } = await startTestStack('openapi'));
  });

  after(async () => {
    if (stack) await stack.stop();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  test('200 to a JSON patch', async () => {
    const res = await patch(demo.id, { token: stack.demoToken, ...json({ real_name: 'Ada', website: 'https://example.org', date_of_birth: '1815-12-10' }) });
    assert.equal(res.status, 200);
    const user = await assertDocumented(res);
    assert.equal(user.real_name, 'Ada');
  });

  test('200 to a multipart patch with an image, and to an empty one', async () => {
    const form = new FormData();
    form.append('description', 'with a picture');
    form.append('avatar', new Blob([pngImage({ width: 3, height: 2 })], { type: 'image/png' }), 'me.png');
    const res = await patch(demo.id, { token: stack.demoToken, body: form });
    assert.equal(res.status, 200);
    const user = await assertDocumented(res);
    assert.match(user.avatar, /^http:\/\/localhost:\d+\/.+\/avatar\/1\/[0-9a-f-]+\.png$/);

    const empty = await patch(demo.id, { token: stack.demoToken });
    assert.equal(empty.status, 200);
    await assertDocumented(empty);
  });

  test('400 field errors', async () => {
    const res = await patch(demo.id, {
      token: stack.demoToken,
      ...json({ website: 'not a url', gender: 'Other', username: alice.username, sub: 'x', real_name: 5 }),
    });
    assert.equal(res.status, 400);
    const body = await assertDocumented(res);
    assert.deepEqual(body.errors.map((e: Json) => e.field).sort(), ['gender', 'real_name', 'sub', 'website']);
  });

  test('400 unique username, and invalid images', async () => {
    const taken = await patch(demo.id, { token: stack.demoToken, ...json({ username: alice.username.toUpperCase() }) });
    assert.equal(taken.status, 400);
    assert.equal((await assertDocumented(taken)).errors[0].messages[0].code, 'unique');

    const form = new FormData();
    form.append('cover', new Blob(['<svg xmlns="http://www.w3.org/2000/svg"/>'], { type: 'image/svg+xml' }), 'x.svg');
    const svg = await patch(demo.id, { token: stack.demoToken, body: form });
    assert.equal(svg.status, 400);
    assert.equal((await assertDocumented(svg)).errors[0].messages[0].code, 'invalid_image');
  });

  test('400 parse_error', async () => {
    const res = await patch(demo.id, { token: stack.demoToken, body: '{"bio": ', contentType: 'application/json' });
    assert.equal(res.status, 400);
    assert.equal((await assertDocumented(res)).errors[0].code, 'parse_error');
  });

  test('401 without a token and with a bad one, with WWW-Authenticate', async () => {
    const none = await patch(demo.id, json({ bio: 'x' }));
    assert.equal(none.status, 401);
    assert.equal((await assertDocumented(none)).errors[0].code, 'not_authenticated');
    const bad = await patch(demo.id, { token: 'not.a.token', ...json({ bio: 'x' }) });
    assert.equal(bad.status, 401);
    assert.equal((await assertDocumented(bad)).errors[0].code, 'authentication_failed');
  });

  test('403 for another user’s id', async () => {
    const res = await patch(alice.id, { token: stack.demoToken, ...json({ bio: 'x' }) });
    assert.equal(res.status, 403);
    assert.equal((await assertDocumented(res)).errors[0].code, 'permission_denied');
  });

  test('404 for an unknown id and a non-integer one', async () => {
    for (const id of [987654, 'abc']) {
      const res = await patch(id, { token: stack.demoToken, ...json({ bio: 'x' }) });
      assert.equal(res.status, 404);
      assert.equal((await assertDocumented(res)).errors[0].code, 'not_found');
    }
  });

  test('413 for a body over 6 MB', async () => {
    const form = new FormData();
    form.append('cover', new Blob([Buffer.alloc(6_100_000, 1)], { type: 'image/png' }), 'big.png');
    const res = await patch(demo.id, { token: stack.demoToken, body: form });
    assert.equal(res.status, 413);
    assert.equal((await assertDocumented(res)).errors[0].code, 'request_too_large');
  });

  test('415 for another content type', async () => {
    const res = await patch(demo.id, { token: stack.demoToken, body: 'bio: x', contentType: 'text/yaml' });
    assert.equal(res.status, 415);
    assert.equal((await assertDocumented(res)).errors[0].code, 'unsupported_media_type');
  });

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${stack.config.baseUrl}/api/v2/user/${path}`, { headers: { Authorization: `Bearer ${stack.demoToken}`, ...headers } });
  const getOp = doc.paths[OPERATION_PATH].get;
  const meOp = doc.paths[ME_PATH].get;

  test('GET: 200 with ETag at /me/ and /{id}/, 304, 404 and 401', async () => {
    const me = await get('me/');
    assert.equal(me.status, 200);
    const etag = me.headers.get('etag')!;
    const current = await assertDocumented(me, meOp);
    assert.equal(current.id, demo.id);
    assert.equal(current.email, demo.email);
    // A token in a group that gives a role, and the owner's /{id}/ (a User, without the three).
    const admin = await get('me/', { Authorization: `Bearer ${signAccessToken(stack.keys, { sub: demo.sub, region: stack.config.region, userPoolId: stack.config.userPoolId, clientId: stack.config.clientId, groups: ['admin'] })}` });
    assert.equal((await assertDocumented(admin, meOp)).role, 'admin');
    const own = await get(`${demo.id}/`);
    assert.ok(!('email' in (await assertDocumented(own, getOp))));
    const byId = await get(`${alice.id}/`);
    assert.equal(byId.status, 200);
    assert.equal((await assertDocumented(byId, getOp)).id, alice.id);
    const notModified = await get('me/', { 'If-None-Match': etag });
    assert.equal(notModified.status, 304);
    await assertDocumented(notModified, meOp);
    const missing = await get('987654/');
    assert.equal(missing.status, 404);
    await assertDocumented(missing, getOp);
    const anonymous = await fetch(`${stack.config.baseUrl}/api/v2/user/me/`);
    assert.equal(anonymous.status, 401);
    await assertDocumented(anonymous, meOp);
  });

  test('PATCH: 200 with the new ETag, 412 for a stale If-Match, 405 at /me/', async () => {
    const etag = (await get(`${demo.id}/`)).headers.get('etag')!;
    const conditional = (ifMatch: string) =>
      fetch(url(demo.id), {
        method: 'PATCH',
        headers: { Authorization: `Bearer ${stack.demoToken}`, 'Content-Type': 'application/json', 'If-Match': ifMatch },
        body: JSON.stringify({ location: `at ${ifMatch}` }),
      });
    const ok = await conditional(etag);
    assert.equal(ok.status, 200);
    await assertDocumented(ok);
    const stale = await conditional(etag);
    assert.equal(stale.status, 412);
    assert.equal((await assertDocumented(stale)).errors[0].code, 'precondition_failed');
    const refused = await patch('me', { token: stack.demoToken, ...json({ bio: 'x' }) });
    assert.equal(refused.status, 405);
    assert.equal((await assertDocumented(refused, doc.paths[ME_PATH].patch)).errors[0].code, 'method_not_allowed');
  });

  test('settings and hidden users: every operation answers as documented', async () => {
    const aliceToken = signAccessToken(stack.keys, { sub: alice.sub, region: stack.config.region, userPoolId: stack.config.userPoolId, clientId: stack.config.clientId });
    const seen = new Set<string>();
    /** Calls `method path` and checks the answer against the operation of `documented` (a path of the document). */
    const check = async (method: string, path: string, documented: string, init: { token?: string | null; body?: string; contentType?: string } = {}) => {
      const token = init.token === undefined ? stack.demoToken : init.token;
      const res = await fetch(`${stack.config.baseUrl}/api/v2/user/${path}`, {
        method,
        headers: { ...(token !== null && { Authorization: `Bearer ${token}` }), ...(init.contentType && { 'Content-Type': init.contentType }) },
        body: init.body,
      });
      const op = doc.paths[documented][method.toLowerCase()];
      assert.ok(op, `${method} ${documented} documented`);
      seen.add(`${method.toLowerCase()} ${documented}`);
      return { status: res.status, body: await assertDocumented(res, op) };
    };
    const S = '/api/v2/user/{id}/settings/';
    assert.equal((await check('GET', `${demo.id}/settings/`, S)).status, 200);
    assert.equal((await check('GET', `${alice.id}/settings/`, S)).status, 403);
    assert.equal((await check('GET', '987654/settings/', S)).status, 404);
    assert.equal((await check('GET', `${demo.id}/settings/`, S, { token: null })).status, 401);
    const patched = await check('PATCH', `${demo.id}/settings/`, S, { body: '{"qa_frequency": -1}', contentType: 'application/json' });
    assert.deepEqual([patched.status, patched.body.qa_frequency], [200, -1]);
    assert.equal((await check('PATCH', `${demo.id}/settings/`, S, { body: 'qa_frequency=1', contentType: 'application/x-www-form-urlencoded' })).status, 200);
    const invalid = await check('PATCH', `${demo.id}/settings/`, S, { body: '{"qa_frequency": 7, "theme": 1}', contentType: 'application/json' });
    assert.equal(invalid.status, 400);
    assert.deepEqual(invalid.body.errors.map((e: Json) => e.messages[0].code), ['invalid_choice', 'unknown_field']);
    assert.equal((await check('PATCH', `${demo.id}/settings/`, S, { body: '{"qa', contentType: 'application/json' })).status, 400);
    assert.equal((await check('PATCH', `${demo.id}/settings/`, S, { body: 'x', contentType: 'text/plain' })).status, 415);
    assert.equal((await check('PATCH', `${alice.id}/settings/`, S, { body: '{}', contentType: 'application/json' })).status, 403);
    assert.equal((await check('PATCH', '987654/settings/', S, { body: '{}', contentType: 'application/json' })).status, 404);

    const H = '/api/v2/user/{id}/hide/';
    assert.equal((await check('POST', `${alice.id}/hide/`, H)).status, 204);
    const own = await check('POST', `${demo.id}/hide/`, H);
    assert.deepEqual([own.status, own.body.errors[0].code], [400, 'invalid']);
    assert.equal((await check('POST', '987654/hide/', H)).status, 404);
    assert.equal((await check('POST', `${alice.id}/hide/`, H, { token: null })).status, 401);
    assert.deepEqual((await check('GET', `${alice.id}/is_hidden/`, '/api/v2/user/{id}/is_hidden/')).body, { is_hidden: true });
    assert.equal((await check('GET', '987654/is_hidden/', '/api/v2/user/{id}/is_hidden/')).status, 404);
    assert.deepEqual((await check('GET', `${demo.id}/is_hidden_by/`, '/api/v2/user/{id}/is_hidden_by/', { token: aliceToken })).body, { is_hidden_by: true });
    assert.equal((await check('GET', `${demo.id}/is_hidden_by/`, '/api/v2/user/{id}/is_hidden_by/', { token: null })).status, 401);
    const list = await check('GET', 'hidden_users/?limit=1', '/api/v2/user/hidden_users/');
    assert.deepEqual(list.body.results.map((u: Json) => u.id), [alice.id]);
    assert.equal((await check('GET', 'hidden_users/', '/api/v2/user/hidden_users/', { token: null })).status, 401);
    assert.deepEqual((await check('GET', 'hidden_users_id/', '/api/v2/user/hidden_users_id/')).body, [alice.id]);
    assert.equal((await check('GET', 'hidden_users_id/', '/api/v2/user/hidden_users_id/', { token: 'nope' })).status, 401);
    assert.equal((await check('POST', `${alice.id}/hide/`, H)).status, 204);
    assert.deepEqual((await check('GET', 'hidden_users_id/', '/api/v2/user/hidden_users_id/')).body, []);
    // Every operation of these paths was called.
    const documented = allOperations().map(([name]) => name).filter((name) => SETTINGS_AND_HIDDEN_PATHS.some((path) => name.endsWith(` ${path}`)));
    assert.deepEqual([...seen].sort(), documented.sort());
  });

  test("the community's configuration: 200 without a token or with one, 401 with a bad one, as documented", async () => {
    for (const path of COMMUNITY_PATHS) {
      const op = doc.paths[path].get;
      const call = async (authorization?: string) => {
        const res = await fetch(`${stack.config.baseUrl}${path}`, { headers: authorization ? { Authorization: authorization } : {} });
        return { status: res.status, body: await assertDocumented(res, op) };
      };
      const anonymous = await call();
      assert.equal(anonymous.status, 200);
      assert.ok(anonymous.body.count >= 0);
      assert.deepEqual((await call(`Bearer ${stack.demoToken}`)).body, anonymous.body);
      assert.equal((await call('Bearer nope')).status, 401);
    }
  });

  test('the avatar gallery: 201, 200 pages, 204, and each error, as documented', async () => {
    const gallery = doc.paths[AVATAR_PATH];
    const call = (method: string, init: { body?: string | FormData; contentType?: string; query?: string; token?: string | null } = {}) =>
      fetch(`${stack.config.baseUrl}${AVATAR_PATH}${init.query ?? ''}`, {
        method,
        headers: {
          ...(init.token !== null && { Authorization: `Bearer ${init.token ?? stack.demoToken}` }),
          ...(init.contentType && { 'Content-Type': init.contentType }),
        },
        body: init.body,
      });
    const form = new FormData();
    form.append('avatar', new Blob([pngImage({ width: 5, height: 5 })], { type: 'image/png' }), 'a.png');
    const added = await call('POST', { body: form });
    assert.equal(added.status, 201);
    const avatar = await assertDocumented(added, gallery.post);
    const base64 = await call('POST', json({ avatar_base64: `data:image/png;base64,${pngImage().toString('base64')}` }));
    assert.equal(base64.status, 201);
    await assertDocumented(base64, gallery.post);
    const page = await call('GET', { query: '?limit=1' });
    assert.equal(page.status, 200);
    const listed = await assertDocumented(page, gallery.get);
    assert.ok(listed.next);
    const made = await call('PATCH', json({ avatar_id: avatar.id }));
    assert.equal(made.status, 204);
    await assertDocumented(made, gallery.patch);
    const removed = await call('DELETE', { query: `?avatar_id=${avatar.id}` });
    assert.equal(removed.status, 204);
    await assertDocumented(removed, gallery.delete);
    for (const [method, init, status, op] of [
      ['POST', json({}), 400, gallery.post],
      ['POST', { body: 'x', contentType: 'text/plain' }, 415, gallery.post],
      ['POST', { token: null }, 401, gallery.post],
      ['PATCH', json({}), 400, gallery.patch],
      ['PATCH', json({ avatar_id: 98765 }), 404, gallery.patch],
      ['DELETE', json({ avatar_id: 98765 }), 404, gallery.delete],
      ['GET', { token: null }, 401, gallery.get],
      ['PUT', {}, 405, gallery.get],
    ] as const) {
      const res = await call(method, init);
      assert.equal(res.status, status, `${method} ${JSON.stringify(init)}`);
      await assertDocumented(res, op);
    }
  });

  // Last: it stops the stack's DynamoDB Local.
  test('503 when DynamoDB is unreachable', async () => {
    process.kill(-stack.dynamodb.pid, 'SIGKILL');
    await stack.dynamodb.exited;
    const token = signAccessToken(stack.keys, {
      sub: demo.sub,
      region: stack.config.region,
      userPoolId: stack.config.userPoolId,
      clientId: stack.config.clientId,
    });
    const res = await patch(demo.id, { token, ...json({ bio: 'after the outage' }) });
    assert.equal(res.status, 503);
    assert.equal((await assertDocumented(res)).errors[0].code, 'service_unavailable');
  });
});
