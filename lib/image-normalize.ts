// Every uploaded image is decoded and re-encoded once, on upload, by libvips (npm `sharp`): the
// EXIF orientation applied to the pixels, colours in sRGB, the avatar cropped to a square and both
// images scaled down, encoded again in the uploaded format with no metadata at all. Re-encoding is
// what removes metadata: nothing of the uploaded container (EXIF, XMP, IPTC, ICC, text chunks,
// comments, thumbnails, C2PA, trailers) reaches the stored file.
//
// This module and sharp are loaded only when a request carries an image (the handler imports it
// dynamically, and sharp is imported here on first use), so a text-only request never pays for
// the native library.
import type { Sharp, SharpOptions } from 'sharp';
import type { ImageLimits } from './config.ts';
import { FieldErrors } from './errors.ts';
import { FORMATS, ImageError, INVALID_IMAGE_MESSAGE, type ImageInfo } from './images.ts';
import type { ImageUpload, Patch } from './patch-fields.ts';
import { IMAGE_FIELDS, type ImageField } from './user-record.ts';

type SharpModule = (typeof import('sharp'))['default'];

let loading: Promise<SharpModule> | undefined;

/** sharp, loaded once per container on the first image. */
export function loadSharp(): Promise<SharpModule> {
  loading ??= import('sharp').then(
    ({ default: sharp }) => {
      // One image at a time in a 1024 MB function: no cache of decoded images between requests,
      // and one libvips worker thread, so memory stays bounded by the image being processed.
      sharp.cache(false);
      sharp.concurrency(1);
      return sharp;
    },
    (error: unknown) => {
      loading = undefined; // a later request may try again
      throw error;
    },
  );
  return loading!;
}

/**
 * The patch with every new image replaced by its normalized version. A file libvips cannot
 * decode is a field error (`invalid_image`) under the name it was sent with, never a 500;
 * images are processed one after the other to keep peak memory to one image.
 */
export async function normalizeImages(patch: Patch, limits: ImageLimits): Promise<Patch> {
  const errors = new FieldErrors();
  const images: Patch['images'] = { ...patch.images };
  for (const field of IMAGE_FIELDS) {
    const upload = images[field];
    if (!upload) continue;
    try {
      images[field] = await normalizeImage(upload, field, limits);
    } catch (error) {
      if (!(error instanceof ImageError)) throw error;
      errors.add(upload.field, error.code, error.message);
    }
  }
  errors.throwIfAny();
  return { ...patch, images };
}

/** One image, decoded, oriented, converted to sRGB, cropped/scaled and re-encoded. */
export async function normalizeImage(upload: ImageUpload, field: ImageField, limits: ImageLimits): Promise<ImageUpload> {
  const sharp = await loadSharp();
  const { info } = upload;
  // Only GIF and WebP animations are kept; the pre-check reports one frame for anything else.
  const animated = info.frames > 1;
  const options: SharpOptions = {
    animated,
    // Decoding stops at the first error (a truncated or corrupt file), not at a mere warning.
    failOn: 'error',
    // The pre-check has refused anything larger; this is the decoder's own guard behind it.
    limitInputPixels: animated ? limits.maxAnimationPixels : limits.maxPixels,
    sequentialRead: true,
  };
  let pipeline: Sharp = sharp(upload.bytes, options).timeout({ seconds: limits.timeoutSeconds });
  // EXIF orientation; animations (GIF, WebP) carry none that viewers apply.
  if (!animated) pipeline = pipeline.autoOrient();
  // Rotation swaps the sides but not the shorter one, so the sizes need no decoded metadata; this
  // keeps the resize the first thing libvips sees, which lets it shrink a JPEG while decoding.
  if (field === 'avatar') {
    const side = Math.min(limits.avatarSize, info.width, info.height);
    pipeline = pipeline.resize(side, side, { fit: 'cover', position: 'centre' });
  } else {
    pipeline = pipeline.resize(limits.coverMaxSide, limits.coverMaxSide, { fit: 'inside', withoutEnlargement: true });
  }
  pipeline = pipeline.toColourspace('srgb');
  // No withMetadata/keepExif/keepIccProfile: the output carries no metadata.
  switch (info.type) {
    case 'jpeg':
      pipeline = pipeline.jpeg({ quality: 85 });
      break;
    case 'png':
      pipeline = pipeline.png({ compressionLevel: 6 });
      break;
    case 'gif':
      // The uploaded palette is reused and no dithering applied: quantizing every frame anew is
      // several times slower, and GIF encoding is the costliest step of an animation.
      pipeline = pipeline.gif({ reuse: true, effort: 1, dither: 0 });
      break;
    case 'webp':
      // An animation is encoded frame by frame: the lower effort costs about 10 % in size and
      // saves about 40 % of the time, which decides whether 60 megapixels fit the time limit.
      pipeline = pipeline.webp({ quality: 82, effort: animated ? 1 : 4 });
      break;
  }

  let output: { data: Buffer; info: { width: number; height: number; pages?: number; pageHeight?: number } };
  try {
    output = await pipeline.toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw imageErrorOf(error, limits.timeoutSeconds);
  }
  const frames = animated ? (output.info.pages ?? 1) : 1;
  const height = animated ? (output.info.pageHeight ?? output.info.height) : output.info.height;
  const normalized: ImageInfo = { type: info.type, ...FORMATS[info.type], width: output.info.width, height, frames };
  return { field: upload.field, bytes: output.data, info: normalized };
}

/**
 * Whatever libvips refuses is the file's fault: corrupt data or an unsupported variant is
 * `invalid_image`; an image that needs more than the time limit, or trips the decoder's own pixel
 * guard (the pre-check should have refused it first), is `image_too_large`.
 */
export function imageErrorOf(error: unknown, timeoutSeconds: number): ImageError {
  const message = error instanceof Error ? error.message : String(error);
  if (/^timeout/i.test(message)) {
    return new ImageError('image_too_large', `The image needs more than ${timeoutSeconds} s to process; send a smaller one.`);
  }
  if (/pixel limit/i.test(message)) {
    return new ImageError('image_too_large', 'The image has more pixels than are allowed.');
  }
  return new ImageError('invalid_image', INVALID_IMAGE_MESSAGE);
}
