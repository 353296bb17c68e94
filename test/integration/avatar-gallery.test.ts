// The avatar gallery through the real handlers (GET in getUser; POST, PATCH and DELETE in
// patchUser) against DynamoDB Local and the S3 emulator: every rule and error of the contract's
// "Avatars", real photos stored normalized and clean, the seed's PATCH /{id}/ avatar over the
// gallery, and the invariants once the stream has caught up.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import sharp from 'sharp';
import { createHandler as createPatchHandler, type ApiEvent, type Handler } from '../../src/functions/patch-user/handler.ts';
import { createHandler as createGetHandler } from '../../src/functions/get-user/handler.ts';
import { checkInvariants } from '../../tools/cli/check-invariants.ts';
import { pngImage } from '../../tools/support/images.ts';
import { accessToken, makeKey } from '../../tools/support/tokens.ts';
import { avatarEvent, base64Image, formBody, jsonBody } from '../support/avatars.ts';
import { fixtureEvent, multipartBody, startTestBackend, type TestBackend, userSeeder } from '../support/backend.ts';
import { catchUpStream, catchUpTarget, settledInvariants } from '../support/stream.ts';
import { assertNoMetadata, exiftool, PHOTOS } from '../support/stored-images.ts';

const MAX = 4;
const key = makeKey();
let backend: TestBackend;
let patchHandler: Handler;
let getHandler: Handler;

before(async () => {
  backend = await startTestBackend({ keys: [key], env: { MAX_AVATARS: String(MAX) } });
  patchHandler = createPatchHandler(backend.config);
  getHandler = createGetHandler(backend.config);
});
after(async () => {
  try {
    const { deadLetters, report } = await settledInvariants(() => catchUpStream(catchUpTarget(backend)), () => checkInvariants(backend.dynamo, backend.s3, backend.config));
    assert.deepEqual(deadLetters, []);
    assert.deepEqual(report.problems, []);
  } finally {
    await backend.stop();
  }
});

const newUser = userSeeder(() => backend, 'gallery', 2000);
type User = { id: number; sub: string };
const token = (user: User) => accessToken(key, { sub: user.sub }, backend.pool);

async function call(event: ApiEvent) {
  const handler = event.httpMethod === 'GET' ? getHandler : patchHandler;
  const response = await handler(event);
  return { ...response, json: response.body ? (JSON.parse(response.body) as any) : undefined };
}
const list = (user: User, query?: Record<string, string>) => call(avatarEvent('GET', { token: token(user), query }));
const add = (user: User, body: { body: string; contentType: string; isBase64Encoded?: boolean }) =>
  call(avatarEvent('POST', { token: token(user), ...body }));
const addPng = (user: User, bytes = pngImage({ width: 8, height: 8 })) =>
  add(user, multipartBody({ avatar: { bytes, filename: 'a.png', type: 'image/png' } }));
const setPrimary = (user: User, body: { body: string; contentType: string; isBase64Encoded?: boolean }) =>
  call(avatarEvent('PATCH', { token: token(user), ...body }));
const remove = (user: User, body: { body?: string; contentType?: string; query?: Record<string, string> }) =>
  call(avatarEvent('DELETE', { token: token(user), ...body }));
const readUser = async (user: User) => {
  const res = await getHandler({ ...fixtureEvent('json', { id: user.id, token: token(user) }), httpMethod: 'GET', body: null });
  assert.equal(res.statusCode, 200, res.body);
  return { json: JSON.parse(res.body), etag: res.headers.ETag };
};
const fieldErrors = (json: any) => json.errors.map((e: any) => [e.field, e.messages.map((m: any) => m.code)]);
const keyOf = (url: string) => url.slice(backend.config.mediaBaseUrl.length + 1);

