import type { ImageRules } from '../header-check.ts';
import { invalid } from '../image-error.ts';
import { checkFrameCount, hasAscii, still, u16le, u24le, u32le, type Layout } from './layout.ts';

// WebP

const VP8X_ANIMATION = 0x02;

export function parseWebp(b: Uint8Array, rules: ImageRules): Layout {
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
