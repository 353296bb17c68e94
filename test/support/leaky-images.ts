// Real, decodable images (pixels of a real photo, encoded by libvips) carrying the metadata that
// cameras, editors and attackers put where a deny list of chunk types does not look: each builder
// adds its chunks by hand (tools/support/images.ts), so every byte that must not survive is known.
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { EXIF_SECRETS, XMP_WITH_GPS, bytes, exif, jpegSegment, pngChunk, riffChunk, text, u16be, webp } from '../../tools/support/images.ts';
import { riffChunksOf } from './sample-images.ts';
import { PHOTOS, animation } from './stored-images.ts';

/** Words every leaky image carries somewhere; none may be in a stored object. */
export const SECRETS = [...EXIF_SECRETS.strings, 'GPSLatitude', 'xmpmeta', 'SecretArtist', 'SecretComment', 'SecretPlainText', 'SecretVendor', 'c2pa.claim', 'SecretThumb'];

const XMP_PACKET = XMP_WITH_GPS.subarray('http://ns.adobe.com/xap/1.0/\0'.length);
const TIFF = exif({ orientation: 1 }).subarray(6); // without JPEG's "Exif\0\0"
/** A JUMBF superbox labelled as a C2PA manifest store, as cameras and editors embed it. */
const C2PA = (() => {
  const label = text('c2pa\0');
  const description = Buffer.concat([text('jumd'), Buffer.alloc(16, 0x63), bytes(0x03), label]);
  const claim = Buffer.concat([text('json'), text('{"claim_generator":"SecretCam","c2pa.claim":"SecretArtist"}')]);
  const box = (payload: Buffer) => Buffer.concat([u32be4(payload.length + 4), payload]);
  return box(Buffer.concat([text('jumb'), box(description), box(claim)]));
})();
function u32be4(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
}

async function photoPixels(width: number, height: number) {
  return sharp(new URL('gps/DSCN0012.jpg', PHOTOS).pathname).resize(width, height, { fit: 'cover' });
}

// ---------------------------------------------------------------------------------------------
// PNG: chunks outside any deny list (exIf, zxIf, tXMP, caBX, tIME) next to the standard ones.

export async function leakyPng(): Promise<Buffer> {
  const base = await (await photoPixels(64, 48)).withIccProfile('p3').png().toBuffer();
  const iend = base.length - 12;
  const chunks = [
    pngChunk('exIf', TIFF),
    pngChunk('zxIf', deflateSync(TIFF)),
    pngChunk('tXMP', XMP_PACKET),
    pngChunk('caBX', C2PA),
    pngChunk('tIME', bytes(0x07, 0xe7, 6, 1, 12, 34, 56)),
    pngChunk('eXIf', TIFF),
    pngChunk('tEXt', text('Comment\0SecretComment GPSLatitude 45.4642')),
    pngChunk('iTXt', Buffer.concat([text('XML:com.adobe.xmp\0\0\0\0\0'), XMP_PACKET])),
  ];
  // Ancillary chunks after IDAT are valid; the ICC profile (iCCP) sharp wrote stays before it.
  return Buffer.concat([base.subarray(0, iend), ...chunks, base.subarray(iend)]);
}

// ---------------------------------------------------------------------------------------------
// WebP: _PMX, LIST/INFO, IDIT and C2PA chunks beside EXIF and XMP; and EXIF/XMP inside frames.

const fourcc = (chunk: Buffer) => chunk.toString('latin1', 0, 4);
const VP8X_EXIF = 0x08;
const VP8X_XMP = 0x04;

function withFlags(vp8x: Buffer, flags: number): Buffer {
  const copy = Buffer.from(vp8x);
  copy[8] = copy[8]! | flags;
  return copy;
}

const INFO = Buffer.concat([
  text('INFO'),
  riffChunk('IART', text('SecretArtist\0')),
  riffChunk('ICMT', text('SecretComment GPSLatitude 45.4642\0')),
  riffChunk('ISFT', text('SecretCam\0')),
]);

const extraWebpChunks = () => [
  riffChunk('EXIF', TIFF),
  riffChunk('XMP ', XMP_PACKET),
  riffChunk('_PMX', XMP_PACKET),
  riffChunk('LIST', INFO),
  riffChunk('IDIT', text('Thu Jun 01 12:34:56 2023\n\0')),
  riffChunk('C2PA', C2PA),
];

export async function leakyWebp(): Promise<Buffer> {
  // Alpha makes libvips write the extended format (VP8X, ALPH, VP8), which can declare metadata.
  const base = await (await photoPixels(64, 48)).ensureAlpha(0.9).webp({ quality: 80 }).toBuffer();
  const [vp8x, ...rest] = riffChunksOf(base);
  if (!vp8x || fourcc(vp8x) !== 'VP8X') throw new Error('expected an extended WebP');
  return webp([withFlags(vp8x, VP8X_EXIF | VP8X_XMP), ...rest, ...extraWebpChunks()]);
}

