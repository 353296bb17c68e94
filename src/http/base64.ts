// Size checks on base64 text before it is decoded, so an oversized body or image is refused
// without allocating its decoded copy.

/** The fewest bytes `length` characters of base64 can decode to (up to two `=` of padding). */
export function leastDecodedBytes(length: number): number {
  return Math.floor((length * 3) / 4) - 2;
}
