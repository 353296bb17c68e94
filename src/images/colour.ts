// The colours of a HEIF or AVIF photo, converted to sRGB like every other upload's. Phones say
// their photos are Display P3 in the container's `colr` property (formats/heif.ts reads it), not
// in the pixels:
//   - an ICC profile (an iPhone's HEIC): libvips reads it itself with an AVIF, but libheif in
//     WebAssembly (heic.ts) hands out bare RGBA, so for a HEIC the file's own profile is given back;
//   - H.273 code points (`nclx`, the AV1 world's way) with no profile: libvips ignores them, so
//     Display P3 is given as libvips' own Display P3 profile.
// sharp takes raw pixels without a profile, so the two travel together as an uncompressed TIFF in
// memory, which libvips reads back with its profile and converts to sRGB. Only the scaled image
// (at most 1600 px a side) goes this way. A profile lcms cannot use is ignored by sharp, and the
// pixels are taken as sRGB, as browsers show such a file.
import type { Sharp } from 'sharp';
import type { ImageInfo } from './header-check.ts';

type SharpModule = (typeof import('sharp'))['default'];

/** H.273 ColourPrimaries 12: SMPTE EG 432-1, Display P3's primaries with a D65 white. */
const DISPLAY_P3_PRIMARIES = 12;
/**
 * H.273 TransferCharacteristics of HDR pictures (16 PQ, 18 HLG): such a picture needs tone
 * mapping, not a profile, and is taken as it comes (docs/images.md).
 */
const HDR_TRANSFERS: ReadonlySet<number> = new Set([16, 18]);

/**
 * The ICC profile the decoded pixels of this upload are in, when the decoder left it to us:
 * a HEIC's own profile, or Display P3 named by code points. Undefined when the pixels are sRGB
 * already, or when libvips applies the profile itself (an AVIF's ICC profile).
 */
export async function profileToApply(sharp: SharpModule, info: ImageInfo, bytes: Uint8Array): Promise<Uint8Array | undefined> {
  const colour = info.colour;
  if (!colour) return undefined;
  if ('icc' in colour) return info.type === 'heif' ? bytes.subarray(colour.icc.start, colour.icc.end) : undefined;
  const { primaries, transfer } = colour.nclx;
  if (primaries === DISPLAY_P3_PRIMARIES && !HDR_TRANSFERS.has(transfer)) return displayP3(sharp);
  // BT.709 (1), unspecified (2), and BT.601's primaries (5, 6: within 0.01 of BT.709's) are sRGB's
  // or as good as; wider ones are named in docs/images.md.
  return undefined;
}

let p3: Promise<Uint8Array> | undefined;

/** libvips' built-in Display P3 profile (P3 primaries, D65, sRGB's curve), read once. */
function displayP3(sharp: SharpModule): Promise<Uint8Array> {
  p3 ??= sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } })
    .withIccProfile('p3')
    .png()
    .toBuffer()
    .then((png) => sharp(png).metadata())
    .then(({ icc }) => icc ?? Promise.reject(new Error('sharp wrote no Display P3 profile')));
  return p3;
}

export interface RawPixels {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3 | 4;
}

/** The pixels, taken to be in `profile`, as a sharp pipeline converted to sRGB. */
export function inSrgb(sharp: SharpModule, pixels: RawPixels, profile: Uint8Array): Sharp {
  return sharp(tiffWithProfile(pixels, profile)).toColourspace('srgb');
}

/**
 * A baseline TIFF (TIFF 6.0: one uncompressed strip, 8 bits a sample, RGB or RGB with unassociated
 * alpha) carrying the profile in its ICC tag (34675).
 */
export function tiffWithProfile({ data, width, height, channels }: RawPixels, profile: Uint8Array): Buffer {
  const SHORT = 3;
  const LONG = 4;
  const UNDEFINED = 7;
  const entries: [tag: number, type: number, count: number, value: number][] = [];
  const header = 8;
  const count = channels === 4 ? 12 : 11;
  const bitsAt = header + 2 + count * 12 + 4;
  const profileAt = bitsAt + channels * 2;
  // Values start on a word boundary (TIFF 6.0, "Image File Directory").
  const pixelsAt = profileAt + profile.length + (profile.length % 2);
  entries.push(
    [256, LONG, 1, width], // ImageWidth
    [257, LONG, 1, height], // ImageLength
    [258, SHORT, channels, bitsAt], // BitsPerSample: 8 each, listed at bitsAt
    [259, SHORT, 1, 1], // Compression: none
    [262, SHORT, 1, 2], // PhotometricInterpretation: RGB
    [273, LONG, 1, pixelsAt], // StripOffsets
    [277, SHORT, 1, channels], // SamplesPerPixel
    [278, LONG, 1, height], // RowsPerStrip: one strip
    [279, LONG, 1, data.length], // StripByteCounts
    [284, SHORT, 1, 1], // PlanarConfiguration: interleaved
  );
  if (channels === 4) entries.push([338, SHORT, 1, 2]); // ExtraSamples: unassociated alpha
  entries.push([34675, UNDEFINED, profile.length, profileAt]); // ICC profile
  const tiff = Buffer.alloc(pixelsAt + data.length);
  tiff.write('II', 0, 'latin1');
  tiff.writeUInt16LE(42, 2);
  tiff.writeUInt32LE(header, 4);
  tiff.writeUInt16LE(entries.length, header);
  entries.forEach(([tag, type, n, value], i) => {
    const at = header + 2 + i * 12;
    tiff.writeUInt16LE(tag, at);
    tiff.writeUInt16LE(type, at + 2);
    tiff.writeUInt32LE(n, at + 4);
    // A single SHORT sits in the entry itself, left-justified; everything else is a LONG or an offset.
    if (type === SHORT && n === 1) tiff.writeUInt16LE(value, at + 8);
    else tiff.writeUInt32LE(value, at + 8);
  });
  tiff.writeUInt32LE(0, header + 2 + entries.length * 12); // no next directory
  for (let c = 0; c < channels; c++) tiff.writeUInt16LE(8, bitsAt + c * 2);
  tiff.set(profile, profileAt);
  tiff.set(data, pixelsAt);
  return tiff;
}
