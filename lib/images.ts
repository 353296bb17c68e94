// Recognition, size limits and metadata stripping for uploaded avatar and cover images.
//
// Everything here works on container structure only: no pixel is ever decoded, so a file that
// declares enormous dimensions costs no more to reject than a small one, and stripping never
// re-encodes (no quality loss, no decoder attack surface). The parsers are deliberately strict:
// a file we cannot walk completely is refused rather than stored, because a part we did not
// understand is a part whose metadata we could not remove.

export type ImageType = 'jpeg' | 'png' | 'gif' | 'webp';

export interface ImageInfo {
  type: ImageType;
  mime: string;
  ext: string;
  width: number;
  height: number;
}

export interface ImageRules {
  maxBytes: number;
  maxSide: number;
  maxPixels: number;
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

// Django's wording, so clients that already show the API's messages see the familiar text.
const INVALID_MESSAGE =
  'Upload a valid image. The file you uploaded was either not an image or a corrupted image.';

const invalid = (): never => {
  throw new ImageError('invalid_image', INVALID_MESSAGE);
};

const FORMATS: Record<ImageType, { mime: string; ext: string }> = {
  jpeg: { mime: 'image/jpeg', ext: 'jpg' },
  png: { mime: 'image/png', ext: 'png' },
  gif: { mime: 'image/gif', ext: 'gif' },
  webp: { mime: 'image/webp', ext: 'webp' },
};

/**
 * Recognise the type from the bytes (never from a declared type) and read width/height from the
 * header only (never decode pixels). Throws ImageError.
 */
export function inspectImage(bytes: Uint8Array, rules: ImageRules): ImageInfo {
  if (bytes.length === 0) throw new ImageError('invalid_image', 'The submitted file is empty.');
  if (bytes.length > rules.maxBytes) {
    throw new ImageError('file_too_large', `The image must be at most ${formatBytes(rules.maxBytes)}.`);
  }
  const type = sniff(bytes) ?? invalid();

  let width: number;
  let height: number;
  // GIF frames may lie outside the logical screen and some decoders grow the canvas to fit them,
  // so the limits apply to the union of the screen and every frame.
  let extentWidth: number;
  let extentHeight: number;
  switch (type) {
    case 'jpeg':
      ({ width, height } = parseJpeg(bytes));
      extentWidth = width;
      extentHeight = height;
      break;
    case 'png':
      ({ width, height } = parsePng(bytes));
      extentWidth = width;
      extentHeight = height;
      break;
    case 'gif':
      ({ width, height, extentWidth, extentHeight } = parseGif(bytes));
      break;
    case 'webp':
      ({ width, height } = parseWebp(bytes));
      extentWidth = width;
      extentHeight = height;
      break;
  }

  if (
    extentWidth > rules.maxSide ||
    extentHeight > rules.maxSide ||
    extentWidth * extentHeight > rules.maxPixels
  ) {
    throw new ImageError(
      'image_too_large',
      `The image is ${extentWidth}×${extentHeight} pixels; at most ${rules.maxSide} pixels a side ` +
        `and ${formatPixels(rules.maxPixels)} are allowed.`,
    );
  }
  return { type, ...FORMATS[type], width, height };
}

/**
 * Remove metadata that can reveal a person's location without re-encoding pixels. Returns the
 * same Buffer instance when nothing was removed. Throws ImageError (invalid_image) when the
 * structure cannot be walked.
 *
 * The one thing kept from a JPEG's or WebP's EXIF is a non-default Orientation, written back in
 * a minimal EXIF block built from scratch (see "EXIF orientation" below), so photos stored
 * sideways still display upright.
 */
export function stripMetadata(bytes: Buffer, type: ImageType): Buffer {
  switch (type) {
    case 'jpeg':
      return stripJpeg(bytes);
    case 'png':
      return without(bytes, parsePng(bytes).chunks.filter((c) => PNG_METADATA.has(c.type)));
    case 'gif':
      return without(bytes, parseGif(bytes).metadata);
    case 'webp':
      return stripWebp(bytes);
  }
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

interface Range {
  start: number;
  end: number;
}

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

const ascii = (b: Uint8Array, at: number, length: number): string =>
  String.fromCharCode(...b.subarray(at, at + length));

/**
 * Anything after a format's end marker could smuggle a second payload (an appended image with
 * its own EXIF, a video, a script for a polyglot); only the zero padding some writers add is
 * tolerated.
 */
function requireZeroTail(b: Uint8Array, from: number): void {
  for (let i = from; i < b.length; i++) if (b[i] !== 0) invalid();
}

interface Insertion {
  /** Offset in the input; never inside a removed range. */
  at: number;
  data: Uint8Array;
}

/**
 * The bytes with the given ranges (in file order) cut out and optionally one block inserted, or
 * the same instance when there is nothing to change.
 */
function without(bytes: Buffer, removed: readonly Range[], insertion?: Insertion): Buffer {
  if (removed.length === 0 && !insertion) return bytes;
  const pieces: Uint8Array[] = [];
  let at = 0;
  let pending = insertion;
  const insertIfDue = (before: number): void => {
    if (!pending || pending.at > before) return;
    pieces.push(bytes.subarray(at, pending.at), pending.data);
    at = pending.at;
    pending = undefined;
  };
  for (const r of removed) {
    insertIfDue(r.start);
    pieces.push(bytes.subarray(at, r.start));
    at = r.end;
  }
  insertIfDue(bytes.length);
  pieces.push(bytes.subarray(at));
  return Buffer.concat(pieces);
}

// ---------------------------------------------------------------------------------------------
// EXIF orientation
//
// Phones store portrait photos sideways and record the turn in the EXIF Orientation tag (0x0112
// in IFD0); dropping it with the rest of the EXIF makes them display rotated. So a value of 2..8
// (1 means "as stored") is read from the EXIF being removed and written back in a block built
// here from scratch: a TIFF header and IFD0 holding that single entry, nothing else copied (no
// GPS IFD, Exif IFD, maker notes, thumbnail IFD, dates or serials can survive). EXIF that cannot
// be read cleanly is dropped whole, without an orientation, rather than refusing the upload or
// trusting bytes we did not understand.

const ORIENTATION_TAG = 0x0112;
const TIFF_SHORT = 3;

/** The Orientation (2..8) in IFD0 of a TIFF-structured EXIF payload; undefined if 1, absent or malformed. */
function readOrientation(tiff: Uint8Array): number | undefined {
  let u16: (b: Uint8Array, i: number) => number;
  let u32: (b: Uint8Array, i: number) => number;
  if (hasAscii(tiff, 0, 'II*\0')) [u16, u32] = [u16le, u32le];
  else if (hasAscii(tiff, 0, 'MM\0*')) [u16, u32] = [u16be, u32be];
  else return undefined;

  const ifd = u32(tiff, 4);
  if (ifd < 8 || ifd + 2 > tiff.length) return undefined;
  const count = u16(tiff, ifd);
  if (ifd + 2 + count * 12 > tiff.length) return undefined;

  let orientation: number | undefined;
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + i * 12;
    if (u16(tiff, entry) !== ORIENTATION_TAG) continue;
    // A second Orientation, or one that is not a single SHORT, leaves the intended value unknown.
    if (orientation !== undefined || u16(tiff, entry + 2) !== TIFF_SHORT || u32(tiff, entry + 4) !== 1) {
      return undefined;
    }
    orientation = u16(tiff, entry + 8); // a lone SHORT sits left-justified in the value field
    if (orientation < 1 || orientation > 8) return undefined;
  }
  return orientation === 1 ? undefined : orientation;
}

/** A big-endian TIFF structure whose IFD0 holds only Orientation (26 bytes). */
function orientationTiff(orientation: number): Buffer {
  const tiff = Buffer.alloc(26); // zero-filled: value padding and "no next IFD" come free
  tiff.write('MM\0*', 0, 'latin1');
  tiff.writeUInt32BE(8, 4); // IFD0 right after the header
  tiff.writeUInt16BE(1, 8); // one entry
  tiff.writeUInt16BE(ORIENTATION_TAG, 10);
  tiff.writeUInt16BE(TIFF_SHORT, 12);
  tiff.writeUInt32BE(1, 14);
  tiff.writeUInt16BE(orientation, 18);
  return tiff;
}

function sniff(b: Uint8Array): ImageType | undefined {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (PNG_SIGNATURE.every((v, i) => b[i] === v)) return 'png';
  if (hasAscii(b, 0, 'GIF87a') || hasAscii(b, 0, 'GIF89a')) return 'gif';
  if (hasAscii(b, 0, 'RIFF') && hasAscii(b, 8, 'WEBP')) return 'webp';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// JPEG

interface JpegSegment extends Range {
  marker: number;
}

const isSof = (m: number): boolean =>
  m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

/** Markers that carry no length: TEM and the restart markers. */
const isStandalone = (m: number): boolean => m === 0x01 || (m >= 0xd0 && m <= 0xd7);

/**
 * Walks the whole marker structure, including the entropy-coded data of every scan (looking only
 * for markers, never decoding), so the end of the image is the real EOI and not an FF D9 that
 * happens to sit inside an embedded thumbnail or an appended second image.
 */
function parseJpeg(b: Uint8Array): { width: number; height: number; segments: JpegSegment[] } {
  const n = b.length;
  const segments: JpegSegment[] = [];
  let frame: { width: number; height: number } | undefined;
  let scanned = false;
  let pos = 2;

  for (;;) {
    if (b[pos] !== 0xff) invalid();
    while (b[pos] === 0xff) pos++; // fill bytes
    if (pos >= n) invalid();
    const start = pos - 1;
    const marker = b[pos++]!;

    if (marker === 0xd9) {
      if (!scanned) invalid();
      requireZeroTail(b, pos);
      break;
    }
    if (isStandalone(marker)) continue;
    if (marker === 0x00 || marker === 0xd8) invalid();

    if (pos + 2 > n) invalid();
    const length = u16be(b, pos);
    const end = pos + length;
    if (length < 2 || end > n) invalid();
    segments.push({ marker, start, end });

    if (isSof(marker)) {
      if (frame || length < 8) invalid();
      const components = b[pos + 7]!;
      if (components === 0 || length !== 8 + 3 * components) invalid();
      // Height 0 means "defined later by a DNL marker": no size known from the header, so refuse.
      frame = { height: u16be(b, pos + 3), width: u16be(b, pos + 5) };
      if (frame.width === 0 || frame.height === 0) invalid();
    } else if (marker === 0xda) {
      if (!frame || length < 3) invalid();
      const components = b[pos + 2]!;
      if (components === 0 || length !== 6 + 2 * components) invalid();
      pos = skipEntropyData(b, end);
      scanned = true;
      continue;
    }
    pos = end;
  }
  if (!frame) return invalid();
  return { width: frame.width, height: frame.height, segments };
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

const JPEG_EXIF_ID = 'Exif\0\0';

const isJpegExif = (b: Uint8Array, s: JpegSegment): boolean =>
  s.marker === 0xe1 && s.end - s.start >= 4 + JPEG_EXIF_ID.length && hasAscii(b, s.start + 4, JPEG_EXIF_ID);

function stripJpeg(bytes: Buffer): Buffer {
  const { segments } = parseJpeg(bytes);
  const removed = segments.filter((s) => isJpegMetadata(bytes, s));
  if (removed.length === 0) return bytes;

  // Viewers take the orientation from the first EXIF segment of the header, before the first
  // scan; one appearing later is ignored by them, so it is not carried over either.
  const header = segments.slice(0, segments.findIndex((s) => s.marker === 0xda));
  const exif = header.find((s) => isJpegExif(bytes, s));
  const orientation = exif && readOrientation(bytes.subarray(exif.start + 4 + JPEG_EXIF_ID.length, exif.end));
  if (!orientation) return without(bytes, removed);

  const payload = Buffer.concat([Buffer.from(JPEG_EXIF_ID, 'latin1'), orientationTiff(orientation)]);
  const app1 = Buffer.concat([Buffer.from([0xff, 0xe1, 0, 0]), payload]);
  app1.writeUInt16BE(payload.length + 2, 2);
  // EXIF belongs right after SOI, or after the JFIF APP0 when there is one, which must come first.
  const gone = new Set(removed);
  const first = segments.find((s) => !gone.has(s));
  const at = first?.marker === 0xe0 ? first.end : 2; // every APP0 still there is JFIF
  return without(bytes, removed, { at, data: app1 });
}

/**
 * APP0 JFIF, APP2 ICC and APP14 Adobe change how pixels are interpreted, so they stay. Other
 * segments sharing those markers go too: an APP0 JFXX carries a thumbnail that may show the
 * uncropped original, and APP2 is also used for MPF and FlashPix data.
 */
function isJpegMetadata(b: Uint8Array, s: JpegSegment): boolean {
  if (s.marker === 0xfe) return true;
  if (s.marker < 0xe0 || s.marker > 0xef) return false;
  const payload = s.start + 4;
  if (s.marker === 0xe0) return !hasAscii(b, payload, 'JFIF\0');
  if (s.marker === 0xe2) return !hasAscii(b, payload, 'ICC_PROFILE\0');
  if (s.marker === 0xee) return !hasAscii(b, payload, 'Adobe');
  return true;
}

// ---------------------------------------------------------------------------------------------
// PNG

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const PNG_METADATA = new Set(['tEXt', 'zTXt', 'iTXt', 'eXIf']);

/** Bit depths allowed for each colour type; anything else is a corrupt or hostile IHDR. */
const PNG_DEPTHS: Record<number, readonly number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

interface PngChunk extends Range {
  type: string;
}

function parsePng(b: Uint8Array): { width: number; height: number; chunks: PngChunk[] } {
  const n = b.length;
  // Signature (8) + the whole IHDR chunk (4 + 4 + 13 + 4).
  if (n < 33 || u32be(b, 8) !== 13 || !hasAscii(b, 12, 'IHDR')) invalid();
  // The dimensions are the one thing we trust from the header, so make sure they are not damaged.
  if (crc32(b.subarray(12, 29)) !== u32be(b, 29)) invalid();
  const width = u32be(b, 16);
  const height = u32be(b, 20);
  const depth = b[24]!;
  const colour = b[25]!;
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) invalid();
  if (!PNG_DEPTHS[colour]?.includes(depth) || b[26] !== 0 || b[27] !== 0 || b[28]! > 1) invalid();

  const chunks: PngChunk[] = [];
  let sawPalette = false;
  let sawData = false;
  let pos = 8;
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
    const type = ascii(b, pos + 4, 4);
    chunks.push({ type, start: pos, end });
    pos = end;

    if (type === 'IHDR' && chunks.length > 1) invalid();
    if (type === 'PLTE') sawPalette = true;
    if (type === 'IDAT') {
      if (colour === 3 && !sawPalette) invalid();
      sawData = true;
    }
    if (type === 'IEND') break;
  }
  if (!sawData) invalid();
  requireZeroTail(b, pos);
  return { width, height, chunks };
}

let crcTable: Uint32Array | undefined;

function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[i] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const byte of bytes) crc = crcTable[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// GIF
//
// Stripping removes comment extensions and every application extension except the animation
// loop (NETSCAPE2.0 / ANIMEXTS1.0) and the ICC colour profile (ICCRGBG1 012): GIF has no EXIF,
// but XMP (including exif:GPS* properties) travels in an "XMP DataXMP" application extension,
// and unknown vendor extensions may carry anything. Graphic control and plain text extensions
// affect rendering and stay.

const GIF_KEPT_APPLICATIONS = ['NETSCAPE2.0', 'ANIMEXTS1.0', 'ICCRGBG1012'];

interface GifLayout {
  width: number;
  height: number;
  extentWidth: number;
  extentHeight: number;
  metadata: Range[];
}

function parseGif(b: Uint8Array): GifLayout {
  const n = b.length;
  if (n < 13) invalid();
  const width = u16le(b, 6);
  const height = u16le(b, 8);
  if (width === 0 || height === 0) invalid();
  let extentWidth = width;
  let extentHeight = height;
  const flags = b[10]!;
  let pos = 13 + (flags & 0x80 ? 3 << ((flags & 7) + 1) : 0);

  const metadata: Range[] = [];
  let frames = 0;
  for (;;) {
    if (pos >= n) invalid();
    const introducer = b[pos]!;
    if (introducer === 0x3b) {
      pos++;
      break;
    }
    const start = pos;
    if (introducer === 0x21) {
      if (pos + 2 > n) invalid();
      const label = b[pos + 1]!;
      pos = skipSubBlocks(b, pos + 2);
      if (label === 0xfe) metadata.push({ start, end: pos });
      if (label === 0xff) {
        // The application identifier is the first sub-block: 8 bytes of name + 3 of code.
        const id = b[start + 2] === 11 ? ascii(b, start + 3, 11) : '';
        if (!GIF_KEPT_APPLICATIONS.includes(id)) metadata.push({ start, end: pos });
      }
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
      frames++;
    } else {
      invalid();
    }
  }
  if (frames === 0) invalid();
  requireZeroTail(b, pos);
  return { width, height, extentWidth, extentHeight, metadata };
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

const VP8X_EXIF = 0x08;
const VP8X_XMP = 0x04;
const VP8X_ANIMATION = 0x02;

interface RiffChunk extends Range {
  fourcc: string;
  /** Start of the payload. */
  data: number;
  /** Payload length, without the padding byte. */
  size: number;
}

interface WebpLayout {
  width: number;
  height: number;
  chunks: RiffChunk[];
  riffEnd: number;
}

function parseWebp(b: Uint8Array): WebpLayout {
  const riffEnd = 8 + u32le(b, 4);
  if (riffEnd > b.length || riffEnd < 20) invalid();

  const chunks: RiffChunk[] = [];
  let pos = 12;
  while (pos < riffEnd) {
    if (pos + 8 > riffEnd) invalid();
    const size = u32le(b, pos + 4);
    const dataEnd = pos + 8 + size;
    if (dataEnd > riffEnd) invalid();
    // Chunks are padded to even lengths; tolerate a writer that dropped the last pad byte.
    const end = Math.min(dataEnd + (size & 1), riffEnd);
    chunks.push({ fourcc: ascii(b, pos, 4), start: pos, end, data: pos + 8, size });
    pos = end;
  }
  requireZeroTail(b, riffEnd);

  const first = chunks[0] ?? invalid();
  if (first.fourcc === 'VP8 ') return { ...vp8Size(b, first), chunks, riffEnd };
  if (first.fourcc === 'VP8L') return { ...vp8lSize(b, first), chunks, riffEnd };
  if (first.fourcc !== 'VP8X' || first.size !== 10) return invalid();

  const flags = b[first.data]!;
  const width = u24le(b, first.data + 4) + 1;
  const height = u24le(b, first.data + 7) + 1;
  if (width * height > 0xffffffff) invalid();

  if (flags & VP8X_ANIMATION) {
    if (!chunks.some((c) => c.fourcc === 'ANIM')) invalid();
    const frames = chunks.filter((c) => c.fourcc === 'ANMF');
    if (frames.length === 0) invalid();
    for (const f of frames) {
      if (f.size < 16) invalid();
      // Offsets are stored halved.
      const x = u24le(b, f.data) * 2;
      const y = u24le(b, f.data + 3) * 2;
      const w = u24le(b, f.data + 6) + 1;
      const h = u24le(b, f.data + 9) + 1;
      if (x + w > width || y + h > height) invalid();
    }
  } else {
    const image = chunks.find((c) => c.fourcc === 'VP8 ' || c.fourcc === 'VP8L') ?? invalid();
    const size = image.fourcc === 'VP8 ' ? vp8Size(b, image) : vp8lSize(b, image);
    // Decoders refuse a still image whose bitstream disagrees with the canvas.
    if (size.width !== width || size.height !== height) invalid();
  }
  return { width, height, chunks, riffEnd };
}

function vp8Size(b: Uint8Array, c: RiffChunk): { width: number; height: number } {
  if (c.size < 10) invalid();
  const tag = u24le(b, c.data);
  const keyFrame = (tag & 1) === 0;
  const version = (tag >> 1) & 7;
  const shown = (tag >> 4) & 1;
  const firstPartition = tag >>> 5;
  if (!keyFrame || version > 3 || !shown || firstPartition >= c.size) invalid();
  if (b[c.data + 3] !== 0x9d || b[c.data + 4] !== 0x01 || b[c.data + 5] !== 0x2a) invalid();
  // The top two bits of each are upscaling hints, not size.
  const width = u16le(b, c.data + 6) & 0x3fff;
  const height = u16le(b, c.data + 8) & 0x3fff;
  if (width === 0 || height === 0) invalid();
  return { width, height };
}

function vp8lSize(b: Uint8Array, c: RiffChunk): { width: number; height: number } {
  if (c.size < 5 || b[c.data] !== 0x2f) invalid();
  const bits = u32le(b, c.data + 1);
  if (bits >>> 29 !== 0) invalid(); // version
  return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
}

/** Chunks that precede EXIF in the extended format's order (unknown chunks come after it). */
const WEBP_BEFORE_EXIF = new Set(['VP8X', 'ICCP', 'ANIM', 'ANMF', 'ALPH', 'VP8 ', 'VP8L']);

function stripWebp(bytes: Buffer): Buffer {
  const { chunks, riffEnd } = parseWebp(bytes);
  const removed = chunks.filter((c) => c.fourcc === 'EXIF' || c.fourcc === 'XMP ');
  if (removed.length === 0) return bytes;

  // Only the extended format (VP8X first) can declare EXIF. A simple-format file (a lone VP8 or
  // VP8L chunk) has no VP8X to set the EXIF flag in, and readers ignore stray chunks there, so
  // its EXIF is dropped without keeping the orientation (adding a VP8X is not worth it).
  const vp8x = chunks[0]?.fourcc === 'VP8X' ? chunks[0] : undefined;
  const exif = vp8x && chunks.find((c) => c.fourcc === 'EXIF');
  let orientation: number | undefined;
  if (exif) {
    // The payload is the TIFF structure itself; some writers prefix it with JPEG's "Exif\0\0".
    let tiff = bytes.subarray(exif.data, exif.data + exif.size);
    if (hasAscii(tiff, 0, 'Exif\0\0')) tiff = tiff.subarray(6);
    orientation = readOrientation(tiff);
  }

  let insertion: Insertion | undefined;
  if (orientation) {
    const data = orientationTiff(orientation); // even length: no padding byte
    const chunk = Buffer.concat([Buffer.from('EXIF', 'latin1'), Buffer.alloc(4), data]);
    chunk.writeUInt32LE(data.length, 4);
    const last = chunks.filter((c) => WEBP_BEFORE_EXIF.has(c.fourcc)).at(-1)!; // VP8X at least
    insertion = { at: last.end, data: chunk };
  }
  const out = without(bytes, removed, insertion);

  const removedBytes = removed.reduce((sum, c) => sum + (c.end - c.start), 0);
  out.writeUInt32LE(riffEnd - 8 - removedBytes + (insertion?.data.length ?? 0), 4);
  // VP8X is always the first chunk, so removals and the insertion after it never move it.
  if (vp8x) {
    const flags = out[vp8x.data]! & ~(VP8X_EXIF | VP8X_XMP);
    out[vp8x.data] = (insertion ? flags | VP8X_EXIF : flags) & 0xff;
  }
  return out;
}
