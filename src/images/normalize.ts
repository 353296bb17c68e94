// Every uploaded image is decoded and re-encoded once, on upload, by libvips (npm `sharp`): the
// EXIF orientation applied to the pixels, colours in sRGB, the avatar cropped to a square and both
// images scaled down, encoded again in the uploaded format with no metadata at all. Re-encoding is
// what removes metadata: nothing of the uploaded container (EXIF, XMP, IPTC, ICC, text chunks,
// comments, thumbnails, C2PA, trailers) reaches the stored file.
//
// This module is loaded only when a request carries an image (the handler imports it dynamically),
// and sharp only in the worker process it starts (below), so a text-only request never pays for
// the native library and the handler's own process never holds libvips' memory.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Sharp, SharpOptions } from 'sharp';
import type { ImageLimits } from '../platform/config.ts';
import { isImageWorker, WORKER_FLAG } from './worker-flag.ts';
import { FieldErrors } from '../http/errors.ts';
import {
  FORMATS,
  ImageError,
  INVALID_IMAGE_MESSAGE,
  requestDecodeMessage,
  requestDecodeOver,
  type ImageErrorCode,
  type ImageInfo,
} from './header-check.ts';
import { jpegQuality } from './formats/jpeg.ts';
import { pngGamma, withoutAncillaryChunks } from './formats/png.ts';
import type { ImageUpload, Patch } from '../users/patch-fields.ts';
import { IMAGE_FIELDS, type ImageField } from '../users/user-record.ts';

type SharpModule = (typeof import('sharp'))['default'];

let loading: Promise<SharpModule> | undefined;

/** sharp, loaded once per worker process on its first image. */
export function loadSharp(): Promise<SharpModule> {
  loading ??= import('sharp').then(
    ({ default: sharp }) => {
      // One image at a time: no cache of decoded images between requests,
      // and one libvips worker thread, so memory stays bounded by the image being processed.
      sharp.cache(false);
      sharp.concurrency(1);
      return sharp;
    },
    (error: unknown) => {
      loading = undefined; // a later request may try again
      throw error;
    },
  );
  return loading!;
}

/**
 * The patch with every new image replaced by its normalized version. A file libvips cannot
 * decode is a field error (`invalid_image`) under the name it was sent with, never a 500;
 * images are processed one after the other to keep peak memory to one image.
 *
 * All the images of the request share one time budget (`limits.timeoutSeconds`, which with the
 * AWS calls after it fits the function's timeout: README, Memory and timeout). libvips checks its own timeout only when a region
 * of output is finished, which a 1×1-per-frame avatar of huge frames almost never does, so the
 * work runs in a child process (this module, started by startWorker) that is killed when the
 * budget is spent: the image is then `image_too_large`, a 400, whatever the file holds.
 */
export async function normalizeImages(patch: Patch, limits: ImageLimits): Promise<Patch> {
  const deadline = performance.now() + limits.timeoutSeconds * 1000;
  const errors = new FieldErrors();
  const images: Patch['images'] = { ...patch.images };
  const uploads = IMAGE_FIELDS.flatMap((field) => (images[field] ? [{ field, upload: images[field] }] : []));
  // The same HEIC as avatar and cover (one photo for both) is decoded once, by the first.
  const decodedOnce = uploads.map(
    ({ upload }, i) => upload.info.type === 'heif' && i + 1 < uploads.length && uploads[i + 1]!.upload.bytes.equals(upload.bytes),
  );
  // Decoded in one process one after the other, the images share one memory bound.
  const over = requestDecodeOver(
    uploads.map(({ upload }, i) => (decodedOnce[i - 1] ? { ...upload.info, decodeBytes: 0 } : upload.info)),
    limits,
  );
  if (over !== undefined) {
    errors.add(uploads[over]!.upload.field, 'image_too_large', requestDecodeMessage(limits));
    errors.throwIfAny();
  }
  for (const [i, { field, upload }] of uploads.entries()) {
    try {
      images[field] = await normalizeInWorker({ upload, field, limits, keepDecoded: decodedOnce[i]! }, deadline);
    } catch (error) {
      if (!(error instanceof ImageError)) throw error;
      errors.add(upload.field, error.code, error.message);
      // The budget is spent (or the worker is gone): the images after this one are not tried.
      if (error instanceof BudgetSpentError) break;
    }
  }
  errors.throwIfAny();
  return { ...patch, images };
}

