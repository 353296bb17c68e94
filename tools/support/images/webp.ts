// WebP builders: RIFF chunks and VP8, VP8L, VP8X and ANMF headers followed by filler.

import { bytes, text, u16le, u24le, u32le } from './bytes.ts';

export function riffChunk(fourcc: string, data: Uint8Array): Buffer {
  return Buffer.concat([text(fourcc), u32le(data.length), data, data.length % 2 ? bytes(0) : Buffer.alloc(0)]);
}

export function webp(chunks: Buffer[]): Buffer {
  const body = Buffer.concat([text('WEBP'), ...chunks]);
  return Buffer.concat([text('RIFF'), u32le(body.length), body]);
}

/** Lossy key frame header: frame tag, start code 9d 01 2a, 14-bit sizes, then filler. */
export function vp8(width: number, height: number): Buffer {
  const firstPartition = 8;
  return Buffer.concat([
    u24le((firstPartition << 5) | 0x10), // key frame, version 0, shown
    bytes(0x9d, 0x01, 0x2a),
    u16le(width),
    u16le(height),
    Buffer.alloc(10, 0x55),
  ]);
}

/** Lossless header: signature 0x2f, then 14-bit (size − 1) fields, alpha bit, version 0. */
export function vp8l(width: number, height: number): Buffer {
  return Buffer.concat([bytes(0x2f), u32le((width - 1) | ((height - 1) << 14)), Buffer.alloc(6, 0x55)]);
}

export const VP8X_FLAGS = { icc: 0x20, alpha: 0x10, exif: 0x08, xmp: 0x04, animation: 0x02 };

export function vp8x(width: number, height: number, flags: number): Buffer {
  return Buffer.concat([bytes(flags, 0, 0, 0), u24le(width - 1), u24le(height - 1)]);
}

export function anmf(x: number, y: number, width: number, height: number, frame: Buffer[]): Buffer {
  return Buffer.concat([
    u24le(x / 2),
    u24le(y / 2),
    u24le(width - 1),
    u24le(height - 1),
    u24le(100),
    bytes(0),
    ...frame,
  ]);
}
