import { invalid } from '../image-error.ts';
import { hasAscii, still, u32be, type Layout } from './layout.ts';

// PNG
//
// Only the first frame of an animated PNG is kept (libvips reads the default image), so acTL is
// not counted: the cost is one frame, which the canvas limits already bound.

export const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Bit depths allowed for each colour type; anything else is a corrupt or hostile IHDR. */
const PNG_DEPTHS: Record<number, readonly number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

export function parsePng(b: Uint8Array): Layout {
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

/**
 * The gAMA a decoder must apply, or undefined when there is none to apply: no gAMA, or an sRGB or
 * iCCP chunk, which take precedence (PNG spec 11.3.3.x; the ICC profile is converted by libvips),
 * or a gAMA of sRGB's own 1/2.2 (within libpng's 5 %). libvips reads PNG samples as sRGB and
 * ignores gAMA, so a gAMA 1.0 file (linear samples) would be stored far too dark.
 * Called on an upload parsePng accepted, so the chunk walk needs no checks of its own.
 */
export function pngGamma(b: Uint8Array): number | undefined {
  let gamma: number | undefined;
  for (let pos = 8; pos + 12 <= b.length; ) {
    const length = u32be(b, pos);
    if (hasAscii(b, pos + 4, 'IDAT') || hasAscii(b, pos + 4, 'IEND')) break;
    if (hasAscii(b, pos + 4, 'sRGB') || hasAscii(b, pos + 4, 'iCCP')) return undefined;
    if (hasAscii(b, pos + 4, 'gAMA') && length === 4) gamma = u32be(b, pos + 8) / 100_000;
    pos += 12 + length;
  }
  if (gamma === undefined || gamma <= 0 || Math.abs(gamma * 2.2 - 1) < 0.05) return undefined;
  return gamma;
}

/** Chunks a stored PNG keeps: the image and, for a palette, its transparency; nothing else. */
const PNG_KEPT = ['IHDR', 'PLTE', 'tRNS', 'IDAT', 'IEND'];

/**
 * Our own encoder's PNG without its ancillary chunks: libvips always writes pHYs (the upload's
 * resolution), and the stored file carries no metadata at all. Only called on libvips' output.
 */
export function withoutAncillaryChunks(b: Buffer): Buffer {
  const kept: Buffer[] = [b.subarray(0, 8)];
  for (let pos = 8; pos + 12 <= b.length; ) {
    const end = pos + 12 + u32be(b, pos);
    if (PNG_KEPT.some((type) => hasAscii(b, pos + 4, type))) kept.push(b.subarray(pos, end));
    pos = end;
  }
  return Buffer.concat(kept);
}
