// The HEIC/HEIF and AVIF header pre-check (contract, Images): recognised from the `ftyp` brands,
// the primary image's `ispe` sizes, grid tiles and item counts go through the same budgets before
// anything is decoded, and a file that declares more is refused cheaply whatever it holds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';

import { ImageError, inspectImage } from '../../src/images/header-check.ts';
import type { ImageErrorCode } from '../../src/images/header-check.ts';
import { IMAGE_RULES } from '../support/contract.ts';

const MiB = 1024 * 1024;
const RULES = IMAGE_RULES;
const PHOTOS = new URL('../fixtures/photos/', import.meta.url);

// ---------------------------------------------------------------------------------------------
// A small ISOBMFF writer: boxes as the HEIF standard (ISO/IEC 23008-12) lays them out.

const text = (s: string) => Buffer.from(s, 'latin1');
const u8 = (...v: number[]) => Buffer.from(v);
const u16 = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
};
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
};
const box = (type: string, ...parts: Buffer[]) => {
  const body = Buffer.concat(parts);
  return Buffer.concat([u32(8 + body.length), text(type), body]);
};
const fullBox = (type: string, version: number, flags: number, ...parts: Buffer[]) =>
  box(type, u8(version, (flags >> 16) & 255, (flags >> 8) & 255, flags & 255), ...parts);

const ftyp = (major: string, ...compatible: string[]) => box('ftyp', text(major), u32(0), ...compatible.map(text));
const ispe = (w: number, h: number) => fullBox('ispe', 0, 0, u32(w), u32(h));
const infe = (id: number, type: string) => fullBox('infe', 2, 0, u16(id), u16(0), text(type), u8(0));

interface Item {
  id: number;
  type: string;
  /** 1-based indexes into the property list. */
  props?: number[];
  /** Where the item's bytes are: [construction method, offset, length]. */
  at?: [number, number, number];
}

interface HeifSpec {
  brands?: [string, ...string[]];
  primary?: number;
  items: Item[];
  properties: Buffer[];
  dimg?: { from: number; to: number[] };
  idat?: Buffer;
  iinfCount?: number;
  mdat?: Buffer;
}

function heif(spec: HeifSpec): Buffer {
  const [major, ...compatible] = spec.brands ?? ['heic', 'mif1', 'heic'];
  const iloc = fullBox(
    'iloc',
    1,
    0,
    u8(0x44, 0x00),
    u16(spec.items.length),
    ...spec.items.map((item) => {
      const [method, offset, length] = item.at ?? [0, 0, 8];
      return Buffer.concat([u16(item.id), u16(method), u16(0), u16(1), u32(offset), u32(length)]);
    }),
  );
  const ipma = fullBox(
    'ipma',
    0,
    0,
    u32(spec.items.length),
    ...spec.items.map((item) => Buffer.concat([u16(item.id), u8((item.props ?? []).length), ...(item.props ?? []).map((p) => u8(0x80 | p))])),
  );
  const meta = fullBox(
    'meta',
    0,
    0,
    fullBox('hdlr', 0, 0, u32(0), text('pict'), u32(0), u32(0), u32(0), u8(0)),
    fullBox('pitm', 0, 0, u16(spec.primary ?? 1)),
    fullBox('iinf', 0, 0, u16(spec.iinfCount ?? spec.items.length), ...spec.items.map((item) => infe(item.id, item.type))),
    iloc,
    box('iprp', box('ipco', ...spec.properties), ipma),
    ...(spec.dimg ? [fullBox('iref', 0, 0, box('dimg', u16(spec.dimg.from), u16(spec.dimg.to.length), ...spec.dimg.to.map(u16)))] : []),
    ...(spec.idat ? [box('idat', spec.idat)] : []),
  );
  return Buffer.concat([ftyp(major!, ...compatible), meta, box('mdat', spec.mdat ?? Buffer.alloc(64))]);
}

/** One coded image of w×h: the simplest file a phone could write. */
const single = (w: number, h: number, brands?: HeifSpec['brands']) =>
  heif({ brands, items: [{ id: 1, type: brands?.some((b) => b.startsWith('avi')) ? 'av01' : 'hvc1', props: [1] }], properties: [ispe(w, h)] });

