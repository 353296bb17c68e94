// The artifact that deploys is the artifact tested: the zip of `osls package --stage prod`,
// unzipped, run by Node 24 for linux-arm64 (Lambda's nodejs24.x on arm64) under qemu user mode,
// its Lambda entry handling API Gateway events against DynamoDB Local and the S3 emulator.
// tools/support/arm64.ts fetches that Node from the npm registry; README "Node 24 and arm64".
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { arm64NodeCommand, packageProd, unzipTo } from '../../tools/support/arm64.ts';
import { fixtureEvent, multipartBody, startTestBackend, type TestBackend } from '../support/backend.ts';
import { accessToken, makeKey } from '../../tools/support/tokens.ts';

const run = promisify(execFile);
const PHOTOS = new URL('../fixtures/photos/', import.meta.url);
/** A real phone photo: 4608x1976, 2.2 MB, with GPS. */
const PHONE_PHOTO = new URL('phones/nokia-8.3-gps.jpg', PHOTOS);
// A HEIC (HEVC) the zip decodes with its own libheif in WebAssembly: small, emulation is slow.
const HEIC_PHOTO = new URL('heic/portrait_6-exif.heic', PHOTOS);

interface RequestOutcome {
  name: string;
  statusCode?: number;
  body?: string;
  error?: string;
  sharpLoaded: boolean;
  nativeLibraries?: string[];
  workerLibraries?: string[];
}
interface Output {
  arch: string;
  platform: string;
  node: string;
  sharpLoadedAtStart: boolean;
  requests: RequestOutcome[];
  sharp: {
    error?: string;
    vips?: string;
    info?: { format: string; width: number; height: number };
    output?: string;
    nativeLibraries?: string[];
  };
}

const key = makeKey();
const USER = { id: 4242, sub: 'sub-arm64', username: 'arm64user' };
const BIO = 'Patched on arm64';
let workDir: string;
let taskDir: string;
let backend: TestBackend;
let output: Output;

before(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'arm64-artifact-'));
  backend = await startTestBackend({ keys: [key] });
  const [zip, [qemu, qemuArgs]] = await Promise.all([packageProd(workDir), arm64NodeCommand([])]);

  // Unzipped outside the project: nothing but the zip can be resolved from there.
  taskDir = join(workDir, 'task');
  await mkdir(taskDir);
  await unzipTo(zip, taskDir);
  await copyFile(new URL('../../tools/support/arm64-invoke.mjs', import.meta.url), join(taskDir, 'arm64-invoke.mjs'));

  await backend.seed([USER]);
  const token = accessToken(key, { sub: USER.sub }, backend.pool);
  const photo = await readFile(PHONE_PHOTO);
  const input = {
    events: [
      { name: 'text', event: fixtureEvent('json', { id: USER.id, token, body: JSON.stringify({ bio: BIO }) }) },
      {
        name: 'avatar',
        event: fixtureEvent('multipart', {
          id: USER.id,
          token,
          ...multipartBody({ avatar: { bytes: photo, filename: 'phone.jpg', type: 'image/jpeg' } }),
        }),
      },
      {
        name: 'heic',
        event: fixtureEvent('multipart', {
          id: USER.id,
          token,
          ...multipartBody({ avatar: { bytes: await readFile(HEIC_PHOTO), filename: 'IMG_0001.HEIC', type: 'image/heic' } }),
        }),
      },
    ],
    photo: join(workDir, 'photo.jpg'),
  };
  await writeFile(input.photo, photo);
  await writeFile(join(workDir, 'input.json'), JSON.stringify(input));

  const { config } = backend;
  // What the local stage gives the function (src/platform/config.ts); nothing else from this process.
  const env = {
    AWS_REGION: config.region,
    TABLE_NAME: config.tableName,
    MEDIA_BUCKET: config.mediaBucket,
    MEDIA_BASE_URL: config.mediaBaseUrl,
    COGNITO_USER_POOL_ID: config.cognitoUserPoolId,
    COGNITO_CLIENT_ID: config.cognitoClientId,
    COGNITO_JWKS_FILE: config.cognitoJwksFile!,
    DYNAMODB_ENDPOINT: config.dynamodbEndpoint!,
    S3_ENDPOINT: config.s3Endpoint!,
    // Emulated, the CPU is several times slower than Lambda's (a first text patch takes seconds),
    // so each AWS call attempt gets more time than the deployed 2 s.
    AWS_REQUEST_TIMEOUT_MS: '10000',
    // The image worker is a second Node process; without binfmt_misc here, qemu must start it too.
    IMAGE_WORKER_LAUNCHER: [qemu, ...qemuArgs.slice(0, -1)].join(' '),
    // And emulated, a worker's start and a 12-MP photo take several times Lambda's 3 s.
    IMAGE_TIMEOUT_SECONDS: '40',
  };
  await run(qemu, [...qemuArgs, 'arm64-invoke.mjs', join(workDir, 'input.json'), join(workDir, 'output.json')], {
    cwd: taskDir,
    env,
    maxBuffer: 64 * 1024 * 1024,
    timeout: 60_000,
  });
  output = JSON.parse(await readFile(join(workDir, 'output.json'), 'utf8')) as Output;
});

