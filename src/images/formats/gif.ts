import type { ImageRules } from '../header-check.ts';
import { invalid } from '../image-error.ts';
import { checkFrameCount, u16le, type Layout } from './layout.ts';

// GIF

export function parseGif(b: Uint8Array, rules: ImageRules): Layout {
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