describe('GET /api/v2/user/avatar/', () => {
  it('a user without avatars: an empty page', async () => {
    const user = await newUser();
    const res = await list(user);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json, { count: 0, next: null, previous: null, results: [] });
  });

  it('no token: 401; a token whose sub has no user: 404', async () => {
    const res = await call(avatarEvent('GET'));
    assert.equal(res.statusCode, 401);
    assert.equal(res.json.errors[0].code, 'not_authenticated');
    const stranger = await list({ id: 0, sub: 'sub-nobody' });
    assert.equal(stranger.statusCode, 404);
    assert.equal(stranger.json.errors[0].code, 'not_found');
  });

  it('newest first, limit and offset, next and previous as absolute URLs; invalid values fall back to the defaults', async () => {
    const user = await newUser();
    for (let i = 0; i < 3; i++) assert.equal((await addPng(user)).statusCode, 201);
    const all = await list(user);
    assert.deepEqual(all.json.results.map((a: any) => a.id), [3, 2, 1]);
    assert.deepEqual(all.json.results.map((a: any) => a.primary), [false, false, true]);
    const first = await list(user, { limit: '2' });
    assert.equal(first.json.count, 3);
    assert.deepEqual(first.json.results.map((a: any) => a.id), [3, 2]);
    assert.equal(first.json.previous, null);
    const next = new URL(first.json.next);
    assert.equal(next.pathname, '/prod/api/v2/user/avatar/');
    assert.equal(next.searchParams.get('offset'), '2');
    const second = await list(user, Object.fromEntries(next.searchParams));
    assert.deepEqual(second.json.results.map((a: any) => a.id), [1]);
    assert.equal(second.json.next, null);
    assert.ok(second.json.previous.startsWith('https://'));
    const fallback = await list(user, { limit: 'many', offset: '-3' });
    assert.deepEqual(fallback.json.results.map((a: any) => a.id), [3, 2, 1]);
  });

  it('always the caller’s own gallery', async () => {
    const [a, b] = [await newUser(), await newUser()];
    assert.equal((await addPng(a)).statusCode, 201);
    assert.equal((await list(b)).json.count, 0);
    assert.equal((await list(a)).json.results[0].user, a.id);
  });
});