/** An animated WebP whose every frame (ANMF) carries EXIF and XMP inside it. */
export async function leakyAnimatedWebp(frames = 3): Promise<Buffer> {
  const base = await animation('webp', frames, 80, 60);
  const chunks = riffChunksOf(base).map((chunk) => {
    if (fourcc(chunk) !== 'ANMF') return fourcc(chunk) === 'VP8X' ? withFlags(chunk, VP8X_EXIF | VP8X_XMP) : chunk;
    const size = chunk.readUInt32LE(4);
    const payload = Buffer.concat([chunk.subarray(8, 8 + size), riffChunk('EXIF', TIFF), riffChunk('XMP ', XMP_PACKET)]);
    return riffChunk('ANMF', payload);
  });
  return webp([...chunks, ...extraWebpChunks()]);
}

// ---------------------------------------------------------------------------------------------
// GIF: comment, plain text, unknown and application extensions (XMP and a vendor's).

function subBlocks(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += 255) {
    const piece = data.subarray(i, i + 255);
    parts.push(bytes(piece.length), piece);
  }
  parts.push(bytes(0));
  return Buffer.concat(parts);
}

const GIF_EXTENSIONS = Buffer.concat([
  bytes(0x21, 0xfe), subBlocks(text('SecretComment GPSLatitude 45.4642')),
  // Plain text: a 12-byte grid description, then the text to draw.
  bytes(0x21, 0x01, 12, 0, 0, 0, 0, 40, 0, 10, 0, 8, 8, 1, 0), subBlocks(text('SecretPlainText at home')),
  bytes(0x21, 0x99), subBlocks(text('SecretVendor serial SN-4242-0001')),
  bytes(0x21, 0xff, 11), text('XMP DataXMP'), subBlocks(XMP_PACKET),
  bytes(0x21, 0xff, 11), text('SECRETAPP1.0'.slice(0, 11)), subBlocks(text('SecretVendor MakerNoteLocationCache')),
]);

/** The extensions inserted right after the header and global colour table. */
export function withGifExtensions(gifFile: Buffer): Buffer {
  const flags = gifFile[10]!;
  const at = 13 + (flags & 0x80 ? 3 << ((flags & 7) + 1) : 0);
  return Buffer.concat([gifFile.subarray(0, at), GIF_EXTENSIONS, gifFile.subarray(at)]);
}

export async function leakyGif(): Promise<Buffer> {
  return withGifExtensions(await (await photoPixels(64, 48)).gif().toBuffer());
}

// ---------------------------------------------------------------------------------------------
// JPEG: a JFIF APP0 with an uncompressed thumbnail and a JFXX APP0 with a JPEG one, before a real
// camera photo's own EXIF (GPS, make, model, thumbnail), plus XMP, IPTC, ICC and a comment.

export async function leakyJpeg(): Promise<Buffer> {
  const photo = await (await photoPixels(64, 48)).withIccProfile('p3').withExif({ IFD0: { Make: 'SecretCam', Model: 'SN-4242-0001' } }).jpeg().toBuffer();
  const thumbnailPixels = Buffer.alloc(4 * 4 * 3, 0x80);
  const jfif = jpegSegment(0xe0, Buffer.concat([text('JFIF\0'), bytes(1, 2, 0), u16be(1), u16be(1), bytes(4, 4), thumbnailPixels]));
  const thumbJpeg = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#123456' } })
    .withExif({ IFD0: { ImageDescription: 'SecretThumb' } })
    .jpeg()
    .toBuffer();
  const jfxx = jpegSegment(0xe0, Buffer.concat([text('JFXX\0'), bytes(0x10), thumbJpeg]));
  const iptc = jpegSegment(0xed, Buffer.concat([text('Photoshop 3.0\0'), text('8BIM'), bytes(0x04, 0x04, 0, 0), u32be4(20), bytes(0x1c, 0x02, 0x78, 0, 14), text('SecretArtist!!'), bytes(0)]));
  const xmp = jpegSegment(0xe1, XMP_WITH_GPS);
  const gps = jpegSegment(0xe1, exif({ orientation: 1 }));
  const comment = jpegSegment(0xfe, text('SecretComment GPSLatitude 45.4642'));
  // The photo's own SOI first, then ours, then the photo's segments (its EXIF, ICC, tables, scan).
  return Buffer.concat([photo.subarray(0, 2), jfif, jfxx, gps, xmp, iptc, comment, photo.subarray(2)]);
}


