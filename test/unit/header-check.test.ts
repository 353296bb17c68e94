import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { readdirSync, readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

import { ImageError, inspectImage, requestDecodeOver } from '../../src/images/header-check.ts';
import type { ImageErrorCode } from '../../src/images/header-check.ts';
import {
  EOI,
  JFIF,
  PNG_SIGNATURE,
  SOI,
  VP8X_FLAGS,
  XMP_WITH_GPS,
  anmf,
  bytes,
  exifWithGps,
  gif,
  jpeg,
  jpegSegment,
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
} from '../../tools/support/images.ts';
import { IMAGE_RULES } from '../support/contract.ts';

const MiB = 1024 * 1024;
const RULES = IMAGE_RULES;
const INVALID =
  'Upload a valid image (JPEG, PNG, GIF, WebP, HEIC or AVIF). The file you uploaded was either not an image or a corrupted image.';
const PHOTOS = new URL('../fixtures/photos/', import.meta.url);

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

  it('refuses text/plain, BMP, TIFF, a HEIC brand without any image in it, and ICO', () => {
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

  it('refuses a JPEG with a bad SOF', () => {
    const whole = jpeg({ width: 8, height: 8 });
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

  it('refuses a progressive JPEG with more than 64 scans, before decoding, quickly', () => {
    const scan = Buffer.concat([jpegSegment(0xda, bytes(1, 1, 0x00, 1, 5, 0)), bytes(0x3f)]);
    const progressive = (scans: number) => {
      const base = jpeg({ width: 8192, height: 4096, sof: 0xc2, scan: bytes(0x3f) });
      return Buffer.concat([base.subarray(0, base.length - 2), ...Array.from({ length: scans - 1 }, () => scan), EOI]);
    };
    assert.equal(inspectImage(progressive(64), RULES).width, 8192);
    rejects(progressive(65), 'invalid_image', /more than 64 scans/);
    // The bomb: one scan repeated as often as 3 MiB allows.
    const bomb = progressive(Math.floor((3 * MiB - 200) / scan.length));
    const started = performance.now();
    rejects(bomb, 'invalid_image', /more than 64 scans/);
    assert.ok(performance.now() - started < 100, 'refused from the first 65 scans');
    rejects(progressive(10), 'invalid_image', /more than 8 scans/, { ...RULES, maxJpegScans: 8 });
  });

  it('refuses a GIF with 120,000 frames, at the 301st', () => {
    const frame = gif({ width: 1, height: 1 }).subarray(19, -1); // graphic control + one 1×1 image
    const head = gif({ width: 1, height: 1, loop: true, frames: [] }).subarray(0, -1);
    const bomb = Buffer.concat([head, Buffer.concat(Array.from({ length: 120_000 }, () => frame)), bytes(0x3b)]);
    assert.ok(bomb.length < 3 * MiB);
    const started = performance.now();
    rejects(bomb, 'image_too_large', 'The animation has more than 300 frames; at most 300 are allowed.');
    assert.ok(performance.now() - started < 50);
    const ok = Buffer.concat([head, Buffer.concat(Array.from({ length: 300 }, () => frame)), bytes(0x3b)]);
    assert.equal(inspectImage(ok, RULES).frames, 300);
  });

  it('refuses an animation over 60 megapixels across its frames (canvas × frames), GIF and WebP', () => {
    const frames = (n: number, width: number, height: number) => Array.from({ length: n }, () => ({ width, height }));
    // 1000×1000 canvas: 60 frames are 60 MP, 61 are over.
    const header = (n: number) => gif({ width: 1000, height: 1000, frames: frames(n, 1, 1) });
    assert.equal(inspectImage(header(60), RULES).frames, 60);
    rejects(header(61), 'image_too_large', "The animation's 61 frames hold 61 megapixels in all; at most 60 megapixels across all frames are allowed.");
    const animatedWebp = (n: number) =>
      webp([
        riffChunk('VP8X', vp8x(2000, 1000, VP8X_FLAGS.animation)),
        riffChunk('ANIM', Buffer.alloc(6)),
        ...Array.from({ length: n }, () => riffChunk('ANMF', anmf(0, 0, 4, 4, [riffChunk('VP8L', vp8l(4, 4))]))),
      ]);
    assert.equal(inspectImage(animatedWebp(30), RULES).frames, 30);
    rejects(animatedWebp(31), 'image_too_large', /^The animation's 31 frames hold 62 megapixels in all;/);
    rejects(webp([riffChunk('VP8X', vp8x(4, 4, VP8X_FLAGS.animation)), riffChunk('ANIM', Buffer.alloc(6)), ...Array.from({ length: 301 }, () => riffChunk('ANMF', anmf(0, 0, 4, 4, [riffChunk('VP8L', vp8l(4, 4))])))]), 'image_too_large', /more than 300 frames/);
    rejects(header(5), 'image_too_large', /more than 4 frames/, { ...RULES, maxFrames: 4 });
  });

  it('states the file’s own totals when an animation is over the budget, not where counting crossed it', () => {
    // 100 frames on a 1000×1000 screen: 100 megapixels, refused; the message says 100 frames.
    const many = gif({ width: 1000, height: 1000, frames: Array.from({ length: 100 }, () => ({ width: 1, height: 1 })) });
    rejects(many, 'image_too_large', "The animation's 100 frames hold 100 megapixels in all; at most 60 megapixels across all frames are allowed.");
    // One pixel over the budget never reads as the budget itself.
    const justOver = gif({ width: 1000, height: 1000, frames: [...Array.from({ length: 59 }, () => ({ width: 1, height: 1 })), { width: 1001, height: 1000 }] });
    rejects(justOver, 'image_too_large', /hold 60\.01 megapixels in all; at most 60 megapixels/);
  });

  it('counts a GIF frame larger than the screen at its own size (1×2048 screen, frames of 8192×2048)', () => {
    // The first frame fits the screen, so libvips sizes its canvas by it, yet decodes every later
    // frame whole: those count at 16.8 MP each, not at the screen's 2048 pixels.
    const hostile = (n: number) =>
      gif({ width: 1, height: 2048, packed: true, frames: [{ width: 1, height: 2048 }, ...Array.from({ length: n - 1 }, () => ({ width: 8192, height: 2048 }))] });
    rejects(hostile(298), 'image_too_large', "The animation's 298 frames hold 4982.84 megapixels in all; at most 60 megapixels across all frames are allowed.", { ...RULES, maxBytes: 4 * MiB });
    rejects(hostile(5), 'image_too_large', /^The animation's 5 frames hold 67\.12 megapixels in all;/);
    // Three such frames (50 MP) are within the budget.
    assert.equal(inspectImage(hostile(4), RULES).frames, 4);
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
      frames: 1,
      decodeBytes: 0, // decoded row by row
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
      frames: 1,
      decodeBytes: 0, // baseline: streamed
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
      frames: 1,
      decodeBytes: 80, // one RGBA canvas
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
    assert.equal(info.frames, 2);
  });

  it('reads WebP: lossy VP8, lossless VP8L, extended VP8X still and animated', () => {
    // A still WebP is decoded (and shrunk) as the pipeline asks; an animation holds all its frames (RGBA).
    const webpInfo = (width: number, height: number, frames = 1) =>
      ({ type: 'webp', mime: 'image/webp', ext: 'webp', width, height, frames, decodeBytes: frames > 1 ? width * height * frames * 4 : 0 });
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
    assert.deepEqual(inspectImage(animated, RULES), webpInfo(20, 20, 2));
  });

  it('accepts data after the image: a JPEG after EOI (gain maps, MPF), one stray byte, trailers and padding', () => {
    assert.equal(inspectImage(Buffer.concat([jpeg({ width: 8, height: 8 }), jpeg({ width: 16, height: 16 })]), RULES).width, 8);
    assert.equal(inspectImage(Buffer.concat([jpeg({ width: 8, height: 8 }), bytes(0x00)]), RULES).width, 8);
    assert.equal(inspectImage(Buffer.concat([jpeg({ width: 8, height: 8 }), bytes(0x41)]), RULES).width, 8);
    assert.equal(inspectImage(Buffer.concat([png({ width: 2, height: 2 }), text('<script>alert(1)</script>')]), RULES).width, 2);
    assert.equal(inspectImage(Buffer.concat([gif({ width: 2, height: 2 }), text('PK\x03\x04')]), RULES).width, 2);
    assert.equal(inspectImage(Buffer.concat([webp([riffChunk('VP8L', vp8l(2, 2))]), text('junk')]), RULES).width, 2);
    const gainmap = readFileSync(new URL('phones/apple-gainmap.jpg', PHOTOS));
    assert.deepEqual(inspectImage(gainmap, RULES), { type: 'jpeg', mime: 'image/jpeg', ext: 'jpg', width: 384, height: 512, frames: 1, decodeBytes: 0 });
  });

  it('reads every real photo', () => {
    for (const folder of ['gps', 'orientation', 'cameras', 'phones']) {
      for (const name of readdirSync(new URL(`${folder}/`, PHOTOS))) {
        const info = inspectImage(readFileSync(new URL(`${folder}/${name}`, PHOTOS)), RULES);
        assert.equal(info.type, 'jpeg', name);
      }
    }
  });

  it('walks 3 MiB of 4-byte segments fast, without building arrays', () => {
    const segments = Buffer.alloc(3 * MiB - 400);
    for (let i = 0; i + 4 <= segments.length; i += 4) segments.set([0xff, 0xfe, 0x00, 0x02], i);
    const image = jpeg({ width: 8, height: 8, app: [segments] });
    assert.ok(image.length <= 3 * MiB);
    const heapBefore = process.memoryUsage().heapUsed;
    const started = performance.now();
    assert.equal(inspectImage(image, RULES).width, 8);
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 150, `${elapsed.toFixed(0)} ms`);
    assert.ok(process.memoryUsage().heapUsed - heapBefore < 8 * MiB, 'no per-segment allocations');
  });

  it('skips stray bytes between segments as libjpeg does (a short segment length, a segment without its marker)', () => {
    const whole = jpeg({ width: 8, height: 8 });
    const dqtAt = whole.indexOf(bytes(0xff, 0xdb));
    const strayed = (stray: Buffer) => Buffer.concat([whole.subarray(0, dqtAt), stray, whole.subarray(dqtAt)]);
    assert.equal(inspectImage(strayed(text('x')), RULES).width, 8);
    // Photoshop CS5's Adobe data without its FF EE, and FF 00 (no marker either).
    assert.equal(inspectImage(strayed(Buffer.concat([bytes(0x00, 0x0e), text('Adobe'), bytes(0x00, 0x64, 0x80, 0, 0, 0, 0, 1)])), RULES).width, 8);
    assert.equal(inspectImage(strayed(bytes(0x20, 0xff, 0x00, 0xff, 0xff, 0x00, 0x0a)), RULES).width, 8);
    // A scan found after stray bytes is still counted, and the file still needs its frame and EOI.
    invalidImage(Buffer.concat([whole.subarray(0, dqtAt), text('junk'), EOI]));
    invalidImage(Buffer.concat([whole.subarray(0, whole.length - 2), text('junk')]));
    invalidImage(Buffer.concat([SOI, text('no marker at all')]));
  });

  it('walks 3 MiB of stray bytes and FF 00 pairs fast: resynchronising stays linear', () => {
    for (const fill of [bytes(0x41), bytes(0xff, 0x00), bytes(0xff, 0xff, 0xff, 0x00)]) {
      const garbage = Buffer.alloc(3 * MiB - 400);
      for (let i = 0; i + fill.length <= garbage.length; i += fill.length) garbage.set(fill, i);
      const whole = jpeg({ width: 8, height: 8 });
      const at = whole.indexOf(bytes(0xff, 0xdb));
      const taken = Buffer.concat([whole.subarray(0, at), garbage, whole.subarray(at)]);
      const refused = Buffer.concat([whole.subarray(0, at), garbage]); // no marker after it
      const timed = (check: () => void) => {
        const started = performance.now();
        check();
        return performance.now() - started;
      };
      const elapsed = [timed(() => assert.equal(inspectImage(taken, RULES).width, 8)), timed(() => invalidImage(refused))];
      // The same bound as 3 MiB of 4-byte segments above: a pass over the bytes, nothing more.
      assert.ok(Math.max(...elapsed) < 150, `${elapsed.map((t) => t.toFixed(0)).join(', ')} ms`);
    }
  });

  it('decides from the header alone, quickly, even at the byte limit', () => {
    const padded = Buffer.concat([jpeg({ width: 8, height: 8, scan: Buffer.alloc(3 * MiB - 200, 0x11) })]);
    const started = performance.now();
    assert.equal(inspectImage(padded, RULES).width, 8);
    assert.ok(performance.now() - started < 200);
  });
});

describe('inspectImage: decoder memory', () => {
  // What libvips holds at once, from the contract's bound: 256 MiB for the images of one request.
  const MB = 1_000_000;
  it('an interlaced PNG counts at its full sample size: 16-bit RGBA 40 MP is refused, non-interlaced is not', () => {
    const big = (o: { depth: number; colour: number; interlaced: boolean }) =>
      png({ width: 8000, height: 5000, idat: deflateSync(Buffer.alloc(16)), ...o });
    rejects(big({ depth: 16, colour: 6, interlaced: true }), 'image_too_large',
      'Decoding the image needs about 305.2 MiB of memory; at most 256 MiB are allowed for the images of one request.');
    assert.equal(inspectImage(big({ depth: 16, colour: 6, interlaced: false }), RULES).decodeBytes, 0);
    assert.equal(inspectImage(big({ depth: 8, colour: 6, interlaced: true }), RULES).decodeBytes, 160 * MB);
    assert.equal(inspectImage(big({ depth: 8, colour: 2, interlaced: true }), RULES).decodeBytes, 120 * MB);
  });

  it('an animated WebP counts every frame composed on the whole canvas (2 tiny frames on 5477×5477)', () => {
    const tiny = webp([
      riffChunk('VP8X', vp8x(5477, 5477, VP8X_FLAGS.animation)),
      riffChunk('ANIM', Buffer.alloc(6)),
      ...Array.from({ length: 2 }, () => riffChunk('ANMF', anmf(0, 0, 1, 1, [riffChunk('VP8L', vp8l(1, 1))]))),
    ]);
    assert.ok(tiny.length < 200);
    const info = inspectImage(tiny, RULES);
    assert.equal(info.decodeBytes, 5477 * 5477 * 2 * 4);
    // Alone within the bound; as avatar and cover of one request, the second is over it.
    assert.equal(requestDecodeOver([info], RULES), undefined);
    assert.equal(requestDecodeOver([info, info], RULES), 1);
  });

  it('a progressive JPEG counts its coefficients (2 bytes × 64 per block), a baseline one streams', () => {
    const declared = (sof: number) => jpeg({ width: 8000, height: 5000, sof, scan: Buffer.alloc(8) });
    // One component sampled 1×1: 1000 × 625 blocks.
    assert.equal(inspectImage(declared(0xc2), RULES).decodeBytes, 1000 * 625 * 128);
    assert.equal(inspectImage(declared(0xc0), RULES).decodeBytes, 0);
  });
});
