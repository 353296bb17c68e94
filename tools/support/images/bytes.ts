// Byte helpers the image builders share: Latin-1 text and fixed-width integers.

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
