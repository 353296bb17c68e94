// Image bytes for fuzz bodies: good images, images past a limit, mutations of them.

import { deflateSync } from 'node:zlib';
import fc from 'fast-check';
import { VP8X_FLAGS, anmf, exif, exifWithGps, gif, jpeg, jpegSegment, png, pngChunk, pngImage, riffChunk, vp8l, vp8x, webp, XMP_WITH_GPS, text as latin1 } from '../../../tools/support/images.ts';
import { webpAnimated, webpExtended, webpLossless, webpLossy } from '../sample-images.ts';

export type ImageName =
  | 'png' | 'pngText' | 'jpeg' | 'jpegExif' | 'gif' | 'gifAnim' | 'webpLossy' | 'webpLossless' | 'webpExt'
  | 'webpAnim' | 'pngHuge' | 'webpHuge' | 'gifOffscreen' | 'gifWideFrames' | 'pngInterlaced16' | 'webpCanvas' | 'svg';

/** Images that are accepted as they are. */
export const GOOD_IMAGES = ['png', 'pngText', 'jpeg', 'jpegExif', 'gif', 'gifAnim', 'webpLossy', 'webpLossless', 'webpExt', 'webpAnim'] as const;
const ALL_IMAGES: readonly ImageName[] = [...GOOD_IMAGES, 'pngHuge', 'webpHuge', 'gifOffscreen', 'gifWideFrames', 'pngInterlaced16', 'webpCanvas', 'svg'];

// Decodable WebP bitstreams, made once (libvips decodes every good image now).
const REAL_WEBP = {
  lossy: await webpLossy(10, 6),
  lossless: await webpLossless(4, 4),
  ext: await webpExtended(30, 40, VP8X_FLAGS.exif | VP8X_FLAGS.xmp, [
    riffChunk('EXIF', exif({ littleEndian: true, orientation: 8 }).subarray(6)),
    riffChunk('XMP ', XMP_WITH_GPS.subarray(29)),
  ]),
  anim: await webpAnimated(20, 20, 2),
};

const imageCache = new Map<string, Buffer>();
const cached = (key: string, make: () => Buffer): Buffer => {
  let value = imageCache.get(key);
  if (!value) imageCache.set(key, (value = make()));
  return value;
};

export function imageBytes(name: ImageName): Buffer {
  return cached(name, () => {
    switch (name) {
      case 'png':
        return pngImage();
      case 'pngText':
        return png({ width: 5, height: 3, beforeData: [pngChunk('tEXt', latin1('Comment\0GPSLatitude 45 N'))], afterData: [pngChunk('eXIf', exifWithGps().subarray(6))] });
      case 'jpeg':
        return jpeg({ width: 8, height: 8 });
      case 'jpegExif':
        return jpeg({ width: 16, height: 8, app: [jpegSegment(0xe1, exif({ orientation: 6 })), jpegSegment(0xe1, XMP_WITH_GPS), jpegSegment(0xfe, latin1('at home'))] });
      case 'gif':
        return gif({ width: 3, height: 3 });
      case 'gifAnim':
        return gif({ width: 4, height: 4, loop: true, comment: 'hello', xmp: '<x:xmpmeta/>', frames: [{ width: 4, height: 4 }, { left: 1, top: 1, width: 2, height: 2 }] });
      case 'webpLossy':
        return REAL_WEBP.lossy;
      case 'webpLossless':
        return REAL_WEBP.lossless;
      case 'webpExt':
        return REAL_WEBP.ext;
      case 'webpAnim':
        return REAL_WEBP.anim;
      case 'pngHuge':
        return pngImage({ width: 9000, height: 10 });
      case 'webpHuge':
        return webp([riffChunk('VP8L', vp8l(16384, 2))]);
      case 'gifOffscreen':
        return gif({ width: 4, height: 4, frames: [{ left: 9000, top: 0, width: 1, height: 1 }] });
      // The shapes of issue 13, each refused from its header however the rest is mutated: frames
      // far beyond a small GIF screen, a 16-bit interlaced PNG of 40 MP, an animated WebP whose
      // canvas is over the memory bound (3 frames of 5477×5477).
      case 'gifWideFrames':
        return gif({ width: 1, height: 2048, packed: true, frames: [{ width: 1, height: 2048 }, ...Array.from({ length: 5 }, () => ({ width: 8192, height: 2048 }))] });
      case 'pngInterlaced16':
        return png({ width: 8000, height: 5000, depth: 16, colour: 6, interlaced: true, idat: deflateSync(Buffer.alloc(16)) });
      case 'webpCanvas':
        return webp([
          riffChunk('VP8X', vp8x(5477, 5477, VP8X_FLAGS.animation)),
          riffChunk('ANIM', Buffer.alloc(6)),
          ...Array.from({ length: 3 }, () => riffChunk('ANMF', anmf(0, 0, 1, 1, [riffChunk('VP8L', vp8l(1, 1))]))),
        ]);
      case 'svg':
        return Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
    }
  });
}

