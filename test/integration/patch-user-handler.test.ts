// The handler end to end on real API Gateway events, against DynamoDB Local and the S3 emulator.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import sharp from 'sharp';
import { createHandler, type ApiEvent, type Handler } from '../../src/functions/patch-user/handler.ts';
import { exifWithGps, jpeg, jpegSegment, pngImage } from '../../tools/support/images.ts';
import { USER_FIELDS as CONTRACT_USER_FIELDS } from '../support/contract.ts';
import { accessToken, makeKey } from '../../tools/support/tokens.ts';
import { fixtureEvent, multipartBody, startTestBackend, type TestBackend, userSeeder } from '../support/backend.ts';
import { catchUpStream, catchUpTarget } from '../support/stream.ts';

const USER_FIELDS = [...CONTRACT_USER_FIELDS].sort();

const key = makeKey();
let backend: TestBackend;
let handler: Handler;

const ADA = { id: 1, sub: 'sub-ada', username: 'ada' };
const BOB = { id: 2, sub: 'sub-bob', username: 'Bob' };
const token = (sub: string) => accessToken(key, { sub }, backend.pool);

before(async () => {
  backend = await startTestBackend({ keys: [key] });
  handler = createHandler(backend.config);
});
after(() => backend?.stop());

/** A fresh user per test, so tests do not depend on each other's writes. */
const newUser = userSeeder(() => backend, 'user', 100);

async function call(event: ApiEvent) {
  const response = await handler(event);
  return { ...response, json: JSON.parse(response.body) as Record<string, any> };
}

const jsonPatch = (id: number | string, sub: string | undefined, body: unknown) =>
  call(fixtureEvent('json', { id, token: sub === undefined ? undefined : token(sub), body: JSON.stringify(body) }));

describe('handler: JSON patch', () => {
  it('answers the fixture event with the full User object', async () => {
    await backend.seed([ADA, BOB]);
    const res = await call(fixtureEvent('json', { id: ADA.id, token: token(ADA.sub) }));
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['Content-Type'], 'application/json');
    assert.deepEqual(Object.keys(res.json).sort(), USER_FIELDS);
    assert.equal(res.json.real_name, 'Ada Lovelace');
    assert.equal(res.json.bio, 'Mathematician');
    assert.equal(res.json.username, 'ada');
    assert.equal(res.json.gender, 'Unspecified');
    assert.equal(res.json.language, 'en');
    assert.equal(res.json.avatar, null);
    assert.equal(res.json.connection_status, null);
    assert.equal(typeof res.json.followers_counter, 'number');
    assert.ok(!JSON.stringify(res.json).includes(ADA.sub), 'the sub never leaves');
    const stored = await backend.getUser(ADA.id);
    assert.equal(stored?.real_name, 'Ada Lovelace');
  });
  it('answers with and without the trailing slash', async () => {
    const user = await newUser();
    for (const path of [`/api/v2/user/${user.id}/`, `/api/v2/user/${user.id}`]) {
      const event = fixtureEvent('json', { id: user.id, token: token(user.sub), body: '{"bio":"x"}' });
      const res = await call({ ...event, path, pathParameters: null });
      assert.equal(res.statusCode, 200, path);
    }
  });
  it('answers an empty body with the current user', async () => {
    const user = await newUser({ bio: 'kept' });
    for (const contentType of [undefined, 'application/json']) {
      const res = await call(fixtureEvent('json', { id: user.id, token: token(user.sub), body: '', contentType }));
      assert.equal(res.statusCode, 200);
      assert.equal(res.json.bio, 'kept');
    }
  });
  it('clears a field with "" and with null', async () => {
    const user = await newUser({ bio: 'b', website: 'https://example.org' });
    const res = await jsonPatch(user.id, user.sub, { bio: '', website: null });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json.bio, '');
    assert.equal(res.json.website, '');
    const stored = await backend.getUser(user.id);
    assert.equal(stored?.bio, undefined);
  });
  it('ignores read-only fields sent back', async () => {
    const user = await newUser({ followers_counter: 3 });
    const res = await jsonPatch(user.id, user.sub, { id: 999, followers_counter: 100, bio: 'x', tags: [] });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json.id, user.id);
    assert.equal(res.json.followers_counter, 3);
  });
  it('reports all invalid fields at once and changes nothing', async () => {
    const user = await newUser({ bio: 'before' });
    const res = await jsonPatch(user.id, user.sub, { bio: 'after', gender: 'x', website: 'nope', is_staff: true });
    assert.equal(res.statusCode, 400);
    const fields = Object.fromEntries(res.json.errors.map((e: any) => [e.field, e.messages.map((m: any) => m.code)]));
    assert.deepEqual(fields, { gender: ['invalid_choice'], website: ['invalid'], is_staff: ['unknown_field'] });
    assert.equal((await backend.getUser(user.id))?.bio, 'before');
  });
});