class BudgetSpentError extends ImageError {}

const budgetMessage = (limits: ImageLimits) =>
  `The images of this request need more than ${limits.timeoutSeconds} s to process; send a smaller one.`;

interface WorkerTask {
  upload: ImageUpload;
  field: ImageField;
  limits: ImageLimits;
  /** The next image of the request is this same file: its decoded pixels are kept for it. */
  keepDecoded: boolean;
}
interface WorkerJob extends WorkerTask {
  id: number;
}
type WorkerReply =
  | { id: number; ok: true; bytes: Uint8Array; info: ImageInfo }
  | { id: number; ok: false; code: ImageErrorCode; message: string }
  | { id: number; ok: false; bug: string };

let worker: ChildProcess | undefined;
let jobs = 0;

/**
 * One warm worker per container: the first image request starts it (Node and sharp, once), the
 * later ones only pass bytes over the IPC channel. It is this very module started as a program
 * (in the deployed artifact, the chunk esbuild made of it), so nothing else has to be packaged.
 */
function startWorker(): ChildProcess {
  // The decoder of attacker bytes gets no AWS credentials. And two malloc arenas: glibc keeps up to
  // 8 a core, and the decoders' allocations spread over them leave a warm worker's RSS creeping up
  // request after request (30 12-MP AVIF avatars in one process: 106 → 257 MB by default, 85 → 177
  // MB with two arenas; docs/images.md).
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_'))), MALLOC_ARENA_MAX: '2' };
  const execArgv = workerExecArgv(process.execArgv);
  // Where this Node cannot start another one by itself (the arm64 artifact run under qemu user
  // mode on an x64 machine, test/package/arm64-artifact.test.ts), a launcher command runs it; never set on
  // Lambda.
  const launcher = process.env.IMAGE_WORKER_LAUNCHER?.trim().split(/\s+/).filter(Boolean) ?? [];
  const child = fork(fileURLToPath(import.meta.url), [WORKER_FLAG], {
    env,
    ...(launcher.length > 0
      ? { execPath: launcher[0], execArgv: [...launcher.slice(1), process.execPath, ...execArgv] }
      : { execArgv }),
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  // An idle worker never keeps the container's (or a test's) event loop alive; a job's timer does.
  child.unref();
  child.channel?.unref();
  child.on('exit', () => {
    if (worker === child) worker = undefined;
  });
  child.on('error', () => {
    if (worker === child) worker = undefined;
  });
  return child;
}

/**
 * The parent's Node options (a loader such as tsx's `--import`, memory flags) without those that
 * would make the worker run something else (`-e` code, `-p`, a test runner) or fight over a
 * debugger port.
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    if (['-e', '--eval', '-p', '--print'].includes(arg)) {
      i++; // and its code
      continue;
    }
    if (/^(--eval|--print|--input-type|--test|--watch|--inspect|--debug)/.test(arg) || /^-[ep]$/.test(arg)) continue;
    kept.push(arg);
  }
  return kept;
}

/** Workers this module killed because a job's budget was spent (not the kernel, not a crash). */
const stopped = new WeakSet<ChildProcess>();

function stopWorker(child: ChildProcess): void {
  if (worker === child) worker = undefined;
  stopped.add(child);
  child.kill('SIGKILL');
}

async function normalizeInWorker(task: WorkerTask, deadline: number, attempt = 1): Promise<ImageUpload> {
  const { upload, limits } = task;
  const remaining = deadline - performance.now();
  if (remaining <= 0) throw new BudgetSpentError('image_too_large', budgetMessage(limits));
  const child = (worker ??= startWorker());
  const id = ++jobs;
  const job: WorkerJob = { ...task, id };
  const reply = await new Promise<WorkerReply | 'again'>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (message: WorkerReply) => {
      if (message.id !== id) return;
      done();
      resolve(message);
    };
    const onExit = () => {
      done();
      // Another request's budget ended the worker this job shared (only where requests run side
      // by side, as offline): this job starts again on a new worker, within its own budget.
      if (stopped.has(child)) return resolve('again');
      // Killed from outside (the kernel, out of memory) or crashed in the decoder: the file's doing.
      reject(new BudgetSpentError('image_too_large', 'The image needs more memory or time than are allowed; send a smaller one.'));
    };
    const timer = setTimeout(() => {
      done();
      stopWorker(child);
      reject(new BudgetSpentError('image_too_large', budgetMessage(limits)));
    }, remaining);
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send(job, (error) => {
      if (!error) return;
      done();
      stopWorker(child);
      // A worker that died between two requests (its exit not yet seen): once more on a new one.
      if (attempt < 2) resolve('again');
      else reject(error);
    });
  });
  if (reply === 'again') return normalizeInWorker(task, deadline, attempt + 1);
  if (!reply.ok) {
    if ('bug' in reply) throw new Error(`image worker: ${reply.bug}`);
    throw new ImageError(reply.code, reply.message);
  }
  const bytes = Buffer.from(reply.bytes.buffer, reply.bytes.byteOffset, reply.bytes.byteLength);
  return { field: upload.field, bytes, info: reply.info };
}