describe('POST /api/v2/user/avatar/', () => {
  it('a file part: 201 with the Avatar object; the first becomes primary and the user’s avatar', async () => {
    const user = await newUser();
    const before = await readUser(user);
    const res = await addPng(user);
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual(Object.keys(res.json).sort(), ['avatar', 'date_uploaded', 'id', 'primary', 'user']);
    assert.equal(res.json.id, 1);
    assert.equal(res.json.primary, true);
    assert.equal(res.json.user, user.id);
    assert.ok(!Number.isNaN(Date.parse(res.json.date_uploaded)));
    assert.ok(res.json.avatar.startsWith(`${backend.config.mediaBaseUrl}/avatar/${user.id}/`));
    assert.ok(await backend.objectExists(keyOf(res.json.avatar)));
    const after = await readUser(user);
    assert.equal(after.json.avatar, res.json.avatar);
    assert.notEqual(after.etag, before.etag, 'a new ETag');
    // The answer's URL fetches exactly the stored object, served with its type.
    const fetched = await fetch(res.json.avatar);
    assert.equal(fetched.headers.get('content-type'), 'image/png');
  });

  it('avatar_base64 as JSON, urlencoded and a multipart text field: 201 each, not primary, ids in order', async () => {
    const user = await newUser();
    assert.equal((await addPng(user)).statusCode, 201);
    const text = base64Image(pngImage({ width: 4, height: 4 }));
    const answers = [
      await add(user, jsonBody({ avatar_base64: text })),
      await add(user, formBody({ avatar_base64: text })),
      await add(user, multipartBody({ avatar_base64: text.slice('data:'.length) })),
    ];
    assert.deepEqual(answers.map((a) => a.statusCode), [201, 201, 201], JSON.stringify(answers.map((a) => a.json)));
    assert.deepEqual(answers.map((a) => [a.json.id, a.json.primary]), [[2, false], [3, false], [4, false]]);
    assert.equal((await readUser(user)).json.avatar, (await list(user)).json.results[3].avatar, 'the primary is still the first');
  });

  it('neither avatar nor avatar_base64: required on avatar; both: invalid; an empty file: required; nothing stored', async () => {
    const user = await newUser();
    const png = { bytes: pngImage(), filename: 'a.png', type: 'image/png' };
    const cases: Array<[{ body: string; contentType: string; isBase64Encoded?: boolean }, unknown]> = [
      [jsonBody({}), [['avatar', ['required']]]],
      [{ body: '', contentType: 'application/json' }, [['avatar', ['required']]]],
      [multipartBody({ avatar: png, avatar_base64: base64Image(pngImage()) }), [['avatar', ['invalid']]]],
      [multipartBody({ avatar: { bytes: Buffer.alloc(0), filename: '', type: 'application/octet-stream' } }), [['avatar', ['required']]]],
      [jsonBody({ avatar: null }), [['avatar', ['required']]]],
      [jsonBody({ avatar_base64: base64Image(pngImage()), bio: 'x' }), [['bio', ['unknown_field']]]],
      [jsonBody({ avatar: 'https://example.org/a.png' }), [['avatar', ['invalid']]]],
    ];
    for (const [body, expected] of cases) {
      const res = await add(user, body);
      assert.equal(res.statusCode, 400, res.body);
      assert.deepEqual(fieldErrors(res.json), expected, res.body);
    }
    assert.deepEqual(await backend.objectKeys(`avatar/${user.id}/`), []);
    assert.equal((await list(user)).json.count, 0);
  });

  it('the image rules of avatar: invalid_image, file_too_large, image_too_large; bad base64 a parse_error', async () => {
    const user = await newUser();
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>');
    const huge = pngImage({ width: 9000, height: 10 });
    const cases: Array<[{ body: string; contentType: string; isBase64Encoded?: boolean }, string, string]> = [
      [multipartBody({ avatar: { bytes: svg, filename: 'a.svg', type: 'image/svg+xml' } }), 'avatar', 'invalid_image'],
      [multipartBody({ avatar: { bytes: huge, filename: 'a.png', type: 'image/png' } }), 'avatar', 'image_too_large'],
      [jsonBody({ avatar_base64: 'data:image/svg+xml;base64,' + svg.toString('base64') }), 'avatar_base64', 'invalid_image'],
    ];
    for (const [body, field, code] of cases) {
      const res = await add(user, body);
      assert.equal(res.statusCode, 400, res.body);
      assert.deepEqual(fieldErrors(res.json), [[field, [code]]], res.body);
    }
    // By default AVATAR_MAX_BYTES is the largest file a request carries (a larger one is a 413);
    // a lower limit refuses a larger file with file_too_large.
    const strict = createPatchHandler({ ...backend.config, images: { ...backend.config.images, avatarMaxBytes: 1_000_000 } });
    const big = multipartBody({ avatar: { bytes: pngImage({ padTo: 1_000_001 }), filename: 'a.png', type: 'image/png' } });
    const tooBig = await strict(avatarEvent('POST', { token: token(user), ...big }));
    assert.equal(tooBig.statusCode, 400, tooBig.body);
    assert.deepEqual(fieldErrors(JSON.parse(tooBig.body)), [['avatar', ['file_too_large']]], tooBig.body);
    const broken = await add(user, jsonBody({ avatar_base64: 'image/png;base64,@@@@' }));
    assert.equal(broken.statusCode, 400);
    assert.equal(broken.json.errors[0].code, 'parse_error');
    assert.deepEqual(await backend.objectKeys(`avatar/${user.id}/`), []);
  });

  it(`at most ${MAX} avatars (MAX_AVATARS): one more is max_avatars on avatar, nothing stored; a removal makes room`, async () => {
    const user = await newUser();
    for (let i = 0; i < MAX; i++) assert.equal((await addPng(user)).statusCode, 201);
    const keys = await backend.objectKeys(`avatar/${user.id}/`);
    const res = await addPng(user);
    assert.equal(res.statusCode, 400, res.body);
    assert.deepEqual(fieldErrors(res.json), [['avatar', ['max_avatars']]]);
    assert.deepEqual(await backend.objectKeys(`avatar/${user.id}/`), keys, 'the refused upload was deleted');
    assert.equal((await remove(user, jsonBody({ avatar_id: 2 }))).statusCode, 204);
    const again = await addPng(user);
    assert.equal(again.statusCode, 201);
    assert.equal(again.json.id, MAX + 1, 'ids are never reused');
  });

  it('a caller without a user: 404, nothing stored', async () => {
    const res = await addPng({ id: 0, sub: 'sub-nobody-post' });
    assert.equal(res.statusCode, 404, res.body);
  });
});