describe('handler: who may patch', () => {
  it('answers 401 with WWW-Authenticate without a token, whatever the id', async () => {
    for (const id of [1, 'abc', 999999]) {
      const res = await jsonPatch(id, undefined, { bio: 'x' });
      assert.equal(res.statusCode, 401);
      assert.equal(res.headers['WWW-Authenticate'], 'Bearer');
      assert.equal(res.json.errors[0].code, 'not_authenticated');
    }
  });
  it('answers 401 authentication_failed for a bad token', async () => {
    const res = await call(fixtureEvent('json', { id: 1, rawAuthorization: 'Bearer x.y.z' }));
    assert.equal(res.statusCode, 401);
    assert.equal(res.json.errors[0].code, 'authentication_failed');
  });
  it("answers 403 for another user's id and changes nothing", async () => {
    const owner = await newUser({ bio: 'mine' });
    const other = await newUser();
    const res = await jsonPatch(owner.id, other.sub, { bio: 'hijacked' });
    assert.equal(res.statusCode, 403);
    assert.deepEqual(res.json, { errors: [{ code: 'permission_denied', message: 'You do not have permission to perform this action.' }] });
    assert.equal((await backend.getUser(owner.id))?.bio, 'mine');
  });
  it('answers 404 for an unknown id and for a non-integer id', async () => {
    const user = await newUser();
    for (const id of [987654, 'abc', '1.5', '-1', '1e3']) {
      const res = await jsonPatch(id, user.sub, { bio: 'x' });
      assert.equal(res.statusCode, 404, String(id));
      assert.equal(res.json.errors[0].code, 'not_found');
    }
    assert.equal(await backend.getUser(987654), undefined, 'no user is created by a patch');
  });
  it('answers 404 before 403: existence is checked first', async () => {
    const user = await newUser();
    const res = await jsonPatch(555555, user.sub, { username: 'someone_new' });
    assert.equal(res.statusCode, 404);
  });
  it('never takes the caller from requestContext.authorizer', async () => {
    const victim = await newUser({ bio: 'safe' });
    const attacker = await newUser();
    const event = fixtureEvent('json', { id: victim.id, token: token(attacker.sub), body: '{"bio":"owned"}' });
    event.requestContext = { ...event.requestContext, authorizer: { claims: { sub: victim.sub } } } as ApiEvent['requestContext'];
    event.headers = { ...event.headers, 'sls-offline-authorizer-override': JSON.stringify({ claims: { sub: victim.sub } }) };
    const res = await call(event);
    assert.equal(res.statusCode, 403);
    assert.equal((await backend.getUser(victim.id))?.bio, 'safe');
  });
  it('owns a user through its sub index: without one (a table from before the index) or with one naming another user, 403 and nothing changed', async () => {
    const user = await newUser({ bio: 'kept' });
    const other = await newUser();
    const { tableName } = backend.config;
    const stale = { 'If-Match': '"987"' };
    const attempts = [
      { bio: 'changed' },
      { username: `moved_${user.id}` },
      { username: user.username.toUpperCase() }, // a case-only rename: the claim stays
    ];
    const patchAll = async () => {
      for (const body of attempts) {
        for (const headers of [{}, stale]) {
          const event = fixtureEvent('json', { id: user.id, token: token(user.sub), body: JSON.stringify(body) });
          event.headers = { ...event.headers, ...headers };
          const res = await call(event);
          // 403 before 412: the caller is not the owner whatever the tag.
          assert.equal(res.statusCode, 403, `${JSON.stringify(body)} ${JSON.stringify(headers)}: ${res.body}`);
        }
      }
    };
    const before = await backend.getUser(user.id);
    await backend.dynamo.send(new DeleteCommand({ TableName: tableName, Key: { pk: `SUB#${user.sub}` } }));
    await patchAll();
    await backend.dynamo.send(new PutCommand({ TableName: tableName, Item: { pk: `SUB#${user.sub}`, user_id: other.id } }));
    await patchAll();
    assert.deepEqual(await backend.getUser(user.id), before);
    assert.equal((await backend.getClaim(`moved_${user.id}`)), undefined);
    // The index restored: the user's own again.
    await backend.dynamo.send(new PutCommand({ TableName: tableName, Item: { pk: `SUB#${user.sub}`, user_id: user.id } }));
    assert.equal((await jsonPatch(user.id, user.sub, { bio: 'changed' })).statusCode, 200);
  });
});