/** A grid image (item 1) of rows×columns tiles of tileW×tileH, output w×h, its data in idat. */
function grid(o: { rows: number; columns: number; tileW: number; tileH: number; w: number; h: number; tiles?: number[]; tileType?: string }): Buffer {
  const count = o.rows * o.columns;
  const tileIds = o.tiles ?? Array.from({ length: count }, (_, i) => i + 2);
  const distinct = [...new Set(tileIds.filter((id) => id !== 1))];
  return heif({
    items: [
      { id: 1, type: 'grid', props: [1], at: [1, 0, 8] },
      ...distinct.map((id) => ({ id, type: o.tileType ?? 'hvc1', props: [2] })),
    ],
    properties: [ispe(o.w, o.h), ispe(o.tileW, o.tileH)],
    dimg: { from: 1, to: tileIds },
    idat: Buffer.concat([u8(0, 0, o.rows - 1, o.columns - 1), u16(o.w), u16(o.h)]),
  });
}

function rejects(input: Uint8Array, code: ImageErrorCode, message?: RegExp): void {
  assert.throws(
    () => inspectImage(input, RULES),
    (err: unknown) => {
      assert.ok(err instanceof ImageError, `expected ImageError, got ${String(err)}`);
      assert.equal(err.code, code, err.message);
      if (message) assert.match(err.message, message);
      return true;
    },
  );
}

/** Refused, and cheaply: the walk is bounded by the file's length, not by what it declares. */
function rejectsQuickly(input: Uint8Array, code: ImageErrorCode, message?: RegExp): void {
  const start = performance.now();
  rejects(input, code, message);
  const ms = performance.now() - start;
  assert.ok(ms < 50, `refusing took ${ms.toFixed(1)} ms`);
}

// ---------------------------------------------------------------------------------------------

describe('HEIC/HEIF and AVIF: recognised from the bytes', () => {
  it('the real phone photos are recognised with their primary image size', () => {
    const cases: [string, number, number][] = [
      ['heic/iphone-13-pro-max.heic', 4032, 3024],
      ['heic/nokia-8.3-hdr.heif', 4608, 3456],
      ['heic/sample.heif', 640, 426],
    ];
    const rules = { ...RULES, maxBytes: 10 * MiB };
    for (const [file, width, height] of cases) {
      const info = inspectImage(readFileSync(new URL(file, PHOTOS)), rules);
      assert.equal(info.type, 'heif', file);
      assert.deepEqual([info.width, info.height, info.frames], [width, height, 1], file);
      assert.ok(info.decodeBytes >= width * height * 4, `${file}: the decoder holds at least the RGBA image`);
    }
  });

  it('every HEIF brand is HEIF, avif and avis are AVIF, whatever the file is called', () => {
    for (const brand of ['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1']) {
      assert.equal(inspectImage(single(64, 48, [brand, brand]), RULES).type, 'heif', brand);
    }
    for (const brand of ['avif', 'avis']) {
      const info = inspectImage(single(64, 48, [brand, 'mif1', brand]), RULES);
      assert.equal(info.type, 'avif', brand);
      assert.deepEqual([info.width, info.height], [64, 48]);
    }
    // A compatible brand counts as much as the major one (some writers put mif1 first).
    assert.equal(inspectImage(single(64, 48, ['mif1', 'mif1', 'avif']), RULES).type, 'avif');
  });

  it('refuses other ISOBMFF files (MP4, a JPEG 2000, CR3 raw) and a HEIF whose primary item is no HEVC or AV1 image', () => {
    rejects(single(64, 48, ['isom', 'isom', 'mp41']), 'invalid_image');
    rejects(single(64, 48, ['jp2 ', 'jp2 ']), 'invalid_image');
    rejects(single(64, 48, ['crx ', 'crx ']), 'invalid_image');
    rejects(heif({ brands: ['mif1', 'mif1'], items: [{ id: 1, type: 'jpeg', props: [1] }], properties: [ispe(64, 48)] }), 'invalid_image');
    // An AV1 item in a file that says HEIC, or the other way round: the decoder chosen would fail.
    rejects(heif({ brands: ['heic', 'heic'], items: [{ id: 1, type: 'av01', props: [1] }], properties: [ispe(64, 48)] }), 'invalid_image');
    rejects(heif({ brands: ['avif', 'avif'], items: [{ id: 1, type: 'hvc1', props: [1] }], properties: [ispe(64, 48)] }), 'invalid_image');
  });

  it('refuses a primary item that does not exist, has no ispe, or has no data', () => {
    rejects(heif({ primary: 7, items: [{ id: 1, type: 'hvc1', props: [1] }], properties: [ispe(64, 48)] }), 'invalid_image');
    rejects(heif({ items: [{ id: 1, type: 'hvc1', props: [] }], properties: [ispe(64, 48)] }), 'invalid_image');
    rejects(heif({ items: [{ id: 1, type: 'hvc1', props: [5] }], properties: [ispe(64, 48)] }), 'invalid_image');
  });

  it('accepts a grid image, reporting the grid output size', () => {
    const info = inspectImage(grid({ rows: 6, columns: 8, tileW: 512, tileH: 512, w: 4032, h: 3024 }), RULES);
    assert.deepEqual([info.type, info.width, info.height], ['heif', 4032, 3024]);
  });
});

