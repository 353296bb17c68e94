// One cold-import sample: a fresh `node` imports a bundle and makes what the handler makes at start
// (its AWS clients and token verifier), then prints how long that took. Plain JavaScript, so that
// nothing but the bundle itself is loaded. Usage: node cold.mjs <file> handler|deps|none|sharp
// `sharp` imports the package sharp as the handler's import() does on a container's first image
// request, resolved from where this file is (the project, or a copy in the unzipped artifact),
// and runs a first tiny pipeline (libvips starts its threads then).
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [file, kind] = process.argv.slice(2);
const config = JSON.parse(process.env.BENCH_COLD_CONFIG ?? '{}');
const url = file ? pathToFileURL(file).href : '';

const start = performance.now();
let ready;
let firstUseMs;
if (kind === 'sharp') {
  const { default: sharp } = await import('sharp');
  ready = performance.now();
  await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } }).jpeg().toBuffer();
  firstUseMs = performance.now() - ready;
} else {
  if (kind !== 'none') {
    const module = await import(url);
    if (kind === 'deps') module.createClients(config);
    else module.createHandler(config);
  }
  ready = performance.now();
}
// After the clock: whether libvips is mapped into the process (a text cold start must not load it).
const libvips = readFileSync('/proc/self/maps', 'utf8').includes('libvips');
process.stdout.write(
  JSON.stringify({
    // From the start of the import to clients ready (or sharp imported): the part that differs.
    importMs: ready - start,
    // From the process's own start (performance.timeOrigin): what a fresh container waits.
    sinceProcessStartMs: ready,
    firstUseMs,
    libvips,
    sourceMaps: process.sourceMapsEnabled ?? false,
  }),
);
