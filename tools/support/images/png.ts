// PNG builders: chunks with their CRC, whole images of any declared size.

import { deflateSync } from 'node:zlib';
import { bytes, text, u32be } from './bytes.ts';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

export function crc32(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export const PNG_SIGNATURE = bytes(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

export function pngChunk(type: string, data: Uint8Array = Buffer.alloc(0)): Buffer {
  const typeAndData = Buffer.concat([text(type), data]);
  return Buffer.concat([u32be(data.length), typeAndData, u32be(crc32(typeAndData))]);
}

export interface PngOptions {
  width: number;
  height: number;
  /** Chunks placed right after IHDR. */
  beforeData?: Buffer[];
  /** Chunks placed between IDAT and IEND. */
  afterData?: Buffer[];
  /** Replaces the real IDAT payload (for declared sizes too big to build). */
  idat?: Buffer;
  /** IHDR bit depth and colour type (8-bit RGB by default; the generated IDAT is 8-bit RGB). */
  depth?: number;
  colour?: number;
  /** Adam7 interlacing in IHDR. */
  interlaced?: boolean;
}

/** An 8-bit RGB PNG with a diagonal gradient, so IDAT is real and non-trivial. */
export function png(o: PngOptions): Buffer {
  const ihdr = Buffer.concat([u32be(o.width), u32be(o.height), bytes(o.depth ?? 8, o.colour ?? 2, 0, 0, o.interlaced ? 1 : 0)]);
  let idat = o.idat;
  if (!idat) {
    const row = 1 + o.width * 3;
    const raw = Buffer.alloc(row * o.height);
    for (let y = 0; y < o.height; y++) {
      for (let x = 0; x < o.width; x++) raw.fill((x + y) * 16, y * row + 1 + x * 3, y * row + 4 + x * 3);
    }
    idat = deflateSync(raw);
  }
  return Buffer.concat([
    PNG_SIGNATURE,
    pngChunk('IHDR', ihdr),
    ...(o.beforeData ?? []),
    pngChunk('IDAT', idat),
    ...(o.afterData ?? []),
    pngChunk('IEND'),
  ]);
}


/** A valid PNG of any declared size; huge ones get a token IDAT (never decoded), `padTo` pads it. */
export function pngImage({ width = 2, height = 2, padTo = 0 }: { width?: number; height?: number; padTo?: number } = {}): Buffer {
  const huge = width * height > 1_000_000;
  const image = png({ width, height, ...(huge && { idat: deflateSync(Buffer.alloc(16)) }) });
  if (padTo <= image.length) return image;
  return png({ width, height, ...(huge && { idat: deflateSync(Buffer.alloc(16)) }), afterData: [pngChunk('IDAT', Buffer.alloc(padTo - image.length))] });
}