describe('HEIC/HEIF and AVIF: the header goes through the budgets before anything is decoded', () => {
  it('refuses a huge ispe in a tiny file (image_too_large)', () => {
    rejectsQuickly(single(100_000, 100_000), 'image_too_large', /100000×100000/);
    rejectsQuickly(single(8193, 16), 'image_too_large');
    rejectsQuickly(single(8000, 8000, ['avif', 'avif']), 'image_too_large'); // 64 MP, sides within
    // 39.99 MP: within the pixel budget; AV1 is decoded by libvips within the memory bound, a HEIC
    // of that size (libheif in WebAssembly, another copy of the pixels) would need more.
    assert.equal(inspectImage(single(8192, 4882, ['avif', 'avif']), RULES).width, 8192);
    rejectsQuickly(single(8192, 4882), 'image_too_large', /memory/);
    assert.equal(inspectImage(single(5712, 4284), RULES).width, 5712); // a 24 MP iPhone photo
  });

  it('refuses a huge ispe on any item, not only the primary (alpha, depth and thumbnails are decoded too)', () => {
    const file = heif({
      items: [
        { id: 1, type: 'hvc1', props: [1] },
        { id: 2, type: 'hvc1', props: [2] },
      ],
      properties: [ispe(64, 48), ispe(60_000, 60_000)],
    });
    rejectsQuickly(file, 'image_too_large');
  });

  it('refuses a grid whose output is larger than the budgets', () => {
    rejectsQuickly(grid({ rows: 16, columns: 16, tileW: 1024, tileH: 1024, w: 16384, h: 16384 }), 'image_too_large');
  });

  it('refuses thousands of tiles (image_too_large), from the header alone', () => {
    const tiles = Array.from({ length: 4096 }, (_, i) => i + 2);
    const file = heif({
      items: [{ id: 1, type: 'grid', props: [1], at: [1, 0, 8] }],
      properties: [ispe(4096, 4096), ispe(64, 64)],
      dimg: { from: 1, to: tiles },
      idat: Buffer.concat([u8(0, 0, 63, 63), u16(4096), u16(4096)]),
    });
    rejectsQuickly(file, 'image_too_large', /4096 tiles/);
    // 256 × 256 tiles declared by the grid data with only 300 references: the counts disagree.
    rejectsQuickly(grid({ rows: 256, columns: 256, tileW: 16, tileH: 16, w: 4096, h: 4096, tiles: tiles.slice(0, 300) }), 'image_too_large');
  });

  it('refuses tiles that decode far more than the output (a 1×1 grid of many huge tiles)', () => {
    rejects(grid({ rows: 4, columns: 4, tileW: 6000, tileH: 6000, w: 1, h: 1 }), 'invalid_image');
  });

  it('refuses a grid that references itself, or another grid, as a tile', () => {
    rejectsQuickly(grid({ rows: 1, columns: 2, tileW: 64, tileH: 64, w: 128, h: 64, tiles: [1, 2] }), 'invalid_image');
    rejectsQuickly(grid({ rows: 1, columns: 1, tileW: 64, tileH: 64, w: 64, h: 64, tileType: 'grid' }), 'invalid_image');
  });

  it('refuses a grid whose tiles do not cover its output, or differ in size', () => {
    rejects(grid({ rows: 2, columns: 2, tileW: 64, tileH: 64, w: 200, h: 100 }), 'invalid_image');
    const mixed = heif({
      items: [
        { id: 1, type: 'grid', props: [1], at: [1, 0, 8] },
        { id: 2, type: 'hvc1', props: [2] },
        { id: 3, type: 'hvc1', props: [3] },
      ],
      properties: [ispe(128, 64), ispe(64, 64), ispe(4096, 4096)],
      dimg: { from: 1, to: [2, 3] },
      idat: Buffer.concat([u8(0, 0, 0, 1), u16(128), u16(64)]),
    });
    rejects(mixed, 'invalid_image');
  });

  it('refuses more items or properties than the budget, whatever the file holds', () => {
    rejectsQuickly(heif({ items: [{ id: 1, type: 'hvc1', props: [1] }], properties: [ispe(64, 48)], iinfCount: 65_535 }), 'image_too_large', /items/);
    const properties = Array.from({ length: 5000 }, () => box('free'));
    rejectsQuickly(heif({ items: [{ id: 1, type: 'hvc1', props: [1] }], properties: [ispe(64, 48), ...properties] }), 'image_too_large', /properties/);
  });

  it('refuses truncated data: a real iPhone HEIC cut anywhere', () => {
    const whole = readFileSync(new URL('heic/iphone-13-pro-max.heic', PHOTOS));
    for (const cut of [24, 100, 1000, 3000, whole.length / 2, whole.length - 1]) {
      rejectsQuickly(whole.subarray(0, Math.floor(cut)), 'invalid_image');
    }
  });

  it('refuses boxes whose sizes lie', () => {
    const good = single(64, 48);
    const metaAt = good.indexOf('meta') - 4;
    for (const size of [0x7fffffff, 4, 7, good.length]) {
      const liar = Buffer.from(good);
      liar.writeUInt32BE(size, metaAt);
      rejectsQuickly(liar, 'invalid_image');
    }
    // A 64-bit size of 2^40 bytes.
    const large = Buffer.from(good);
    large.writeUInt32BE(1, metaAt);
    rejectsQuickly(large, 'invalid_image');
    // An ispe shorter than its two sizes; an iloc extent beyond the file.
    const shortIspe = Buffer.from(good);
    shortIspe.writeUInt32BE(16, good.indexOf('ispe') - 4);
    rejectsQuickly(shortIspe, 'invalid_image');
    rejectsQuickly(heif({ items: [{ id: 1, type: 'hvc1', props: [1], at: [0, 100, 1_000_000] }], properties: [ispe(64, 48)] }), 'invalid_image');
  });

  it('refuses a file with no meta box, or two', () => {
    rejects(Buffer.concat([ftyp('heic', 'mif1', 'heic'), box('mdat', Buffer.alloc(16))]), 'invalid_image');
    const good = single(64, 48);
    const meta = good.subarray(good.indexOf('meta') - 4, good.indexOf('mdat') - 4);
    rejects(Buffer.concat([good, meta]), 'invalid_image');
  });

  it('refuses a file over the byte limit before reading it', () => {
    rejects(Buffer.concat([single(64, 48), box('mdat', Buffer.alloc(3 * MiB))]), 'file_too_large');
  });

  it('a 3 MB file of empty boxes is walked in linear time', () => {
    const filler = Buffer.concat(Array.from({ length: 300_000 }, () => box('free')));
    const file = Buffer.concat([single(64, 48), filler]);
    const start = performance.now();
    assert.equal(inspectImage(file, RULES).width, 64);
    assert.ok(performance.now() - start < 500);
  });
});