describe('handler: bodies', () => {
  it('accepts urlencoded bodies, base64-encoded or not', async () => {
    const user = await newUser();
    for (const isBase64Encoded of [false, true]) {
      const text = `real_name=Grace+Hopper&location=New%20York&n=${isBase64Encoded}`.replace('&n=true', '').replace('&n=false', '');
      const body = isBase64Encoded ? Buffer.from(text).toString('base64') : text;
      const event = fixtureEvent('json', { id: user.id, token: token(user.sub), body, contentType: 'application/x-www-form-urlencoded; charset=UTF-8' });
      const res = await call({ ...event, isBase64Encoded });
      assert.equal(res.statusCode, 200);
      assert.equal(res.json.real_name, 'Grace Hopper');
      assert.equal(res.json.location, 'New York');
    }
  });
  it('answers 415 for text/plain and for a body without a content type', async () => {
    const user = await newUser();
    for (const contentType of ['text/plain', undefined]) {
      const res = await call(fixtureEvent('json', { id: user.id, token: token(user.sub), body: '{"bio":"x"}', contentType }));
      assert.equal(res.statusCode, 415);
      assert.equal(res.json.errors[0].code, 'unsupported_media_type');
    }
  });
  it('answers 400 parse_error for malformed JSON', async () => {
    const user = await newUser();
    const res = await call(fixtureEvent('json', { id: user.id, token: token(user.sub), body: '{"bio":' }));
    assert.equal(res.statusCode, 400);
    assert.equal(res.json.errors[0].code, 'parse_error');
  });
  it('answers 413 for a body over 6 MB', async () => {
    const user = await newUser();
    const body = Buffer.alloc(6_000_001, 0x61).toString('base64');
    const event = fixtureEvent('multipart', { id: user.id, token: token(user.sub) });
    const res = await call({ ...event, body });
    assert.equal(res.statusCode, 413);
    assert.equal(res.json.errors[0].code, 'request_too_large');
  });
});

