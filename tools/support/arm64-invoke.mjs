// Runs inside the unzipped prod artifact, on Node 24 for linux-arm64 under qemu user mode
// (test/package/arm64-artifact.test.ts copies it there). Plain JavaScript: nothing but the artifact and
// Node's own modules may be loaded.
//
//   node arm64-invoke.mjs INPUT.json OUTPUT.json
//
// INPUT: { events: [{ name, event }], photo: path of a JPEG }. The Lambda entry of the artifact
// handles each event in turn, in one process as in one container; after each, the output says
// whether sharp had been loaded by then. Then sharp from the artifact's own node_modules resizes
// the photo to a 400x400 JPEG. Writes one JSON object to OUTPUT (stdout has the handler's log).
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));

// Every module the process resolves, by specifier: import() and require() alike.
const resolved = new Set();
registerHooks({
  resolve(specifier, context, nextResolve) {
    resolved.add(specifier);
    return nextResolve(specifier, context);
  },
});
const sharpLoaded = () => resolved.has('sharp');
/** Native libraries a process has mapped (qemu shows the guest's own mappings). */
const nativeLibraries = (pid = 'self') => [
  ...new Set(
    readFileSync(`/proc/${pid}/maps`, 'utf8')
      .split('\n')
      .map((line) => line.split(/\s+/).slice(5).join(' '))
      .filter((path) => /\.(node|so)(\.|$)/.test(path) && /sharp|vips/.test(path)),
  ),
];

/** The processes this one started and that still run: the handler's warm image worker. */
const children = () =>
  readdirSync('/proc/self/task').flatMap((task) => readFileSync(`/proc/self/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean));
/** Native libraries mapped by the image worker (libvips runs there, not in the handler's process). */
const workerLibraries = () => [...new Set(children().flatMap((pid) => nativeLibraries(pid)))];

const result = { arch: process.arch, platform: process.platform, node: process.version, requests: [], sharp: undefined };

const { handler } = await import('./src/functions/patch-user/handler.mjs');
result.sharpLoadedAtStart = sharpLoaded();
for (const { name, event } of input.events) {
  const started = performance.now();
  // The function's timeout is 10 s (serverless.yml); emulated, the same work takes several
  // times as long, so the deadline the handler derives from it is scaled as well.
  const deadline = Date.now() + 60_000;
  const context = { awsRequestId: randomUUID(), getRemainingTimeInMillis: () => deadline - Date.now() };
  try {
    const response = await handler(event, context);
    result.requests.push({
      name,
      statusCode: response.statusCode,
      body: response.body,
      ms: performance.now() - started,
      sharpLoaded: sharpLoaded(),
      nativeLibraries: nativeLibraries(),
      workerLibraries: workerLibraries(),
    });
  } catch (error) {
    result.requests.push({ name, error: String(error?.stack ?? error), sharpLoaded: sharpLoaded() });
  }
}

try {
  const started = performance.now();
  const { default: sharp } = await import('sharp');
  const imported = performance.now();
  const { data, info } = await sharp(readFileSync(input.photo))
    .rotate()
    .resize(400, 400, { fit: 'cover' })
    .jpeg()
    .toBuffer({ resolveWithObject: true });
  result.sharp = {
    vips: sharp.versions.vips,
    importMs: imported - started,
    resizeMs: performance.now() - imported,
    info: { format: info.format, width: info.width, height: info.height },
    output: data.toString('base64'),
    nativeLibraries: nativeLibraries(),
  };
} catch (error) {
  result.sharp = { error: String(error?.stack ?? error) };
}

writeFileSync(process.argv[3], JSON.stringify(result));
