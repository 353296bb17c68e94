// Images in `npm run bench` (part `images`): what normalizing an upload with libvips costs, side
// by side in one run.
//
//   12-MP phone JPEG to a 400×400 avatar: the handler's p50 next to its floor, the same libvips
//     pipeline (sharp called directly, written out here) plus the same S3 PutObject, DynamoDB
//     transaction and read issued directly; interleaved, in this process.
//   shrink-on-load: the same pipeline against decoding the file at full size (what a pipeline that
//     defeats shrink-on-load pays).
//   phone formats: the same 12-MP photo as JPEG, HEIC and AVIF to an avatar, and the HEIC as avatar
//     and cover in one request, through the bundle's own normalizeImages and worker: x64 here next
//     to the prod zip on linux-arm64 under qemu (emulated times; the memory is meaningful).
//   memory: peak RSS above idle of a fresh process normalizing the largest accepted still images
//     and animations (bench/children/image-memory.ts), against 512 MB.
//   sharp: what the first image request of a container pays to load it (fresh processes).
//
// Fixtures are made from test/fixtures/photos with sharp into the bench's cache folder, once.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import sharp from 'sharp';
import type { ApiEvent } from '../src/functions/patch-user/handler.ts';
import { createHandler } from '../src/functions/patch-user/handler.ts';
import { createAwsClients } from '../src/store/aws-clients.ts';
import type { Config, ImageLimits } from '../src/platform/config.ts';
import { inspectImage, type ImageInfo } from '../src/images/header-check.ts';
import { imageRules } from '../src/users/patch-fields.ts';
import type { ImageField } from '../src/users/user-record.ts';
import { ARM64_SYSROOT, arm64NodeCommand, packageProd, QEMU, unzipTo } from '../tools/support/arm64.ts';
import { packagedZip } from './package.ts';
import { PROJECT_DIR } from '../tools/local/local-stack.ts';
import { seedUsers } from '../tools/local/seed-users.ts';
import { anmf, gif, riffChunk, vp8x, VP8X_FLAGS, webp } from '../tools/support/images.ts';
import { accessToken, type TestKey } from '../tools/support/tokens.ts';
import { OUT_DIR } from './bundles.ts';
import { multipartEvent } from '../tools/support/api-events.ts';
import { galleryFloor } from './gallery-floor.ts';
import { directJpegPipeline } from './image-pipelines.ts';
import { cpuShares } from './cpu-share.ts';

export interface BenchTable {
  section(title: string): void;
  row(r: { figure: string; value: string; floor?: string; ratio?: string; target?: string; ok?: boolean }): void;
  log(message: string): void;
  quick: boolean;
}