// The largest avatar and cover one request carries (README, "Largest avatar and cover"): the body travels in the
// Lambda event, at most 6 MiB, beside up to 32 KiB of headers and request context; a multipart
// body base64-encoded in it (4/3), a JSON body as text, which MAX_BODY_BYTES (6,000,000) bounds
// first. By default the file limits (AVATAR_MAX_BYTES, COVER_MAX_BYTES) are that largest file
// (contract, Images: "by default the largest file that fits one request"), so the handler here
// is the deployed one.
describe('handler: the largest file one request carries', () => {
  const LARGEST_MULTIPART_FILE = 4_693_501; // with 512 bytes of multipart framing
  const MULTIPART_FRAMING = 512;
  const LARGEST_BASE64_FILE = 4_499_952; // with 64 bytes of JSON around the base64 text
  const JSON_FRAMING = 64;
  /** A real JPEG padded to `size` bytes (data after the image is not an error: contract, Images). */
  const imageOf = (size: number) => {
    const image = jpeg({ width: 16, height: 16 });
    return Buffer.concat([image, Buffer.alloc(size - image.length)]);
  };
  const multipart = (field: 'avatar' | 'cover', size: number) => {
    const boundary = '----WebKitFormBoundary7MA4YWxkTrZu0gW';
    const framing = (filename: string) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: image/jpeg\r\n\r\n\r\n--${boundary}--\r\n`.length;
    // A file name that brings the framing to exactly MULTIPART_FRAMING bytes.
    const filename = `${'p'.repeat(MULTIPART_FRAMING - framing('.jpg'))}.jpg`;
    assert.equal(framing(filename), MULTIPART_FRAMING);
    return multipartBody({ [field]: { bytes: imageOf(size), filename, type: 'image/jpeg' } }, boundary);
  };
  const jsonBody = (field: 'avatar_base64' | 'cover_base64', size: number) => {
    const head = `{"${field}":"data:image/jpeg;base64,`;
    const tail = `"}`;
    const padding = ' '.repeat(JSON_FRAMING - head.length - tail.length);
    return `${head}${imageOf(size).toString('base64')}"${padding}}`;
  };

  for (const field of ['avatar', 'cover'] as const) {
    it(`a multipart ${field} of ${LARGEST_MULTIPART_FILE} bytes is taken, one byte more is a 413`, async () => {
      const user = await newUser();
      const fits = await call(fixtureEvent('multipart', { id: user.id, token: token(user.sub), ...multipart(field, LARGEST_MULTIPART_FILE) }));
      assert.equal(fits.statusCode, 200, fits.body.slice(0, 300));
      assert.match(fits.json[field], /\.jpg$/);
      const over = await call(fixtureEvent('multipart', { id: user.id, token: token(user.sub), ...multipart(field, LARGEST_MULTIPART_FILE + 1) }));
      assert.equal(over.statusCode, 413);
      assert.equal(over.json.errors[0].code, 'request_too_large');
    });
    it(`${field}_base64 in JSON of ${LARGEST_BASE64_FILE} bytes is taken, one byte more is a 413`, async () => {
      const user = await newUser();
      const body = jsonBody(`${field}_base64`, LARGEST_BASE64_FILE);
      assert.equal(body.length, 6_000_000);
      const fits = await call(fixtureEvent('json', { id: user.id, token: token(user.sub), body }));
      assert.equal(fits.statusCode, 200, fits.body.slice(0, 300));
      assert.match(fits.json[field], /\.jpg$/);
      const over = await call(fixtureEvent('json', { id: user.id, token: token(user.sub), body: jsonBody(`${field}_base64`, LARGEST_BASE64_FILE + 1) }));
      assert.equal(over.statusCode, 413);
      assert.equal(over.json.errors[0].code, 'request_too_large');
    });
  }
  it('a lower AVATAR_MAX_BYTES / COVER_MAX_BYTES still refuses a larger file with file_too_large', async () => {
    const strict = createHandler({ ...backend.config, images: { ...backend.config.images, avatarMaxBytes: 3 * 1024 * 1024, coverMaxBytes: 3 * 1024 * 1024 } });
    for (const field of ['avatar', 'cover'] as const) {
      const user = await newUser();
      const res = await strict(fixtureEvent('multipart', { id: user.id, token: token(user.sub), ...multipart(field, 3 * 1024 * 1024 + 1) }));
      assert.equal(res.statusCode, 400);
      assert.equal((JSON.parse(res.body) as Record<string, any>).errors[0].messages[0].code, 'file_too_large');
    }
  });
});

describe('handler: images', () => {
  it('stores the cover of the multipart fixture and serves it at its URL', async () => {
    await backend.seed([ADA]);
    const event = fixtureEvent('multipart', { id: ADA.id, token: token(ADA.sub) });
    const res = await call(event);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json.bio, 'Hello from a form');
    assert.match(res.json.cover, new RegExp(`^${backend.config.mediaBaseUrl}/cover/${ADA.id}/[0-9a-f-]{36}\\.png$`));
    const got = await fetch(res.json.cover);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'image/png');
    // Stored re-encoded (contract, Images): still a 4×3 PNG, and PNG is lossless, so the pixels are the sent ones.
    const sent = multipartFile(event);
    const stored = Buffer.from(await got.arrayBuffer());
    assert.deepEqual(await pixels(stored), await pixels(sent));
    // Tagged live by the stream function once it sees the write.
    await catchUpStream(catchUpTarget(backend));
    assert.deepEqual(await backend.objectTags(keyOf(res.json.cover)), { state: 'live' });
  });
  it('stores avatar_base64 and replaces the previous avatar, deleting it', async () => {
    const user = await newUser();
    const first = await jsonPatch(user.id, user.sub, { avatar_base64: `data:image/png;base64,${pngImage({ width: 5, height: 5 }).toString('base64')}` });
    assert.equal(first.statusCode, 200, first.body);
    const firstKey = keyOf(first.json.avatar);
    assert.ok(await backend.objectExists(firstKey));
    const image = jpeg({ width: 16, height: 16 });
    const second = await call(
      fixtureEvent('multipart', { id: user.id, token: token(user.sub), ...multipartBody({ avatar: { bytes: image, filename: 'me.jpg', type: 'image/jpeg' } }) }),
    );
    assert.equal(second.statusCode, 200, second.body);
    assert.match(second.json.avatar, /\.jpg$/);
    await catchUpStream(catchUpTarget(backend));
    assert.equal(await backend.objectExists(firstKey), false, 'the replaced avatar is deleted (by the stream function)');
    const got = await fetch(second.json.avatar);
    assert.equal(got.headers.get('content-type'), 'image/jpeg');
    const stored = await sharp(Buffer.from(await got.arrayBuffer())).metadata();
    assert.deepEqual([stored.format, stored.width, stored.height], ['jpeg', 16, 16], 'a 16×16 JPEG, never scaled up');
  });
  it('removes an image with null and with an empty value, deleting the object', async () => {
    const user = await newUser();
    for (const removal of [{ json: { cover: null } }, { form: 'cover=' }]) {
      const up = await jsonPatch(user.id, user.sub, { cover_base64: `image/png;base64,${pngImage().toString('base64')}` });
      const coverKey = keyOf(up.json.cover);
      const res = removal.json
        ? await jsonPatch(user.id, user.sub, removal.json)
        : await call(fixtureEvent('json', { id: user.id, token: token(user.sub), body: removal.form, contentType: 'application/x-www-form-urlencoded' }));
      assert.equal(res.statusCode, 200);
      assert.equal(res.json.cover, null);
      await catchUpStream(catchUpTarget(backend));
      assert.equal(await backend.objectExists(coverKey), false);
      assert.equal((await backend.getUser(user.id))?.cover_key, undefined);
    }
  });
  it('strips GPS metadata before storing', async () => {
    const user = await newUser();
    const image = jpeg({ width: 8, height: 8, app: [jpegSegment(0xe1, exifWithGps())] });
    assert.ok(image.includes(Buffer.from('GPSLatitude')));
    const res = await call(fixtureEvent('multipart', { id: user.id, token: token(user.sub), ...multipartBody({ avatar: { bytes: image, filename: 'gps.jpg', type: 'image/jpeg' } }) }));
    assert.equal(res.statusCode, 200, res.body);
    const stored = Buffer.from(await (await fetch(res.json.avatar)).arrayBuffer());
    assert.equal(stored.includes(Buffer.from('GPS')), false);
  });
  it('refuses an SVG and stores nothing', async () => {
    const user = await newUser();
    const before = await backend.objectKeys(`avatar/${user.id}/`);
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
    const res = await call(fixtureEvent('multipart', { id: user.id, token: token(user.sub), ...multipartBody({ avatar: { bytes: svg, filename: 'a.svg', type: 'image/svg+xml' } }) }));
    assert.equal(res.statusCode, 400);
    assert.equal(res.json.errors[0].field, 'avatar');
    assert.equal(res.json.errors[0].messages[0].code, 'invalid_image');
    assert.deepEqual(await backend.objectKeys(`avatar/${user.id}/`), before);
  });
  it("deletes the upload when the write is refused (another user's id)", async () => {
    const owner = await newUser();
    const other = await newUser();
    const res = await call(fixtureEvent('multipart', { id: owner.id, token: token(other.sub), ...multipartBody({ avatar: { bytes: pngImage(), filename: 'a.png', type: 'image/png' } }) }));
    assert.equal(res.statusCode, 403);
    assert.deepEqual(await backend.objectKeys(`avatar/${owner.id}/`), []);
  });
});

