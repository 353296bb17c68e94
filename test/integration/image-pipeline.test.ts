// Uploaded images through the real handler, against DynamoDB Local and the S3 emulator: real
// camera and phone photos, files built to leak metadata past a deny list, trailers, bombs and
// animations. Every stored object is fetched at the URL the answer gives and read back with
// exiftool and a decoder; the expected sizes, orientation and absence of metadata are the
// contract's ("Images").
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import sharp, { type Sharp } from 'sharp';
import { createHandler, type Handler } from '../../src/functions/patch-user/handler.ts';
import { ValidationError } from '../../src/http/errors.ts';
import { normalizeImage, normalizeImages } from '../../src/images/normalize.ts';
import { inspectImage, type ImageInfo } from '../../src/images/header-check.ts';
import { imageRules } from '../../src/users/patch-fields.ts';
import { WORKER_FLAG } from '../../src/images/worker-flag.ts';
import { anmf, bytes, EOI, gif, jpeg, jpegSegment, pngChunk, riffChunk, u32be as u32, vp8l, vp8x, VP8X_FLAGS, webp } from '../../tools/support/images.ts';
import { fixtureEvent, multipartBody, startTestBackend, type FormValue, type TestBackend, userSeeder } from '../support/backend.ts';
import { leakyAnimatedWebp, leakyGif, leakyJpeg, leakyPng, leakyWebp, SECRETS, withGifExtensions } from '../support/leaky-images.ts';
import { animation, assertNoMetadata, decode, difference, exiftool, fingerprint, PHOTOS, type Decoded } from '../support/stored-images.ts';
import { accessToken, makeKey } from '../../tools/support/tokens.ts';

// A credential in this process's environment, as Lambda puts one there, before any image worker
// starts: the worker that decodes uploads must not get it.
const SECRET_IN_ENV = 'not-for-the-image-worker';
process.env.AWS_SECRET_ACCESS_KEY = SECRET_IN_ENV;

const key = makeKey();
let backend: TestBackend;
let handler: Handler;

before(async () => {
  backend = await startTestBackend({ keys: [key] });
  handler = createHandler(backend.config);
});
after(() => backend?.stop());

