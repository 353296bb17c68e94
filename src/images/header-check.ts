// The cheap first gate for uploaded avatar and cover images: recognise the format from the bytes
// and read sizes, frame counts and scan counts from the container structure, never decoding a
// pixel. A file that declares enormous dimensions, 120,000 frames or thousands of progressive
// scans costs no more to refuse than a small one, and every walk (one module per format in
// formats/) is one linear pass that keeps only counters, so its cost is bounded by the file's
// length whatever the file holds.
//
// What passes is decoded and re-encoded by src/images/normalize.ts, which is what removes metadata;
// nothing here strips. Data after the image's end marker (an HDR gain map after a JPEG, a
// motion-photo video, vendor trailers, padding) is not looked at: only the primary image is used.

import { ImageError, INVALID_IMAGE_MESSAGE, invalid, type ImageErrorCode } from './image-error.ts';
import { parseGif } from './formats/gif.ts';
import { heifKind, parseHeif } from './formats/heif.ts';
import { parseJpeg } from './formats/jpeg.ts';
import { hasAscii, type ContainerColour, type Layout } from './formats/layout.ts';
import { parsePng, PNG_SIGNATURE } from './formats/png.ts';
import { parseWebp } from './formats/webp.ts';

export { ImageError, INVALID_IMAGE_MESSAGE, type ImageErrorCode };

/** heif and avif are accepted on upload and stored as JPEG or PNG (normalize.ts). */
export type ImageType = 'jpeg' | 'png' | 'gif' | 'webp' | 'heif' | 'avif';

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
  /** HEIF/AVIF: the EXIF orientation left to apply after the decoder's own irot/imir/clap. */
  orientation?: number;
  /** HEIF/AVIF: the primary image's colour signal (`colr`), applied after decoding (colour.ts). */
  colour?: ContainerColour;
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

export const FORMATS: Record<ImageType, { mime: string; ext: string }> = {
  jpeg: { mime: 'image/jpeg', ext: 'jpg' },
  png: { mime: 'image/png', ext: 'png' },
  gif: { mime: 'image/gif', ext: 'gif' },
  webp: { mime: 'image/webp', ext: 'webp' },
  heif: { mime: 'image/heif', ext: 'heic' },
  avif: { mime: 'image/avif', ext: 'avif' },
};


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
    case 'heif':
    case 'avif':
      layout = parseHeif(bytes, type, rules);
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
  const info: ImageInfo = { type, ...FORMATS[type], width: layout.width, height: layout.height, frames, decodeBytes: layout.decodeBytes };
  if (layout.orientation !== undefined) info.orientation = layout.orientation;
  if (layout.colour) info.colour = layout.colour;
  return info;
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



function sniff(b: Uint8Array): ImageType | undefined {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (PNG_SIGNATURE.every((v, i) => b[i] === v)) return 'png';
  if (hasAscii(b, 0, 'GIF87a') || hasAscii(b, 0, 'GIF89a')) return 'gif';
  if (hasAscii(b, 0, 'RIFF') && hasAscii(b, 8, 'WEBP')) return 'webp';
  return heifKind(b);
}
