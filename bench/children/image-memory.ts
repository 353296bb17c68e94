// Peak memory of normalizing one image in a fresh process: load the image code and sharp, read the
// file, settle, reset the kernel's peak-RSS mark, run the pre-check and the pipeline the handler
// runs, read the peak back. Prints one JSON line.
// Input (environment): IMAGE_MEMORY_INPUT = { file, field, limits }.
import { readFileSync, writeFileSync } from 'node:fs';
import { normalizeImage, loadSharp } from '../../src/images/normalize.ts';
import { inspectImage } from '../../src/images/header-check.ts';
import { imageRules } from '../../src/users/patch-fields.ts';

const { file, field, limits } = JSON.parse(process.env.IMAGE_MEMORY_INPUT!);
const statusKb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))![1]);
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

await loadSharp();
const bytes = readFileSync(file);
await settle();
const idleKb = statusKb('VmRSS');
writeFileSync('/proc/self/clear_refs', '5'); // reset VmHWM to the current RSS
const started = performance.now();
let out = '';
let error: string | undefined;
try {
  const info = inspectImage(bytes, imageRules(field, limits));
  const result = await normalizeImage({ field, bytes, info }, field, limits);
  out = `${result.info.width}×${result.info.height}${result.info.frames > 1 ? ` ×${result.info.frames}` : ''} ${result.info.type}`;
} catch (e) {
  error = `${(e as { code?: string }).code ?? 'error'}: ${(e as Error).message}`;
}
const ms = performance.now() - started;
console.log(JSON.stringify({ idleKb, peakKb: statusKb('VmHWM'), ms, out, error }));
