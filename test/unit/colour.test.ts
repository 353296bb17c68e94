// Pixels and the profile they are in, handed to libvips together (src/images/colour.ts): sharp's
// raw input takes no profile, so they travel as a baseline TIFF. libvips must read back exactly the
// pixels, the alpha and the profile that went in.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';

import { tiffWithProfile } from '../../src/images/colour.ts';

/** A real profile: libvips' own Display P3, as sharp embeds it. */
const displayP3 = async () => (await sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } }).withIccProfile('p3').png().toBuffer().then((png) => sharp(png).metadata())).icc!;

describe('tiffWithProfile', () => {
  for (const channels of [3, 4] as const) {
    it(`${channels} channels: libvips reads back the same pixels, size and profile`, async () => {
      const profile = await displayP3();
      const width = 7; // odd, so rows are not word-aligned
      const height = 5;
      const data = Uint8Array.from({ length: width * height * channels }, (_, i) => (i * 37) % 256);
      const tiff = tiffWithProfile({ data, width, height, channels }, profile);
      const meta = await sharp(tiff).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height, meta.channels, meta.hasAlpha], ['tiff', width, height, channels, channels === 4]);
      assert.deepEqual(meta.icc, profile);
      const read = await sharp(tiff, { ignoreIcc: true }).raw().toBuffer();
      assert.deepEqual(new Uint8Array(read), data);
    });
  }

  it('a profile of odd length keeps the pixels where the directory says they are', async () => {
    const profile = Buffer.concat([await displayP3(), Buffer.from([0])]);
    const data = Uint8Array.from({ length: 2 * 2 * 3 }, (_, i) => i * 20);
    const read = await sharp(tiffWithProfile({ data, width: 2, height: 2, channels: 3 }, profile), { ignoreIcc: true }).raw().toBuffer();
    assert.deepEqual(new Uint8Array(read), data);
  });
});
