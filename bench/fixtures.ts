// Images for the benchmark: baseline JPEGs of an exact size whose entropy-coded data is random
// bytes with 0xFF stuffed as in a real photo, so the header pre-check walks them as it walks a
// photo. libvips decodes them (as flat grey: the tables have one code each); bench/images.ts uses
// real photo pixels where the decoding work itself is measured.
import { jpeg } from '../tools/support/images.ts';

/** A deterministic generator (xorshift32), so every run uploads the same bytes. */
function randomBytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Entropy-coded data of `length` bytes: every 0xFF followed by a stuffed 0x00. */
function entropyData(length: number, seed: number): Buffer {
  const random = randomBytes(length, seed);
  const out = Buffer.allocUnsafe(length);
  let o = 0;
  for (let i = 0; o < length; i++) {
    const byte = random[i]!;
    if (byte === 0xff) {
      if (o + 2 > length) {
        out[o++] = 0x00;
        continue;
      }
      out[o++] = 0xff;
      out[o++] = 0x00;
    } else {
      out[o++] = byte;
    }
  }
  return out;
}

/** A JPEG of exactly `bytes` bytes declaring `width`×`height`. */
export function photoJpeg(bytes: number, width: number, height: number, seed = 1): Buffer {
  const overhead = jpeg({ width, height, scan: Buffer.alloc(0) }).length;
  const image = jpeg({ width, height, scan: entropyData(bytes - overhead, seed) });
  if (image.length !== bytes) throw new Error(`photoJpeg: ${image.length} bytes, wanted ${bytes}`);
  return image;
}