const AVATAR = 400;
const COVER = 1600;
const MIME: Record<string, string> = { jpg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp' };
const FORMAT_OF_EXT: Record<string, string> = { jpg: 'jpeg', png: 'png', gif: 'gif', webp: 'webp' };

const newUser = userSeeder(() => backend, 'pictures', 30_000);

interface Upload {
  status: number;
  body: Record<string, any>;
  stored: Partial<Record<'avatar' | 'cover', Stored>>;
  userId: number;
}

interface Stored {
  url: string;
  ext: string;
  bytes: Buffer;
  decoded: Decoded;
}

const file = (bytes: Buffer, name: string): FormValue => ({ bytes, filename: name, type: 'application/octet-stream' });

/** One multipart PATCH of a fresh user; every image the answer points at is fetched and decoded. */
async function upload(fields: Partial<Record<'avatar' | 'cover', Buffer>>, name = 'upload'): Promise<Upload> {
  const user = await newUser();
  const form = Object.entries(fields).map(([field, bytes]): [string, FormValue] => [field, file(bytes, name)]);
  const response = await handler(fixtureEvent('multipart', { id: user.id, token: accessToken(key, { sub: user.sub }, backend.pool), ...multipartBody(form) }));
  const body = JSON.parse(response.body) as Record<string, any>;
  const stored: Upload['stored'] = {};
  if (response.statusCode === 200) {
    for (const field of Object.keys(fields) as ('avatar' | 'cover')[]) {
      const url = body[field] as string;
      const got = await fetch(url);
      assert.equal(got.status, 200, `${field} is served`);
      const ext = /\.(\w+)$/.exec(url)![1]!;
      const bytes = Buffer.from(await got.arrayBuffer());
      assert.equal(got.headers.get('content-type'), MIME[ext], `${name} ${field}: served with the type of its bytes`);
      const decoded = await decode(bytes);
      assert.equal(decoded.format, FORMAT_OF_EXT[ext], `${name} ${field}: the key's extension names the stored format`);
      stored[field] = { url, ext, bytes, decoded };
    }
  }
  return { status: response.statusCode, body, stored, userId: user.id };
}

function assertRefused(result: Upload, field: string, code: string, message?: RegExp) {
  assert.equal(result.status, 400, JSON.stringify(result.body));
  const entry = (result.body.errors as { field: string; messages: { code: string; message: string }[] }[]).find((e) => e.field === field);
  assert.ok(entry, JSON.stringify(result.body));
  assert.deepEqual(entry.messages.map((m) => m.code), [code]);
  if (message) assert.match(entry.messages[0]!.message, message);
}

async function assertNothingStored(userId: number) {
  assert.deepEqual([...(await backend.objectKeys(`avatar/${userId}/`)), ...(await backend.objectKeys(`cover/${userId}/`))], []);
}

/** exiftool finds only the file's structure in every stored object, and no secret is in its bytes. */
async function assertClean(stored: { name: string; bytes: Buffer }[], secrets: readonly string[] = SECRETS) {
  for (const report of await exiftool(stored)) assertNoMetadata(report);
  for (const { name, bytes } of stored) {
    for (const secret of secrets) assert.ok(!bytes.includes(secret), `${name} contains ${JSON.stringify(secret)}`);
  }
}

const storedFiles = (result: Upload, name: string) =>
  Object.entries(result.stored).map(([field, s]) => ({ name: `${name} (${field})`, bytes: s!.bytes }));

/** The contract's sizes: a square of at most 400 px; a cover whose longer side is at most 1600 px; never up. */
function expectedAvatar(width: number, height: number) {
  const side = Math.min(AVATAR, width, height);
  return { width: side, height: side };
}
function assertCoverSize(got: Decoded, width: number, height: number, label: string) {
  const longer = Math.max(width, height);
  if (longer <= COVER) {
    assert.deepEqual([got.width, got.height], [width, height], `${label}: cover kept at its size`);
    return;
  }
  const scale = COVER / longer;
  assert.equal(Math.max(got.width, got.height), COVER, `${label}: longer side ${COVER}`);
  assert.ok(Math.abs(got.width - width * scale) <= 1 && Math.abs(got.height - height * scale) <= 1, `${label}: aspect kept (${got.width}×${got.height} from ${width}×${height})`);
}

// ---------------------------------------------------------------------------------------------

const photoFolders = ['gps', 'orientation', 'cameras', 'phones'];
const photos = photoFolders.flatMap((folder) => readdirSync(new URL(`${folder}/`, PHOTOS)).sort().map((name) => `${folder}/${name}`));

describe('real photos, as avatar and cover', () => {
  const results = new Map<string, Upload>();

  before(async () => {
    for (const photo of photos) {
      const bytes = readFileSync(new URL(photo, PHOTOS));
      results.set(photo, await upload({ avatar: bytes, cover: bytes }, photo));
    }
  });

  it('every photo is accepted and stored as a JPEG of the contract\'s sizes, upright', async () => {
    assert.ok(photos.length >= 30, `${photos.length} photos`);
    for (const photo of photos) {
      const result = results.get(photo)!;
      assert.equal(result.status, 200, `${photo}: ${JSON.stringify(result.body)}`);
      const meta = await sharp(readFileSync(new URL(photo, PHOTOS))).metadata();
      // Orientations 5-8 turn the picture a quarter: its displayed sides are swapped.
      const turned = (meta.orientation ?? 1) >= 5;
      const [width, height] = turned ? [meta.height, meta.width] : [meta.width, meta.height];
      const { avatar, cover } = result.stored;
      assert.equal(avatar!.ext, 'jpg');
      assert.equal(cover!.ext, 'jpg');
      assert.deepEqual([avatar!.decoded.width, avatar!.decoded.height], Object.values(expectedAvatar(width, height)), `${photo}: avatar`);
      assertCoverSize(cover!.decoded, width, height, photo);
    }
  });

  it('stored objects carry no GPS, make, model, serial, XMP, IPTC, ICC, comment, thumbnail or C2PA (exiftool)', async () => {
    const stored = photos.flatMap((photo) => storedFiles(results.get(photo)!, photo));
    assert.equal(stored.length, photos.length * 2);
    // The sources do carry them: the check below is not vacuous.
    const sources = await exiftool(photos.map((photo) => ({ name: photo, bytes: readFileSync(new URL(photo, PHOTOS)) })));
    assert.ok(sources.filter((s) => Object.keys(s.tags).some((k) => k.startsWith('GPS:'))).length >= 10, 'the sources carry GPS');
    await assertClean(stored, []);
  });

  it('photos with EXIF orientation 2-8 are stored turned upright: they show what orientation 1 shows', async () => {
    for (const shape of ['portrait', 'landscape']) {
      const upright = await fingerprint(results.get(`orientation/${shape}_1.jpg`)!.stored.cover!.bytes);
      const source = await fingerprint(readFileSync(new URL(`orientation/${shape}_1.jpg`, PHOTOS)));
      assert.ok(difference(upright, source) < 6, `${shape}_1 stored as it is`);
      // A turned picture differs a lot from the upright one, so the comparisons below can fail.
      const upsideDown = await sharp(upright, { raw: { width: 24, height: 24, channels: 1 } }).rotate(180).raw().toBuffer();
      assert.ok(difference(upright, upsideDown) > 15, `${shape}: the fingerprint tells orientations apart`);
      for (let orientation = 2; orientation <= 8; orientation++) {
        const cover = results.get(`orientation/${shape}_${orientation}.jpg`)!.stored.cover!;
        const expectedSides = shape === 'portrait' ? cover.decoded.height > cover.decoded.width : cover.decoded.width > cover.decoded.height;
        assert.ok(expectedSides, `${shape}_${orientation} stored ${shape}: ${cover.decoded.width}×${cover.decoded.height}`);
        const diff = difference(await fingerprint(cover.bytes), upright);
        assert.ok(diff < 6, `${shape}_${orientation} stored upright (difference ${diff.toFixed(1)})`);
      }
    }
  });

  it('the HDR gain-map JPEG (MPF, a second JPEG after EOI) is accepted; only the primary image is stored', async () => {
    const result = results.get('phones/apple-gainmap.jpg')!;
    assert.equal(result.status, 200);
    // The primary image is 384×512: never scaled up, the avatar is its 384×384 centre.
    assert.deepEqual([result.stored.avatar!.decoded.width, result.stored.avatar!.decoded.height], [384, 384]);
    assert.deepEqual([result.stored.cover!.decoded.width, result.stored.cover!.decoded.height], [384, 512]);
    for (const s of Object.values(result.stored)) {
      assert.equal(s!.bytes.indexOf(Buffer.from([0xff, 0xd8]), 2), -1, 'no second JPEG in the stored file');
      assert.ok(!s!.bytes.includes('MPF'), 'no MPF index');
    }
  });

  it('a TIFF is refused with invalid_image naming the accepted formats, and nothing is stored', async () => {
    const tiff = await sharp(readFileSync(new URL('gps/DSCN0010.jpg', PHOTOS))).tiff().toBuffer();
    for (const field of ['avatar', 'cover'] as const) {
      const result = await upload({ [field]: tiff }, 'photo.tif');
      assertRefused(result, field, 'invalid_image', /JPEG, PNG, GIF, WebP, HEIC or AVIF/);
      await assertNothingStored(result.userId);
    }
  });

  it('a 4.2 MB camera JPEG (a phone photo saved at quality 100, EXIF kept) is taken as avatar and as cover', async () => {
    // Phone photos are 3.1-4.2 MB; the contract takes by default the largest file one request
    // carries (README: 4,693,501 bytes as a multipart file), the same for avatar and cover.
    const phone = readFileSync(new URL('phones/nokia-8.3-gps.jpg', PHOTOS));
    const image = await sharp(phone).extract({ left: 0, top: 0, width: 4608, height: 1830 }).keepMetadata().jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toBuffer();
    assert.ok(image.length >= 4_200_000 && image.length <= 4_693_501, `${image.length} bytes`);
    for (const field of ['avatar', 'cover'] as const) {
      const started = performance.now();
      const result = await upload({ [field]: image }, `4.2MB ${field}`);
      const seconds = (performance.now() - started) / 1000;
      assert.equal(result.status, 200, JSON.stringify(result.body));
      const stored = result.stored[field]!.decoded;
      if (field === 'avatar') assert.deepEqual([stored.width, stored.height], [400, 400]);
      else assertCoverSize(stored, 4608, 1830, field);
      // Within the image time budget (3 s), with room: the handler's whole request.
      assert.ok(seconds < 3, `${field}: ${seconds.toFixed(2)} s`);
      await assertClean(storedFiles(result, `4.2MB ${field}`), []);
    }
  });

  it('a 4608×1976 phone photo becomes a 400×400 avatar and a 1600-px cover', () => {
    const { avatar, cover } = results.get('phones/nokia-8.3-gps.jpg')!.stored;
    assert.deepEqual([avatar!.decoded.width, avatar!.decoded.height], [400, 400]);
    assert.equal(cover!.decoded.width, 1600);
    assert.ok(Math.abs(cover!.decoded.height - (1976 * 1600) / 4608) <= 1);
    assert.ok(avatar!.bytes.length < 100_000, `avatar ${avatar!.bytes.length} bytes`);
  });
});

// ---------------------------------------------------------------------------------------------

/**
 * Phone formats (contract, Images: HEIC/HEIF and AVIF): the primary image, turned once (the
 * container's irot/imir, or the EXIF orientation where there is none), stored as JPEG (PNG when
 * transparent) with no metadata. Made from the real photos by tools/fixtures/make-heif-avif.sh:
 * `-irot` files carry both an irot/imir and the same EXIF orientation, `-exif` files only EXIF.
 * Each entry: the file, the upright reference it must show (or none), its upright size.
 */
const PHONE_FORMATS: [file: string, upright: string | undefined, width: number, height: number][] = [
  ['avif/portrait_5-irot.avif', 'orientation/portrait_1.jpg', 450, 600],
  ['avif/portrait_6-irot.avif', 'orientation/portrait_1.jpg', 450, 600],
  ['avif/landscape_8-irot.avif', 'orientation/landscape_1.jpg', 600, 450],
  ['avif/landscape_2-exif.avif', 'orientation/landscape_1.jpg', 600, 450],
  ['avif/landscape_3-exif.avif', 'orientation/landscape_1.jpg', 600, 450],
  ['avif/landscape_4-exif.avif', 'orientation/landscape_1.jpg', 600, 450],
  ['avif/landscape_5-exif.avif', 'orientation/landscape_1.jpg', 600, 450],
  ['avif/landscape_6-exif.avif', 'orientation/landscape_1.jpg', 600, 450],
  ['avif/landscape_7-exif.avif', 'orientation/landscape_1.jpg', 600, 450],
  ['avif/landscape_8-exif.avif', 'orientation/landscape_1.jpg', 600, 450],
  ['avif/gps-DSCN0010.avif', 'gps/DSCN0010.jpg', 640, 480],
  ['avif/nokia-8.3-gps.avif', 'phones/nokia-8.3-gps.jpg', 4608, 1976],
  ['heic/portrait_2-exif.heic', 'orientation/portrait_1.jpg', 450, 600],
  ['heic/portrait_3-exif.heic', 'orientation/portrait_1.jpg', 450, 600],
  ['heic/portrait_4-exif.heic', 'orientation/portrait_1.jpg', 450, 600],
  ['heic/portrait_5-exif.heic', 'orientation/portrait_1.jpg', 450, 600],
  ['heic/portrait_6-exif.heic', 'orientation/portrait_1.jpg', 450, 600],
  ['heic/portrait_7-exif.heic', 'orientation/portrait_1.jpg', 450, 600],
  ['heic/portrait_8-exif.heic', 'orientation/portrait_1.jpg', 450, 600],
  ['heic/gps-DSCN0010.heic', 'gps/DSCN0010.jpg', 640, 480],
  ['heic/nokia-8.3-gps.heic', 'phones/nokia-8.3-gps.jpg', 4608, 1976],
  ['heic/sample.heif', undefined, 640, 426],
  // A grid of 48 HEVC tiles with irot and EXIF orientation 6 for the same turn: portrait, turned once.
  ['heic/iphone-13-pro-max.heic', undefined, 3024, 4032],
  ['heic/nokia-8.3-hdr.heif', undefined, 4608, 3456],
];

describe('HEIC/HEIF and AVIF photos, as avatar and cover', () => {
  const results = new Map<string, Upload>();

  before(async () => {
    for (const [photo] of PHONE_FORMATS) {
      const bytes = readFileSync(new URL(photo, PHOTOS));
      // One request each: two 12-megapixel HEICs in one request are decoded one after the other
      // within one time budget and one memory bound, which the largest photos here do not fit.
      const avatar = await upload({ avatar: bytes }, photo);
      const cover = await upload({ cover: bytes }, photo);
      results.set(photo, { ...avatar, status: Math.max(avatar.status, cover.status), body: avatar.status === 200 ? cover.body : avatar.body, stored: { ...avatar.stored, ...cover.stored } });
    }
  });

  it('each is accepted and stored as a JPEG of the contract\'s sizes', () => {
    for (const [photo, , width, height] of PHONE_FORMATS) {
      const result = results.get(photo)!;
      assert.equal(result.status, 200, `${photo}: ${JSON.stringify(result.body)}`);
      const { avatar, cover } = result.stored;
      assert.equal(avatar!.ext, 'jpg', photo);
      assert.equal(cover!.ext, 'jpg', photo);
      assert.deepEqual([avatar!.decoded.width, avatar!.decoded.height], Object.values(expectedAvatar(width, height)), `${photo}: avatar`);
      assertCoverSize(cover!.decoded, width, height, photo);
    }
  });

  it('each is stored upright, turned once: of the eight ways to turn and mirror it, the upright one shows what the upright JPEG shows', async () => {
    for (const [photo, upright] of PHONE_FORMATS) {
      if (!upright) continue;
      const expected = await fingerprint(readFileSync(new URL(upright, PHOTOS)), true);
      const cover = results.get(photo)!.stored.cover!.bytes;
      const turns = [(s: ReturnType<typeof sharp>) => s, (s: ReturnType<typeof sharp>) => s.rotate(180), (s: ReturnType<typeof sharp>) => s.flip(), (s: ReturnType<typeof sharp>) => s.flop()];
      const diffs: number[] = [];
      for (const turn of turns) {
        const turned = await turn(sharp(cover)).toBuffer();
        diffs.push(difference(await fingerprint(turned), expected));
      }
      const [asStored, ...others] = diffs;
      // Quarter turns change the shape, which the size test above checks; the rest are told apart here.
      assert.ok(asStored! < 16 && others.every((d) => d > asStored! * 2), `${photo} stored upright (differences ${diffs.map((d) => d.toFixed(1)).join(', ')})`);
    }
  });

  it('stored objects carry no metadata (exiftool), though the sources carry EXIF and GPS', async () => {
    const sources = await exiftool(PHONE_FORMATS.map(([photo]) => ({ name: photo, bytes: readFileSync(new URL(photo, PHOTOS)) })));
    assert.ok(sources.filter((s) => Object.keys(s.tags).some((k) => k.startsWith('GPS:'))).length >= 4, 'the sources carry GPS');
    await assertClean(PHONE_FORMATS.flatMap(([photo]) => storedFiles(results.get(photo)!, photo)), []);
  });

  it('an AVIF with transparency is stored as a PNG that keeps it; an opaque alpha plane gives a JPEG', async () => {
    const half = Buffer.alloc(64 * 48 * 4);
    for (let i = 0; i < 64 * 48; i++) half.set([200, 40, 40, i % 64 < 32 ? 0 : 255], i * 4);
    const transparent = await sharp(half, { raw: { width: 64, height: 48, channels: 4 } }).avif({ quality: 60 }).toBuffer();
    const opaque = await sharp(half.map((v, i) => (i % 4 === 3 ? 255 : v)), { raw: { width: 64, height: 48, channels: 4 } }).avif({ quality: 60 }).toBuffer();
    assert.equal((await sharp(opaque).metadata()).hasAlpha, true, 'the opaque file has an alpha plane');

    const clear = await upload({ avatar: transparent, cover: transparent }, 'alpha.avif');
    assert.equal(clear.status, 200, JSON.stringify(clear.body));
    assert.equal(clear.stored.cover!.ext, 'png');
    const pixels = await sharp(clear.stored.cover!.bytes).raw().toBuffer({ resolveWithObject: true });
    assert.equal(pixels.info.channels, 4);
    assert.deepEqual([pixels.info.width, pixels.info.height], [64, 48]);
    assert.ok(pixels.data[3]! < 16 && pixels.data[63 * 4 + 3]! > 240, 'left half clear, right half opaque');
    assert.equal(clear.stored.avatar!.ext, 'png');

    const solid = await upload({ avatar: opaque }, 'opaque.avif');
    assert.equal(solid.status, 200, JSON.stringify(solid.body));
    assert.equal(solid.stored.avatar!.ext, 'jpg');
  });

  it('public AVIF samples (AOMediaCodec/av1-avif): alpha stored as PNG, 10-bit monochrome of odd sizes as JPEG', async () => {
    const alpha = await upload({ cover: readFileSync(new URL('avif/av1-avif/bbb_alpha_inverted.avif', PHOTOS)) }, 'bbb_alpha_inverted.avif');
    assert.equal(alpha.status, 200, JSON.stringify(alpha.body));
    assert.equal(alpha.stored.cover!.ext, 'png');
    assert.deepEqual([alpha.stored.cover!.decoded.width, alpha.stored.cover!.decoded.height], [1600, 900]);
    const stats = await sharp(alpha.stored.cover!.bytes).stats();
    assert.equal(stats.isOpaque, false, 'the transparency is kept');
    const fox = await upload({ cover: readFileSync(new URL('avif/av1-avif/fox.profile0.10bpc.yuv420.monochrome.odd-width.odd-height.avif', PHOTOS)) }, 'fox.avif');
    assert.equal(fox.status, 200, JSON.stringify(fox.body));
    assert.equal(fox.stored.cover!.ext, 'jpg');
    assert.deepEqual([fox.stored.cover!.decoded.width, fox.stored.cover!.decoded.height], [1203, 799]);
    await assertClean([...storedFiles(alpha, 'bbb'), ...storedFiles(fox, 'fox')], []);
  });

  it('an AVIF image sequence (brand avis) with a primary still image: that image is stored', async () => {
    const still = readFileSync(new URL('avif/gps-DSCN0010.avif', PHOTOS));
    const sequence = Buffer.from(still);
    assert.equal(sequence.toString('latin1', 4, 12), 'ftypavif');
    sequence.write('avis', 8, 'latin1');
    const result = await upload({ cover: sequence }, 'sequence.avif');
    assert.equal(result.status, 200, JSON.stringify(result.body));
    assert.equal(result.stored.cover!.ext, 'jpg');
    assert.deepEqual([result.stored.cover!.decoded.width, result.stored.cover!.decoded.height], [640, 480]);
  });

  it('a HEIC with transparency is stored as a PNG that keeps it', async () => {
    const result = await upload({ avatar: readFileSync(new URL('heic/alpha.heic', PHOTOS)) }, 'alpha.heic');
    assert.equal(result.status, 200, JSON.stringify(result.body));
    assert.equal(result.stored.avatar!.ext, 'png');
    const pixels = await sharp(result.stored.avatar!.bytes).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([pixels.info.width, pixels.info.height, pixels.info.channels], [48, 48, 4]);
    // The avatar is the centre 48×48 of the 64×48 image: columns 8-31 clear, 32-55 opaque.
    assert.ok(pixels.data[3]! < 16 && pixels.data[47 * 4 + 3]! > 240, 'left clear, right opaque');
  });

  it('colours are converted to sRGB: Display P3 signalled by an ICC profile (an iPhone\'s HEIC, an AVIF) or by code points (an AVIF)', async () => {
    // Four sRGB patches whose numbers were converted to Display P3 (tools/fixtures/make-heif-avif.sh):
    // converted back, each patch is its sRGB colour again; taken as sRGB, red would be 202,49,37.
    const patches: [x: number, y: number, rgb: number[]][] = [
      [32, 32, [220, 20, 20]],
      [96, 32, [20, 200, 40]],
      [32, 96, [20, 40, 220]],
      [96, 96, [240, 160, 20]],
    ];
    for (const file of ['heic/p3-icc.heic', 'avif/p3-nclx.avif', 'avif/p3-icc.avif']) {
      const result = await upload({ cover: readFileSync(new URL(file, PHOTOS)) }, file);
      assert.equal(result.status, 200, `${file}: ${JSON.stringify(result.body)}`);
      const stored = result.stored.cover!;
      assert.equal(stored.ext, 'jpg', file);
      assert.equal((await sharp(stored.bytes).metadata()).hasProfile, false, `${file}: stored without a profile`);
      const { data, info } = await sharp(stored.bytes).raw().toBuffer({ resolveWithObject: true });
      for (const [x, y, rgb] of patches) {
        const at = (y * info.width + x) * info.channels;
        const got = [...data.subarray(at, at + 3)];
        assert.ok(got.every((value, i) => Math.abs(value - rgb[i]!) <= 12), `${file} at ${x},${y}: sRGB ${rgb}, got ${got}`);
      }
    }
  });

  it('the same HEIC as avatar and cover in one request is decoded once: a 16-MP photo whose two decodes would pass the request\'s memory bound is stored twice', async () => {
    // 4608×3456: one decode is estimated at about 160 MB, two at more than the 256 MiB bound.
    const photo = readFileSync(new URL('heic/nokia-8.3-hdr.heif', PHOTOS));
    const result = await upload({ avatar: photo, cover: photo }, 'nokia-8.3-hdr.heif');
    assert.equal(result.status, 200, JSON.stringify(result.body));
    const { avatar, cover } = result.stored;
    assert.deepEqual([avatar!.ext, avatar!.decoded.width, avatar!.decoded.height], ['jpg', 400, 400]);
    assert.deepEqual([cover!.ext, cover!.decoded.width, cover!.decoded.height], ['jpg', 1600, 1200]);
    // The same picture in two different files (one with an empty `free` box after it) is decoded
    // twice: over the bound, one at a time.
    const freeBox = Buffer.from([0, 0, 0, 8, ...Buffer.from('free')]);
    const twice = await upload({ avatar: photo, cover: Buffer.concat([photo, freeBox]) }, 'two-files.heif');
    assertRefused(twice, 'cover', 'image_too_large', /256 MiB/);
  });

  it('pixels kept for the next image serve only that same file', async () => {
    const limits = backend.config.images;
    const normalized = async (name: string, field: 'avatar' | 'cover', keepDecoded = false) => {
      const bytes = readFileSync(new URL(name, PHOTOS));
      const info = inspectImage(bytes, imageRules(field, limits));
      const { info: out } = await normalizeImage({ field, bytes, info }, field, limits, keepDecoded);
      return [out.width, out.height];
    };
    assert.deepEqual(await normalized('heic/portrait_6-exif.heic', 'avatar', true), [400, 400]);
    assert.deepEqual(await normalized('heic/gps-DSCN0010.heic', 'cover'), [640, 480], 'another file: its own pixels');
    assert.deepEqual(await normalized('heic/portrait_6-exif.heic', 'cover'), [450, 600], 'kept once only, then decoded again');
  });

  it('an AVIF whose coded data is damaged is invalid_image, and nothing is stored', async () => {
    const damaged = Buffer.from(readFileSync(new URL('avif/gps-DSCN0010.avif', PHOTOS)));
    const mdat = damaged.indexOf('mdat');
    damaged.fill(0, mdat + 4, mdat + 4 + 64); // the AV1 sequence header and frame header
    const result = await upload({ avatar: damaged }, 'damaged.avif');
    assertRefused(result, 'avatar', 'invalid_image');
    await assertNothingStored(result.userId);
  });
});

// ---------------------------------------------------------------------------------------------

describe('metadata a deny list misses is not stored', () => {
  const cases: [string, () => Promise<Buffer>, string][] = [
    ['PNG exIf, zxIf, tXMP, caBX (C2PA), tIME, eXIf, tEXt, iTXt chunks and an ICC profile', leakyPng, 'png'],
    ['WebP _PMX, LIST/INFO, IDIT, C2PA, EXIF and XMP chunks', leakyWebp, 'webp'],
    ['WebP EXIF and XMP inside every ANMF frame', () => leakyAnimatedWebp(3), 'webp'],
    ['GIF plain-text, comment, unknown and application (XMP, vendor) extensions', leakyGif, 'gif'],
    ['animated GIF with the same extensions', async () => withGifExtensions(await animation('gif', 3, 80, 60)), 'gif'],
    ['JPEG JFIF APP0 thumbnail, JFXX JPEG thumbnail, EXIF with GPS, XMP, IPTC, ICC and a comment', leakyJpeg, 'jpg'],
  ];
  for (const [name, build, ext] of cases) {
    it(name, async () => {
      const image = await build();
      const sourceReport = (await exiftool([{ name, bytes: image }]))[0]!;
      assert.throws(() => assertNoMetadata(sourceReport), 'exiftool sees metadata in the upload');
      assert.ok(SECRETS.some((s) => image.includes(s)), 'the upload carries the secrets');
      const result = await upload({ avatar: image, cover: image }, name);
      assert.equal(result.status, 200, JSON.stringify(result.body));
      for (const s of Object.values(result.stored)) assert.equal(s!.ext, ext, 'stored in the uploaded format');
      await assertClean(storedFiles(result, name));
    });
  }

  it('a P3 ICC profile is converted: the stored PNG has no profile and sRGB colours', async () => {
    const red = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 255, g: 0, b: 0 } } }).withIccProfile('p3').png().toBuffer();
    const result = await upload({ cover: red }, 'p3.png');
    assert.equal(result.status, 200);
    const stored = result.stored.cover!.bytes;
    assert.equal((await sharp(stored).metadata()).hasProfile, false);
    const { data } = await sharp(stored).raw().toBuffer({ resolveWithObject: true });
    // Pure P3 red is outside sRGB: converted, it is clipped to sRGB red, not stored as the P3 numbers.
    assert.ok(data[0]! > 240 && data[1]! < 40 && data[2]! < 40, `sRGB red, got ${[...data.subarray(0, 3)]}`);
  });
});

