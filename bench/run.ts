// npm run bench: every performance figure of the handler next to its floor, measured side by side
// in one run, printed as one table. It starts what it needs itself (DynamoDB Local, s3rver) and
// stops it at the end. docs/benchmarks.md says what the figures mean and which hold on AWS.
//
//   bundles     built here with serverless.yml's esbuild options (bench/bundles.ts): an entry plus
//               chunks (code splitting); sizes count what the entry loads at start, and all files
//   package     `osls package --stage prod`, its zip read back (tools/support/zip.ts)
//   cold        fresh `node` processes importing each bundle, interleaved (bench/children/cold.mjs)
//   round trips every AWS call of the API's requests (PATCH /{id}/, the profile pages', the avatar
//               gallery's), counted by an SDK middleware, round by round (bench/warm.ts)
//   warm        handler vs the same AWS calls issued directly, interleaved (bench/warm.ts,
//               bench/gallery-floor.ts)
//   memory      peak RSS of a fresh process handling one 4 MB cover, deployed build and the other
//               (bench/children/memory.mjs)
//   JWKS        fetches of the pool's keys over many requests (bench/children/jwks.mjs)
//   images      a 12-MP phone JPEG to an avatar vs the same libvips pipeline and AWS calls made
//               directly, shrink-on-load, the same photo as JPEG, HEIC and AVIF through the bundle's
//               worker on x64 and the prod zip's on linux-arm64 under qemu, peak RSS of the largest
//               images, loading sharp (bench/images.ts)
//   stream      the avatar request now (no S3 call after the write) against the write path before
//               the stream took S3's follow-up, and the stream function's work per record
//               (bench/write-path.ts, in a process of its own with its own emulators)
//
// Options: `npm run bench -- --help` (bench/options.ts). A whole run (no --only, --quick or
// --no-package) writes its table to docs/performance.md: dated figures belong to the bench's output.
// Each part is a module of its own (bundle-figures, package, cold, round-trips, memory-jwks,
// images); this file runs them in order and owns the emulators' lifetime.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { PROJECT_DIR } from '../tools/local/local-stack.ts';
import { startOwnEmulators, type Emulators } from '../tools/support/emulators.ts';
import { writeJwksFile } from '../tools/support/tokens.ts';
import { bundles, type Built } from './bundle-figures.ts';
import { OUT_DIR } from './bundles.ts';
import { coldImport } from './cold.ts';
import { photoJpeg } from './fixtures.ts';
import { imageBench, phoneJpeg, smallPng } from './images.ts';
import { benchUsers, key, localConfig, template, warmChild } from './local-setup.ts';
import { jwks, memory } from './memory-jwks.ts';
import { CHILD_ENV, execFileAsync, log, MB, QUICK, runs, started, WARM_SAMPLES, WARM_UP, WRITE_DOCS } from './options.ts';
import { oslsPackage } from './package.ts';
import type { WarmInput } from './protocol.ts';
import { roundTripRows, warmRows } from './round-trips.ts';
import { row, section, summary, tableLines, writePerformancePage, type Row } from './table.ts';

/** Round trips, warm timings, memory and JWKS: everything that needs DynamoDB Local and s3rver. */
async function onTheLocalStack(
  built: Built,
  dir: string,
  onStarted: (emulators: Emulators) => void,
) {
  log('starting DynamoDB Local and s3rver');
  const emulators = await startOwnEmulators();
  onStarted(emulators);
  const config = localConfig(emulators, writeJwksFile([key]));
  const users = benchUsers();
  const files = {
    avatarImage: join(dir, 'avatar.jpg'),
    coverImage: join(dir, 'cover.jpg'),
    smallImage: join(dir, 'small.jpg'),
    phoneImage: join(dir, 'phone-12mp.jpg'),
    smallPng: join(dir, 'small.png'),
  };
  await writeFile(files.avatarImage, photoJpeg(1 * MB, 1024, 1024, 1));
  await writeFile(files.coverImage, photoJpeg(4 * MB, 4000, 3000, 2));
  await writeFile(files.smallImage, photoJpeg(30_000, 256, 256, 3));
  await writeFile(files.phoneImage, await phoneJpeg());
  await writeFile(files.smallPng, await smallPng());
  const input: WarmInput = {
    config,
    users,
    missingId: 999,
    files,
    eventTemplate: template(),
    samples: runs('warm') ? WARM_SAMPLES : 0,
    warmup: runs('warm') ? WARM_UP : 0,
  };
  const inputFile = join(dir, 'warm-input.json');
  await writeFile(inputFile, JSON.stringify(input));
  // The warm child also creates the table and bucket and seeds the users the memory part uses.
  log(runs('warm') ? `round trips, then warm timings (≥ ${WARM_SAMPLES} per scenario, interleaved)` : 'seeding');
  const warm = await warmChild(built.warm.file, inputFile);
  if (runs('warm')) {
    roundTripRows(warm.traces);
    warmRows(warm);
  }
  if (runs('memory')) await memory(built.handler.file, built.option.file, dir, config, users.memory!, template());
  if (runs('jwks')) await jwks(built.handler.file, dir);
  if (runs('images')) await imageBench({ section, row, log, quick: QUICK }, { config, key, dir, handlerFile: built.handler.file });
}

/** bench/write-path.ts with `--rows`: one JSON line per figure, put in this table. */
async function writePath() {
  section('write path and stream function');
  log('write path: the avatar request now and before, the stream function per record');
  try {
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', join(PROJECT_DIR, 'bench', 'write-path.ts'), '--rows'], {
      cwd: PROJECT_DIR,
      env: { ...CHILD_ENV, ...(QUICK && { BENCH_ROUNDS: '10' }) },
      maxBuffer: 16 * MB,
    });
    for (const line of stdout.split('\n')) if (line.startsWith('ROW ')) row(JSON.parse(line.slice(4)) as Row);
  } catch (error) {
    row({ figure: 'write path', value: `failed: ${(error as Error).message.split('\n')[0]}` });
  }
}

async function main() {
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, node ${process.version}`;
  log(`${machine}${QUICK ? ' (quick)' : ''}`);
  const dir = join(OUT_DIR, `run-${process.pid}`);
  await mkdir(dir, { recursive: true });
  let emulators: Emulators | undefined;
  const stop = async () => {
    await emulators?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void stop().finally(() => process.exit(130)));
  }
  try {
    const built = await bundles();
    if (runs('stream')) await writePath();
    if (runs('cold')) await coldImport(built);
    await oslsPackage(built.handler);
    if (runs('warm') || runs('memory') || runs('jwks') || runs('images')) {
      await onTheLocalStack(built, dir, (started) => (emulators = started));
    }
  } finally {
    await stop();
  }
  log('done');
  const when = new Date().toISOString().slice(0, 10);
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  console.log(`\n${when} · ${machine} · ${seconds} s\n`);
  console.log(tableLines().join('\n'));
  console.log(`\n${summary()}`);
  if (WRITE_DOCS) await writePerformancePage(when, machine, seconds);
}

await main();
