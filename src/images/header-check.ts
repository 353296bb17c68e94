// The cheap first gate for uploaded avatar and cover images: recognise the format from the bytes
// and read sizes, frame counts and scan counts from the container structure, never decoding a
// pixel. A file that declares enormous dimensions, 120,000 frames or thousands of progressive
// scans costs no more to refuse than a small one, and every walk below is one linear pass that
// keeps only counters, so its cost is bounded by the file's length whatever the file holds.
//
// What passes is decoded and re-encoded by src/images/normalize.ts, which is what removes metadata;
// nothing here strips. Data after the image's end marker (an HDR gain map after a JPEG, a
// motion-photo video, vendor trailers, padding) is not looked at: only the primary image is used.

export type ImageType = 'jpeg' | 'png' | 'gif' | 'webp';

export interface ImageInfo {
  type: ImageType;
  mime: string;
  ext: string;
  /** Canvas width and height (for JPEG, before EXIF orientation is applied). */
  width: number;
  height: number;
  /** Frames decoded: 1 for a still image (and for PNG, whose animation is not kept). */
  frames: number;
  /**
   * Bytes the decoder holds at once for this image, estimated from the header: what libvips must
   * keep whole rather than stream (a progressive JPEG's coefficients, an interlaced PNG, an
   * animated WebP composed frame by frame on its canvas, a GIF's canvas). The images of one
   * request together stay within ImageRules.maxDecodeBytes.
   */
  decodeBytes: number;
}

export interface ImageRules {
  maxBytes: number;
  /** Largest width or height of the canvas or of any frame. */
  maxSide: number;
  /** Largest width × height of one frame (the canvas). */
  maxPixels: number;
  /** Most frames of an animation. */
  maxFrames: number;
  /**
   * Largest sum of the pixels decoded across an animation's frames: each frame counts at least the
   * canvas (it is composed on it) and at least its own size (a GIF frame may exceed the screen).
   */
  maxAnimationPixels: number;
  /** Largest decodeBytes of one image, and of all the images of one request together. */
  maxDecodeBytes: number;
  /** Most scans of a JPEG (progressive files repeat scans; each one is a pass over the image). */
  maxJpegScans: number;
}

export type ImageErrorCode = 'invalid_image' | 'file_too_large' | 'image_too_large';

export class ImageError extends Error {
  override name = 'ImageError';
  readonly code: ImageErrorCode;

