import type { ImageRules } from '../header-check.ts';
import { ImageError, INVALID_IMAGE_MESSAGE, invalid } from '../image-error.ts';
import { still, u16be, type Layout } from './layout.ts';

// JPEG

const isSof = (m: number): boolean => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

/** Markers that carry no length: TEM and the restart markers. */
const isStandalone = (m: number): boolean => m === 0x01 || (m >= 0xd0 && m <= 0xd7);

/**
 * Walks the marker structure up to the primary image's EOI, including the entropy-coded data of
 * every scan (looking only for markers, never decoding), so an FF D9 inside an EXIF thumbnail is
 * not taken for the end. Scans are counted as they are met: a progressive file repeating one scan
 * thousands of times is refused at scan 65. What follows EOI (MPF images, gain maps) is not read.
 */
export function parseJpeg(b: Uint8Array, rules: ImageRules): Layout {
  const n = b.length;
  let frame: { width: number; height: number; decodeBytes: number } | undefined;
  let scans = 0;
  let pos = 2;

  for (;;) {
    pos = nextMarker(b, pos);
    const marker = b[pos++]!;

    if (marker === 0xd9) {
      if (scans === 0) invalid();
      break;
    }
    if (isStandalone(marker)) continue;
    if (marker === 0xd8) invalid();

    if (pos + 2 > n) invalid();
    const length = u16be(b, pos);
    const end = pos + length;
    if (length < 2 || end > n) invalid();

    if (isSof(marker)) {
      if (frame || length < 8) invalid();
      const components = b[pos + 7]!;
      if (components === 0 || length !== 8 + 3 * components) invalid();
      // Height 0 means "defined later by a DNL marker": no size known from the header, so refuse.
      const height = u16be(b, pos + 3);
      const width = u16be(b, pos + 5);
      if (width === 0 || height === 0) invalid();
      frame = { width, height, decodeBytes: isProgressive(marker) ? coefficientBytes(b, pos + 8, components, width, height) : 0 };
    } else if (marker === 0xda) {
      if (!frame || length < 3) invalid();
      const components = b[pos + 2]!;
      if (components === 0 || length !== 6 + 2 * components) invalid();
      if (++scans > rules.maxJpegScans) {
        throw new ImageError(
          'invalid_image',
          `The JPEG has more than ${rules.maxJpegScans} scans; at most ${rules.maxJpegScans} are allowed. ${INVALID_IMAGE_MESSAGE}`,
        );
      }
      pos = skipEntropyData(b, end);
      continue;
    }
    pos = end;
  }
  if (!frame) return invalid();
  return still(frame.width, frame.height, frame.decodeBytes);
}

const isProgressive = (m: number): boolean => m === 0xc2 || m === 0xc6 || m === 0xca || m === 0xce;

/**
 * A progressive JPEG is decoded only after its last scan, so libjpeg holds every DCT coefficient
 * of the image (2 bytes each, 64 per 8×8 block, blocks padded to whole MCUs), whatever the output
 * size: 120 MB for 40 MP with 4:2:0 chroma, 240 MB with full-resolution chroma.
 */
function coefficientBytes(b: Uint8Array, at: number, components: number, width: number, height: number): number {
  let hMax = 1;
  let vMax = 1;
  for (let i = 0; i < components; i++) {
    const sampling = b[at + 3 * i + 1]!;
    hMax = Math.max(hMax, sampling >> 4);
    vMax = Math.max(vMax, sampling & 0x0f);
  }
  const mcuColumns = Math.ceil(width / (8 * hMax));
  const mcuRows = Math.ceil(height / (8 * vMax));
  let blocks = 0;
  for (let i = 0; i < components; i++) {
    const sampling = b[at + 3 * i + 1]!;
    blocks += mcuColumns * Math.max(1, sampling >> 4) * mcuRows * Math.max(1, sampling & 0x0f);
  }
  return blocks * 64 * 2;
}

/**
 * Position of the marker code (the byte after its FF and fill bytes) at or after `from`. Bytes
 * that are not a marker are skipped as libjpeg skips them (next_marker in jdmarker.c: a warning,
 * "extraneous bytes before marker", and decoding goes on): real files carry them, a segment
 * length a few bytes short (a camera-trap XMP), a segment written without its marker (Photoshop
 * CS5's Adobe data). FF 00 is no marker there either. Each byte is looked at once: the walk stays
 * linear whatever the bytes.
 */
function nextMarker(b: Uint8Array, from: number): number {
  let pos = from;
  for (;;) {
    // indexOf is fast over long runs, but a call per FF 00 pair is not: FF found in place first.
    const ff = b[pos] === 0xff ? pos : b.indexOf(0xff, pos);
    if (ff < 0) return invalid(); // no EOI
    pos = ff + 1;
    while (b[pos] === 0xff) pos++; // fill bytes
    if (pos >= b.length) return invalid();
    if (b[pos] !== 0x00) return pos;
    pos++;
  }
}

/** Position of the FF that starts the first real marker after a scan's entropy-coded data. */
function skipEntropyData(b: Uint8Array, from: number): number {
  let pos = from;
  for (;;) {
    const ff = b[pos] === 0xff ? pos : b.indexOf(0xff, pos);
    if (ff < 0) return invalid(); // no EOI
    let next = ff + 1;
    while (b[next] === 0xff) next++;
    if (next >= b.length) return invalid();
    const m = b[next]!;
    // FF 00 is a stuffed data byte and RSTn separate restart intervals; both belong to the scan.
    if (m === 0x00 || (m >= 0xd0 && m <= 0xd7)) {
      pos = next + 1;
      continue;
    }
    return ff;
  }
}

/** The IJG (libjpeg) luminance table at quality 50, which every quality setting scales. */
const IJG_LUMINANCE_SUM = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
  18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
].reduce((a, b) => a + b, 0);

/**
 * The IJG quality (1-100) the upload's luminance table corresponds to, or undefined without one:
 * libjpeg scales the standard table by 5000/q (q < 50) or 200 - 2q, so the ratio of the sums gives
 * the scale back (an estimate for cameras' own tables). Called on an upload parseJpeg accepted.
 */
export function jpegQuality(b: Uint8Array): number | undefined {
  let pos = 2;
  for (;;) {
    pos = nextMarker(b, pos);
    const marker = b[pos++]!;
    if (marker === 0xda || marker === 0xd9) return undefined;
    if (isStandalone(marker)) continue;
    const end = pos + u16be(b, pos);
    if (marker === 0xdb) {
      for (let at = pos + 2; at < end; ) {
        const precision = b[at]! >> 4;
        const id = b[at]! & 0x0f;
        const size = precision ? 2 : 1;
        if (id === 0) {
          let sum = 0;
          for (let i = 0; i < 64; i++) sum += precision ? u16be(b, at + 1 + 2 * i) : b[at + 1 + i]!;
          const scale = (100 * sum) / IJG_LUMINANCE_SUM;
          return Math.max(1, Math.min(100, Math.round(scale <= 100 ? (200 - scale) / 2 : 5000 / scale)));
        }
        at += 1 + 64 * size;
      }
    }
    pos = end;
  }
}