export type Mutation =
  | { op: 'truncate'; at: number }
  | { op: 'flip'; at: number; xor: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'append'; bytes: Uint8Array }
  | { op: 'u32'; at: number; value: number };

export type FileContent =
  | { kind: 'image'; image: ImageName; mutations: Mutation[] }
  | { kind: 'bytes'; bytes: Uint8Array }
  /** A valid image padded to about `size` bytes: around the avatar and cover limits. */
  | { kind: 'padded'; image: 'png' | 'jpeg'; size: number };

export function applyMutations(input: Buffer, mutations: readonly Mutation[]): Buffer {
  let b = input;
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : ('at' in m ? m.at % (b.length + 1) : 0);
    switch (m.op) {
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'flip':
        if (at < b.length) {
          b = Buffer.from(b);
          b[at] = b[at]! ^ (m.xor || 1);
        }
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
        break;
      case 'append':
        b = Buffer.concat([b, m.bytes]);
        break;
      case 'u32':
        if (at + 4 <= b.length) {
          b = Buffer.from(b);
          b.writeUInt32BE(m.value >>> 0, at);
        }
        break;
    }
  }
  return b;
}

export function fileBytes(content: FileContent): Buffer {
  switch (content.kind) {
    case 'image':
      return applyMutations(imageBytes(content.image), content.mutations);
    case 'bytes':
      return Buffer.from(content.bytes);
    case 'padded':
      return cached(`padded-${content.image}-${content.size}`, () =>
        content.image === 'png'
          ? pngImage({ padTo: content.size })
          : jpeg({ width: 8, height: 8, scan: Buffer.alloc(Math.max(8, content.size - 200), 0x11) }),
      );
  }
}

const MiB = 1024 * 1024;

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat(4000) }),
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(4000), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(4000), xor: fc.constantFrom(1, 0x80, 0xff) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(4000), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({
    op: fc.constant('u32' as const),
    at: fc.nat(4000),
    value: fc.oneof(fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffff0), fc.nat()),
  }),
);

export const goodImageArb: fc.Arbitrary<FileContent> = fc.record({
  kind: fc.constant('image' as const),
  image: fc.constantFrom(...GOOD_IMAGES),
  mutations: fc.constant([] as Mutation[]),
});

/** Any image, good or past a limit, changed by `count` mutations. */
export const mutatedImage = (count: { minLength: number; maxLength: number }): fc.Arbitrary<FileContent> =>
  fc.record({
    kind: fc.constant('image' as const),
    image: fc.constantFrom(...ALL_IMAGES),
    mutations: fc.array(mutationArb, count),
  });

export const fileContentArb: fc.Arbitrary<FileContent> = fc.oneof(
  { weight: 3, arbitrary: goodImageArb },
  { weight: 6, arbitrary: mutatedImage({ minLength: 0, maxLength: 3 }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 64 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('padded' as const),
      image: fc.constantFrom('png' as const, 'jpeg' as const),
      size: fc.constantFrom(3 * MiB - 64, 3 * MiB + 1, 4 * MiB - 64, 4 * MiB + 1),
    }),
  },
);