  constructor(code: ImageErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Django's wording, plus the formats that are accepted, so a HEIC from a phone says what to send. */
export const INVALID_IMAGE_MESSAGE =
  'Upload a valid image (JPEG, PNG, GIF or WebP). The file you uploaded was either not an image or a corrupted image.';

const invalid = (): never => {
  throw new ImageError('invalid_image', INVALID_IMAGE_MESSAGE);
};

export const FORMATS: Record<ImageType, { mime: string; ext: string }> = {
  jpeg: { mime: 'image/jpeg', ext: 'jpg' },
  png: { mime: 'image/png', ext: 'png' },
  gif: { mime: 'image/gif', ext: 'gif' },
  webp: { mime: 'image/webp', ext: 'webp' },
};

interface Layout {
  width: number;
  height: number;
  /** The union of the canvas and every frame (GIF frames may lie outside the logical screen). */
  extentWidth: number;
  extentHeight: number;
  frames: number;
  /** Pixels decoded across all frames, each frame counted at its real cost (parseGif, parseWebp). */
  framePixels: number;
  decodeBytes: number;
}

/**
 * Recognise the type from the bytes (never from a declared type) and check every limit from the
 * header structure alone. Throws ImageError.
 */
export function inspectImage(bytes: Uint8Array, rules: ImageRules): ImageInfo {
  if (bytes.length === 0) throw new ImageError('invalid_image', 'The submitted file is empty.');
  if (bytes.length > rules.maxBytes) {
    throw new ImageError('file_too_large', `The image must be at most ${formatBytes(rules.maxBytes)}.`);
  }
  const type = sniff(bytes) ?? invalid();
  let layout: Layout;
  switch (type) {
    case 'jpeg':
      layout = parseJpeg(bytes, rules);
      break;
    case 'png':
      layout = parsePng(bytes);
      break;
    case 'gif':
      layout = parseGif(bytes, rules);
      break;
    case 'webp':
      layout = parseWebp(bytes, rules);
      break;
  }
  const { extentWidth, extentHeight, frames } = layout;
  if (extentWidth > rules.maxSide || extentHeight > rules.maxSide || extentWidth * extentHeight > rules.maxPixels) {
    throw new ImageError(
      'image_too_large',
      `The image is ${extentWidth}×${extentHeight} pixels; at most ${rules.maxSide} pixels a side ` +
        `and ${formatPixels(rules.maxPixels)} are allowed.`,
    );
  }
  if (frames > 1 && layout.framePixels > rules.maxAnimationPixels) {
    // Checked once the walk is over (the frame count already bounds it), so the message states
    // the file's real totals, not the running count where the budget was crossed.
    throw new ImageError(
      'image_too_large',
      `The animation's ${frames} frames hold ${formatPixelsOver(layout.framePixels)} in all; at most ` +
        `${formatPixels(rules.maxAnimationPixels)} across all frames are allowed.`,
    );
  }
  checkDecodeBytes(layout.decodeBytes, rules);
  return { type, ...FORMATS[type], width: layout.width, height: layout.height, frames, decodeBytes: layout.decodeBytes };
}

/** Refuses an image whose decoding would hold more memory than one request may use. */
function checkDecodeBytes(decodeBytes: number, rules: ImageRules): void {
  if (decodeBytes > rules.maxDecodeBytes) {
    throw new ImageError(
      'image_too_large',
      `Decoding the image needs about ${formatBytesOver(decodeBytes)} of memory; at most ` +
        `${formatBytes(rules.maxDecodeBytes)} are allowed for the images of one request.`,
    );
  }
}

/**
 * The images of one request are decoded one after the other in one process, which does not give
 * all memory back in between: their estimates together stay within the same bound. Returns the
 * index of the image that goes over, undefined when all fit.
 */
export function requestDecodeOver(images: readonly ImageInfo[], rules: Pick<ImageRules, 'maxDecodeBytes'>): number | undefined {
  let total = 0;
  for (const [i, image] of images.entries()) {
    total += image.decodeBytes;
    if (total > rules.maxDecodeBytes) return i;
  }
  return undefined;
}

export const requestDecodeMessage = (rules: Pick<ImageRules, 'maxDecodeBytes'>): string =>
  `The images of this request need more than ${formatBytes(rules.maxDecodeBytes)} of memory together; send smaller ones, or one at a time.`;

/** Frames are counted as they are met: a file with 120,000 frames is refused at frame 301. */
function checkFrameCount(frames: number, rules: ImageRules): void {
  if (frames > rules.maxFrames) {
    throw new ImageError('image_too_large', `The animation has more than ${rules.maxFrames} frames; at most ${rules.maxFrames} are allowed.`);
  }
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

const MiB = 1024 * 1024;
const KiB = 1024;

/** Rounds down so the stated limit never promises more than is accepted. */
const floorTo = (value: number, decimals: number): string => {
  const factor = 10 ** decimals;
  return String(Math.floor(value * factor) / factor);
};

function formatBytes(bytes: number): string {
  if (bytes >= MiB) return `${floorTo(bytes / MiB, 1)} MiB`;
  if (bytes >= KiB) return `${floorTo(bytes / KiB, 1)} KiB`;
  return `${bytes} bytes`;
}

function formatPixels(pixels: number): string {
  if (pixels < 10_000) return `${pixels} pixels in total`;
  const mp = floorTo(pixels / 1_000_000, 2);
  return mp === '1' ? '1 megapixel' : `${mp} megapixels`;
}

/** Rounds up: an amount over a limit never reads as equal to it (60,000,001 pixels: 60.01 MP). */
const ceilTo = (value: number, decimals: number): string => {
  const factor = 10 ** decimals;
  return String(Math.ceil(value * factor) / factor);
};

function formatPixelsOver(pixels: number): string {
  if (pixels < 10_000) return `${pixels} pixels`;
  return `${ceilTo(pixels / 1_000_000, 2)} megapixels`;
}

function formatBytesOver(bytes: number): string {
  return bytes >= MiB ? `${ceilTo(bytes / MiB, 1)} MiB` : `${ceilTo(bytes / KiB, 1)} KiB`;
}

const u16be = (b: Uint8Array, i: number): number => (b[i]! << 8) | b[i + 1]!;
const u16le = (b: Uint8Array, i: number): number => b[i]! | (b[i + 1]! << 8);
const u24le = (b: Uint8Array, i: number): number => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16);
const u32be = (b: Uint8Array, i: number): number =>
  ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
const u32le = (b: Uint8Array, i: number): number =>
  (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;

function hasAscii(b: Uint8Array, at: number, text: string): boolean {
  if (at < 0 || at + text.length > b.length) return false;
  for (let i = 0; i < text.length; i++) if (b[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

function sniff(b: Uint8Array): ImageType | undefined {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (PNG_SIGNATURE.every((v, i) => b[i] === v)) return 'png';
  if (hasAscii(b, 0, 'GIF87a') || hasAscii(b, 0, 'GIF89a')) return 'gif';
  if (hasAscii(b, 0, 'RIFF') && hasAscii(b, 8, 'WEBP')) return 'webp';
  return undefined;
}

const still = (width: number, height: number, decodeBytes = 0): Layout => ({
  width,
  height,
  extentWidth: width,
  extentHeight: height,
  frames: 1,
  framePixels: width * height,
  decodeBytes,
});

// ---------------------------------------------------------------------------------------------
// JPEG

const isSof = (m: number): boolean => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

/** Markers that carry no length: TEM and the restart markers. */
const isStandalone = (m: number): boolean => m === 0x01 || (m >= 0xd0 && m <= 0xd7);

/**
 * Walks the marker structure up to the primary image's EOI, including the entropy-coded data of
 * every scan (looking only for markers, never decoding), so an FF D9 inside an EXIF thumbnail is
 * not taken for the end. Scans are counted as they are met: a progressive file repeating one scan
 * thousands of times is refused at scan 65. What follows EOI (MPF images, gain maps) is not read.
 */
function parseJpeg(b: Uint8Array, rules: ImageRules): Layout {
  const n = b.length;
  let frame: { width: number; height: number; decodeBytes: number } | undefined;
  let scans = 0;
  let pos = 2;

  for (;;) {
    if (b[pos] !== 0xff) invalid();
    while (b[pos] === 0xff) pos++; // fill bytes
    if (pos >= n) invalid();
    const marker = b[pos++]!;

    if (marker === 0xd9) {
      if (scans === 0) invalid();
      break;
    }
    if (isStandalone(marker)) continue;
    if (marker === 0x00 || marker === 0xd8) invalid();

    if (pos + 2 > n) invalid();
    const length = u16be(b, pos);
    const end = pos + length;
    if (length < 2 || end > n) invalid();

    if (isSof(marker)) {
      if (frame || length < 8) invalid();
      const components = b[pos + 7]!;
      if (components === 0 || length !== 8 + 3 * components) invalid();
      // Height 0 means "defined later by a DNL marker": no size known from the header, so refuse.
      const height = u16be(b, pos + 3);
      const width = u16be(b, pos + 5);
      if (width === 0 || height === 0) invalid();
      frame = { width, height, decodeBytes: isProgressive(marker) ? coefficientBytes(b, pos + 8, components, width, height) : 0 };
    } else if (marker === 0xda) {
      if (!frame || length < 3) invalid();
      const components = b[pos + 2]!;
      if (components === 0 || length !== 6 + 2 * components) invalid();
      if (++scans > rules.maxJpegScans) {
        throw new ImageError(
          'invalid_image',
          `The JPEG has more than ${rules.maxJpegScans} scans; at most ${rules.maxJpegScans} are allowed. ${INVALID_IMAGE_MESSAGE}`,
        );
      }
      pos = skipEntropyData(b, end);
      continue;
    }
    pos = end;
  }
  if (!frame) return invalid();
  return still(frame.width, frame.height, frame.decodeBytes);
}

const isProgressive = (m: number): boolean => m === 0xc2 || m === 0xc6 || m === 0xca || m === 0xce;

/**
 * A progressive JPEG is decoded only after its last scan, so libjpeg holds every DCT coefficient
 * of the image (2 bytes each, 64 per 8×8 block, blocks padded to whole MCUs), whatever the output
 * size: 120 MB for 40 MP with 4:2:0 chroma, 240 MB with full-resolution chroma.
 */
function coefficientBytes(b: Uint8Array, at: number, components: number, width: number, height: number): number {
  let hMax = 1;
  let vMax = 1;
  for (let i = 0; i < components; i++) {
    const sampling = b[at + 3 * i + 1]!;
    hMax = Math.max(hMax, sampling >> 4);
    vMax = Math.max(vMax, sampling & 0x0f);
  }
  const mcuColumns = Math.ceil(width / (8 * hMax));
  const mcuRows = Math.ceil(height / (8 * vMax));
  let blocks = 0;
  for (let i = 0; i < components; i++) {
    const sampling = b[at + 3 * i + 1]!;
    blocks += mcuColumns * Math.max(1, sampling >> 4) * mcuRows * Math.max(1, sampling & 0x0f);
  }
  return blocks * 64 * 2;
}

/** Position of the FF that starts the first real marker after a scan's entropy-coded data. */
function skipEntropyData(b: Uint8Array, from: number): number {
  let pos = from;
  for (;;) {
    const ff = b.indexOf(0xff, pos);
    if (ff < 0) return invalid(); // no EOI
    let next = ff + 1;
    while (b[next] === 0xff) next++;
    if (next >= b.length) return invalid();
    const m = b[next]!;
    // FF 00 is a stuffed data byte and RSTn separate restart intervals; both belong to the scan.
    if (m === 0x00 || (m >= 0xd0 && m <= 0xd7)) {
      pos = next + 1;
      continue;
    }
    return ff;
  }
}

// ---------------------------------------------------------------------------------------------
// PNG
//
// Only the first frame of an animated PNG is kept (libvips reads the default image), so acTL is
// not counted: the cost is one frame, which the canvas limits already bound.

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Bit depths allowed for each colour type; anything else is a corrupt or hostile IHDR. */
const PNG_DEPTHS: Record<number, readonly number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

function parsePng(b: Uint8Array): Layout {
  const n = b.length;
  // Signature (8) + the whole IHDR chunk (4 + 4 + 13 + 4).
  if (n < 33 || u32be(b, 8) !== 13 || !hasAscii(b, 12, 'IHDR')) invalid();
  // The dimensions are the one thing we trust from the header, so make sure they are not damaged.
  if (crc32(b, 12, 29) !== u32be(b, 29)) invalid();
  const width = u32be(b, 16);
  const height = u32be(b, 20);
  const depth = b[24]!;
  const colour = b[25]!;
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) invalid();
  if (!PNG_DEPTHS[colour]?.includes(depth) || b[26] !== 0 || b[27] !== 0 || b[28]! > 1) invalid();

  let sawPalette = false;
  let sawData = false;
  let pos = 33;
  for (;;) {
    if (pos + 12 > n) invalid();
    const length = u32be(b, pos);
    if (length > 0x7fffffff) invalid();
    const end = pos + 12 + length;
    if (end > n) invalid();
    for (let i = pos + 4; i < pos + 8; i++) {
      const c = b[i]! | 0x20;
      if (c < 0x61 || c > 0x7a) invalid();
    }
    if (hasAscii(b, pos + 4, 'IHDR')) invalid();
    if (hasAscii(b, pos + 4, 'PLTE')) sawPalette = true;
    if (hasAscii(b, pos + 4, 'IDAT')) {
      if (colour === 3 && !sawPalette) invalid();
      sawData = true;
    }
    const isEnd = hasAscii(b, pos + 4, 'IEND');
    pos = end;
    if (isEnd) break;
  }
  if (!sawData) invalid();
  // A non-interlaced PNG is decoded row by row as the pipeline asks; an interlaced one (Adam7) only
  // as a whole, at its full sample size: 8 bytes a pixel for 16-bit RGBA (320 MB for 40 MP).
  const interlaced = b[28] === 1;
  return still(width, height, interlaced ? width * height * PNG_CHANNELS[colour]! * (depth === 16 ? 2 : 1) : 0);
}

/** Channels libvips decodes each colour type to (a palette may expand to RGBA). */
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 4, 4: 2, 6: 4 };

let crcTable: Uint32Array | undefined;

function crc32(bytes: Uint8Array, from: number, to: number): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[i] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = from; i < to; i++) crc = crcTable[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// GIF

function parseGif(b: Uint8Array, rules: ImageRules): Layout {
  const n = b.length;
  if (n < 13) invalid();
  const width = u16le(b, 6);
  const height = u16le(b, 8);
  if (width === 0 || height === 0) invalid();
  let extentWidth = width;
  let extentHeight = height;
  const flags = b[10]!;
  let pos = 13 + (flags & 0x80 ? 3 << ((flags & 7) + 1) : 0);

  let frames = 0;
  let framePixels = 0;
  for (;;) {
    if (pos >= n) invalid();
    const introducer = b[pos]!;
    if (introducer === 0x3b) break;
    if (introducer === 0x21) {
      if (pos + 2 > n) invalid();
      pos = skipSubBlocks(b, pos + 2);
    } else if (introducer === 0x2c) {
      if (pos + 11 > n) invalid();
      const left = u16le(b, pos + 1);
      const top = u16le(b, pos + 3);
      const frameWidth = u16le(b, pos + 5);
      const frameHeight = u16le(b, pos + 7);
      const frameFlags = b[pos + 9]!;
      if (frameWidth === 0 || frameHeight === 0) invalid();
      extentWidth = Math.max(extentWidth, left + frameWidth);
      extentHeight = Math.max(extentHeight, top + frameHeight);
      pos += 10 + (frameFlags & 0x80 ? 3 << ((frameFlags & 7) + 1) : 0);
      if (pos >= n) invalid();
      const minCodeSize = b[pos]!;
      if (minCodeSize < 1 || minCodeSize > 11) invalid();
      pos = skipSubBlocks(b, pos + 1);
      // The decoder composes each frame on the screen and decodes all of the frame's own pixels,
      // also those outside the screen: a frame costs the larger of the two.
      framePixels += Math.max(width * height, frameWidth * frameHeight);
      checkFrameCount(++frames, rules);
    } else {
      invalid();
    }
  }
  if (frames === 0) invalid();
  // One RGBA canvas the size of everything drawn.
  return { width, height, extentWidth, extentHeight, frames, framePixels, decodeBytes: extentWidth * extentHeight * 4 };
}

/** Position just after the zero-length block that terminates a run of data sub-blocks. */
function skipSubBlocks(b: Uint8Array, from: number): number {
  let pos = from;
  for (;;) {
    if (pos >= b.length) invalid();
    const size = b[pos]!;
    pos += 1 + size;
    if (size === 0) return pos;
  }
}

// ---------------------------------------------------------------------------------------------
// WebP

const VP8X_ANIMATION = 0x02;

function parseWebp(b: Uint8Array, rules: ImageRules): Layout {
  const riffEnd = 8 + u32le(b, 4);
  if (riffEnd > b.length || riffEnd < 20) invalid();

  const chunkAt = (pos: number) => {
    if (pos + 8 > riffEnd) invalid();
    const size = u32le(b, pos + 4);
    const dataEnd = pos + 8 + size;
    if (dataEnd > riffEnd) invalid();
    // Chunks are padded to even lengths; tolerate a writer that dropped the last pad byte.
    return { pos, data: pos + 8, size, end: Math.min(dataEnd + (size & 1), riffEnd) };
  };

  const first = chunkAt(12);
  if (hasAscii(b, 12, 'VP8 ')) return vp8Size(b, first.data, first.size);
  if (hasAscii(b, 12, 'VP8L')) return vp8lSize(b, first.data, first.size);
  if (!hasAscii(b, 12, 'VP8X') || first.size !== 10) return invalid();

  const flags = b[first.data]!;
  const width = u24le(b, first.data + 4) + 1;
  const height = u24le(b, first.data + 7) + 1;
  const animated = (flags & VP8X_ANIMATION) !== 0;

  let frames = 0;
  let sawAnim = false;
  let image: Layout | undefined;
  for (let pos = first.end; pos < riffEnd; ) {
    const c = chunkAt(pos);
    if (animated && hasAscii(b, pos, 'ANIM')) sawAnim = true;
    if (animated && hasAscii(b, pos, 'ANMF')) {
      if (c.size < 16) invalid();
      // Offsets are stored halved.
      const x = u24le(b, c.data) * 2;
      const y = u24le(b, c.data + 3) * 2;
      const w = u24le(b, c.data + 6) + 1;
      const h = u24le(b, c.data + 9) + 1;
      // libwebp's demuxer refuses a frame beyond the canvas, so the canvas bounds every frame.
      if (x + w > width || y + h > height) invalid();
      checkFrameCount(++frames, rules);
    }
    if (!animated && !image && hasAscii(b, pos, 'VP8 ')) image = vp8Size(b, c.data, c.size);
    if (!animated && !image && hasAscii(b, pos, 'VP8L')) image = vp8lSize(b, c.data, c.size);
    pos = c.end;
  }
  if (animated) {
    if (!sawAnim || frames === 0) invalid();
    // Every frame is composed on the whole canvas and libvips keeps all the composed frames (RGBA):
    // two frames of a few bytes on a 5477×5477 canvas hold 240 MB.
    const framePixels = width * height * frames;
    return { width, height, extentWidth: width, extentHeight: height, frames, framePixels, decodeBytes: framePixels * 4 };
  }
  // Decoders refuse a still image whose bitstream disagrees with the canvas.
  if (!image || image.width !== width || image.height !== height) invalid();
  return still(width, height);
}

function vp8Size(b: Uint8Array, data: number, size: number): Layout {
  if (size < 10) invalid();
  const tag = u24le(b, data);
  const keyFrame = (tag & 1) === 0;
  const version = (tag >> 1) & 7;
  const shown = (tag >> 4) & 1;
  const firstPartition = tag >>> 5;
  if (!keyFrame || version > 3 || !shown || firstPartition >= size) invalid();
  if (b[data + 3] !== 0x9d || b[data + 4] !== 0x01 || b[data + 5] !== 0x2a) invalid();
  // The top two bits of each are upscaling hints, not size.
  const width = u16le(b, data + 6) & 0x3fff;
  const height = u16le(b, data + 8) & 0x3fff;
  if (width === 0 || height === 0) invalid();
  return still(width, height);
}

function vp8lSize(b: Uint8Array, data: number, size: number): Layout {
  if (size < 5 || b[data] !== 0x2f) invalid();
  const bits = u32le(b, data + 1);
  if (bits >>> 29 !== 0) invalid(); // version
  return still((bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1);
}