describe('real photos through POST: stored normalized and clean, as PATCH avatar’s are', () => {
  const photos = ['gps/DSCN0010.jpg', 'orientation/portrait_6.jpg', 'phones/apple-gainmap.jpg', 'cameras/Canon_40D.jpg'];

  it('each photo: 201, a JPEG square of at most 400 px, upright, with no metadata (exiftool)', async () => {
    const user = await newUser();
    const stored: { name: string; bytes: Buffer }[] = [];
    for (const photo of photos) {
      const bytes = readFileSync(new URL(photo, PHOTOS));
      const res = await add(user, multipartBody({ avatar: { bytes, filename: photo.split('/')[1]!, type: 'image/jpeg' } }));
      assert.equal(res.statusCode, 201, `${photo}: ${res.body}`);
      const object = await backend.s3.send(new GetObjectCommand({ Bucket: backend.config.mediaBucket, Key: keyOf(res.json.avatar) }));
      const body = Buffer.from(await object.Body!.transformToByteArray());
      const meta = await sharp(body).metadata();
      assert.equal(meta.format, 'jpeg', photo);
      assert.equal(meta.width, meta.height, `${photo}: square`);
      assert.ok(meta.width! <= 400, `${photo}: ${meta.width}`);
      assert.equal(meta.orientation ?? 1, 1, `${photo}: no orientation left to apply`);
      stored.push({ name: photo, bytes: body });
    }
    const sources = await exiftool(photos.map((photo) => ({ name: photo, bytes: readFileSync(new URL(photo, PHOTOS)) })));
    assert.ok(sources.some((s) => Object.keys(s.tags).some((k) => k.startsWith('GPS:'))), 'the sources carry GPS: the check is not vacuous');
    for (const report of await exiftool(stored)) assertNoMetadata(report);
  });
});

describe('phone formats through POST: HEIC/HEIF and AVIF stored as upright JPEG squares, clean', () => {
  // Made from the real photos by tools/fixtures/make-heif-avif.sh: one turned by the container's
  // irot (and the same EXIF orientation), one by its EXIF orientation only.
  const photos = ['avif/portrait_6-irot.avif', 'avif/landscape_6-exif.avif', 'avif/gps-DSCN0010.avif'];
  const upright: Record<string, string> = {
    'avif/portrait_6-irot.avif': 'orientation/portrait_1.jpg',
    'avif/landscape_6-exif.avif': 'orientation/landscape_1.jpg',
    'avif/gps-DSCN0010.avif': 'gps/DSCN0010.jpg',
  };
  /** What the centre square of the upright photo shows, as a small greyscale thumbnail. */
  const square = async (bytes: Buffer) => {
    const { width, height } = await sharp(bytes).autoOrient().metadata().then((m) => (m.orientation ?? 1) >= 5 ? { width: m.height!, height: m.width! } : { width: m.width!, height: m.height! });
    const side = Math.min(width, height);
    return sharp(bytes).autoOrient().resize(side, side, { fit: 'cover' }).resize(24, 24).greyscale().raw().toBuffer();
  };
  const difference = (a: Buffer, b: Buffer) => a.reduce((sum, v, i) => sum + Math.abs(v - b[i]!), 0) / a.length;

  it('each: 201, a JPEG square of 400 px, upright, with no metadata (exiftool)', async () => {
    const user = await newUser();
    const stored: { name: string; bytes: Buffer }[] = [];
    for (const photo of photos) {
      const bytes = readFileSync(new URL(photo, PHOTOS));
      const res = await add(user, multipartBody({ avatar: { bytes, filename: photo.split('/')[1]!, type: 'application/octet-stream' } }));
      assert.equal(res.statusCode, 201, `${photo}: ${res.body}`);
      assert.match(res.json.avatar, /\.jpg$/);
      const object = await backend.s3.send(new GetObjectCommand({ Bucket: backend.config.mediaBucket, Key: keyOf(res.json.avatar) }));
      const body = Buffer.from(await object.Body!.transformToByteArray());
      const meta = await sharp(body).metadata();
      assert.equal(meta.format, 'jpeg', photo);
      assert.deepEqual([meta.width, meta.height], [400, 400], photo);
      const diff = difference(await square(body), await square(readFileSync(new URL(upright[photo]!, PHOTOS))));
      assert.ok(diff < 8, `${photo}: upright (difference ${diff.toFixed(1)})`);
      stored.push({ name: photo, bytes: body });
    }
    const sources = await exiftool(photos.map((photo) => ({ name: photo, bytes: readFileSync(new URL(photo, PHOTOS)) })));
    assert.ok(sources.some((s) => Object.keys(s.tags).some((k) => k.startsWith('GPS:'))), 'the sources carry GPS: the check is not vacuous');
    for (const report of await exiftool(stored)) assertNoMetadata(report);
  });
});

