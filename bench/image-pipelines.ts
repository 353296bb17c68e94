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
  let pipeline = sharp(bytes, { failOn: 'error', limitInputPixels: 40_000_000, sequentialRead: true }).timeout({ seconds: 5 }).autoOrient();
  if (field === 'avatar') {
    const side = Math.min(400, width, height);
    pipeline = pipeline.resize(side, side, { fit: 'cover', position: 'centre' });
  } else {
    pipeline = pipeline.resize(1600, 1600, { fit: 'inside', withoutEnlargement: true });
  }
  return pipeline.toColourspace('srgb').jpeg({ quality: 85 }).toBuffer();
}