// ---------------------------------------------------------------------------------------------
// Colours (contract, Images: "colours converted to sRGB"): the pre-check reports what the primary
// image's `colr` says, so the pipeline can apply it after a decoder that drops it.

const colrNclx = (primaries: number, transfer: number, matrix = 6) => box('colr', text('nclx'), u16(primaries), u16(transfer), u16(matrix), u8(0x80));
const colrIcc = (profile: Buffer, type = 'prof') => box('colr', text(type), profile);
/** Stand-in profile bytes: the walk hands on a byte range, it does not read profiles. */
const PROFILE = Buffer.from('a stand-in for an ICC profile', 'latin1');

describe('HEIC/HEIF and AVIF: the colour the container signals', () => {
  const read = (file: string) => readFileSync(new URL(file, PHOTOS));
  const inspect = (bytes: Uint8Array) => inspectImage(bytes, { ...RULES, maxBytes: 10 * MiB });
  const iccText = (bytes: Uint8Array, colour: unknown): string => {
    assert.ok(colour && typeof colour === 'object' && 'icc' in colour, `an ICC profile, got ${JSON.stringify(colour)}`);
    const { start, end } = (colour as { icc: { start: number; end: number } }).icc;
    return Buffer.from(bytes.subarray(start, end)).toString('latin1');
  };

  it("the real iPhone photo's Display P3 ICC profile", () => {
    const bytes = read('heic/iphone-13-pro-max.heic');
    const profile = iccText(bytes, inspect(bytes).colour);
    assert.equal(profile.slice(36, 40), 'acsp', 'an ICC profile starts with its 128-byte header, signature at 36');
    assert.match(profile.replace(/\0/g, ''), /Display P3/);
  });

  it("the real Nokia HDR HEIF's code points, and nothing for a file that signals nothing", () => {
    assert.deepEqual(inspect(read('heic/nokia-8.3-hdr.heif')).colour, { nclx: { primaries: 5, transfer: 1 } });
    assert.equal(inspect(read('heic/sample.heif')).colour, undefined);
  });

  it('Display P3 as made for the pipeline tests: an ICC profile in a HEIC, code points in an AVIF', () => {
    const heic = read('heic/p3-icc.heic');
    assert.equal(iccText(heic, inspect(heic).colour).slice(36, 40), 'acsp');
    assert.deepEqual(inspect(read('avif/p3-nclx.avif')).colour, { nclx: { primaries: 12, transfer: 13 } });
  });

  it('an ICC profile wins over code points, whichever comes first; rICC counts as one', () => {
    for (const properties of [
      [ispe(64, 48), colrNclx(12, 13), colrIcc(PROFILE)],
      [ispe(64, 48), colrIcc(PROFILE), colrNclx(12, 13)],
    ]) {
      const bytes = heif({ items: [{ id: 1, type: 'hvc1', props: [1, 2, 3] }], properties });
      assert.equal(iccText(bytes, inspectImage(bytes, RULES).colour), PROFILE.toString('latin1'));
    }
    const restricted = heif({ items: [{ id: 1, type: 'hvc1', props: [1, 2] }], properties: [ispe(64, 48), colrIcc(PROFILE, 'rICC')] });
    assert.equal(iccText(restricted, inspectImage(restricted, RULES).colour), PROFILE.toString('latin1'));
  });

  it("a grid without its own colr has its first tile's; its own wins when it has one", () => {
    const tiled = (gridProps: number[]) =>
      heif({
        items: [
          { id: 1, type: 'grid', props: gridProps, at: [1, 0, 8] },
          { id: 2, type: 'hvc1', props: [2, 3] },
          { id: 3, type: 'hvc1', props: [2, 3] },
        ],
        properties: [ispe(1024, 512), ispe(512, 512), colrNclx(12, 13), colrNclx(1, 13)],
        dimg: { from: 1, to: [2, 3] },
        idat: Buffer.concat([u8(0, 0, 0, 1), u16(1024), u16(512)]),
      });
    assert.deepEqual(inspectImage(tiled([1]), RULES).colour, { nclx: { primaries: 12, transfer: 13 } });
    assert.deepEqual(inspectImage(tiled([1, 4]), RULES).colour, { nclx: { primaries: 1, transfer: 13 } });
  });

  it("a colr of another item, or one the walk cannot read, says nothing about the primary's colours", () => {
    const other = heif({
      items: [
        { id: 1, type: 'hvc1', props: [1] },
        { id: 2, type: 'hvc1', props: [1, 2] },
      ],
      properties: [ispe(64, 48), colrNclx(12, 13)],
    });
    assert.equal(inspectImage(other, RULES).colour, undefined);
    for (const colr of [box('colr'), box('colr', text('nclx'), u16(12)), box('colr', text('prof')), box('colr', text('what'), u32(0))]) {
      const bytes = heif({ items: [{ id: 1, type: 'hvc1', props: [1, 2] }], properties: [ispe(64, 48), colr] });
      const info = inspectImage(bytes, RULES);
      assert.deepEqual([info.type, info.colour], ['heif', undefined]);
    }
  });
});