// ---------------------------------------------------------------------------------------------

/** The chunk types of a PNG, in order. */
function pngChunks(png: Buffer): string[] {
  const types: string[] = [];
  for (let pos = 8; pos + 12 <= png.length; pos += 12 + png.readUInt32BE(pos)) types.push(png.toString('latin1', pos + 4, pos + 8));
  return types;
}
/** Chunks a PNG needs for its pixels and colours: no metadata (the contract's "no metadata at all"). */
const IMAGE_CHUNKS = new Set(['IHDR', 'PLTE', 'tRNS', 'IDAT', 'IEND']);

describe('PNG chunks and gamma', () => {
  const photoPng = (width: number, height: number) =>
    sharp(readFileSync(new URL('gps/DSCN0010.jpg', PHOTOS))).resize(width, height).png().toBuffer();
  /** The PNG with a chunk inserted right after IHDR (as an image editor writes gAMA, sRGB, pHYs). */
  const withChunk = (png: Buffer, chunk: Buffer) => Buffer.concat([png.subarray(0, 33), chunk, png.subarray(33)]);
  const gama = (gamma: number) => pngChunk('gAMA', u32(Math.round(gamma * 100_000)));

  it('a stored PNG keeps no pHYs and no other ancillary chunk', async () => {
    const upload0 = withChunk(await photoPng(64, 48), pngChunk('pHYs', Buffer.concat([u32(11811), u32(11811), bytes(1)])));
    assert.ok(pngChunks(upload0).includes('pHYs'));
    const result = await upload({ avatar: upload0, cover: upload0 }, 'phys.png');
    assert.equal(result.status, 200, JSON.stringify(result.body));
    for (const [field, stored] of Object.entries(result.stored)) {
      const chunks = pngChunks(stored!.bytes);
      assert.deepEqual(chunks.filter((c) => !IMAGE_CHUNKS.has(c)), [], `${field}: ${chunks.join(' ')}`);
    }
  });

  it('a gAMA 1.0 PNG is stored with its gamma applied (sRGB samples = linear ^ (1/2.2)); sRGB\'s own gAMA changes nothing', async () => {
    const plain = await photoPng(64, 48);
    const source = await sharp(plain).raw().toBuffer();
    const check = async (name: string, image: Buffer, expected: (sample: number) => number) => {
      const result = await upload({ cover: image }, name);
      assert.equal(result.status, 200, JSON.stringify(result.body));
      const stored = result.stored.cover!.bytes;
      assert.deepEqual(pngChunks(stored).filter((c) => !IMAGE_CHUNKS.has(c)), [], name);
      const got = await sharp(stored).raw().toBuffer();
      assert.equal(got.length, source.length, `${name}: stored at its own size`);
      let worst = 0;
      for (let i = 0; i < source.length; i++) worst = Math.max(worst, Math.abs(got[i]! - expected(source[i]!)));
      assert.ok(worst <= 2, `${name}: off by up to ${worst}`);
    };
    await check('gamma-1.png', withChunk(plain, gama(1)), (s) => Math.round(255 * (s / 255) ** (1 / 2.2)));
    await check('gamma-srgb.png', withChunk(plain, gama(1 / 2.2)), (s) => s);
    // sRGB takes precedence over gAMA (PNG spec): nothing to apply.
    await check('gamma-1-srgb.png', withChunk(plain, Buffer.concat([pngChunk('sRGB', bytes(0)), gama(1)])), (s) => s);
  });
});