describe('PATCH /api/v2/user/avatar/', () => {
  it('avatar_id as JSON number, numeric string, urlencoded and multipart: 204, that avatar primary and the user’s avatar', async () => {
    const user = await newUser();
    const added = [];
    for (let i = 0; i < 3; i++) added.push((await addPng(user)).json);
    const bodies: Array<[{ body: string; contentType: string; isBase64Encoded?: boolean }, number]> = [
      [jsonBody({ avatar_id: 2 }), 2],
      [jsonBody({ avatar_id: '3' }), 3],
      [formBody({ avatar_id: '1' }), 1],
      [multipartBody({ avatar_id: '2' }), 2],
    ];
    for (const [body, id] of bodies) {
      const before = await readUser(user);
      const res = await setPrimary(user, body);
      assert.equal(res.statusCode, 204, res.body);
      assert.equal(res.body, '');
      const after = await readUser(user);
      assert.equal(after.json.avatar, added[id - 1].avatar);
      assert.notEqual(after.etag, before.etag);
      const primaries = (await list(user)).json.results.filter((a: any) => a.primary);
      assert.deepEqual(primaries.map((a: any) => a.id), [id]);
    }
  });

  it('missing avatar_id: required; not an integer: invalid; not in the caller’s gallery (unknown, another user’s): 404, nothing changes', async () => {
    const [user, other] = [await newUser(), await newUser()];
    assert.equal((await addPng(user)).statusCode, 201);
    assert.equal((await addPng(other)).statusCode, 201);
    assert.equal((await addPng(other)).statusCode, 201);
    const before = await backend.getUser(user.id);
    const missing = await setPrimary(user, jsonBody({}));
    assert.deepEqual(fieldErrors(missing.json), [['avatar_id', ['required']]]);
    const empty = await setPrimary(user, { body: '', contentType: 'application/json' });
    assert.deepEqual(fieldErrors(empty.json), [['avatar_id', ['required']]]);
    for (const value of ['abc', 1.5, true, [1]]) {
      const res = await setPrimary(user, jsonBody({ avatar_id: value }));
      assert.equal(res.statusCode, 400, res.body);
      assert.deepEqual(fieldErrors(res.json), [['avatar_id', ['invalid']]]);
    }
    for (const id of [7, 2]) {
      // 2 is in the other user's gallery, not in this one's.
      const res = await setPrimary(user, jsonBody({ avatar_id: id }));
      assert.equal(res.statusCode, 404, res.body);
      assert.equal(res.json.errors[0].code, 'not_found');
    }
    assert.deepEqual(await backend.getUser(user.id), before, 'nothing changed');
  });
});

