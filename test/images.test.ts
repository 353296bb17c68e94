import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ImageError, inspectImage, stripMetadata } from '../lib/images.ts';
import type { ImageErrorCode, ImageRules } from '../lib/images.ts';
import {
  EOI,
  EXIF_SECRETS,
  JFIF,
  PNG_SIGNATURE,
  SOI,
  VP8X_FLAGS,
  XMP_WITH_GPS,
  anmf,
  bytes,
  exif,
  exifWithGps,
  gif,
  jpeg,
  jpegSegment,
  orientationTiff,
  png,
  pngChunk,
  riffChunk,
  text,
  u32be,
  u32le,
  vp8,
  vp8l,
  vp8x,
  webp,
} from './support/images.ts';

const MiB = 1024 * 1024;
const RULES: ImageRules = { maxBytes: 3 * MiB, maxSide: 8192, maxPixels: 40_000_000 };
const INVALID =
  'Upload a valid image. The file you uploaded was either not an image or a corrupted image.';

function rejects(input: Uint8Array, code: ImageErrorCode, message?: string | RegExp, rules = RULES): void {
  assert.throws(
    () => inspectImage(input, rules),
    (err: unknown) => {
      assert.ok(err instanceof ImageError, `expected ImageError, got ${String(err)}`);
      assert.equal(err.code, code);
      if (typeof message === 'string') assert.equal(err.message, message);
      else if (message) assert.match(err.message, message);
      return true;
    },
  );
}

const invalidImage = (input: Uint8Array): void => rejects(input, 'invalid_image', INVALID);

const contains = (haystack: Buffer, needle: string | Buffer): boolean => haystack.includes(needle);

