// Builders for tiny images, made in code so every byte a test depends on is visible and no binary
// fixture has to be trusted. PNG and GIF decode (checked once by hand against a PNG reader and an
// LZW decoder). The JPEG is a greyscale baseline image with one Huffman code per table, so every
// block is flat grey; no JPEG decoder was available to confirm it, and the tests need only its
// structure (libvips decodes it). WebP bitstreams are real headers followed by filler, which is all
// a header-only parser reads and which no decoder accepts: test/support/sample-images.ts has real ones.
//
// One module per format under images/; this is their one index.

export * from './images/bytes.ts';
export * from './images/png.ts';
export * from './images/jpeg.ts';
export * from './images/gif.ts';
export * from './images/webp.ts';
