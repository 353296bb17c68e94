// JPEG builders: segments, a flat grey baseline scan, EXIF (with GPS and secrets) and XMP.

import { bytes, text, u16be, u16le, u32be, u32le } from './bytes.ts';

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