const PHOTOS = join(PROJECT_DIR, 'test', 'fixtures', 'photos');
/** Change it when a fixture below changes, so the cached file is made again. */
const FIXTURE_VERSION = 2;
const FIXTURES = join(OUT_DIR, 'image-fixtures');
const MiB = 1024 * 1024;
const ms = (value: number) => `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;
const times = (value: number) => `${value.toFixed(2)}×`;
const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;

sharp.cache(false);
sharp.concurrency(1);

/** Made once into the cache folder: the inputs are the same bytes in every run. */
async function fixture(name: string, make: () => Promise<Buffer>): Promise<Buffer> {
  const path = join(FIXTURES, name);
  if (existsSync(path)) return readFileSync(path);
  mkdirSync(FIXTURES, { recursive: true });
  const bytes = await make();
  writeFileSync(path, bytes);
  return bytes;
}

/**
 * A 4032×3024 phone JPEG (12 MP) of real photo pixels at quality 92 with EXIF, about 3 MB: the
 * phone photo upscaled, with sensor-like grain so it compresses as a phone's own file does.
 */
export const phoneJpeg = () =>
  fixture(`phone-12mp-${FIXTURE_VERSION}.jpg`, async () => {
    const upscaled = await sharp(join(PHOTOS, 'phones', 'nokia-8.3-gps.jpg')).resize(4032, 3024, { fit: 'cover' }).toBuffer();
    const grain = await sharp({ create: { width: 4032, height: 3024, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 12 } } }).png().toBuffer();
    for (const quality of [92, 90, 88, 85]) {
      const bytes = await sharp(upscaled)
        .composite([{ input: grain, blend: 'soft-light' }])
        .withExif({ IFD0: { Make: 'Nokia', Model: '8.3 5G' } })
        .jpeg({ quality })
        .toBuffer();
      if (bytes.length <= 3 * MiB) return bytes;
    }
    throw new Error('bench: the 12-MP JPEG does not fit the 3 MiB avatar limit');
  });

/** A 320×240 PNG of a real photo (test/fixtures/photos/gps), as a screenshot-sized avatar upload. */
export const smallPng = () =>
  fixture(`small-${FIXTURE_VERSION}.png`, () => sharp(join(PHOTOS, 'gps', 'DSCN0010.jpg')).resize(320, 240).png().toBuffer());

// ---------------------------------------------------------------------------------------------

export async function imageBench(table: BenchTable, options: { config: Config; key: TestKey; dir: string; handlerFile: string }) {
  const { config } = options;
  const phone = await phoneJpeg();
  const meta = await sharp(phone).metadata();
  await warmAvatar(table, options, phone, meta.width, meta.height);
  await shrinkOnLoad(table, phone, meta.width, meta.height);
  await phoneFormats(table, config, phone, options.handlerFile, options.dir);
  await peakMemory(table, config, options.dir);
  await sharpLoad(table, options.dir);
}

/** Handler vs the same pipeline and calls made directly, interleaved. */
async function warmAvatar(table: BenchTable, { config, key }: { config: Config; key: TestKey }, phone: Buffer, width: number, height: number) {
  const samples = table.quick ? 6 : 20;
  const warmup = table.quick ? 2 : 4;
  table.log(`images: 12-MP JPEG to a 400×400 avatar, handler vs direct (${samples} each, interleaved)`);
  const clients = createAwsClients(config);
  const dynamo = DynamoDBDocumentClient.from(clients.dynamo);
  const handlerUser = { id: 91_001, sub: 'bench-image-handler', username: 'benchimagehandler' };
  const floorUser = { id: 91_002, sub: 'bench-image-floor', username: 'benchimagefloor' };
  await seedUsers(dynamo, config.tableName, [handlerUser, floorUser], { warn: () => {} });
  const handler = createHandler(config, clients);
  const gallery = galleryFloor(clients.dynamo, clients.s3, config.tableName, config.mediaBucket);
  const template = JSON.parse(readFileSync(join(PROJECT_DIR, 'test', 'fixtures', 'events', 'rest-api-patch-multipart.json'), 'utf8')) as ApiEvent;
  const event = multipartEvent(template, handlerUser.id, accessToken(key, { sub: handlerUser.sub }), {
    avatar: { bytes: phone, filename: 'IMG_0001.jpg', type: 'image/jpeg' },
  });

  // The handler's one log line per request, written as on Lambda but kept out of the bench's output.
  const write = process.stdout.write;
  const quietWrite = ((chunk: unknown, ...rest: unknown[]) =>
    typeof chunk === 'string' && chunk.startsWith('{"level"') ? true : (write as (...a: unknown[]) => boolean).call(process.stdout, chunk, ...rest)) as typeof process.stdout.write;
  const viaHandler = async () => {
    process.stdout.write = quietWrite;
    const response = await handler(event).finally(() => {
      process.stdout.write = write;
    });
    if (response.statusCode !== 200) throw new Error(`bench: avatar answered ${response.statusCode}: ${response.body}`);
  };
  const direct = async () => {
    // The body decoded as the handler must; then the pipeline, the upload and the write.
    const body = Buffer.from(event.body!, 'base64');
    const bytes = body.subarray(body.indexOf('\r\n\r\n') + 4, body.lastIndexOf('\r\n--'));
    const out = await directJpegPipeline(bytes, 'avatar', width, height);
    // The write as the handler makes it since the gallery: the put ∥ the user's read, then the
    // transaction (the primary replaced, on the version read, with the owner check); no read after.
    await gallery.replacePrimary(floorUser, { bytes: out, mime: 'image/jpeg', ext: 'jpg' });
    // The handler is done once the write committed (the stream tags and deletes), and so is this.
  };

  const handlerTimes: number[] = [];
  const floorTimes: number[] = [];
  for (let i = 0; i < warmup + samples; i++) {
    // Alternate which goes first, so neither always runs on a machine the other just warmed.
    const order = i % 2 === 0 ? [viaHandler, direct] : [direct, viaHandler];
    for (const run of order) {
      const t = performance.now();
      await run();
      const elapsed = performance.now() - t;
      if (i >= warmup) (run === viaHandler ? handlerTimes : floorTimes).push(elapsed);
    }
  }
  dynamo.destroy();

  table.section('Images: a 12-MP phone JPEG (4032×3024) to a 400×400 avatar');
  table.row({ figure: 'upload size', value: `${(phone.length / MiB).toFixed(2)} MiB` });
  const [h, f] = [median(handlerTimes), median(floorTimes)];
  table.row({
    figure: `handler p50 (n=${samples})`,
    value: ms(h),
    floor: `${ms(f)} direct`,
    ratio: times(h / f),
    target: '≤ 1.15× direct',
    ok: h / f <= 1.15,
  });
}

/** The pipeline as run, next to a full-size decode of the same file. */
async function shrinkOnLoad(table: BenchTable, phone: Buffer, width: number, height: number) {
  const samples = table.quick ? 3 : 7;
  table.log('images: shrink-on-load against a full-size decode');
  const pipeline: number[] = [];
  const fullDecode: number[] = [];
  const fullPipeline: number[] = [];
  for (let i = 0; i < samples; i++) {
    let t = performance.now();
    await directJpegPipeline(phone, 'avatar', width, height);
    pipeline.push(performance.now() - t);
    t = performance.now();
    const full = await sharp(phone).raw().toBuffer({ resolveWithObject: true });
    fullDecode.push(performance.now() - t);
    t = performance.now();
    // Full decode, then the same crop and encode: what a pipeline defeating shrink-on-load costs.
    await sharp(full.data, { raw: { width: full.info.width, height: full.info.height, channels: full.info.channels } })
      .resize(400, 400, { fit: 'cover' })
      .jpeg({ quality: 85 })
      .toBuffer();
    fullPipeline.push(fullDecode.at(-1)! + performance.now() - t);
  }
  const p = median(pipeline);
  table.row({ figure: `pipeline as run (JPEG decoded at 1/4 scale while reading), median of ${samples}`, value: ms(p) });
  table.row({ figure: 'full-size decode of the same file, alone', value: ms(median(fullDecode)), floor: ms(p), ratio: times(median(fullDecode) / p) });
  table.row({
    figure: 'full-size decode + the same crop and encode',
    value: ms(median(fullPipeline)),
    floor: `${ms(p)} as run`,
    ratio: times(median(fullPipeline) / p),
    target: 'as run faster',
    ok: p < median(fullPipeline),
  });
}

// ---------------------------------------------------------------------------------------------
// HEIC and AVIF

/**
 * The 12-MP JPEG above as a phone's HEIC (heif-enc, HEVC by x265: Debian's libheif-examples, as
 * tools/fixtures/make-heif-avif.sh) and AVIF (sharp's aom): the same photo in each format.
 */
const phoneHeic = (jpeg: Buffer) =>
  fixture(`phone-12mp-${FIXTURE_VERSION}.heic`, async () => {
    const source = join(FIXTURES, `phone-12mp-${FIXTURE_VERSION}.jpg`);
    const out = join(FIXTURES, `phone-12mp-${FIXTURE_VERSION}.tmp.heic`);
    if (!existsSync(source)) writeFileSync(source, jpeg);
    await promisify(execFile)('heif-enc', ['-q', '50', '-o', out, source]).catch((e: Error) => {
      throw new Error(`bench: heif-enc (apt-get install libheif-examples) failed: ${e.message}`);
    });
    const bytes = readFileSync(out);
    rmSync(out);
    return bytes;
  });
const phoneAvif = (jpeg: Buffer) => fixture(`phone-12mp-${FIXTURE_VERSION}.avif`, () => sharp(jpeg).keepExif().avif({ quality: 50 }).toBuffer());

// The same files through the code that ships, on x64 here and on linux-arm64 under qemu: the
// bundle's own normalizeImages (the chunk the handler imports for a request with images) and the
// warm worker it forks, driven by bench/children/image-worker.mjs. x64 runs the bench's build of
// the handler (serverless.yml's esbuild options) on this Node; arm64 runs the prod zip of
// `osls package`, unzipped, its sharp and libheif-js for linux-arm64, on Node 24 for linux-arm64
// under qemu user mode (tools/support/arm64.ts). The header check is the handler's, before the
// worker, and is made here (under 1 ms): the measured work is the worker's, as in a request.

const WORKER_DRIVER = join(PROJECT_DIR, 'bench', 'children', 'image-worker.mjs');

interface PathUpload {
  field: ImageField;
  file: string;
  info: ImageInfo;
}
interface PathCase {
  /** For the progress log. */
  name: string;
  figure: string;
  uploads: PathUpload[];
}
interface PathResult {
  times: number[];
  idleKb: number;
  /** The worker's peak mark (VmHWM) after each run. */
  peaksKb: number[];
  out: string;
  error?: string;
}
/** Where the bundle's pipeline runs: the command that starts the driver, and its normalize chunk. */
interface PathTarget {
  module: string;
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  runs: number;
  timeoutMs: number;
}

/** The chunk of src/images/normalize.ts in a build of the handler (its own chunk: import()ed). */
function normalizeChunk(entryDir: string): string {
  const chunks = join(entryDir, 'chunks');
  const found = readdirSync(chunks).filter((name) => /^normalize-\w+\.m?js$/.test(name));
  if (found.length !== 1) throw new Error(`bench: ${found.length} normalize chunks in ${chunks}`);
  return join(chunks, found[0]!);
}

async function runPath(target: PathTarget, limits: ImageLimits, warm: PathUpload, uploads: PathUpload[], inputFile: string): Promise<PathResult> {
  writeFileSync(inputFile, JSON.stringify({ module: target.module, limits, warm, uploads, runs: target.runs }));
  const { stdout } = await promisify(execFile)(target.command, [...target.args, inputFile], {
    cwd: target.cwd,
    env: target.env,
    timeout: target.timeoutMs,
    maxBuffer: 16 * MiB,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as PathResult;
}

/**
 * The prod zip on Node 24 for linux-arm64 under qemu. The zip is part package's when it ran, or
 * packaged here (about 10 s), so `--no-package` keeps the column; a machine without qemu or the
 * registry gets the reason instead.
 */
async function arm64Target(dir: string, runs: number, log: (message: string) => void): Promise<PathTarget> {
  // Checked first, so a machine without them neither packages nor fetches Node for nothing.
  await promisify(execFile)(QEMU, ['--version']).catch(() => {
    throw new Error(`${QEMU} is missing (Debian qemu-user-static)`);
  });
  if (!existsSync(ARM64_SYSROOT)) throw new Error(`${ARM64_SYSROOT} is missing (Debian libc6-arm64-cross, libstdc++6-arm64-cross)`);
  const task = join(dir, 'arm64-task');
  rmSync(task, { recursive: true, force: true });
  mkdirSync(task, { recursive: true });
  const [zip, [qemu, qemuArgs]] = await Promise.all([
    packagedZip() ?? (log('images: osls package --stage prod, for the arm64 column'), packageProd(join(dir, 'arm64-package'))),
    arm64NodeCommand([]),
  ]);
  await unzipTo(zip, task);
  copyFileSync(WORKER_DRIVER, join(task, 'image-worker.mjs'));
  return {
    module: normalizeChunk(join(task, 'src', 'functions', 'patch-user')),
    command: qemu,
    args: [...qemuArgs, 'image-worker.mjs'],
    cwd: task,
    // Nothing of this process; the worker is a second Node, which qemu must start too (no
    // binfmt_misc here): the launcher the handler reads for that.
    env: { PATH: process.env.PATH, IMAGE_WORKER_LAUNCHER: [qemu, ...qemuArgs.slice(0, -1)].join(' ') },
    runs,
    timeoutMs: 600_000,
  };
}

const seconds = (value: number) => (value < 1000 ? ms(value) : `${(value / 1000).toFixed(2)} s`);
/** The worker's peak above idle after its first `runs` runs (a warm worker's peak creeps up). */
const peakAfter = (r: PathResult, runs: number) => r.peaksKb[Math.min(runs, r.peaksKb.length) - 1]! - r.idleKb;
const warmP50 = (r: PathResult) => median(r.times.length > 1 ? r.times.slice(1) : r.times);
/** p50 of the warm runs (all but the first), the first run, and the peak above idle. */
const pathFigure = (r: PathResult, compared: number) => {
  if (r.error) return `failed: ${r.error}`;
  const all = r.peaksKb.length;
  const memory = `${mb(peakAfter(r, compared))} after ${Math.min(compared, all)} runs${all > compared ? `, ${mb(peakAfter(r, all))} after ${all}` : ''}`;
  return `${seconds(warmP50(r))} p50, ${seconds(r.times[0]!)} first; ${memory}`;
};

/**
 * Per row a fresh driver (so a fresh worker): warmed by a tiny JPEG (Node and sharp loaded), then
 * the row's patch `runs` times. x64 first, then the same row under qemu.
 */
async function phoneFormats(table: BenchTable, config: Config, jpeg: Buffer, handlerFile: string, dir: string) {
  const x64Runs = table.quick ? 4 : 8;
  // Emulation is slow (a 12-MP HEIC takes seconds a run, both fields twice that).
  const armRuns = table.quick ? 2 : 4;
  const limits: ImageLimits = { ...config.images, timeoutSeconds: 600 };
  const budget = config.images.timeoutSeconds;
  const upload = (field: ImageField, name: string, bytes: Buffer): PathUpload => {
    const max = field === 'avatar' ? config.images.avatarMaxBytes : config.images.coverMaxBytes;
    if (bytes.length > max) throw new Error(`bench: ${name} is over the ${field} limit`);
    const file = join(FIXTURES, name);
    if (!existsSync(file)) writeFileSync(file, bytes);
    return { field, file, info: inspectImage(bytes, imageRules(field, config.images)) };
  };
  const heic = await phoneHeic(jpeg);
  const avif = await phoneAvif(jpeg);
  const size = (bytes: Buffer) => `${(bytes.length / MiB).toFixed(2)} MiB`;
  const cases: PathCase[] = [
    { name: 'JPEG avatar', figure: `12-MP JPEG → 400×400 avatar, ${size(jpeg)}`, uploads: [upload('avatar', `phone-12mp-${FIXTURE_VERSION}.jpg`, jpeg)] },
    { name: 'HEIC avatar', figure: `12-MP HEIC → 400×400 avatar, ${size(heic)}`, uploads: [upload('avatar', `phone-12mp-${FIXTURE_VERSION}.heic`, heic)] },
    { name: 'AVIF avatar', figure: `12-MP AVIF → 400×400 avatar, ${size(avif)}`, uploads: [upload('avatar', `phone-12mp-${FIXTURE_VERSION}.avif`, avif)] },
    {
      name: 'HEIC avatar + cover',
      figure: `12-MP HEIC as avatar AND cover in one request (two jobs, one worker, one decode, one ${budget} s budget)`,
      uploads: [upload('avatar', `phone-12mp-${FIXTURE_VERSION}.heic`, heic), upload('cover', `phone-12mp-${FIXTURE_VERSION}.heic`, heic)],
    },
  ];
  const warm = upload('avatar', `warm-64-${FIXTURE_VERSION}.jpg`, await fixture(`warm-64-${FIXTURE_VERSION}.jpg`, () => photoAt(64, 48).jpeg().toBuffer()));
  const x64: PathTarget = {
    module: normalizeChunk(dirname(handlerFile)),
    command: process.execPath,
    args: [WORKER_DRIVER],
    cwd: PROJECT_DIR,
    env: { PATH: process.env.PATH },
    runs: x64Runs,
    timeoutMs: 120_000,
  };
  const work = join(dir, 'image-path');
  mkdirSync(work, { recursive: true });
  let arm64: PathTarget | string;
  try {
    arm64 = await arm64Target(work, armRuns, table.log);
  } catch (error) {
    arm64 = `not run: ${(error as Error).message.split('\n')[0]}`;
  }
  table.log(
    `images: the 12-MP photo as JPEG, HEIC, AVIF, and HEIC avatar + cover, through the bundle's worker: x64 (${x64Runs} runs), ` +
      (typeof arm64 === 'string' ? `arm64 ${arm64}` : `then linux-arm64 under qemu (${armRuns} runs, slow)`),
  );
  table.section(
    'Images: the same 12-MP photo (4032×3024) through the bundle’s normalizeImages and warm worker (fresh per row; warm p50, first run, worker peak RSS above idle, ' +
      'compared after as many runs on both sides); value: x64 here; floor: the prod zip, linux-arm64 under qemu: EMULATED times, not Lambda’s; its memory is meaningful',
  );
  for (const [i, c] of cases.entries()) {
    const x = await runPath(x64, limits, warm, c.uploads, join(work, `x64-${i}.json`));
    let a: PathResult | string;
    if (typeof arm64 === 'string') a = arm64;
    else {
      table.log(`images: ${c.name}, the prod zip under qemu`);
      a = await runPath(arm64, limits, warm, c.uploads, join(work, `arm64-${i}.json`)).catch((error: Error) => `failed: ${error.message.split('\n')[0]}`);
    }
    const armRan = typeof a !== 'string' && !a.error ? a : undefined;
    const compared = armRan ? armRuns : x64Runs;
    table.row({
      figure: `${c.figure} → ${x.error ?? x.out}`,
      value: `x64 ${pathFigure(x, compared)}`,
      floor: typeof a === 'string' ? `arm64 ${a}` : `arm64 qemu (emulated) ${pathFigure(a, compared)}`,
      ratio: armRan && !x.error ? `${times(peakAfter(armRan, compared) / peakAfter(x, compared))} RSS` : undefined,
      target: `≤ 512 MB; x64 ≤ ${budget} s`,
      ok:
        !x.error &&
        peakAfter(x, x64Runs) <= 512 * 1024 &&
        (!armRan || peakAfter(armRan, armRuns) <= 512 * 1024) &&
        warmP50(x) <= budget * 1000 &&
        x.times[0]! <= budget * 1000,
    });
  }
  const animation = await fixture(`webp-60x1000-${FIXTURE_VERSION}.webp`, () => bigAnimation('webp', 60, 1000));
  cases.push({
    name: 'animated WebP cover',
    figure: `WebP, 60 frames of 1000×1000 (60 MP) → cover, ${size(animation)}`,
    uploads: [upload('cover', `webp-60x1000-${FIXTURE_VERSION}.webp`, animation)],
  });
  await atLambdaShares(table, x64, limits, warm, cases, work, budget);
}

