// One cold-import sample: a fresh `node` imports a bundle and makes what the handler makes at start
// (its AWS clients and token verifier), then prints how long that took. Plain JavaScript, so that
// nothing but the bundle itself is loaded. Usage: node cold.mjs <file> handler|deps|none
import { pathToFileURL } from 'node:url';

const [file, kind] = process.argv.slice(2);
const config = JSON.parse(process.env.BENCH_COLD_CONFIG ?? '{}');
const url = file ? pathToFileURL(file).href : '';

const start = performance.now();
if (kind !== 'none') {
  const module = await import(url);
  if (kind === 'deps') module.createClients(config);
  else module.createHandler(config);
}
const ready = performance.now();
process.stdout.write(
  JSON.stringify({
    // From the start of the import to clients ready: the part the bundles differ in.
    importMs: ready - start,
    // From the process's own start (performance.timeOrigin): what a fresh container waits.
    sinceProcessStartMs: ready,
    sourceMaps: process.sourceMapsEnabled ?? false,
  }),
);
