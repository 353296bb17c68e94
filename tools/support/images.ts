// Builders for tiny images, made in code so every byte a test depends on is visible and no binary
// fixture has to be trusted. PNG and GIF decode (checked once by hand against a PNG reader and an
// LZW decoder). The JPEG is a greyscale baseline image with one Huffman code per table, so every
// block is flat grey; no JPEG decoder was available to confirm it, and the tests need only its
// structure (libvips decodes it). WebP bitstreams are real headers followed by filler, which is all
// a header-only parser reads and which no decoder accepts: test/support/sample-images.ts has real ones.

import { deflateSync } from 'node:zlib';

export const text = (s: string): Buffer => Buffer.from(s, 'latin1');
export const bytes = (...values: number[]): Buffer => Buffer.from(values);

export const u16be = (v: number): Buffer => bytes((v >> 8) & 0xff, v & 0xff);
export const u16le = (v: number): Buffer => bytes(v & 0xff, (v >> 8) & 0xff);
export const u24le = (v: number): Buffer => bytes(v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff);
export const u32be = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};
export const u32le = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};

// ---------------------------------------------------------------------------------------------
// PNG

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

export function crc32(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export const PNG_SIGNATURE = bytes(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

export function pngChunk(type: string, data: Uint8Array = Buffer.alloc(0)): Buffer {
  const typeAndData = Buffer.concat([text(type), data]);
  return Buffer.concat([u32be(data.length), typeAndData, u32be(crc32(typeAndData))]);
}

export interface PngOptions {
  width: number;
  height: number;
  /** Chunks placed right after IHDR. */
  beforeData?: Buffer[];
  /** Chunks placed between IDAT and IEND. */
  afterData?: Buffer[];
  /** Replaces the real IDAT payload (for declared sizes too big to build). */
  idat?: Buffer;
  /** IHDR bit depth and colour type (8-bit RGB by default; the generated IDAT is 8-bit RGB). */
  depth?: number;
  colour?: number;
  /** Adam7 interlacing in IHDR. */
  interlaced?: boolean;
}

/** An 8-bit RGB PNG with a diagonal gradient, so IDAT is real and non-trivial. */
export function png(o: PngOptions): Buffer {
  const ihdr = Buffer.concat([u32be(o.width), u32be(o.height), bytes(o.depth ?? 8, o.colour ?? 2, 0, 0, o.interlaced ? 1 : 0)]);
  let idat = o.idat;
  if (!idat) {
    const row = 1 + o.width * 3;
    const raw = Buffer.alloc(row * o.height);
    for (let y = 0; y < o.height; y++) {
      for (let x = 0; x < o.width; x++) raw.fill((x + y) * 16, y * row + 1 + x * 3, y * row + 4 + x * 3);
    }
    idat = deflateSync(raw);
  }
  return Buffer.concat([
    PNG_SIGNATURE,
    pngChunk('IHDR', ihdr),
    ...(o.beforeData ?? []),
    pngChunk('IDAT', idat),
    ...(o.afterData ?? []),
    pngChunk('IEND'),
  ]);
}

// ---------------------------------------------------------------------------------------------
// JPEG

export function jpegSegment(marker: number, payload: Uint8Array): Buffer {
  return Buffer.concat([bytes(0xff, marker), u16be(payload.length + 2), payload]);
}

export const SOI = bytes(0xff, 0xd8);
export const EOI = bytes(0xff, 0xd9);
export const JFIF = jpegSegment(0xe0, Buffer.concat([text('JFIF\0'), bytes(1, 1, 0, 0, 1, 0, 1, 0, 0)]));
const DQT = jpegSegment(0xdb, Buffer.concat([bytes(0x00), Buffer.alloc(64, 1)]));
// One code ("0", length 1) per table: DC category 0 and AC end-of-block, so every block is "00".
const singleCodeTable = (tableClassAndId: number): Buffer =>
  jpegSegment(0xc4, Buffer.concat([bytes(tableClassAndId, 1), Buffer.alloc(15), bytes(0x00)]));
const DHT = Buffer.concat([singleCodeTable(0x00), singleCodeTable(0x10)]);
const SOS = jpegSegment(0xda, bytes(1, 1, 0x00, 0, 63, 0));

export interface JpegOptions {
  width: number;
  height: number;
  /** Segments placed after JFIF (APPn, COM…). */
  app?: Buffer[];
  jfif?: boolean;
  /** Start-of-frame marker; C0 baseline by default. */
  sof?: number;
  /** Replaces the real entropy-coded data (for declared sizes too big to build). */
  scan?: Buffer;
  /** Appended after EOI. */
  tail?: Buffer;
}

export function jpegScan(width: number, height: number): Buffer {
  const blocks = Math.ceil(width / 8) * Math.ceil(height / 8);
  const out = Buffer.alloc(Math.ceil((blocks * 2) / 8));
  // Two zero bits per block; the final byte is padded with one bits, as the standard asks.
  const padBits = out.length * 8 - blocks * 2;
  if (padBits) out[out.length - 1] = (1 << padBits) - 1;
  return out;
}

export function jpeg(o: JpegOptions): Buffer {
  const sof = jpegSegment(o.sof ?? 0xc0, Buffer.concat([bytes(8), u16be(o.height), u16be(o.width), bytes(1, 1, 0x11, 0)]));
  return Buffer.concat([
    SOI,
    ...(o.jfif === false ? [] : [JFIF]),
    ...(o.app ?? []),
    DQT,
    sof,
    DHT,
    SOS,
    o.scan ?? jpegScan(o.width, o.height),
    EOI,
    o.tail ?? Buffer.alloc(0),
  ]);
}

/** A big-endian EXIF block whose GPS IFD holds a latitude, plus the words a human would grep for. */
export function exifWithGps(): Buffer {
  const description = text('GPSLatitude 45.4642 N, GPSLongitude 9.1900 E\0');
  // Layout (offsets from the TIFF header): IFD0 at 8 (2 entries), GPS IFD after it, then data.
  const ifd0Size = 2 + 2 * 12 + 4;
  const gpsIfdOffset = 8 + ifd0Size;
  const gpsIfdSize = 2 + 2 * 12 + 4;
  const rationalsOffset = gpsIfdOffset + gpsIfdSize;
  const descriptionOffset = rationalsOffset + 24;
  const entry = (tag: number, type: number, count: number, value: Buffer): Buffer =>
    Buffer.concat([u16be(tag), u16be(type), u32be(count), value]);
  const tiff = Buffer.concat([
    text('MM\0*'),
    u32be(8),
    u16be(2),
    entry(0x010e, 2, description.length, u32be(descriptionOffset)),
    entry(0x8825, 4, 1, u32be(gpsIfdOffset)),
    u32be(0),
    u16be(2),
    entry(0x0001, 2, 2, text('N\0\0\0')),
    entry(0x0002, 5, 3, u32be(rationalsOffset)),
    u32be(0),
    ...[45, 1, 27, 1, 5112, 100].map(u32be),
    description,
  ]);
  return Buffer.concat([text('Exif\0\0'), tiff]);
}

export interface ExifOptions {
  /** Little-endian ("II") instead of big-endian ("MM"). */
  littleEndian?: boolean;
  /** Adds an IFD0 Orientation entry (SHORT) with this value. */
  orientation?: number;
}

/** Words and numbers a leak would show, each placed somewhere in the EXIF built by `exif`. */
export const EXIF_SECRETS = {
  strings: ['SecretCam', '2023:06:01 12:34:56', 'SN-4242-0001', 'MakerNoteLocationCache', 'GPSProcessingMethodNetwork', 'THUMBNAIL-JPEG'],
  /** GPS latitude/longitude seconds (rationals), looked for in both byte orders. */
  coordinates: [
    [5112, 100],
    [2400, 100],
  ],
};

/**
 * "Exif\0\0" plus a TIFF structure shaped like a phone's: IFD0 (Make, Orientation, DateTime,
 * Exif IFD and GPS IFD pointers), an Exif IFD (serial number, maker note), a GPS IFD
 * (latitude/longitude with their rationals) and an IFD1 thumbnail, laid out by a small writer.
 */
export function exif({ littleEndian = false, orientation }: ExifOptions = {}): Buffer {
  const w16 = littleEndian ? u16le : u16be;
  const w32 = littleEndian ? u32le : u32be;
  type Field =
    | { tag: number; type: number; count: number; data: Buffer }
    | { tag: number; ifd: Ifd } // a LONG offset to a sub-IFD
    | { tag: number; offsetOf: Buffer }; // a LONG offset to data stored elsewhere
  interface Ifd {
    fields: Field[];
    next?: Ifd;
  }
  const asciiField = (tag: number, value: string): Field => ({ tag, type: 2, count: value.length + 1, data: text(`${value}\0`) });
  const shortField = (tag: number, value: number): Field => ({ tag, type: 3, count: 1, data: w16(value) });
  const longField = (tag: number, value: number): Field => ({ tag, type: 4, count: 1, data: w32(value) });
  const rationals = (tag: number, values: number[]): Field => ({ tag, type: 5, count: values.length / 2, data: Buffer.concat(values.map(w32)) });
  const undefinedField = (tag: number, data: Buffer): Field => ({ tag, type: 7, count: data.length, data });
  const [, date, serial, makerNote, method, thumbnail] = EXIF_SECRETS.strings as [string, string, string, string, string, string];
  const [lat, lon] = EXIF_SECRETS.coordinates as [number[], number[]];

  const thumbnailData = text(thumbnail);
  const ifd1: Ifd = { fields: [{ tag: 0x0201, offsetOf: thumbnailData }, longField(0x0202, thumbnailData.length)] };
  const ifd0: Ifd = {
    fields: [
      asciiField(0x010f, EXIF_SECRETS.strings[0]!),
      ...(orientation === undefined ? [] : [shortField(0x0112, orientation)]),
      asciiField(0x0132, date),
      { tag: 0x8769, ifd: { fields: [undefinedField(0x927c, text(makerNote)), asciiField(0xa431, serial)] } },
      {
        tag: 0x8825,
        ifd: {
          fields: [
            asciiField(0x0001, 'N'),
            rationals(0x0002, [45, 1, 27, 1, ...lat!]),
            asciiField(0x0003, 'E'),
            rationals(0x0004, [9, 1, 11, 1, ...lon!]),
            undefinedField(0x001b, text(method)),
          ],
        },
      },
    ],
    next: ifd1,
  };

  const parts: Buffer[] = [text(littleEndian ? 'II*\0' : 'MM\0*'), w32(8)];
  let size = 8;
  const append = (data: Buffer): number => {
    const at = size;
    parts.push(data, data.length % 2 ? bytes(0) : Buffer.alloc(0)); // values start on word boundaries
    size += data.length + (data.length % 2);
    return at;
  };
  const place = (ifd: Ifd): number => {
    const table = Buffer.alloc(2 + ifd.fields.length * 12 + 4); // filled in below, after placing
    const at = append(table);
    table.set(w16(ifd.fields.length), 0);
    ifd.fields.forEach((f, i) => {
      const entry = 2 + i * 12;
      table.set(w16(f.tag), entry);
      if ('ifd' in f) {
        table.set(Buffer.concat([w16(4), w32(1), w32(place(f.ifd))]), entry + 2);
      } else if ('offsetOf' in f) {
        table.set(Buffer.concat([w16(4), w32(1), w32(append(f.offsetOf))]), entry + 2);
      } else {
        table.set(Buffer.concat([w16(f.type), w32(f.count)]), entry + 2);
        table.set(f.data.length <= 4 ? f.data : w32(append(f.data)), entry + 8);
      }
    });
    if (ifd.next) table.set(w32(place(ifd.next)), 2 + ifd.fields.length * 12);
    return at;
  };
  place(ifd0);
  return Buffer.concat([text('Exif\0\0'), ...parts]);
}

export const XMP_WITH_GPS = Buffer.concat([
  text('http://ns.adobe.com/xap/1.0/\0'),
  text(
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
      '<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="45,27.852N" ' +
      'exif:GPSLongitude="9,11.400E"/></rdf:RDF></x:xmpmeta>',
  ),
]);

// ---------------------------------------------------------------------------------------------
// GIF

export interface GifFrame {
  left?: number;
  top?: number;
  width: number;
  height: number;
}

export interface GifOptions {
  width: number;
  height: number;
  /** One full-screen frame by default. */
  frames?: GifFrame[];
  /** Adds the NETSCAPE2.0 loop-forever extension. */
  loop?: boolean;
  comment?: string;
  /** Adds an "XMP DataXMP" application extension with this packet. */
  xmp?: string;
  /** Frame data compressed as far as LZW goes (lzwRun), for frames of many megapixels. */
  packed?: boolean;
}

function subBlocks(data: Uint8Array): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += 255) {
    const piece = data.subarray(i, i + 255);
    parts.push(bytes(piece.length), Buffer.from(piece));
  }
  parts.push(bytes(0));
  return Buffer.concat(parts);
}

