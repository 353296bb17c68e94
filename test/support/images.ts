// Small images built in code, so tests need no binary fixtures.
import { deflateSync } from 'node:zlib';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export function pngChunk(type: string, data: Uint8Array = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export interface PngOptions {
  width?: number;
  height?: number;
  /** Extra chunks placed between IHDR and IDAT. */
  chunks?: Buffer[];
  /** Pad the file with extra IDAT bytes up to about this size. */
  padTo?: number;
}

/** A valid RGB PNG; IDAT holds real rows unless the declared size is huge (never decoded anyway). */
export function pngImage({ width = 2, height = 2, chunks = [], padTo = 0 }: PngOptions = {}): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const rows = width * height <= 1_000_000 ? Buffer.alloc(height * (1 + width * 3), 0x7f) : Buffer.alloc(16);
  const parts = [PNG_SIGNATURE, pngChunk('IHDR', ihdr), ...chunks, pngChunk('IDAT', deflateSync(rows))];
  const size = parts.reduce((n, p) => n + p.length, 12);
  if (padTo > size) parts.push(pngChunk('IDAT', Buffer.alloc(padTo - size - 12)));
  parts.push(pngChunk('IEND'));
  return Buffer.concat(parts);
}
