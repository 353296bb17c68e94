// Peak memory of big requests: a fresh `node --expose-gc` loads the handler bundle and serves a
// few small requests (so every code path is loaded). Then, several times over: settle (the process
// is "idle"), read the big event (its base64 body is the input and counts), reset the kernel's
// peak-RSS mark (/proc/self/clear_refs), handle the request, and read the peak back (VmHWM).
// Round 0 is the process's first big request; the later rounds are a warm container's.
// Usage: node --expose-gc memory.mjs <handler bundle> <input json>
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [bundle, inputFile] = process.argv.slice(2);
const input = JSON.parse(readFileSync(inputFile, 'utf8'));
const { createHandler } = await import(pathToFileURL(bundle).href);
const handler = createHandler(input.config);

const readEvent = (file) => JSON.parse(readFileSync(file, 'utf8'));
// Collect, then wait: V8 returns freed pages to the OS from a background thread after a GC, and
// RSS read before that still counts them (they would then vanish during the measured request).
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};
const statusKb = (field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))[1]);

for (const file of input.warmupEvents) {
  const response = await handler(readEvent(file));
  if (response.statusCode !== 200) throw new Error(`warm-up answered ${response.statusCode}: ${response.body}`);
}

const rounds = [];
let resetPeak = true;
for (let round = 0; round < input.rounds; round++) {
  await settle();
  const idleKb = statusKb('VmRSS');
  let event = readEvent(input.eventFile);
  await settle();
  const withEventKb = statusKb('VmRSS');
  try {
    writeFileSync('/proc/self/clear_refs', '5'); // 5: reset the peak RSS to the current RSS
  } catch {
    resetPeak = false; // then VmHWM is the process's lifetime peak: an upper bound
  }
  const response = await handler(event);
  const peakKb = statusKb('VmHWM');
  event = undefined;
  rounds.push({ status: response.statusCode, idleKb, withEventKb, peakKb });
}

// The handler logs to stdout too; the result is the line the parent looks for.
process.stdout.write(`\nBENCH_RESULT ${JSON.stringify({ rounds, resetPeak })}\n`);