describe('DELETE /api/v2/user/avatar/', () => {
  it('avatar_id in a JSON body, an urlencoded body or the query string: 204, the avatar leaves the gallery and its object is deleted by the stream', async () => {
    const user = await newUser();
    const added = [];
    for (let i = 0; i < 4; i++) added.push((await addPng(user)).json);
    const before = await readUser(user);
    const answers = [
      await remove(user, jsonBody({ avatar_id: 2 })),
      await remove(user, formBody({ avatar_id: '3' })),
      await remove(user, { query: { avatar_id: '4' } }),
    ];
    assert.deepEqual(answers.map((a) => a.statusCode), [204, 204, 204], JSON.stringify(answers.map((a) => a.body)));
    assert.deepEqual((await list(user)).json.results.map((a: any) => a.id), [1]);
    const after = await readUser(user);
    assert.equal(after.json.avatar, added[0].avatar, 'the primary stays');
    assert.equal(Number(JSON.parse(after.etag!)), Number(JSON.parse(before.etag!)) + 3, 'every gallery write moves the ETag');
    await catchUpStream(catchUpTarget(backend));
    for (const gone of added.slice(1)) assert.equal(await backend.objectExists(keyOf(gone.avatar)), false);
    assert.equal(await backend.objectExists(keyOf(added[0].avatar)), true);
  });

  it('the primary: the user’s avatar becomes null and no other avatar becomes primary', async () => {
    const user = await newUser();
    for (let i = 0; i < 3; i++) assert.equal((await addPng(user)).statusCode, 201);
    assert.equal((await remove(user, jsonBody({ avatar_id: 1 }))).statusCode, 204);
    assert.equal((await readUser(user)).json.avatar, null);
    const rest = (await list(user)).json.results;
    assert.deepEqual(rest.map((a: any) => [a.id, a.primary]), [[3, false], [2, false]]);
    // The next avatar added becomes primary: there is none.
    const next = await addPng(user);
    assert.equal(next.json.primary, true);
    assert.equal((await readUser(user)).json.avatar, next.json.avatar);
  });

  it('unknown or another user’s id: 404 and nothing changes; missing: required; body and query both: duplicate_field', async () => {
    const [user, other] = [await newUser(), await newUser()];
    assert.equal((await addPng(user)).statusCode, 201);
    for (let i = 0; i < 2; i++) assert.equal((await addPng(other)).statusCode, 201);
    const before = await backend.getUser(user.id);
    const otherBefore = await backend.getUser(other.id);
    for (const body of [jsonBody({ avatar_id: 9 }), { query: { avatar_id: '2' } }]) {
      const res = await remove(user, body);
      assert.equal(res.statusCode, 404, res.body);
    }
    assert.deepEqual(fieldErrors((await remove(user, {})).json), [['avatar_id', ['required']]]);
    const both = await remove(user, { ...jsonBody({ avatar_id: 1 }), query: { avatar_id: '1' } });
    assert.deepEqual(fieldErrors(both.json), [['avatar_id', ['duplicate_field']]]);
    assert.deepEqual(await backend.getUser(user.id), before);
    assert.deepEqual(await backend.getUser(other.id), otherBefore);
  });
});

