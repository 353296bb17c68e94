// GIF builders: frames and LZW runs that decode.

import { bytes, text, u16le } from './bytes.ts';

export interface GifFrame {
  left?: number;
  top?: number;
  width: number;
  height: number;
}

export interface GifOptions {
  width: number;
  height: number;
  /** One full-screen frame by default. */
  frames?: GifFrame[];
  /** Adds the NETSCAPE2.0 loop-forever extension. */
  loop?: boolean;
  comment?: string;
  /** Adds an "XMP DataXMP" application extension with this packet. */
  xmp?: string;
  /** Frame data compressed as far as LZW goes (lzwRun), for frames of many megapixels. */
  packed?: boolean;
}

function subBlocks(data: Uint8Array): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += 255) {
    const piece = data.subarray(i, i + 255);
    parts.push(bytes(piece.length), Buffer.from(piece));
  }
  parts.push(bytes(0));
  return Buffer.concat(parts);
}

/**
 * LZW data for `count` pixels of colour 0 with minimum code size 2. A clear code after every
 * two literals keeps the table from growing, so every code stays 3 bits wide.
 */
function lzwZeros(count: number): Buffer {
  const CLEAR = 4;
  const END = 5;
  const codes: number[] = [];
  for (let i = 0; i < count; i++) {
    if (i % 2 === 0) codes.push(CLEAR);
    codes.push(0);
  }
  codes.push(END);
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const code of codes) {
    acc |= code << bits;
    bits += 3;
    while (bits >= 8) {
      out.push(acc & 0xff);
      acc >>= 8;
      bits -= 8;
    }
  }
  if (bits) out.push(acc & 0xff);
  return Buffer.from(out);
}

/**
 * LZW data for `count` pixels of colour 0, compressed as far as LZW goes (minimum code size 2):
 * every code is one longer run of zeros than the one before, so a 16-megapixel frame takes about
 * 11 KB. The code width grows as decoders expect it (after the entry that fills the width), and a
 * clear code restarts the table before it is full.
 */
export function lzwRun(count: number): Buffer {
  const CLEAR = 4;
  const END = 5;
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  let width = 3;
  const write = (code: number) => {
    acc += code * 2 ** bits;
    bits += width;
    while (bits >= 8) {
      out.push(acc % 256);
      acc = Math.floor(acc / 256);
      bits -= 8;
    }
  };
  let next = 6;
  write(CLEAR);
  let remaining = count;
  while (remaining > 0) {
    if (next >= 4093) {
      write(CLEAR);
      width = 3;
      next = 6;
    }
    // The table holds runs of 1 (code 0) to next − 5 zeros (code 6 + length − 2).
    const length = Math.min(next - 5, remaining);
    write(length === 1 ? 0 : 6 + length - 2);
    remaining -= length;
    if (next >= 1 << width && width < 12) width++;
    next++;
  }
  write(END);
  if (bits) out.push(acc % 256);
  return Buffer.from(out);
}

export function gif(o: GifOptions): Buffer {
  const frames = o.frames ?? [{ width: o.width, height: o.height }];
  // Frames of one size share their data: 298 frames of 16 MP are encoded once.
  const encoded = new Map<number, Buffer>();
  const frameData = (pixels: number) => {
    let data = encoded.get(pixels);
    if (!data) encoded.set(pixels, (data = o.packed ? lzwRun(pixels) : lzwZeros(pixels)));
    return data;
  };
  const parts: Buffer[] = [
    text('GIF89a'),
    u16le(o.width),
    u16le(o.height),
    bytes(0x80, 0, 0), // 2-entry global colour table
    bytes(0, 0, 0, 255, 255, 255),
  ];
  if (o.loop) parts.push(bytes(0x21, 0xff, 11), text('NETSCAPE2.0'), bytes(3, 1, 0, 0, 0));
  if (o.comment !== undefined) parts.push(bytes(0x21, 0xfe), subBlocks(text(o.comment)));
  if (o.xmp !== undefined) parts.push(bytes(0x21, 0xff, 11), text('XMP DataXMP'), subBlocks(text(o.xmp)));
  for (const f of frames) {
    parts.push(
      bytes(0x21, 0xf9, 4, 0x04, 10, 0, 0, 0), // graphic control: 100 ms, keep previous frame
      bytes(0x2c),
      u16le(f.left ?? 0),
      u16le(f.top ?? 0),
      u16le(f.width),
      u16le(f.height),
      bytes(0),
      bytes(2),
      subBlocks(frameData(f.width * f.height)),
    );
  }
  parts.push(bytes(0x3b));
  return Buffer.concat(parts);
}
