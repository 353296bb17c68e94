// WebP files whose bitstreams libvips really decodes (the builders in images.ts write real headers
// followed by filler, which only a header parser accepts), made once with sharp and then taken
// apart into chunks so a test can add metadata chunks around them.
import sharp from 'sharp';
import { riffChunk, VP8X_FLAGS, vp8x, webp } from '../../tools/support/images.ts';

const solid = (width: number, height: number, shade: number, alpha = false) =>
  sharp({ create: { width, height, channels: alpha ? 4 : 3, background: { r: shade, g: 255 - shade, b: 90, alpha: alpha ? 0.6 : 1 } } });

/** The chunks after "RIFF size WEBP", each with header and padding. */
export function riffChunksOf(file: Buffer): Buffer[] {
  const out: Buffer[] = [];
  const end = 8 + file.readUInt32LE(4);
  for (let pos = 12; pos < end; ) {
    const size = file.readUInt32LE(pos + 4);
    const next = pos + 8 + size + (size & 1);
    out.push(file.subarray(pos, next));
    pos = next;
  }
  return out;
}

/** A lossy WebP in the simple format (one VP8 chunk). */
export const webpLossy = (width: number, height: number): Promise<Buffer> => solid(width, height, 120).webp({ quality: 70 }).toBuffer();

/** A lossless WebP (one VP8L chunk). */
export const webpLossless = (width: number, height: number): Promise<Buffer> => solid(width, height, 40).webp({ lossless: true }).toBuffer();

/** The ALPH and VP8 chunks of a lossy WebP with alpha, to put behind a VP8X of one's own. */
export async function alphaImageChunks(width: number, height: number): Promise<Buffer[]> {
  const file = await solid(width, height, 200, true).webp({ quality: 70 }).toBuffer();
  return riffChunksOf(file).filter((c) => c.toString('latin1', 0, 4) !== 'VP8X');
}

/** An extended WebP with alpha and the given extra chunks (EXIF, XMP…) after the image. */
export async function webpExtended(width: number, height: number, flags: number, extra: Buffer[]): Promise<Buffer> {
  return webp([riffChunk('VP8X', vp8x(width, height, flags | VP8X_FLAGS.alpha)), ...(await alphaImageChunks(width, height)), ...extra]);
}

/** An animated WebP whose frames differ (so no encoder merges them). */
export async function webpAnimated(width: number, height: number, frames: number): Promise<Buffer> {
  const pages = await Promise.all(Array.from({ length: frames }, (_, i) => solid(width, height, (i * 70) % 256).png().toBuffer()));
  return sharp(pages, { join: { animated: true } }).webp({ delay: 100, loop: 0, lossless: true }).toBuffer();
}