// ---------------------------------------------------------------------------------------------

describe('stored no bigger than a faithful encoding needs', () => {
  const photo = () => readFileSync(new URL('gps/DSCN0010.jpg', PHOTOS)); // 640×480
  const greyOf = (image: Sharp) => image.greyscale().toColourspace('b-w');
  const samples = (bytes: Buffer) => sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  /** How far the stored samples are from the upload's: exactly none for a PNG (lossless), on average a few for a JPEG. */
  async function assertFaithful(stored: Buffer, image: Buffer, name: string) {
    const [x, y] = [await samples(stored), await samples(image)];
    assert.equal(x.info.channels, y.info.channels, name);
    assert.equal(x.data.length, y.data.length, name);
    let worst = 0;
    let sum = 0;
    for (let i = 0; i < x.data.length; i++) {
      const d = Math.abs(x.data[i]! - y.data[i]!);
      worst = Math.max(worst, d);
      sum += d;
    }
    if (name.endsWith('.png')) assert.equal(worst, 0, `${name}: lossless`);
    else assert.ok(sum / x.data.length <= 4, `${name}: mean difference ${(sum / x.data.length).toFixed(2)}`);
  }

  it('a greyscale JPEG and a greyscale PNG (with and without alpha) are stored greyscale', async () => {
    const uploads: [string, Buffer, number][] = [
      ['grey.jpg', await greyOf(sharp(photo())).jpeg({ quality: 90 }).toBuffer(), 1],
      ['grey.png', await greyOf(sharp(photo())).png().toBuffer(), 1],
      ['grey-alpha.png', await greyOf(sharp(photo())).ensureAlpha(0.5).png().toBuffer(), 2],
    ];
    for (const [name, image, channels] of uploads) {
      assert.equal((await sharp(image).metadata()).channels, channels, `${name}: the upload is greyscale`);
      const result = await upload({ avatar: image, cover: image }, name);
      assert.equal(result.status, 200, JSON.stringify(result.body));
      for (const [field, stored] of Object.entries(result.stored)) {
        const meta = await sharp(stored!.bytes).metadata();
        assert.deepEqual([meta.channels, meta.space], [channels, 'b-w'], `${name} ${field}`);
      }
      // The cover is kept at its size: the same grey pixels, in no more bytes than the upload.
      await assertFaithful(result.stored.cover!.bytes, image, name);
      assert.ok(result.stored.cover!.bytes.length <= image.length, `${name}: ${result.stored.cover!.bytes.length} > ${image.length}`);
    }
  });

  it('a palette PNG is stored as a palette PNG, losslessly when kept at its size', async () => {
    const image = await sharp(photo()).png({ palette: true, colours: 64 }).toBuffer();
    const result = await upload({ avatar: image, cover: image }, 'palette.png');
    assert.equal(result.status, 200, JSON.stringify(result.body));
    for (const [field, stored] of Object.entries(result.stored)) assert.equal((await sharp(stored!.bytes).metadata()).isPalette, true, field);
    await assertFaithful(result.stored.cover!.bytes, image, 'palette.png');
    assert.ok(result.stored.cover!.bytes.length <= image.length, `${result.stored.cover!.bytes.length} > ${image.length}`);
  });

  it('a cover kept at its size is never stored larger than its upload: a coarse JPEG, a tightly packed PNG', async () => {
    const uploads: [string, Buffer][] = [
      ['quality-60.jpg', await sharp(photo()).jpeg({ quality: 60 }).toBuffer()],
      ['level-9.png', await sharp(photo()).png({ compressionLevel: 9, adaptiveFiltering: true }).toBuffer()],
    ];
    for (const [name, image] of uploads) {
      const result = await upload({ cover: image }, name);
      assert.equal(result.status, 200, JSON.stringify(result.body));
      const stored = result.stored.cover!.bytes;
      assert.deepEqual([result.stored.cover!.decoded.width, result.stored.cover!.decoded.height], [640, 480], name);
      assert.ok(stored.length <= image.length, `${name}: stored ${stored.length} > upload ${image.length}`);
      // Faithful: the same picture (PNG exactly; JPEG within its own coarseness).
      await assertFaithful(stored, image, name);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('trailers and bombs', () => {
  const photo = () => readFileSync(new URL('gps/DSCN0010.jpg', PHOTOS));

  it('a JPEG with one byte after its end marker is accepted and stored clean', async () => {
    const result = await upload({ avatar: Buffer.concat([photo(), bytes(0x0a)]) }, 'one-byte.jpg');
    assert.equal(result.status, 200, JSON.stringify(result.body));
    assert.deepEqual([result.stored.avatar!.decoded.width, result.stored.avatar!.decoded.height], [400, 400]);
    await assertClean(storedFiles(result, 'one-byte.jpg'), []);
  });

  // Two shapes from a run over real images, rebuilt from a real photo: a camera-trap photo whose
  // XMP segment length is 2 bytes short, and Photoshop CS5 output with an Adobe segment written
  // without its FF EE marker. libjpeg skips such bytes with a warning; the header walk must not
  // refuse what the decoder takes.
  const strayShapes = () => {
    const real = photo();
    const xmpAt = real.indexOf('http://ns.adobe.com/xap/1.0/') - 4;
    assert.deepEqual([real[xmpAt], real[xmpAt + 1]], [0xff, 0xe1], 'the photo has an XMP APP1');
    const shortXmp = Buffer.from(real);
    shortXmp.writeUInt16BE(real.readUInt16BE(xmpAt + 2) - 2, xmpAt + 2);
    const afterFirst = 4 + real.readUInt16BE(4);
    const adobe = Buffer.concat([bytes(0x00, 0x0e), Buffer.from('Adobe'), bytes(0x00, 0x64, 0x80, 0, 0, 0, 0, 1)]);
    const markerless = Buffer.concat([real.subarray(0, afterFirst), adobe, real.subarray(afterFirst)]);
    return { 'short-xmp.jpg': shortXmp, 'markerless-adobe.jpg': markerless };
  };

  it('JPEGs with stray bytes between segments decode in libvips at the service\'s failOn (error), and are stored', async () => {
    for (const [name, image] of Object.entries(strayShapes())) {
      // libvips itself, as the service runs it (failOn 'error': a decoder warning is no refusal).
      const decoded = await sharp(image, { failOn: 'error' }).raw().toBuffer({ resolveWithObject: true });
      const { width, height } = decoded.info;
      assert.ok(width > 0 && height > 0, name);
      const result = await upload({ avatar: image, cover: image }, name);
      assert.equal(result.status, 200, `${name}: ${JSON.stringify(result.body)}`);
      assert.deepEqual([result.stored.avatar!.decoded.width, result.stored.avatar!.decoded.height], [400, 400], name);
      assertCoverSize(result.stored.cover!.decoded, width, height, name);
      await assertClean(storedFiles(result, name), []);
    }
  });

  it('a PNG with a script after IEND is stored without it', async () => {
    const png = await sharp(photo()).resize(32, 24).png().toBuffer();
    const result = await upload({ cover: Buffer.concat([png, Buffer.from('<script>alert(1)</script>')]) }, 'trailer.png');
    assert.equal(result.status, 200);
    assert.ok(!result.stored.cover!.bytes.includes('<script>'));
  });

  it('a progressive JPEG repeating one scan thousands of times is refused before decoding', async () => {
    const scan = Buffer.concat([jpegSegment(0xda, bytes(1, 1, 0x00, 1, 5, 0)), bytes(0x3f)]);
    const base = jpeg({ width: 8192, height: 4096, sof: 0xc2, scan: bytes(0x3f) });
    const bomb = Buffer.concat([base.subarray(0, base.length - 2), ...Array.from({ length: 3000 }, () => scan), EOI]);
    assert.ok(bomb.length < 200_000);
    const result = await upload({ avatar: bomb }, 'scans.jpg');
    // The pre-check's own message: libvips never saw the file.
    assertRefused(result, 'avatar', 'invalid_image', /more than 64 scans/);
    await assertNothingStored(result.userId);
  });

  it('a GIF with 120,000 frames is refused before decoding', async () => {
    const frame = gif({ width: 1, height: 1 }).subarray(19, -1);
    const head = gif({ width: 1, height: 1, loop: true, frames: [] }).subarray(0, -1);
    const bomb = Buffer.concat([head, Buffer.concat(Array.from({ length: 120_000 }, () => frame)), bytes(0x3b)]);
    assert.ok(bomb.length < 3 * 1024 * 1024);
    const result = await upload({ avatar: bomb }, 'frames.gif');
    assertRefused(result, 'avatar', 'image_too_large', /more than 300 frames/);
    await assertNothingStored(result.userId);
  });

  it('3 MiB of 4-byte segments is answered, and stored without them', async () => {
    const real = await sharp(photo()).resize(64, 48).jpeg().toBuffer();
    const segments = Buffer.alloc(3 * 1024 * 1024 - real.length - 16);
    for (let i = 0; i + 4 <= segments.length; i += 4) segments.set([0xff, 0xfe, 0x00, 0x02], i);
    const image = Buffer.concat([real.subarray(0, 2), segments, real.subarray(2)]);
    const result = await upload({ avatar: image }, 'segments.jpg');
    assert.equal(result.status, 200, JSON.stringify(result.body));
    assert.ok(result.stored.avatar!.bytes.length < 10_000);
    await assertClean(storedFiles(result, 'segments.jpg'), []);
  });

  it('an animation over 300 frames or 60 megapixels across its frames is refused', async () => {
    const frames = (n: number) => Array.from({ length: n }, () => ({ width: 1, height: 1 }));
    const tooMany = await upload({ avatar: gif({ width: 2, height: 2, frames: frames(301) }) }, '301.gif');
    assertRefused(tooMany, 'avatar', 'image_too_large', /more than 300 frames/);
    const tooBig = await upload({ cover: gif({ width: 1000, height: 1000, frames: frames(61) }) }, '61mp.gif');
    assertRefused(tooBig, 'cover', 'image_too_large', /60 megapixels across all frames/);
  });

  it('the time budget holds whatever the file: the worker decoding it is ended, and the answer is image_too_large', async () => {
    // A GIF that keeps libvips busy for seconds (frames of 8192×2048 after a first frame that
    // fits its 1×2048 screen), and one that libvips' own timeout would not stop: the avatar of
    // such a file is 1×1 a frame, and the timeout is checked only as regions of output finish.
    // It is handed over with the header facts the pre-check reported before it counted frames at
    // their real size, so that nothing but the budget (1 s here) stands in the way.
    const frames = [{ width: 1, height: 2048 }, ...Array.from({ length: 120 }, () => ({ width: 8192, height: 2048 }))];
    const slow = gif({ width: 1, height: 2048, packed: true, frames });
    const limits = { ...backend.config.images, timeoutSeconds: 1 };
    const info: ImageInfo = { type: 'gif', mime: 'image/gif', ext: 'gif', width: 1, height: 2048, frames: frames.length, decodeBytes: 0 };
    const started = performance.now();
    const error = await normalizeImages({ text: {}, images: { avatar: { field: 'avatar', bytes: slow, info } } }, limits).then(
      () => assert.fail('the budget should stop it'),
      (e: unknown) => e,
    );
    const elapsed = performance.now() - started;
    assert.ok(error instanceof ValidationError, String(error));
    assert.deepEqual(error.fields.map((e) => [e.field, e.messages.map((m) => m.code)]), [['avatar', ['image_too_large']]]);
    assert.ok(elapsed < 2000, `stopped after ${Math.round(elapsed)} ms, budget 1000 ms`);
    // The next request gets a worker again, and a legitimate animation goes through.
    const small = gif({ width: 8, height: 8, frames: [{ width: 8, height: 8 }, { width: 8, height: 8 }] });
    const smallInfo: ImageInfo = { type: 'gif', mime: 'image/gif', ext: 'gif', width: 8, height: 8, frames: 2, decodeBytes: 256 };
    const ok = await normalizeImages({ text: {}, images: { avatar: { field: 'avatar', bytes: small, info: smallInfo } } }, limits);
    assert.equal(ok.images.avatar?.info.frames, 2);
  });

  it('the worker that decodes uploads holds no AWS credentials, and runs with two malloc arenas', async () => {
    const small = gif({ width: 8, height: 8, frames: [{ width: 8, height: 8 }] });
    const info: ImageInfo = { type: 'gif', mime: 'image/gif', ext: 'gif', width: 8, height: 8, frames: 1, decodeBytes: 256 };
    await normalizeImages({ text: {}, images: { avatar: { field: 'avatar', bytes: small, info } } }, backend.config.images);
    assert.equal(process.env.AWS_SECRET_ACCESS_KEY, SECRET_IN_ENV, 'this process holds one (set at the top of this file)');
    // This process's children started as the image worker (src/images/worker-flag.ts), as Linux lists them.
    const workers = readdirSync('/proc').filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return parent === process.pid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(WORKER_FLAG);
      } catch {
        return false; // a process that ended meanwhile
      }
    });
    assert.ok(workers.length >= 1, 'the image worker runs');
    for (const pid of workers) {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      assert.deepEqual(env.filter((entry) => entry.startsWith('AWS_') || entry.includes(SECRET_IN_ENV)), [], `worker ${pid}`);
      assert.ok(env.includes('MALLOC_ARENA_MAX=2'), `worker ${pid}`);
    }
  });

  it('a request whose images together would hold more than the memory bound is refused before decoding', async () => {
    // An animated WebP of 2 frames on a 5477×5477 canvas (240 MB composed) and a progressive
    // 8000×5000 greyscale JPEG (80 MB of coefficients): each fits alone, not both. Declared only.
    const canvas = webp([
      riffChunk('VP8X', vp8x(5477, 5477, VP8X_FLAGS.animation)),
      riffChunk('ANIM', Buffer.alloc(6)),
      ...Array.from({ length: 2 }, () => riffChunk('ANMF', anmf(0, 0, 1, 1, [riffChunk('VP8L', vp8l(1, 1))]))),
    ]);
    const progressive = jpeg({ width: 8000, height: 5000, sof: 0xc2, scan: Buffer.alloc(8) });
    const result = await upload({ avatar: canvas, cover: progressive }, 'declared');
    assertRefused(result, 'cover', 'image_too_large', /more than 256 MiB of memory together/);
  });

  it('a truncated real JPEG is invalid_image, not a 500', async () => {
    const whole = photo();
    const result = await upload({ avatar: whole.subarray(0, Math.floor(whole.length / 2)) }, 'truncated.jpg');
    assertRefused(result, 'avatar', 'invalid_image');
    await assertNothingStored(result.userId);
  });

  it('a WebP whose header parses but whose bitstream does not decode is invalid_image, not a 500', async () => {
    const { riffChunk, vp8l, webp } = await import('../../tools/support/images.ts');
    const result = await upload({ cover: webp([riffChunk('VP8L', vp8l(16, 16))]) }, 'filler.webp');
    assertRefused(result, 'cover', 'invalid_image');
    await assertNothingStored(result.userId);
  });
});

// ---------------------------------------------------------------------------------------------

describe('animations', () => {
  for (const format of ['gif', 'webp'] as const) {
    it(`an animated ${format.toUpperCase()} stays animated: every frame cropped to the avatar, scaled for the cover`, async () => {
      const image = await animation(format, 6, 640, 480);
      const result = await upload({ avatar: image, cover: image }, `anim.${format}`);
      assert.equal(result.status, 200, JSON.stringify(result.body));
      const { avatar, cover } = result.stored;
      assert.deepEqual(avatar!.decoded, { format, width: 400, height: 400, frames: 6 });
      assert.deepEqual(cover!.decoded, { format, width: 640, height: 480, frames: 6 });
      await assertClean(storedFiles(result, `anim.${format}`), []);
    });
  }

  it('an animated WebP wider than 1600 px is scaled, every frame', async () => {
    const image = await animation('webp', 3, 2000, 1000);
    const result = await upload({ cover: image }, 'wide.webp');
    assert.equal(result.status, 200);
    assert.deepEqual(result.stored.cover!.decoded, { format: 'webp', width: 1600, height: 800, frames: 3 });
  });

  it('an animated PNG keeps its first frame', async () => {
    // An APNG: acTL before IDAT, the default image (IDAT) is the first frame, then one fcTL/fdAT frame.
    const { png, pngChunk, u32be } = await import('../../tools/support/images.ts');
    const still = png({ width: 6, height: 4 });
    const ihdrEnd = 8 + 25;
    const fctl = (seq: number) => pngChunk('fcTL', Buffer.concat([u32be(seq), u32be(6), u32be(4), u32be(0), u32be(0), bytes(0, 1, 0, 10, 0, 0)]));
    const idat = still.subarray(ihdrEnd, still.length - 12);
    const fdat = pngChunk('fdAT', Buffer.concat([u32be(2), idat.subarray(8, idat.length - 4)]));
    const apng = Buffer.concat([still.subarray(0, ihdrEnd), pngChunk('acTL', Buffer.concat([u32be(2), u32be(0)])), fctl(0), idat, fctl(1), fdat, still.subarray(still.length - 12)]);
    const result = await upload({ cover: apng }, 'anim.png');
    assert.equal(result.status, 200, JSON.stringify(result.body));
    assert.deepEqual(result.stored.cover!.decoded, { format: 'png', width: 6, height: 4, frames: 1 });
    assert.ok(!result.stored.cover!.bytes.includes('acTL'));
  });
});