/** The worker's side: one job at a time, as the parent sends them. */
function serveJobs(): void {
  const send = (reply: WorkerReply) => process.send!(reply);
  process.on('message', (job: WorkerJob) => {
    const upload = { ...job.upload, bytes: Buffer.from(job.upload.bytes.buffer, job.upload.bytes.byteOffset, job.upload.bytes.byteLength) };
    normalizeImage(upload, job.field, job.limits, job.keepDecoded).then(
      (result) => send({ id: job.id, ok: true, bytes: result.bytes, info: result.info }),
      (error: unknown) => {
        if (error instanceof ImageError) send({ id: job.id, ok: false, code: error.code, message: error.message });
        else send({ id: job.id, ok: false, bug: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
      },
    );
  });
  // The parent is gone (its container ended, a test finished): so is the worker.
  process.on('disconnect', () => process.exit(0));
}

if (isImageWorker()) serveJobs();

/**
 * A HEIC's decoded pixels, kept by the worker for the next image of the same request when that is
 * the same file (avatar and cover from one photo): decoding is most of a HEIC's cost, and two
 * decodes of a 12-MP photo would take most of the request's time budget on Lambda.
 */
let kept: { bytes: Buffer; pixels: { data: Uint8Array; width: number; height: number } } | undefined;

/** The stored JPEG's quality, unless the upload was saved coarser (normalizeImage). */
const JPEG_QUALITY = 85;

/** One image, decoded, oriented, converted to sRGB, cropped/scaled and re-encoded (in the worker). */
export async function normalizeImage(upload: ImageUpload, field: ImageField, limits: ImageLimits, keepDecoded = false): Promise<ImageUpload> {
  const sharp = await loadSharp();
  const { info } = upload;
  // Only GIF and WebP animations are kept; the pre-check reports one frame for anything else.
  const animated = info.frames > 1;
  const options: SharpOptions = {
    animated,
    // Decoding stops at the first error (a truncated or corrupt file), not at a mere warning.
    failOn: 'error',
    // The pre-check has refused anything larger; this is the decoder's own guard behind it.
    limitInputPixels: animated ? limits.maxAnimationPixels : limits.maxPixels,
    sequentialRead: true,
  };
  // What the stored file can keep of the upload's own encoding: greyscale stays greyscale (one
  // sample a pixel instead of three), a palette PNG stays a palette. Header only, no pixels.
  let source: { grey: boolean; palette: boolean } = { grey: false, palette: false };
  if (info.type === 'jpeg' || info.type === 'png') {
    try {
      const meta = await sharp(upload.bytes, options).metadata();
      source = { grey: meta.space === 'b-w' || meta.space === 'grey16', palette: meta.isPalette === true };
    } catch (error) {
      throw imageErrorOf(error);
    }
  }
  // No sharp .timeout(): libvips checks it only between regions of output, and a decoder stopped
  // that way reports a corrupt file; the parent's budget kills the worker instead (normalizeImages).
  // HEIF and AVIF: the decoder applies the container's irot/imir/clap itself, and reports no
  // orientation after it; the EXIF orientation is the pre-check's, only where there were none.
  const container = info.type === 'heif' || info.type === 'avif';
  let size = { width: info.width, height: info.height };
  let heic: { data: Uint8Array; width: number; height: number } | undefined;
  // Pixels kept by the image before this one are for this very file only, and only once.
  const earlier = kept;
  kept = undefined;
  if (info.type === 'heif') {
    if (earlier?.bytes.equals(upload.bytes)) {
      heic = earlier.pixels;
    } else {
      // HEVC is decoded by libheif in WebAssembly, loaded now and only here (heic.ts).
      const { decodeHeic } = await import('./heic.ts');
      heic = await decodeHeic(upload.bytes);
    }
    if (keepDecoded) kept = { bytes: upload.bytes, pixels: heic };
    // clap may have cropped the image below its declared size: the sizes below are the real ones.
    size = { width: heic.width, height: heic.height };
  }
  const shaped = (): Sharp => {
    let pipeline: Sharp = heic
      ? sharp(heic.data, { raw: { width: heic.width, height: heic.height, channels: 4 }, limitInputPixels: limits.maxPixels })
      : sharp(info.type === 'avif' ? asStillAvif(upload.bytes) : upload.bytes, options);
    if (container) pipeline = orient(pipeline, info.orientation ?? 1);
    // EXIF orientation; animations (GIF, WebP) carry none that viewers apply.
    else if (!animated) pipeline = pipeline.autoOrient();
    // Rotation swaps the sides but not the shorter one, so the sizes need no decoded metadata; this
    // keeps the resize the first thing libvips sees, which lets it shrink a JPEG while decoding.
    if (field === 'avatar') {
      const side = Math.min(limits.avatarSize, size.width, size.height);
      pipeline = pipeline.resize(side, side, { fit: 'cover', position: 'centre' });
    } else {
      pipeline = pipeline.resize(limits.coverMaxSide, limits.coverMaxSide, { fit: 'inside', withoutEnlargement: true });
    }
    if (info.type === 'png') {
      const gamma = pngGamma(upload.bytes);
      if (gamma !== undefined) pipeline = withGamma(pipeline, gamma);
    }
    return pipeline.toColourspace(source.grey ? 'b-w' : 'srgb');
  };
  if (container) return storeContainerImage(sharp, shaped(), upload);
  // No withMetadata/keepExif/keepIccProfile: the output carries no metadata.
  let pipeline = shaped();
  switch (info.type) {
    case 'jpeg':
      pipeline = pipeline.jpeg({ quality: JPEG_QUALITY });
      break;
    case 'png':
      pipeline = pipeline.png({ compressionLevel: 6, palette: source.palette });
      break;
    case 'gif':
      // The uploaded palette is reused and no dithering applied: quantizing every frame anew is
      // several times slower, and GIF encoding is the costliest step of an animation.
      pipeline = pipeline.gif({ reuse: true, effort: 1, dither: 0 });
      break;
    case 'webp':
      // An animation is encoded frame by frame: the lower effort costs about 10 % in size and
      // saves about 40 % of the time, which decides whether 60 megapixels fit the time limit.
      pipeline = pipeline.webp({ quality: 82, effort: animated ? 1 : 4 });
      break;
    case 'heif':
    case 'avif':
      break; // storeContainerImage
  }

  let output: { data: Buffer; info: { width: number; height: number; pages?: number; pageHeight?: number } };
  try {
    output = await pipeline.toBuffer({ resolveWithObject: true });
    // Larger than the upload: only an image kept at (about) its size gets here, so a second
    // encoding costs little. A JPEG saved coarser than quality 85 is encoded at its own quality
    // (a finer one only spends bytes on its artifacts); a PNG, lossless, with the most effort.
    // The smaller of the two is stored.
    if (output.data.length > upload.bytes.length && (info.type === 'jpeg' || info.type === 'png')) {
      const quality = info.type === 'jpeg' ? jpegQuality(upload.bytes) : undefined;
      const again =
        info.type === 'png'
          ? shaped().png({ compressionLevel: 9, adaptiveFiltering: true, palette: source.palette })
          : quality !== undefined && quality < JPEG_QUALITY
            ? shaped().jpeg({ quality })
            : undefined;
      const second = await again?.toBuffer({ resolveWithObject: true });
      if (second && second.data.length < output.data.length) output = second;
    }
  } catch (error) {
    throw imageErrorOf(error);
  }
  if (info.type === 'png') output.data = withoutAncillaryChunks(output.data);
  const frames = animated ? (output.info.pages ?? 1) : 1;
  const height = animated ? (output.info.pageHeight ?? output.info.height) : output.info.height;
  // The stored image is small (at most 1600 px a side); its decodeBytes is not used again.
  const normalized: ImageInfo = { type: info.type, ...FORMATS[info.type], width: output.info.width, height, frames, decodeBytes: 0 };
  return { field: upload.field, bytes: output.data, info: normalized };
}

/**
 * libvips recognises an AVIF by its major brand and knows no `avis` (an image sequence, which the
 * pre-check accepts only with a primary still image): the copy it reads says `avif`, so libheif
 * decodes that primary image and no frame of the sequence.
 */
function asStillAvif(bytes: Buffer): Buffer {
  if (bytes.toString('latin1', 4, 12) !== 'ftypavis') return bytes;
  const copy = Buffer.from(bytes);
  copy.write('avif', 8, 'latin1');
  return copy;
}

/**
 * The EXIF orientation applied with sharp's operations, which run flips before the rotation:
 * transpose (5) is a flip then a quarter turn, transverse (7) a flop then a quarter turn.
 */
function orient(pipeline: Sharp, orientation: number): Sharp {
  switch (orientation) {
    case 2:
      return pipeline.flop();
    case 3:
      return pipeline.rotate(180);
    case 4:
      return pipeline.flip();
    case 5:
      return pipeline.flip().rotate(90);
    case 6:
      return pipeline.rotate(90);
    case 7:
      return pipeline.flop().rotate(90);
    case 8:
      return pipeline.rotate(270);
    default:
      return pipeline;
  }
}

/**
 * A HEIF or AVIF photo is stored as JPEG, or as PNG when it has transparency: the scaled image is
 * taken as raw pixels (small: at most 1600 px a side) and its alpha looked at, so an alpha plane
 * that is opaque everywhere still gives a JPEG.
 */
async function storeContainerImage(sharp: SharpModule, pipeline: Sharp, upload: ImageUpload): Promise<ImageUpload> {
  let raw: { data: Buffer; info: { width: number; height: number; channels: number } };
  try {
    raw = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw imageErrorOf(error);
  }
  const { width, height, channels } = raw.info;
  let transparent = false;
  if (channels === 4) {
    for (let i = 3; i < raw.data.length; i += 4) {
      if (raw.data[i] !== 255) {
        transparent = true;
        break;
      }
    }
  }
  // A HEIC's profile, or Display P3 named by code points, was left to us by the decoder (colour.ts).
  const colour = upload.info.colour ? await import('./colour.ts') : undefined;
  const profile = await colour?.profileToApply(sharp, upload.info, upload.bytes);
  const size = { width, height, channels: channels as 3 | 4 };
  const pixels = profile ? colour!.inSrgb(sharp, { data: raw.data, ...size }, profile) : sharp(raw.data, { raw: size });
  const type = transparent ? 'png' : 'jpeg';
  // libvips writes a pHYs chunk into every PNG: stored without it, as every PNG (no metadata).
  const data = transparent
    ? withoutAncillaryChunks(await pixels.png({ compressionLevel: 6 }).toBuffer())
    : await pixels.removeAlpha().jpeg({ quality: JPEG_QUALITY }).toBuffer();
  return { field: upload.field, bytes: data, info: { type, ...FORMATS[type], width, height, frames: 1, decodeBytes: 0 } };
}

/**
 * Samples encoded with a PNG gAMA of `gamma` (sample = linear ^ gamma) re-encoded for sRGB's 1/2.2:
 * out = sample ^ (1 / (2.2 × gamma)). sharp's gamma(a, b) raises to `a` before the resize and to
 * 1/b after it, each between 1 and 3 (alpha untouched), so exponents from 1/3 to 3 are exact
 * (gAMA 0.15 to 1.36); a gAMA beyond is corrected as far as that allows.
 */
function withGamma(pipeline: Sharp, gamma: number): Sharp {
  const exponent = 1 / (2.2 * gamma);
  const clamp = (x: number) => Math.min(3, Math.max(1, x));
  return exponent < 1 ? pipeline.gamma(1, clamp(1 / exponent)) : pipeline.gamma(clamp(exponent), 1);
}

/**
 * Whatever libvips refuses is the file's fault: corrupt data or an unsupported variant is
 * `invalid_image`; an image that trips the decoder's own pixel guard (the pre-check should have
 * refused it first) is `image_too_large`. Time is the parent's budget (normalizeImages).
 */
export function imageErrorOf(error: unknown): ImageError {
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) {
    return new ImageError('image_too_large', 'The image has more pixels than are allowed.');
  }
  return new ImageError('invalid_image', INVALID_IMAGE_MESSAGE);
}