/**
 * The same rows on this machine's x64 cores held to the CPU share Lambda gives 1,024 MB and
 * 1,769 MB (one vCPU, patchUser's) (bench/cpu-share.ts): the time figure qemu cannot give. The
 * per-core speed of Lambda's Graviton is the one thing left unmeasured.
 */
async function atLambdaShares(table: BenchTable, x64: PathTarget, limits: ImageLimits, warm: PathUpload, cases: PathCase[], work: string, budget: number) {
  // patchUser's memory (serverless.yml patchUserMemorySize) first, the other functions' beside it.
  const memories = [1769, 1024] as const;
  const shares = cpuShares(memories);
  table.section(
    `Images at Lambda's CPU share: x64 here held by a cgroup CPU quota to what ${memories[0]} MB (value) and ${memories[1]} MB (floor) get ` +
      '(one vCPU at 1,769 MB); warm p50 and first run; Graviton’s per-core speed not included',
  );
  if (!Array.isArray(shares)) {
    table.row({ figure: 'not run', value: shares.unavailable });
    return;
  }
  const runs = table.quick ? 3 : 5;
  try {
    table.log(`images: ${cases.length} rows at ${memories.join(' MB and ')} MB's CPU share (${runs} runs each)`);
    for (const [i, c] of cases.entries()) {
      const results: PathResult[] = [];
      for (const share of shares) {
        const [command, args] = share.wrap(x64.command, x64.args);
        results.push(await runPath({ ...x64, command, args, runs, timeoutMs: 300_000 }, limits, warm, c.uploads, join(work, `share-${share.memoryMb}-${i}.json`)));
      }
      const [own, other] = results as [PathResult, PathResult];
      const figure = (r: PathResult) => (r.error ? `failed: ${r.error}` : `${seconds(warmP50(r))} p50, ${seconds(r.times[0]!)} first`);
      table.row({
        figure: `${c.figure} → ${own.error ? 'failed' : own.out}`,
        value: `${memories[0]} MB: ${figure(own)}`,
        floor: `${memories[1]} MB: ${figure(other)}`,
        ratio: own.error || other.error ? undefined : times(warmP50(other) / warmP50(own)),
        target: `≤ ${budget} s at ${memories[0]} MB, first run too`,
        ok: !own.error && warmP50(own) <= budget * 1000 && own.times[0]! <= budget * 1000,
      });
    }
  } finally {
    for (const share of shares) share.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// Memory

interface MemoryCase {
  name: string;
  field: 'avatar' | 'cover';
  make: () => Promise<Buffer>;
  /** A shape the header pre-check refuses (image_too_large): the row shows what refusing it costs. */
  refused?: true;
}

/** A smooth picture of real photo pixels at any size (upscaled, so it compresses well). */
const photoAt = (width: number, height: number) => sharp(join(PHOTOS, 'gps', 'DSCN0010.jpg')).resize(width, height, { fit: 'fill' });

/** Frames with few colours (fast to encode), each different, joined as an animation. */
async function bigAnimation(format: 'gif' | 'webp', frames: number, side: number): Promise<Buffer> {
  const pages = await Promise.all(
    Array.from({ length: frames }, (_, i) =>
      sharp({ create: { width: side, height: side, channels: 3, background: { r: (i * 37) % 256, g: (i * 91) % 256, b: 120 } } })
        .composite([{ input: { create: { width: side / 4, height: side / 4, channels: 3, background: '#ffffff' } }, left: (i * 13) % (side / 2), top: side / 4 }])
        .png({ compressionLevel: 1 })
        .toBuffer(),
    ),
  );
  const joined = sharp(pages, { join: { animated: true }, limitInputPixels: false });
  return format === 'gif' ? joined.gif({ effort: 1, delay: 50 }).toBuffer() : joined.webp({ effort: 0, quality: 50, delay: 50 }).toBuffer();
}

const MEMORY_CASES: MemoryCase[] = [
  { name: '8192×4882 baseline JPEG (40 MP) as cover', field: 'cover', make: () => photoAt(8192, 4882).jpeg({ quality: 80 }).toBuffer() },
  { name: '8192×4882 progressive JPEG (40 MP) as cover', field: 'cover', make: () => photoAt(8192, 4882).jpeg({ quality: 75, progressive: true }).toBuffer() },
  {
    // Mostly flat, so that 40 MP fit in 4 MiB; decoding costs the same whatever the pixels.
    name: '8192×4882 PNG (40 MP) as cover',
    field: 'cover',
    make: async () =>
      sharp({ create: { width: 8192, height: 4882, channels: 3, background: '#3a6f8c' } })
        .composite([{ input: await photoAt(640, 480).png().toBuffer(), left: 3776, top: 2201 }])
        .png()
        .toBuffer(),
  },
  { name: '8192×4882 WebP (40 MP) as cover', field: 'cover', make: () => photoAt(8192, 4882).webp({ quality: 60 }).toBuffer() },
  { name: '6000×6000 progressive JPEG (36 MP) as avatar', field: 'avatar', make: () => photoAt(6000, 6000).jpeg({ quality: 60, progressive: true }).toBuffer() },
  { name: 'GIF, 60 frames of 1000×1000 (60 MP) as avatar', field: 'avatar', make: () => bigAnimation('gif', 60, 1000) },
  { name: 'GIF, 60 frames of 1000×1000 (60 MP) as cover', field: 'cover', make: () => bigAnimation('gif', 60, 1000) },
  { name: 'WebP, 60 frames of 1000×1000 (60 MP) as cover', field: 'cover', make: () => bigAnimation('webp', 60, 1000) },
  { name: 'GIF, 300 frames of 444×444 (59 MP) as cover', field: 'cover', make: () => bigAnimation('gif', 300, 444) },
  // The shapes of issue 13.
  {
    name: 'WebP, 2 tiny frames on a 5477×5477 canvas (60 MP composed) as cover',
    field: 'cover',
    make: async () => {
      const still = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#3a6f8c' } }).webp({ lossless: true }).toBuffer();
      const bitstream = riffChunk('VP8L', still.subarray(20, 20 + still.readUInt32LE(16)));
      return webp([
        riffChunk('VP8X', vp8x(5477, 5477, VP8X_FLAGS.animation)),
        riffChunk('ANIM', Buffer.alloc(6)),
        ...Array.from({ length: 2 }, () => riffChunk('ANMF', anmf(0, 0, 1, 1, [bitstream]))),
      ]);
    },
  },
  {
    name: '8000×5000 interlaced 8-bit RGBA PNG (40 MP) as cover',
    field: 'cover',
    make: () => sharp({ create: { width: 8000, height: 5000, channels: 4, background: { r: 58, g: 111, b: 140, alpha: 0.5 } } }).png({ progressive: true }).toBuffer(),
  },
  {
    name: '8000×5000 interlaced 16-bit RGBA PNG (40 MP) as cover',
    field: 'cover',
    refused: true,
    make: () =>
      sharp({ create: { width: 8000, height: 5000, channels: 4, background: { r: 58, g: 111, b: 140, alpha: 0.5 } } })
        .toColourspace('rgb16')
        .png({ progressive: true })
        .toBuffer(),
  },
  {
    name: 'GIF, 1×2048 screen, 298 frames of 8192×2048 as cover',
    field: 'cover',
    refused: true,
    make: async () =>
      gif({ width: 1, height: 2048, packed: true, frames: [{ width: 1, height: 2048 }, ...Array.from({ length: 297 }, () => ({ width: 8192, height: 2048 }))] }),
  },
];

async function peakMemory(table: BenchTable, config: Config, dir: string) {
  table.log(`images: peak RSS of a fresh process for ${MEMORY_CASES.length} of the largest accepted images`);
  const inputs: { name: string; field: string; file: string; bytes: number; refused?: true }[] = [];
  for (const [i, c] of MEMORY_CASES.entries()) {
    const name = `memory-${FIXTURE_VERSION}-${i}.bin`;
    const bytes = await fixture(name, c.make);
    const limit = c.field === 'avatar' ? config.images.avatarMaxBytes : config.images.coverMaxBytes;
    if (bytes.length > limit) throw new Error(`bench: ${c.name} is ${bytes.length} bytes, over the ${c.field} limit`);
    inputs.push({ name: c.name, field: c.field, file: join(FIXTURES, name), bytes: bytes.length, ...(c.refused && { refused: c.refused }) });
  }
  table.section('Images: peak RSS above idle of a fresh process (VmHWM − VmRSS after loading sharp), against 512 MB; floor column: time');
  // No time limit here: the figure is what the image costs, whether or not the limit would stop it.
  const limits = { ...config.images, timeoutSeconds: 600 };
  for (const input of inputs) {
    const child = join(PROJECT_DIR, 'bench', 'children', 'image-memory.ts');
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', child], {
      cwd: PROJECT_DIR,
      env: { ...process.env, IMAGE_MEMORY_INPUT: JSON.stringify({ file: input.file, field: input.field, limits }) },
      maxBuffer: 16 * MiB,
    });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { idleKb: number; peakKb: number; ms: number; out: string; error?: string };
    const above = result.peakKb - result.idleKb;
    // Half of the function's memory; and within the time limit, or the request is refused.
    table.row({
      figure: `${input.name}, ${(input.bytes / MiB).toFixed(2)} MiB → ${result.error ?? result.out}`,
      value: mb(above),
      floor: `${(result.ms / 1000).toFixed(2)} s`,
      target: input.refused ? 'refused, ≤ 0.1 s' : `≤ 512 MB, ≤ ${config.images.timeoutSeconds} s`,
      ok: input.refused
        ? result.error?.startsWith('image_too_large') === true && result.ms <= 100
        : above <= 512 * 1024 && !result.error && result.ms <= config.images.timeoutSeconds * 1000,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Loading sharp

async function sharpLoad(table: BenchTable, dir: string) {
  const samples = table.quick ? 3 : 7;
  table.log(`images: loading sharp in ${samples} fresh processes`);
  const small = join(dir, 'first-image.jpg');
  writeFileSync(small, await photoAt(640, 480).jpeg().toBuffer());
  const script = `
    const t0 = performance.now();
    const { default: sharp } = await import('sharp');
    sharp.cache(false); sharp.concurrency(1);
    const t1 = performance.now();
    const bytes = (await import('node:fs')).readFileSync(${JSON.stringify(small)});
    const run = () => sharp(bytes).autoOrient().resize(400, 400, { fit: 'cover' }).jpeg({ quality: 85 }).toBuffer();
    const t2 = performance.now(); await run(); const t3 = performance.now(); await run(); const t4 = performance.now();
    console.log(JSON.stringify({ load: t1 - t0, first: t3 - t2, second: t4 - t3 }));`;
  const results: { load: number; first: number; second: number }[] = [];
  for (let i = 0; i < samples; i++) {
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: PROJECT_DIR });
    results.push(JSON.parse(stdout.trim()));
  }
  table.section(`Images: the first image request of a container (fresh node, median of ${samples})`);
  table.row({ figure: "import('sharp') (libvips loaded), paid once per container", value: ms(median(results.map((r) => r.load))) });
  table.row({
    figure: 'first 640×480 → 400×400 pipeline of the process',
    value: ms(median(results.map((r) => r.first))),
    floor: `${ms(median(results.map((r) => r.second)))} second`,
    ratio: times(median(results.map((r) => r.first)) / median(results.map((r) => r.second))),
  });
}
