// HEVC-coded HEIF (an iPhone's HEIC): sharp's prebuilt libvips leaves HEVC out, so these are
// decoded by libheif compiled to WebAssembly (npm libheif-js, LGPL-3.0, the .wasm embedded in the
// module). Only the image worker loads this module, and only when a job carries such a file
// (normalize.ts imports it with import()): no other request and no cold start pays for its 2 MB.
// It runs inside the worker's time budget; its memory is what the header pre-check estimated
// (formats/heif.ts) and refused beyond the request's bound before anything is decoded.
import type { HeifImage, Libheif } from 'libheif-js/libheif-wasm/libheif-bundle.mjs';
import { invalid } from './image-error.ts';

let loading: Promise<Libheif> | undefined;

function loadLibheif(): Promise<Libheif> {
  loading ??= import('libheif-js/libheif-wasm/libheif-bundle.mjs').then(
    ({ default: create }) => create(),
    (error: unknown) => {
      loading = undefined;
      throw error;
    },
  );
  return loading;
}

export interface DecodedPixels {
  /** RGBA, 8 bits a channel, row after row. */
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * The primary image as RGBA pixels, with the container's transformations (`irot`, `imir`, `clap`)
 * applied and a grid image assembled from its tiles, as libheif does by default. Thumbnails, depth
 * and gain-map images are not decoded. A file libheif cannot decode is `invalid_image`.
 */
export async function decodeHeic(bytes: Uint8Array): Promise<DecodedPixels> {
  const libheif = await loadLibheif();
  const decoder = new libheif.HeifDecoder();
  // libheif-js reports a file it cannot decode on console.log; the worker's output is the
  // function's log, which gets no words about attacker files. The worker runs one job at a time:
  // nothing else logs meanwhile.
  const log = console.log;
  console.log = () => {};
  let images: HeifImage[] = [];
  try {
    try {
      images = decoder.decode(bytes);
    } catch {
      // The decoder aborted on the file's data (WebAssembly traps end here): the file's doing.
      return invalid();
    }
    const primary = images.find((image) => image.is_primary()) ?? invalid();
    const width = primary.get_width();
    const height = primary.get_height();
    const pixels = await new Promise<Uint8ClampedArray | undefined>((resolve) => {
      primary.display({ data: new Uint8ClampedArray(width * height * 4), width, height }, (result) => resolve(result?.data));
    });
    if (!pixels) return invalid();
    return { data: new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength), width, height };
  } finally {
    console.log = log;
    for (const image of images) image.free();
    if (decoder.decoder) libheif.heif_context_free(decoder.decoder);
  }
}
