// The libvips pipeline the handler runs on an upload, written out again with sharp for the
// benchmark's floors: the work a request cannot avoid, issued directly.
import sharp from 'sharp';

sharp.cache(false);
sharp.concurrency(1);

/**
 * Decode (a JPEG shrinks while it is read), orient, crop to a square of at most 400 px (avatar)
 * or fit in 1600 × 1600 (cover), sRGB, JPEG without metadata.
 */
export async function directJpegPipeline(bytes: Buffer, field: 'avatar' | 'cover', width: number, height: number): Promise<Buffer> {
  return directPipeline(bytes, field, width, height, 'jpeg');
}

/** The same for a JPEG or a still PNG, kept in its format as the handler keeps it. */
export async function directPipeline(
  bytes: Buffer,
  field: 'avatar' | 'cover',
  width: number,
  height: number,
  format: 'jpeg' | 'png',
): Promise<Buffer> {
  let pipeline = sharp(bytes, { failOn: 'error', limitInputPixels: 40_000_000, sequentialRead: true }).timeout({ seconds: 5 }).autoOrient();
  if (field === 'avatar') {
    const side = Math.min(400, width, height);
    pipeline = pipeline.resize(side, side, { fit: 'cover', position: 'centre' });
  } else {
    pipeline = pipeline.resize(1600, 1600, { fit: 'inside', withoutEnlargement: true });
  }
  pipeline = pipeline.toColourspace('srgb');
  return (format === 'png' ? pipeline.png({ compressionLevel: 6 }) : pipeline.jpeg({ quality: 85 })).toBuffer();
}
