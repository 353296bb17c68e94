// The image path of PATCH as the function runs it, for the bench (bench/images.ts): the bundle's
// own `normalizeImages` (the chunk the handler imports when a request carries an image) with its
// warm worker process, on whatever Node runs this file: the host's for x64, or Node 24 for
// linux-arm64 under qemu inside the unzipped prod zip. Plain JavaScript: nothing is loaded but the
// bundle, its node_modules and Node's own modules.
//
//   node image-worker.mjs INPUT.json
//
// INPUT: { module: path of the bundle's normalize chunk, limits, warm: upload, runs,
//          uploads: [{ field: 'avatar' | 'cover', file, info }] }. info is the header check's
// ImageInfo, made by the bench (the handler makes it before the worker is involved). All uploads
// go in one patch, as one request sending both fields. The worker is started and sharp loaded by
// the `warm` upload first; then its RSS is the idle figure, its peak mark is reset, and the patch
// is normalized `runs` times. Prints one JSON line: per-run times, the worker's idle RSS and its
// peak mark after each run.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { normalizeImages } = await import(pathToFileURL(input.module).href);

const patchOf = (uploads) => ({
  text: {},
  images: Object.fromEntries(uploads.map((u) => [u.field, { field: u.field, bytes: readFileSync(u.file), info: u.info }])),
});
/** The worker: the process this one started with the worker's flag (under qemu, the emulator running it). */
const WORKER_FLAG = '--selfcommunity-image-worker';
const workerPid = () => {
  const pids = readdirSync('/proc/self/task')
    .flatMap((task) => readFileSync(`/proc/self/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean))
    .filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(WORKER_FLAG));
  if (pids.length !== 1) throw new Error(`expected one image worker, found ${pids.length}`);
  return pids[0];
};
const statusKb = (pid, name) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const describe = (patch) =>
  Object.entries(patch.images)
    .map(([field, image]) => `${field} ${image.info.width}×${image.info.height} ${image.info.type}`)
    .join(' + ');

await normalizeImages(patchOf([input.warm]), input.limits);
const pid = workerPid();
await new Promise((resolve) => setTimeout(resolve, 200));
const idleKb = statusKb(pid, 'VmRSS');
writeFileSync(`/proc/${pid}/clear_refs`, '5'); // the peak mark (VmHWM) back to the current RSS

const patch = patchOf(input.uploads);
const times = [];
/** The peak mark after each run: a warm worker's peak can rise from run to run. */
const peaksKb = [];
let out = '';
let error;
for (let i = 0; i < input.runs && error === undefined; i++) {
  const started = performance.now();
  try {
    out = describe(await normalizeImages(patch, input.limits));
  } catch (e) {
    error = `${e?.fields ? JSON.stringify(e.fields) : ''} ${e?.message ?? e}`.trim();
  }
  times.push(performance.now() - started);
  peaksKb.push(statusKb(pid, 'VmHWM'));
}
console.log(JSON.stringify({ arch: process.arch, node: process.version, times, idleKb, peaksKb, out, error }));
