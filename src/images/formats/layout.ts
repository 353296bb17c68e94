// What every format's header walk shares: the layout it reports, byte readers, the frame count
// check. The walks themselves are one module per format beside this one.
import type { ImageRules } from '../header-check.ts';
import { ImageError } from '../image-error.ts';

export interface Layout {
  width: number;
  height: number;
  /** The union of the canvas and every frame (GIF frames may lie outside the logical screen). */
  extentWidth: number;
  extentHeight: number;
  frames: number;
  /** Pixels decoded across all frames, each frame counted at its real cost (parseGif, parseWebp). */
  framePixels: number;
  decodeBytes: number;
  /** HEIF/AVIF: the EXIF orientation the pipeline applies (1 when the container turns the image). */
  orientation?: number;
  /** HEIF/AVIF: what the primary image's `colr` says its colours are, when it says anything. */
  colour?: ContainerColour;
}

/**
 * A HEIF/AVIF `colr` property (ISO/IEC 23008-12): an ICC profile, given as its byte range in the
 * file, or ITU-T H.273 code points (`nclx`) with no profile. An ICC profile wins over nclx: with
 * both, nclx only says how the decoder turns YCbCr into RGB.
 */
export type ContainerColour = { icc: { start: number; end: number } } | { nclx: { primaries: number; transfer: number } };

export const u16be = (b: Uint8Array, i: number): number => (b[i]! << 8) | b[i + 1]!;
export const u16le = (b: Uint8Array, i: number): number => b[i]! | (b[i + 1]! << 8);
export const u24le = (b: Uint8Array, i: number): number => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16);
export const u32be = (b: Uint8Array, i: number): number =>
  ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
export const u32le = (b: Uint8Array, i: number): number =>
  (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;

export function hasAscii(b: Uint8Array, at: number, text: string): boolean {
  if (at < 0 || at + text.length > b.length) return false;
  for (let i = 0; i < text.length; i++) if (b[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

export const still = (width: number, height: number, decodeBytes = 0): Layout => ({
  width,
  height,
  extentWidth: width,
  extentHeight: height,
  frames: 1,
  framePixels: width * height,
  decodeBytes,
});

/** Frames are counted as they are met: a file with 120,000 frames is refused at frame 301. */
export function checkFrameCount(frames: number, rules: ImageRules): void {
  if (frames > rules.maxFrames) {
    throw new ImageError('image_too_large', `The animation has more than ${rules.maxFrames} frames; at most ${rules.maxFrames} are allowed.`);
  }
}