describe('inspectImage: refusals', () => {
  it('refuses an empty file', () => {
    rejects(Buffer.alloc(0), 'invalid_image', 'The submitted file is empty.');
  });

  it('refuses a file over maxBytes before looking at it, naming the limit', () => {
    const big = Buffer.concat([png({ width: 1, height: 1 }), Buffer.alloc(3 * MiB)]);
    rejects(big, 'file_too_large', 'The image must be at most 3 MiB.');
    rejects(Buffer.alloc(1001), 'file_too_large', 'The image must be at most 1000 bytes.', { ...RULES, maxBytes: 1000 });
    rejects(Buffer.alloc(3 * MiB), 'file_too_large', 'The image must be at most 2.5 MiB.', { ...RULES, maxBytes: 2.5 * MiB });
  });

  it('accepts a file of exactly maxBytes', () => {
    const image = png({ width: 2, height: 2 });
    assert.equal(inspectImage(image, { ...RULES, maxBytes: image.length }).width, 2);
  });

  it('refuses SVG, with or without a script', () => {
    invalidImage(text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>'));
    invalidImage(text('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'));
  });

  it('refuses HTML', () => {
    invalidImage(text('<!DOCTYPE html><html><body><script>alert(1)</script></body></html>'));
  });

  it('refuses an HTML/PNG polyglot that does not start with the signature', () => {
    const polyglot = Buffer.concat([text('<html><script>alert(1)</script><!--'), png({ width: 1, height: 1 }), text('--></html>')]);
    invalidImage(polyglot);
  });

  it('refuses text/plain, BMP, TIFF, HEIC and ICO', () => {
    invalidImage(text('just some words\n'));
    invalidImage(Buffer.concat([text('BM'), Buffer.alloc(60)]));
    invalidImage(Buffer.concat([text('II*\0'), Buffer.alloc(60)]));
    invalidImage(Buffer.concat([bytes(0, 0, 0, 0x18), text('ftypheic'), Buffer.alloc(60)]));
    invalidImage(Buffer.concat([bytes(0, 0, 1, 0, 1, 0), Buffer.alloc(60)]));
  });

  it('refuses a RIFF that is not WebP', () => {
    invalidImage(Buffer.concat([text('RIFF'), u32le(36), text('WAVEfmt '), Buffer.alloc(28)]));
  });

  it('refuses a truncated PNG', () => {
    const whole = png({ width: 4, height: 4 });
    invalidImage(whole.subarray(0, whole.length - 12)); // IEND missing
    invalidImage(whole.subarray(0, whole.length - 20)); // cut inside IDAT
    invalidImage(whole.subarray(0, 20)); // shorter than IHDR
    invalidImage(PNG_SIGNATURE);
  });

  it('refuses a PNG whose first chunk is not a 13-byte IHDR, or whose IHDR is damaged', () => {
    const whole = png({ width: 4, height: 4 });
    const noIhdr = Buffer.concat([PNG_SIGNATURE, pngChunk('IDAT', Buffer.alloc(4)), pngChunk('IEND')]);
    invalidImage(noIhdr);
    const badCrc = Buffer.from(whole);
    badCrc[17] = 9; // width changed, CRC not
    invalidImage(badCrc);
    const longIhdr = Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', Buffer.concat([u32be(4), u32be(4), bytes(8, 2, 0, 0, 0, 0)])), whole.subarray(33)]);
    invalidImage(longIhdr);
  });

  it('refuses a PNG chunk whose length runs past the end', () => {
    const whole = png({ width: 4, height: 4 });
    const overflow = Buffer.from(whole);
    overflow.writeUInt32BE(0x7ffffff0, 33); // IDAT length
    invalidImage(overflow);
  });

  it('refuses data after the end of the image', () => {
    invalidImage(Buffer.concat([png({ width: 2, height: 2 }), text('<script>alert(1)</script>')]));
    invalidImage(Buffer.concat([jpeg({ width: 8, height: 8 }), jpeg({ width: 8, height: 8 })]));
    invalidImage(Buffer.concat([gif({ width: 2, height: 2 }), text('PK\x03\x04')]));
    invalidImage(Buffer.concat([webp([riffChunk('VP8L', vp8l(2, 2))]), text('junk')]));
  });

  it('refuses a PNG declaring 30000×30000 in a tiny file, from the header alone', () => {
    const liar = png({ width: 30000, height: 30000, idat: Buffer.alloc(16) });
    assert.ok(liar.length < 100);
    rejects(
      liar,
      'image_too_large',
      'The image is 30000×30000 pixels; at most 8192 pixels a side and 40 megapixels are allowed.',
    );
  });

  it('refuses a JPEG declaring 30000×30000 in a tiny file', () => {
    const liar = jpeg({ width: 30000, height: 30000, scan: bytes(0x00, 0x3f) });
    assert.ok(liar.length < 200);
    rejects(liar, 'image_too_large', /^The image is 30000×30000 pixels;/);
  });

  it('refuses a WebP that is too large (VP8X canvas, VP8L and VP8 sizes)', () => {
    const canvas = webp([riffChunk('VP8X', vp8x(16000, 16000, VP8X_FLAGS.animation)), riffChunk('ANIM', Buffer.alloc(6)), riffChunk('ANMF', anmf(0, 0, 16, 16, [riffChunk('VP8L', vp8l(16, 16))]))]);
    rejects(canvas, 'image_too_large', /^The image is 16000×16000 pixels;/);
    rejects(webp([riffChunk('VP8L', vp8l(16384, 2))]), 'image_too_large', /16384×2/);
    rejects(webp([riffChunk('VP8 ', vp8(9000, 9000))]), 'image_too_large', /9000×9000/);
  });

  it('refuses too many pixels even when each side is allowed', () => {
    rejects(png({ width: 8000, height: 8000, idat: Buffer.alloc(16) }), 'image_too_large', /8000×8000/);
    rejects(
      gif({ width: 8, height: 8 }),
      'image_too_large',
      'The image is 8×8 pixels; at most 100 pixels a side and 50 pixels in total are allowed.',
      { ...RULES, maxSide: 100, maxPixels: 50 },
    );
    rejects(png({ width: 1000, height: 1000, idat: Buffer.alloc(16) }), 'image_too_large', /and 0\.5 megapixels are allowed\.$/, {
      ...RULES,
      maxPixels: 500_000,
    });
  });

  it('refuses a GIF frame reaching beyond the limits even if the screen is small', () => {
    const sneaky = gif({ width: 4, height: 4, frames: [{ left: 9000, top: 0, width: 1, height: 1 }] });
    rejects(sneaky, 'image_too_large', /9001×4/);
  });

  it('refuses a zero width or height', () => {
    invalidImage(png({ width: 0, height: 4, idat: Buffer.alloc(4) }));
    invalidImage(jpeg({ width: 0, height: 8, scan: bytes(0x3f) }));
    invalidImage(jpeg({ width: 8, height: 0, scan: bytes(0x3f) })); // DNL-defined height
    invalidImage(gif({ width: 0, height: 2, frames: [{ width: 1, height: 1 }] }));
    invalidImage(webp([riffChunk('VP8 ', vp8(0, 10))]));
  });

  it('refuses a JPEG segment whose length runs past the end', () => {
    const overflow = Buffer.concat([SOI, JFIF, bytes(0xff, 0xe1, 0xff, 0xf0), text('Exif\0\0MM')]);
    invalidImage(overflow);
    const whole = jpeg({ width: 8, height: 8 });
    const cut = whole.subarray(0, 60); // inside DQT
    invalidImage(cut);
  });

  it('refuses a JPEG without SOS, without EOI, or with a scan before the frame', () => {
    const whole = jpeg({ width: 8, height: 8 });
    invalidImage(whole.subarray(0, whole.length - 2)); // no EOI
    const sofAt = whole.indexOf(bytes(0xff, 0xc0));
    const sosAt = whole.indexOf(bytes(0xff, 0xda));
    invalidImage(Buffer.concat([whole.subarray(0, sosAt), EOI])); // no SOS
    invalidImage(Buffer.concat([SOI, whole.subarray(sosAt)])); // SOS, no SOF
    invalidImage(Buffer.concat([whole.subarray(0, sofAt), EOI])); // nothing but headers
    invalidImage(bytes(0xff, 0xd8, 0xff));
  });

  it('refuses a JPEG with garbage between segments or a bad SOF', () => {
    const whole = jpeg({ width: 8, height: 8 });
    const dqtAt = whole.indexOf(bytes(0xff, 0xdb));
    invalidImage(Buffer.concat([whole.subarray(0, dqtAt), text('x'), whole.subarray(dqtAt)]));
    const badSof = Buffer.from(whole);
    badSof[whole.indexOf(bytes(0xff, 0xc0)) + 3] = 20; // SOF length disagrees with component count
    invalidImage(badSof);
  });

  it('refuses WebP with an inconsistent RIFF or bitstream header', () => {
    const good = webp([riffChunk('VP8L', vp8l(4, 4))]);
    const riffTooSmall = Buffer.from(good);
    riffTooSmall.writeUInt32LE(12, 4); // smaller than the chunk inside
    invalidImage(riffTooSmall);
    const riffTooBig = Buffer.from(good);
    riffTooBig.writeUInt32LE(good.length + 100, 4);
    invalidImage(riffTooBig);
    const noSignature = Buffer.from(good);
    noSignature[20] = 0x2e;
    invalidImage(noSignature);
    const noStartCode = webp([riffChunk('VP8 ', vp8(4, 4))]);
    noStartCode[23] = 0;
    invalidImage(noStartCode);
    invalidImage(webp([riffChunk('ALPH', Buffer.alloc(4))]));
    invalidImage(text('RIFF\x04\0\0\0WEBP'));
    // VP8X promises a 10×10 still but carries a 4×4 bitstream.
    invalidImage(webp([riffChunk('VP8X', vp8x(10, 10, 0)), riffChunk('VP8L', vp8l(4, 4))]));
    // Animated, but no frames.
    invalidImage(webp([riffChunk('VP8X', vp8x(10, 10, VP8X_FLAGS.animation)), riffChunk('ANIM', Buffer.alloc(6))]));
  });

  it('refuses a truncated GIF', () => {
    const whole = gif({ width: 3, height: 3 });
    invalidImage(whole.subarray(0, whole.length - 1)); // no trailer
    invalidImage(whole.subarray(0, 20));
    invalidImage(gif({ width: 3, height: 3, frames: [] })); // no image at all
  });
});

describe('inspectImage: accepted images', () => {
  it('reads a PNG', () => {
    assert.deepEqual(inspectImage(png({ width: 7, height: 3 }), RULES), {
      type: 'png',
      mime: 'image/png',
      ext: 'png',
      width: 7,
      height: 3,
    });
  });

  it('reads a PNG at the exact limits', () => {
    const info = inspectImage(png({ width: 8192, height: 4882, idat: Buffer.alloc(16) }), RULES);
    assert.equal(info.width * info.height <= 40_000_000, true);
  });

  it('reads a baseline JPEG', () => {
    assert.deepEqual(inspectImage(jpeg({ width: 17, height: 9 }), RULES), {
      type: 'jpeg',
      mime: 'image/jpeg',
      ext: 'jpg',
      width: 17,
      height: 9,
    });
  });

  it('reads a JPEG with fill bytes, restart markers, stuffed bytes, a progressive frame and zero padding', () => {
    const scan = Buffer.concat([bytes(0x12, 0xff, 0x00, 0x34), bytes(0xff, 0xd0), bytes(0x56)]);
    const base = jpeg({ width: 640, height: 480, sof: 0xc2, scan, jfif: false });
    const sofAt = base.indexOf(bytes(0xff, 0xc2));
    // Fill bytes before a marker and a second scan with its own tables, as progressive files have.
    const secondScan = Buffer.concat([jpegSegment(0xc4, Buffer.concat([bytes(0x11, 1), Buffer.alloc(15), bytes(0)])), jpegSegment(0xda, bytes(1, 1, 0x00, 1, 5, 0)), bytes(0x3f)]);
    const withFill = Buffer.concat([
      base.subarray(0, sofAt),
      bytes(0xff, 0xff),
      base.subarray(sofAt, base.length - 2),
      bytes(0xff, 0xff),
      secondScan,
      EOI,
      Buffer.alloc(32),
    ]);
    const info = inspectImage(withFill, RULES);
    assert.equal(info.type, 'jpeg');
    assert.equal(info.width, 640);
    assert.equal(info.height, 480);
  });

  it('ignores an FF D9 inside an embedded EXIF thumbnail', () => {
    const thumbnail = jpeg({ width: 8, height: 8 });
    const exif = jpegSegment(0xe1, Buffer.concat([text('Exif\0\0'), thumbnail]));
    assert.equal(inspectImage(jpeg({ width: 16, height: 8, app: [exif] }), RULES).width, 16);
  });

  it('reads a GIF', () => {
    assert.deepEqual(inspectImage(gif({ width: 5, height: 4 }), RULES), {
      type: 'gif',
      mime: 'image/gif',
      ext: 'gif',
      width: 5,
      height: 4,
    });
  });

  it('reads an animated GIF (2 frames, NETSCAPE loop)', () => {
    const animated = gif({
      width: 6,
      height: 6,
      loop: true,
      frames: [
        { width: 6, height: 6 },
        { left: 2, top: 2, width: 3, height: 3 },
      ],
    });
    const info = inspectImage(animated, RULES);
    assert.equal(info.type, 'gif');
    assert.equal(info.width, 6);
    assert.equal(info.height, 6);
  });

  it('reads WebP: lossy VP8, lossless VP8L, extended VP8X still and animated', () => {
    const webpInfo = (width: number, height: number) => ({ type: 'webp', mime: 'image/webp', ext: 'webp', width, height });
    assert.deepEqual(inspectImage(webp([riffChunk('VP8 ', vp8(300, 200))]), RULES), webpInfo(300, 200));
    assert.deepEqual(inspectImage(webp([riffChunk('VP8L', vp8l(16383, 1))]), { ...RULES, maxSide: 16383 }), webpInfo(16383, 1));
    const still = webp([
      riffChunk('VP8X', vp8x(64, 32, VP8X_FLAGS.alpha | VP8X_FLAGS.exif | VP8X_FLAGS.xmp)),
      riffChunk('ALPH', Buffer.alloc(5)),
      riffChunk('VP8 ', vp8(64, 32)),
      riffChunk('EXIF', exifWithGps().subarray(6)),
      riffChunk('XMP ', XMP_WITH_GPS.subarray(29)),
    ]);
    assert.deepEqual(inspectImage(still, RULES), webpInfo(64, 32));
    const animated = webp([
      riffChunk('VP8X', vp8x(20, 20, VP8X_FLAGS.animation)),
      riffChunk('ANIM', Buffer.alloc(6)),
      riffChunk('ANMF', anmf(0, 0, 20, 20, [riffChunk('VP8L', vp8l(20, 20))])),
      riffChunk('ANMF', anmf(10, 10, 10, 10, [riffChunk('VP8 ', vp8(10, 10))])),
    ]);
    assert.deepEqual(inspectImage(animated, RULES), webpInfo(20, 20));
  });

  it('decides from the header alone, quickly, even at the byte limit', () => {
    const padded = Buffer.concat([jpeg({ width: 8, height: 8, scan: Buffer.alloc(3 * MiB - 200, 0x11) })]);
    const started = performance.now();
    assert.equal(inspectImage(padded, RULES).width, 8);
    assert.ok(performance.now() - started < 200);
  });
});

describe('stripMetadata', () => {
  it('removes EXIF (with GPS), XMP, comments and foreign APPn from a JPEG; keeps JFIF, ICC, Adobe and the scan', () => {
    const icc = jpegSegment(0xe2, Buffer.concat([text('ICC_PROFILE\0'), bytes(1, 1), Buffer.alloc(20, 7)]));
    const adobe = jpegSegment(0xee, Buffer.concat([text('Adobe'), bytes(0, 100, 0, 0, 0, 0, 1)]));
    const exif = jpegSegment(0xe1, exifWithGps());
    const xmp = jpegSegment(0xe1, XMP_WITH_GPS);
    const iptc = jpegSegment(0xed, text('Photoshop 3.0\x008BIM\x04\x04 City: Milano'));
    const jfxx = jpegSegment(0xe0, Buffer.concat([text('JFXX\0'), bytes(0x10), Buffer.alloc(10, 9)]));
    const comment = jpegSegment(0xfe, text('taken at Via Roma 1'));
    const clean = jpeg({ width: 16, height: 16, app: [icc, adobe] });
    const dirty = jpeg({ width: 16, height: 16, app: [exif, jfxx, icc, xmp, adobe, iptc, comment] });
    assert.ok(contains(dirty, 'GPSLatitude'));

    const stripped = stripMetadata(dirty, 'jpeg');
    assert.deepEqual(stripped, clean); // every kept segment and the scan data byte-identical
    for (const needle of ['GPSLatitude', 'Exif\0\0', 'http://ns.adobe.com/xap/1.0/', 'exif:GPS', 'Milano', 'Via Roma', 'JFXX']) {
      assert.equal(contains(stripped, needle), false, needle);
    }
    assert.equal(contains(stripped, Buffer.concat([u32be(5112), u32be(100)])), false, 'GPS rational');
    assert.equal(inspectImage(stripped, RULES).width, 16);
  });

  it('removes APPn segments between progressive scans too', () => {
    const base = jpeg({ width: 8, height: 8 });
    const late = Buffer.concat([base.subarray(0, base.length - 2), jpegSegment(0xe1, exifWithGps()), jpegSegment(0xda, bytes(1, 1, 0, 1, 5, 0)), bytes(0x3f), EOI]);
    const stripped = stripMetadata(late, 'jpeg');
    assert.equal(contains(stripped, 'GPSLatitude'), false);
    assert.equal(stripped.length, late.length - jpegSegment(0xe1, exifWithGps()).length);
  });

  it('removes tEXt, zTXt, iTXt and eXIf from a PNG; IHDR, IDAT, IEND and colour chunks stay', () => {
    const gama = pngChunk('gAMA', u32be(45455));
    const itxt = pngChunk('iTXt', Buffer.concat([text('XML:com.adobe.xmp\0\0\0\0\0'), XMP_WITH_GPS.subarray(29)]));
    const textChunk = pngChunk('tEXt', text('Comment\0GPSLatitude 45.4642 N'));
    const ztxt = pngChunk('zTXt', Buffer.concat([text('Location\0\0'), bytes(0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01)]));
    const exif = pngChunk('eXIf', exifWithGps().subarray(6));
    const clean = png({ width: 5, height: 5, beforeData: [gama] });
    const dirty = png({ width: 5, height: 5, beforeData: [textChunk, gama, exif, itxt], afterData: [ztxt] });

    const stripped = stripMetadata(dirty, 'png');
    assert.deepEqual(stripped, clean);
    for (const needle of ['tEXt', 'zTXt', 'iTXt', 'eXIf', 'GPSLatitude', 'Location']) {
      assert.equal(contains(stripped, needle), false, needle);
    }
    assert.ok(contains(stripped, 'gAMA'));
    assert.deepEqual(inspectImage(stripped, RULES), { type: 'png', mime: 'image/png', ext: 'png', width: 5, height: 5 });
  });

  it('removes EXIF and XMP from a WebP, clears their VP8X flags and fixes the RIFF size', () => {
    const flags = VP8X_FLAGS.icc | VP8X_FLAGS.alpha | VP8X_FLAGS.exif | VP8X_FLAGS.xmp;
    const iccp = riffChunk('ICCP', Buffer.alloc(12, 3));
    const alph = riffChunk('ALPH', Buffer.alloc(5, 1)); // odd size: exercises padding
    const image = riffChunk('VP8 ', vp8(30, 40));
    const dirty = webp([
      riffChunk('VP8X', vp8x(30, 40, flags)),
      iccp,
      alph,
      image,
      riffChunk('EXIF', exifWithGps().subarray(6)),
      riffChunk('XMP ', XMP_WITH_GPS.subarray(29)),
    ]);
    const stripped = stripMetadata(dirty, 'webp');

    const expected = webp([riffChunk('VP8X', vp8x(30, 40, VP8X_FLAGS.icc | VP8X_FLAGS.alpha)), iccp, alph, image]);
    assert.deepEqual(stripped, expected);
    assert.equal(stripped.readUInt32LE(4), stripped.length - 8);
    assert.equal(stripped[20]! & (VP8X_FLAGS.exif | VP8X_FLAGS.xmp), 0);
    assert.equal(contains(stripped, 'GPSLatitude'), false);
    assert.equal(contains(stripped, 'exif:GPS'), false);
    assert.deepEqual(inspectImage(stripped, RULES), { type: 'webp', mime: 'image/webp', ext: 'webp', width: 30, height: 40 });
  });

  it('removes GIF comments and XMP application extensions, keeps the loop and the frames', () => {
    const frames = [
      { width: 4, height: 4 },
      { left: 1, top: 1, width: 2, height: 2 },
    ];
    const dirty = gif({ width: 4, height: 4, loop: true, comment: 'GPSLatitude 45.4642 N', xmp: '<x:xmpmeta exif:GPSLatitude="45,27.852N"/>', frames });
    const stripped = stripMetadata(dirty, 'gif');
    assert.deepEqual(stripped, gif({ width: 4, height: 4, loop: true, frames }));
    assert.ok(contains(stripped, 'NETSCAPE2.0'));
    assert.equal(contains(stripped, 'GPSLatitude'), false);
    assert.equal(inspectImage(stripped, RULES).width, 4);
  });

  it('returns the same Buffer instance when there is nothing to remove', () => {
    const samples: Array<[Buffer, 'jpeg' | 'png' | 'gif' | 'webp']> = [
      [jpeg({ width: 8, height: 8 }), 'jpeg'],
      [png({ width: 2, height: 2, beforeData: [pngChunk('gAMA', u32be(45455))] }), 'png'],
      [gif({ width: 2, height: 2, loop: true, frames: [{ width: 2, height: 2 }, { width: 1, height: 1 }] }), 'gif'],
      [webp([riffChunk('VP8L', vp8l(3, 3))]), 'webp'],
      [webp([riffChunk('VP8X', vp8x(3, 3, VP8X_FLAGS.alpha)), riffChunk('VP8L', vp8l(3, 3))]), 'webp'],
    ];
    for (const [image, type] of samples) {
      const copy = Buffer.from(image);
      assert.equal(stripMetadata(image, type), image, type);
      assert.deepEqual(image, copy, `${type} left untouched`);
    }
  });

  it('never modifies its input', () => {
    const dirty = webp([riffChunk('VP8X', vp8x(2, 2, VP8X_FLAGS.exif)), riffChunk('VP8L', vp8l(2, 2)), riffChunk('EXIF', Buffer.alloc(8))]);
    const copy = Buffer.from(dirty);
    assert.notEqual(stripMetadata(dirty, 'webp'), dirty);
    assert.deepEqual(dirty, copy);
  });

  it('refuses to strip a structure it cannot walk', () => {
    assert.throws(() => stripMetadata(Buffer.concat([SOI, JFIF]), 'jpeg'), ImageError);
    assert.throws(() => stripMetadata(PNG_SIGNATURE, 'png'), ImageError);
  });
});

describe('stripMetadata: EXIF orientation', () => {
  const exifApp1 = (payload: Buffer): Buffer => jpegSegment(0xe1, payload);
  const keptApp1 = (value: number): Buffer => exifApp1(Buffer.concat([text('Exif\0\0'), orientationTiff(value)]));

  /** Nothing of the original EXIF but the orientation value may be left. */
  function assertNoLeak(stripped: Buffer): void {
    for (const needle of ['GPS', ...EXIF_SECRETS.strings]) assert.equal(contains(stripped, needle), false, needle);
    for (const [numerator, denominator] of EXIF_SECRETS.coordinates as [number, number][]) {
      for (const rational of [Buffer.concat([u32be(numerator), u32be(denominator)]), Buffer.concat([u32le(numerator), u32le(denominator)])]) {
        assert.equal(contains(stripped, rational), false, `coordinate ${numerator}/${denominator}`);
      }
    }
  }

  /** Mutates a copy of a big-endian TIFF structure (no "Exif\0\0"). */
  const patched = (tiff: Buffer, edit: (t: Buffer) => void): Buffer => {
    const copy = Buffer.from(tiff);
    edit(copy);
    return copy;
  };
  const orientation6 = exif({ orientation: 6 }).subarray(6);
  // IFD0 of `exif()` is at 8; Make is entry 0 and Orientation entry 1 (at 8 + 2 + 12).
  const ORIENTATION_ENTRY = 22;
  const MALFORMED: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['unknown byte order', patched(orientation6, (t) => t.write('MI', 0, 'latin1'))],
    ['wrong magic number', patched(orientation6, (t) => t.writeUInt16BE(43, 2))],
    ['only a header', orientation6.subarray(0, 8)],
    ['IFD0 offset past the end', patched(orientation6, (t) => t.writeUInt32BE(0xfffffff0, 4))],
    ['IFD0 inside the header', patched(orientation6, (t) => t.writeUInt32BE(2, 4))],
    ['entry count past the end', patched(orientation6, (t) => t.writeUInt16BE(0xffff, 8))],
    ['cut inside IFD0', orientation6.subarray(0, ORIENTATION_ENTRY + 6)],
    ['Orientation as a LONG', patched(orientation6, (t) => t.writeUInt16BE(4, ORIENTATION_ENTRY + 2))],
    ['Orientation with two values', patched(orientation6, (t) => t.writeUInt32BE(2, ORIENTATION_ENTRY + 4))],
    ['Orientation 0', patched(orientation6, (t) => t.writeUInt16BE(0, ORIENTATION_ENTRY + 8))],
    ['Orientation 9', patched(orientation6, (t) => t.writeUInt16BE(9, ORIENTATION_ENTRY + 8))],
    ['Make as an Orientation', patched(orientation6, (t) => t.writeUInt16BE(0x0112, ORIENTATION_ENTRY - 12))],
    [
      'Orientation twice',
      patched(orientation6, (t) => {
        t.copyWithin(ORIENTATION_ENTRY - 12, ORIENTATION_ENTRY, ORIENTATION_ENTRY + 12); // a valid 6 first
        t.writeUInt16BE(3, ORIENTATION_ENTRY + 8); // then a 3
      }),
    ],
  ];

  it('keeps a JPEG\'s orientation in a fresh EXIF segment after JFIF, dropping everything else (both byte orders)', () => {
    const xmp = jpegSegment(0xe1, XMP_WITH_GPS);
    for (const littleEndian of [false, true]) {
      const dirty = jpeg({ width: 16, height: 8, app: [exifApp1(exif({ littleEndian, orientation: 6 })), xmp] });
      assert.ok(contains(dirty, 'GPS') && contains(dirty, 'SN-4242-0001'));
      const stripped = stripMetadata(dirty, 'jpeg');
      assert.deepEqual(stripped, jpeg({ width: 16, height: 8, app: [keptApp1(6)] }), `littleEndian: ${littleEndian}`);
      assert.deepEqual(stripped.subarray(2, 2 + JFIF.length), JFIF, 'JFIF stays first');
      assertNoLeak(stripped);
      assert.equal(contains(stripped, 'exif:GPS'), false);
      assert.deepEqual(inspectImage(stripped, RULES), { type: 'jpeg', mime: 'image/jpeg', ext: 'jpg', width: 16, height: 8 });
    }
  });

  it('keeps every non-default orientation value, 2 to 8', () => {
    for (let value = 2; value <= 8; value++) {
      for (const littleEndian of [false, true]) {
        const dirty = jpeg({ width: 8, height: 8, app: [exifApp1(exif({ littleEndian, orientation: value }))] });
        assert.deepEqual(stripMetadata(dirty, 'jpeg'), jpeg({ width: 8, height: 8, app: [keptApp1(value)] }), `${value}`);
      }
    }
  });

  it('puts the JPEG orientation right after SOI without JFIF, and after JFIF when EXIF came first', () => {
    const orientation = exifApp1(exif({ littleEndian: true, orientation: 8 }));
    const icc = jpegSegment(0xe2, Buffer.concat([text('ICC_PROFILE\0'), bytes(1, 1), Buffer.alloc(8, 7)]));
    const noJfif = jpeg({ width: 8, height: 8, jfif: false, app: [icc, jpegSegment(0xfe, text('hi')), orientation] });
    assert.deepEqual(stripMetadata(noJfif, 'jpeg'), jpeg({ width: 8, height: 8, jfif: false, app: [keptApp1(8), icc] }));

    const plain = jpeg({ width: 8, height: 8, jfif: false });
    const exifFirst = Buffer.concat([SOI, orientation, JFIF, plain.subarray(2)]);
    const stripped = stripMetadata(exifFirst, 'jpeg');
    assert.deepEqual(stripped, jpeg({ width: 8, height: 8, app: [keptApp1(8)] }));
    assert.equal(inspectImage(stripped, RULES).width, 8);
  });

  it('takes the JPEG orientation from the first EXIF segment before the scan only', () => {
    const first = exifApp1(exif({ orientation: 3 }));
    const second = exifApp1(exif({ orientation: 6 }));
    assert.deepEqual(stripMetadata(jpeg({ width: 8, height: 8, app: [first, second] }), 'jpeg'), jpeg({ width: 8, height: 8, app: [keptApp1(3)] }));

    const base = jpeg({ width: 8, height: 8 });
    const late = Buffer.concat([base.subarray(0, base.length - 2), second, jpegSegment(0xda, bytes(1, 1, 0, 1, 5, 0)), bytes(0x3f), EOI]);
    const stripped = stripMetadata(late, 'jpeg');
    assert.equal(contains(stripped, 'Exif'), false);
    assert.equal(stripped.length, late.length - second.length);
  });

  it('writes no EXIF at all for a JPEG whose orientation is 1 or absent', () => {
    for (const orientation of [1, undefined]) {
      for (const littleEndian of [false, true]) {
        const dirty = jpeg({ width: 8, height: 8, app: [exifApp1(exif({ littleEndian, orientation }))] });
        const stripped = stripMetadata(dirty, 'jpeg');
        assert.deepEqual(stripped, jpeg({ width: 8, height: 8 }), `orientation ${orientation}, littleEndian: ${littleEndian}`);
        assert.equal(contains(stripped, 'Exif'), false);
      }
    }
  });

  it('drops malformed JPEG EXIF entirely instead of failing', () => {
    const clean = jpeg({ width: 8, height: 8 });
    // Controls: the same structure unpatched, and in the other byte order, keeps orientation 6.
    assert.deepEqual(stripMetadata(jpeg({ width: 8, height: 8, app: [exifApp1(Buffer.concat([text('Exif\0\0'), orientation6]))] }), 'jpeg'), jpeg({ width: 8, height: 8, app: [keptApp1(6)] }));
    for (const [name, tiff] of MALFORMED) {
      const dirty = jpeg({ width: 8, height: 8, app: [exifApp1(Buffer.concat([text('Exif\0\0'), tiff]))] });
      assert.deepEqual(stripMetadata(dirty, 'jpeg'), clean, name);
    }
    // An APP1 too short to hold the identifier, or with another identifier, is not EXIF.
    for (const payload of [text('Exif'), Buffer.concat([text('Exif\0\xff'), orientation6])]) {
      assert.deepEqual(stripMetadata(jpeg({ width: 8, height: 8, app: [exifApp1(payload)] }), 'jpeg'), clean);
    }
  });

  const stillWebp = (flags: number, after: Buffer[]): Buffer =>
    webp([riffChunk('VP8X', vp8x(30, 40, flags)), riffChunk('ICCP', Buffer.alloc(12, 3)), riffChunk('ALPH', Buffer.alloc(5, 1)), riffChunk('VP8 ', vp8(30, 40)), ...after]);
  const keptChunk = (value: number): Buffer => riffChunk('EXIF', orientationTiff(value));

  it('keeps a WebP\'s orientation in a fresh EXIF chunk, with the VP8X flag, dropping everything else (both byte orders)', () => {
    const flags = VP8X_FLAGS.icc | VP8X_FLAGS.alpha | VP8X_FLAGS.exif | VP8X_FLAGS.xmp;
    for (const littleEndian of [false, true]) {
      const dirty = stillWebp(flags, [riffChunk('EXIF', exif({ littleEndian, orientation: 6 }).subarray(6)), riffChunk('XMP ', XMP_WITH_GPS.subarray(29))]);
      const stripped = stripMetadata(dirty, 'webp');
      assert.deepEqual(stripped, stillWebp(VP8X_FLAGS.icc | VP8X_FLAGS.alpha | VP8X_FLAGS.exif, [keptChunk(6)]), `littleEndian: ${littleEndian}`);
      assert.equal(stripped.readUInt32LE(4), stripped.length - 8);
      assertNoLeak(stripped);
      assert.deepEqual(inspectImage(stripped, RULES), { type: 'webp', mime: 'image/webp', ext: 'webp', width: 30, height: 40 });
    }
  });

  it('reads WebP EXIF with a JPEG-style "Exif\\0\\0" prefix, and places the new chunk after the image data', () => {
    const unknown = riffChunk('ZZZZ', Buffer.alloc(4));
    // EXIF written before the image: the kept chunk goes where the format puts it, before unknown chunks.
    const dirty = webp([riffChunk('VP8X', vp8x(3, 3, VP8X_FLAGS.exif)), riffChunk('EXIF', exif({ orientation: 5 })), riffChunk('VP8L', vp8l(3, 3)), unknown]);
    const stripped = stripMetadata(dirty, 'webp');
    assert.deepEqual(stripped, webp([riffChunk('VP8X', vp8x(3, 3, VP8X_FLAGS.exif)), riffChunk('VP8L', vp8l(3, 3)), keptChunk(5), unknown]));

    const vp8xAnimated = riffChunk('VP8X', vp8x(20, 20, VP8X_FLAGS.animation | VP8X_FLAGS.exif));
    const anim = riffChunk('ANIM', Buffer.alloc(6));
    const frame1 = riffChunk('ANMF', anmf(0, 0, 20, 20, [riffChunk('VP8L', vp8l(20, 20))]));
    const frame2 = riffChunk('ANMF', anmf(10, 10, 10, 10, [riffChunk('VP8 ', vp8(10, 10))]));
    const animated = webp([vp8xAnimated, anim, frame1, riffChunk('EXIF', exif({ littleEndian: true, orientation: 7 }).subarray(6)), frame2]);
    const strippedAnimation = stripMetadata(animated, 'webp');
    assert.deepEqual(strippedAnimation, webp([vp8xAnimated, anim, frame1, frame2, keptChunk(7)]), 'after the last frame');
    assert.equal(inspectImage(strippedAnimation, RULES).width, 20);
  });

  it('writes no EXIF at all for a WebP whose orientation is 1 or absent, or that has no VP8X', () => {
    for (const orientation of [1, undefined]) {
      const dirty = stillWebp(VP8X_FLAGS.exif, [riffChunk('EXIF', exif({ orientation }).subarray(6))]);
      const stripped = stripMetadata(dirty, 'webp');
      assert.deepEqual(stripped, stillWebp(0, []), `orientation ${orientation}`);
      assert.equal(contains(stripped, 'EXIF'), false);
    }
    // A simple-format WebP cannot declare EXIF, so a stray chunk goes without keeping anything.
    const simple = webp([riffChunk('VP8L', vp8l(3, 3)), riffChunk('EXIF', exif({ orientation: 6 }).subarray(6))]);
    assert.deepEqual(stripMetadata(simple, 'webp'), webp([riffChunk('VP8L', vp8l(3, 3))]));
  });

  it('drops malformed WebP EXIF entirely instead of failing', () => {
    assert.deepEqual(stripMetadata(stillWebp(VP8X_FLAGS.exif, [riffChunk('EXIF', orientation6)]), 'webp'), stillWebp(VP8X_FLAGS.exif, [keptChunk(6)]));
    for (const [name, tiff] of MALFORMED) {
      const stripped = stripMetadata(stillWebp(VP8X_FLAGS.exif, [riffChunk('EXIF', tiff)]), 'webp');
      assert.deepEqual(stripped, stillWebp(0, []), name);
    }
  });
});