/**
 * LZW data for `count` pixels of colour 0 with minimum code size 2. A clear code after every
 * two literals keeps the table from growing, so every code stays 3 bits wide.
 */
function lzwZeros(count: number): Buffer {
  const CLEAR = 4;
  const END = 5;
  const codes: number[] = [];
  for (let i = 0; i < count; i++) {
    if (i % 2 === 0) codes.push(CLEAR);
    codes.push(0);
  }
  codes.push(END);
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const code of codes) {
    acc |= code << bits;
    bits += 3;
    while (bits >= 8) {
      out.push(acc & 0xff);
      acc >>= 8;
      bits -= 8;
    }
  }
  if (bits) out.push(acc & 0xff);
  return Buffer.from(out);
}

/**
 * LZW data for `count` pixels of colour 0, compressed as far as LZW goes (minimum code size 2):
 * every code is one longer run of zeros than the one before, so a 16-megapixel frame takes about
 * 11 KB. The code width grows as decoders expect it (after the entry that fills the width), and a
 * clear code restarts the table before it is full.
 */
export function lzwRun(count: number): Buffer {
  const CLEAR = 4;
  const END = 5;
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  let width = 3;
  const write = (code: number) => {
    acc += code * 2 ** bits;
    bits += width;
    while (bits >= 8) {
      out.push(acc % 256);
      acc = Math.floor(acc / 256);
      bits -= 8;
    }
  };
  let next = 6;
  write(CLEAR);
  let remaining = count;
  while (remaining > 0) {
    if (next >= 4093) {
      write(CLEAR);
      width = 3;
      next = 6;
    }
    // The table holds runs of 1 (code 0) to next − 5 zeros (code 6 + length − 2).
    const length = Math.min(next - 5, remaining);
    write(length === 1 ? 0 : 6 + length - 2);
    remaining -= length;
    if (next >= 1 << width && width < 12) width++;
    next++;
  }
  write(END);
  if (bits) out.push(acc % 256);
  return Buffer.from(out);
}