describe('handler: usernames', () => {
  it('renames: the new claim points at the user and the old claim is gone', async () => {
    const user = await newUser();
    const res = await jsonPatch(user.id, user.sub, { username: 'Grace_Hopper' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json.username, 'Grace_Hopper');
    assert.deepEqual(await backend.getClaim('grace_hopper'), { pk: 'USERNAME#grace_hopper', user_id: user.id });
    assert.equal(await backend.getClaim(user.username), undefined);
  });
  it('refuses a name taken in another case with unique, and changes nothing', async () => {
    const holder = await newUser({ username: 'Taken_Name' });
    const user = await newUser({ bio: 'before' });
    const res = await jsonPatch(user.id, user.sub, { username: 'taken_NAME', bio: 'after' });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json, {
      errors: [{ field: 'username', messages: [{ code: 'unique', message: 'A user with that username already exists.' }] }],
    });
    const stored = await backend.getUser(user.id);
    assert.equal(stored?.username, user.username);
    assert.equal(stored?.bio, 'before');
    assert.equal((await backend.getClaim(user.username))?.user_id, user.id);
    assert.equal((await backend.getClaim('taken_name'))?.user_id, holder.id);
  });
  it("renames to the caller's own name in another case, keeping the claim", async () => {
    const user = await newUser({ username: 'casey' });
    const res = await jsonPatch(user.id, user.sub, { username: 'CASEY' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json.username, 'CASEY');
    assert.equal((await backend.getClaim('casey'))?.user_id, user.id);
  });
  it('accepts the current name unchanged along with other fields', async () => {
    const user = await newUser();
    const res = await jsonPatch(user.id, user.sub, { username: user.username, bio: 'same name' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json.bio, 'same name');
  });
  it('deletes the new avatar when the username is taken', async () => {
    await newUser({ username: 'occupied' });
    const user = await newUser();
    const res = await call(
      fixtureEvent('multipart', {
        id: user.id,
        token: token(user.sub),
        ...multipartBody({ username: 'occupied', avatar: { bytes: pngImage(), filename: 'a.png', type: 'image/png' } }),
      }),
    );
    assert.equal(res.statusCode, 400);
    assert.deepEqual(await backend.objectKeys(`avatar/${user.id}/`), []);
    assert.equal((await backend.getUser(user.id))?.avatar_key, undefined);
  });
  it('frees the old name for others at once', async () => {
    const first = await newUser({ username: 'handover' });
    const second = await newUser();
    assert.equal((await jsonPatch(first.id, first.sub, { username: 'handover2' })).statusCode, 200);
    const res = await jsonPatch(second.id, second.sub, { username: 'Handover' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal((await backend.getClaim('handover'))?.user_id, second.id);
  });
});

/** Decoded RGB pixels with their size. */
async function pixels(image: Buffer) {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data };
}

function keyOf(url: string): string {
  return url.slice(backend.config.mediaBaseUrl.length + 1);
}

/** The bytes of the file part of a multipart fixture event. */
function multipartFile(event: ApiEvent): Buffer {
  const body = Buffer.from(event.body!, 'base64');
  const start = body.indexOf('\r\n\r\n', body.indexOf('filename=')) + 4;
  const end = body.lastIndexOf('\r\n--');
  return body.subarray(start, end);
}

describe('handler: CORS', () => {
  it('lets an allowed browser origin read answers, errors included', async () => {
    const user = await newUser();
    const cors = createHandler({ ...backend.config, corsAllowedOrigins: ['https://app.example.org'] });
    for (const authorization of [`Bearer ${token(user.sub)}`, '']) {
      const event = fixtureEvent('json', { id: user.id, rawAuthorization: authorization, body: '{"bio":"cors"}' });
      event.headers = { ...event.headers, origin: 'https://app.example.org' };
      const res = await cors(event);
      assert.equal(res.headers['Access-Control-Allow-Origin'], 'https://app.example.org', String(res.statusCode));
      assert.equal(res.headers.Vary, 'Origin');
    }
  });
  it('sends no CORS headers when none are configured', async () => {
    const user = await newUser();
    const event = fixtureEvent('json', { id: user.id, token: token(user.sub), body: '{}' });
    event.headers = { ...event.headers, origin: 'https://app.example.org' };
    const res = await handler(event);
    assert.equal(res.headers['Access-Control-Allow-Origin'], undefined);
  });
});