describe('a user from before the gallery, and PATCH /{id}/ avatar over the gallery', () => {
  /** A user whose avatar was stored before the gallery existed: avatar_key, no avatars. */
  async function legacyUser() {
    const user = await newUser();
    const res = await patchHandler(
      fixtureEvent('multipart', { id: user.id, token: token(user), ...multipartBody({ avatar: { bytes: pngImage(), filename: 'a.png', type: 'image/png' } }) }),
    );
    assert.equal(res.statusCode, 200, res.body);
    await backend.dynamo.send(
      new UpdateCommand({ TableName: backend.config.tableName, Key: { pk: `USER#${user.id}` }, UpdateExpression: 'REMOVE avatars, avatar_seq' }),
    );
    return { user, avatar: JSON.parse(res.body).avatar as string };
  }

  it('reads as a gallery of one: id 1, primary, uploaded when the user joined; a POST gets id 2 and stores the gallery', async () => {
    const { user, avatar } = await legacyUser();
    const stored = (await backend.getUser(user.id))!;
    assert.equal(stored.avatars, undefined);
    assert.deepEqual((await list(user)).json.results, [{ id: 1, primary: true, avatar, date_uploaded: stored.date_joined, user: user.id }]);
    const res = await addPng(user);
    assert.equal(res.json.id, 2);
    assert.equal(res.json.primary, false);
    assert.deepEqual((await backend.getUser(user.id))!.avatars!.map((e) => e.id), [1, 2]);
  });

  it('a new avatar replaces the primary, which leaves the gallery (and S3); null removes the primary', async () => {
    const user = await newUser();
    const first = (await addPng(user)).json;
    const second = (await addPng(user)).json;
    const patched = await patchHandler(
      fixtureEvent('multipart', { id: user.id, token: token(user), ...multipartBody({ avatar: { bytes: pngImage(), filename: 'b.png', type: 'image/png' } }) }),
    );
    assert.equal(patched.statusCode, 200, patched.body);
    const newAvatar = JSON.parse(patched.body).avatar;
    const results = (await list(user)).json.results;
    assert.deepEqual(results.map((a: any) => [a.id, a.primary, a.avatar]), [[3, true, newAvatar], [2, false, second.avatar]]);
    await catchUpStream(catchUpTarget(backend));
    assert.equal(await backend.objectExists(keyOf(first.avatar)), false, 'the replaced primary is deleted');

    const cleared = await patchHandler(fixtureEvent('json', { id: user.id, token: token(user), body: JSON.stringify({ avatar: null }) }));
    assert.equal(cleared.statusCode, 200);
    assert.equal(JSON.parse(cleared.body).avatar, null);
    assert.deepEqual((await list(user)).json.results.map((a: any) => [a.id, a.primary]), [[2, false]]);
    // Where there is no primary, a new avatar becomes it, and the others stay.
    const again = await patchHandler(
      fixtureEvent('json', { id: user.id, token: token(user), body: JSON.stringify({ avatar_base64: base64Image(pngImage()) }) }),
    );
    assert.equal(again.statusCode, 200, again.body);
    assert.deepEqual((await list(user)).json.results.map((a: any) => [a.id, a.primary]), [[4, true], [2, false]]);
  });

  it('a full gallery: PATCH /{id}/ with a new avatar replaces the primary, the gallery stays full', async () => {
    const user = await newUser();
    for (let i = 0; i < MAX; i++) assert.equal((await addPng(user)).statusCode, 201);
    const res = await patchHandler(
      fixtureEvent('multipart', { id: user.id, token: token(user), ...multipartBody({ avatar: { bytes: pngImage(), filename: 'b.png', type: 'image/png' } }) }),
    );
    assert.equal(res.statusCode, 200, res.body);
    const results = (await list(user)).json.results;
    assert.equal(results.length, MAX);
    assert.deepEqual(results.filter((a: any) => a.primary).map((a: any) => a.id), [MAX + 1]);
  });

  it('seeding the user again (npm run seed) keeps its gallery: no avatar is released to the stream', async () => {
    const user = await newUser();
    for (let i = 0; i < 2; i++) assert.equal((await addPng(user)).statusCode, 201);
    const before = (await backend.getUser(user.id))!;
    await backend.seed([{ id: user.id, sub: user.sub, username: (before as { username: string }).username, bio: 'seeded again' }]);
    const after = (await backend.getUser(user.id))!;
    assert.equal(after.bio, 'seeded again');
    assert.deepEqual([after.avatars, after.avatar_seq, after.avatar_key], [before.avatars, before.avatar_seq, before.avatar_key]);
  });

  it('methods the path does not serve: 405 with Allow', async () => {
    const user = await newUser();
    const res = await call(avatarEvent('PUT', { token: token(user) }));
    assert.equal(res.statusCode, 405);
    assert.equal(res.headers.Allow, 'GET, POST, PATCH, DELETE');
  });
});