after(async () => {
  await backend?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

const request = (name: string): RequestOutcome => {
  const found = output.requests.find((r) => r.name === name);
  assert.ok(found, `no outcome for the ${name} request`);
  assert.equal(found.error, undefined, found.error);
  return found;
};
const inTask = (path: string) => join(taskDir, path);

describe('the prod zip on Node 24 for linux-arm64 (qemu user mode)', () => {
  test('runs as arm64 Linux on Node 24', () => {
    assert.equal(output.arch, 'arm64');
    assert.equal(output.platform, 'linux');
    assert.match(output.node, /^v24\./);
  });

  test('a text patch answers 200 and loads no sharp', async () => {
    assert.equal(output.sharpLoadedAtStart, false, 'sharp is loaded when the entry is imported');
    const text = request('text');
    assert.equal(text.statusCode, 200, text.body);
    assert.equal(JSON.parse(text.body!).bio, BIO);
    assert.equal((await backend.getUser(USER.id))?.bio, BIO);
    assert.equal(text.sharpLoaded, false, 'a text patch imported sharp');
    assert.deepEqual(text.nativeLibraries, [], 'a text patch mapped libvips');
    assert.deepEqual(text.workerLibraries, [], 'a text patch started the image worker');
  });

  // The contract's "Images": the avatar is center-cropped to a square and scaled to at most
  // 400 x 400 px, in the uploaded format.
  test('a phone JPEG avatar answers 200 and is stored as a 400x400 JPEG by the zip’s own libvips', async () => {
    const avatar = request('avatar');
    assert.equal(avatar.statusCode, 200, avatar.body);
    const url = JSON.parse(avatar.body!).avatar as string;
    assert.ok(url?.startsWith(`${backend.config.mediaBaseUrl}/avatar/${USER.id}/`), url);
    const stored = await fetch(url);
    assert.equal(stored.status, 200);
    const metadata = await sharp(Buffer.from(await stored.arrayBuffer())).metadata();
    assert.deepEqual({ format: metadata.format, width: metadata.width, height: metadata.height }, { format: 'jpeg', width: 400, height: 400 });
    // libvips runs in the image worker (the zip's image chunk started as a process), never in the
    // handler's own process, which a budget could not stop it in.
    assert.equal(avatar.sharpLoaded, false, 'the handler process loaded sharp');
    assert.deepEqual(avatar.nativeLibraries, [], 'the handler process mapped libvips');
    assert.ok(
      avatar.workerLibraries?.some((path) => path.startsWith(inTask('node_modules/@img/sharp-libvips-linux-arm64/'))),
      `libvips from the zip, in the worker: ${avatar.workerLibraries}`,
    );
  });

  test('a HEIC avatar answers 200 and is stored as a 400x400 JPEG: the zip carries the HEIC decoder', async () => {
    const heic = request('heic');
    assert.equal(heic.statusCode, 200, heic.body);
    const url = JSON.parse(heic.body!).avatar as string;
    assert.match(url, /\.jpg$/);
    const stored = await fetch(url);
    assert.equal(stored.status, 200);
    const metadata = await sharp(Buffer.from(await stored.arrayBuffer())).metadata();
    assert.deepEqual({ format: metadata.format, width: metadata.width, height: metadata.height }, { format: 'jpeg', width: 400, height: 400 });
  });

  test('the zip’s sharp loads its linux-arm64 libvips and resizes a real photo to 400x400', async () => {
    assert.equal(output.sharp.error, undefined, output.sharp.error);
    assert.deepEqual(output.sharp.info, { format: 'jpeg', width: 400, height: 400 });
    // Read back by this machine's own sharp: a JPEG of that size, not just what the run reported.
    const metadata = await sharp(Buffer.from(output.sharp.output!, 'base64')).metadata();
    assert.deepEqual({ format: metadata.format, width: metadata.width, height: metadata.height }, { format: 'jpeg', width: 400, height: 400 });
    const libraries = output.sharp.nativeLibraries ?? [];
    assert.ok(libraries.some((path) => path.startsWith(inTask('node_modules/@img/sharp-linux-arm64/lib/'))), `${libraries}`);
    assert.ok(libraries.some((path) => path.startsWith(inTask('node_modules/@img/sharp-libvips-linux-arm64/lib/libvips-cpp.so'))), `${libraries}`);
    assert.ok(libraries.every((path) => path.startsWith(taskDir)), `a native library from outside the zip: ${libraries}`);
  });
});