export function gif(o: GifOptions): Buffer {
  const frames = o.frames ?? [{ width: o.width, height: o.height }];
  // Frames of one size share their data: 298 frames of 16 MP are encoded once.
  const encoded = new Map<number, Buffer>();
  const frameData = (pixels: number) => {
    let data = encoded.get(pixels);
    if (!data) encoded.set(pixels, (data = o.packed ? lzwRun(pixels) : lzwZeros(pixels)));
    return data;
  };
  const parts: Buffer[] = [
    text('GIF89a'),
    u16le(o.width),
    u16le(o.height),
    bytes(0x80, 0, 0), // 2-entry global colour table
    bytes(0, 0, 0, 255, 255, 255),
  ];
  if (o.loop) parts.push(bytes(0x21, 0xff, 11), text('NETSCAPE2.0'), bytes(3, 1, 0, 0, 0));
  if (o.comment !== undefined) parts.push(bytes(0x21, 0xfe), subBlocks(text(o.comment)));
  if (o.xmp !== undefined) parts.push(bytes(0x21, 0xff, 11), text('XMP DataXMP'), subBlocks(text(o.xmp)));
  for (const f of frames) {
    parts.push(
      bytes(0x21, 0xf9, 4, 0x04, 10, 0, 0, 0), // graphic control: 100 ms, keep previous frame
      bytes(0x2c),
      u16le(f.left ?? 0),
      u16le(f.top ?? 0),
      u16le(f.width),
      u16le(f.height),
      bytes(0),
      bytes(2),
      subBlocks(frameData(f.width * f.height)),
    );
  }
  parts.push(bytes(0x3b));
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// WebP

export function riffChunk(fourcc: string, data: Uint8Array): Buffer {
  return Buffer.concat([text(fourcc), u32le(data.length), data, data.length % 2 ? bytes(0) : Buffer.alloc(0)]);
}

export function webp(chunks: Buffer[]): Buffer {
  const body = Buffer.concat([text('WEBP'), ...chunks]);
  return Buffer.concat([text('RIFF'), u32le(body.length), body]);
}

/** Lossy key frame header: frame tag, start code 9d 01 2a, 14-bit sizes, then filler. */
export function vp8(width: number, height: number): Buffer {
  const firstPartition = 8;
  return Buffer.concat([
    u24le((firstPartition << 5) | 0x10), // key frame, version 0, shown
    bytes(0x9d, 0x01, 0x2a),
    u16le(width),
    u16le(height),
    Buffer.alloc(10, 0x55),
  ]);
}

/** Lossless header: signature 0x2f, then 14-bit (size − 1) fields, alpha bit, version 0. */
export function vp8l(width: number, height: number): Buffer {
  return Buffer.concat([bytes(0x2f), u32le((width - 1) | ((height - 1) << 14)), Buffer.alloc(6, 0x55)]);
}

export const VP8X_FLAGS = { icc: 0x20, alpha: 0x10, exif: 0x08, xmp: 0x04, animation: 0x02 };

export function vp8x(width: number, height: number, flags: number): Buffer {
  return Buffer.concat([bytes(flags, 0, 0, 0), u24le(width - 1), u24le(height - 1)]);
}

export function anmf(x: number, y: number, width: number, height: number, frame: Buffer[]): Buffer {
  return Buffer.concat([
    u24le(x / 2),
    u24le(y / 2),
    u24le(width - 1),
    u24le(height - 1),
    u24le(100),
    bytes(0),
    ...frame,
  ]);
}

/** A valid PNG of any declared size; huge ones get a token IDAT (never decoded), `padTo` pads it. */
export function pngImage({ width = 2, height = 2, padTo = 0 }: { width?: number; height?: number; padTo?: number } = {}): Buffer {
  const huge = width * height > 1_000_000;
  const image = png({ width, height, ...(huge && { idat: deflateSync(Buffer.alloc(16)) }) });
  if (padTo <= image.length) return image;
  return png({ width, height, ...(huge && { idat: deflateSync(Buffer.alloc(16)) }), afterData: [pngChunk('IDAT', Buffer.alloc(padTo - image.length))] });
}
