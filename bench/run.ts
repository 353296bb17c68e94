// npm run bench: every performance figure of the handler next to its floor, measured side by side
// in one run, printed as one table. It starts what it needs itself (DynamoDB Local, s3rver) and
// stops it at the end. See README "Performance" for what the figures mean and which hold on AWS.
//
//   bundles     built here with serverless.yml's esbuild options (bench/bundles.ts): an entry plus
//               chunks (code splitting); sizes count what the entry loads at start, and all files
//   package     `osls package --stage prod`, its zip read back (tools/support/zip.ts)
//   cold        fresh `node` processes importing each bundle, interleaved (bench/children/cold.mjs)
//   round trips every AWS call of the handler's requests, counted by an SDK middleware (bench/warm.ts)
//   warm        handler vs the same AWS calls issued directly, interleaved (bench/warm.ts)
//   memory      peak RSS of a fresh process handling one 4 MB cover, deployed build and the other
//               (bench/children/memory.mjs)
//   JWKS        fetches of the pool's keys over many requests (bench/children/jwks.mjs)
//   images      a 12-MP phone JPEG to an avatar vs the same libvips pipeline and AWS calls made
//               directly, shrink-on-load, peak RSS of the largest images, loading sharp (bench/images.ts)
//   stream      the avatar request now (no S3 call after the write) against the write path before
//               the stream took S3's follow-up, and the stream function's work per record
//               (bench/write-path.ts, in a process of its own with its own emulators)
//
// Options: --quick (fewer samples, for trying the bench itself), --no-package (skip `osls package`),
// --only=cold,package,warm,memory,jwks,images,stream (run only those parts; the bundles are always
// built).
import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import type { ApiEvent } from '../src/functions/patch-user/handler.ts';
import { createAuthenticator } from '../src/http/auth.ts';
import { readConfig, type Config } from '../src/platform/config.ts';
import { PROJECT_DIR } from '../tools/local/local-stack.ts';
import { arm64NodeCommand, unzipTo } from '../tools/support/arm64.ts';
import { startOwnEmulators, type Emulators } from '../tools/support/emulators.ts';
import { accessToken, makeKey, TEST_POOL, writeJwksFile } from '../tools/support/tokens.ts';
import { buildBundle, bundledPackages, OUT_DIR, ownCodeBytes, serverlessEsbuildOptions, type BuiltBundle } from './bundles.ts';
import { readZip, relativeImports, staticClosure } from '../tools/support/zip.ts';
import { decodedBodyBytes, jsonEvent, multipartEvent } from '../tools/support/api-events.ts';
import { photoJpeg } from './fixtures.ts';
import { imageBench } from './images.ts';
import type { BenchUser, CallRecord, RequestTrace, WarmInput, WarmResult } from './protocol.ts';

const execFileAsync = promisify(execFile);
const args = new Set(process.argv.slice(2));
const QUICK = args.has('--quick');
const only = [...args].find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const runs = (part: string) => !only || only.includes(part);
const COLD_SAMPLES = QUICK ? 5 : 21;
const WARM_SAMPLES = QUICK ? 40 : 200;
const WARM_UP = QUICK ? 5 : 25;
const KB = 1000;
const MB = 1000 * 1000;

const CHILD_ENV = { ...process.env };
const started = performance.now();
const log = (message: string) =>
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${message}\n`);

// ---------------------------------------------------------------------------------------------
// The table

interface Row {
  figure: string;
  value: string;
  floor?: string;
  ratio?: string;
  target?: string;
  /** undefined: informational, no target. */
  ok?: boolean;
}
const rows: Row[] = [];
const sections: { title: string; rows: Row[] }[] = [];
const section = (title: string) => sections.push({ title, rows: [] });
const row = (r: Row) => {
  rows.push(r);
  sections.at(-1)!.rows.push(r);
};

const kb = (bytes: number) => `${(bytes / KB).toFixed(1)} KB`;
const mb = (bytes: number) => `${(bytes / MB).toFixed(2)} MB`;
const ms = (value: number) => `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;
const times = (value: number) => `${value.toFixed(2)}×`;
const median = (values: number[]) => percentile(values, 0.5);
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

function printTable() {
  const header: Row = { figure: 'figure', value: 'value', floor: 'floor', ratio: 'ratio', target: 'target' };
  const cells = (r: Row, okText: string) => [r.figure, r.value, r.floor ?? '', r.ratio ?? '', r.target ?? '', okText];
  const okText = (r: Row) => (r.ok === undefined ? '' : r.ok ? 'ok' : 'MISSED');
  const all = [cells(header, 'ok'), ...rows.map((r) => cells(r, okText(r)))];
  const widths = all[0]!.map((_, c) => Math.max(...all.map((line) => line[c]!.length)));
  const line = (values: string[]) =>
    `| ${values.map((v, c) => (c === 0 || c === 4 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  const out = [line(cells(header, 'ok')), rule];
  for (const s of sections) {
    out.push(line([`**${s.title}**`, '', '', '', '', '']));
    for (const r of s.rows) out.push(line(cells(r, okText(r))));
  }
  console.log(out.join('\n'));
  const missed = rows.filter((r) => r.ok === false);
  console.log(
    missed.length
      ? `\nMISSED ${missed.length} target(s): ${missed.map((r) => r.figure).join('; ')}`
      : '\nEvery target met.',
  );
}

// ---------------------------------------------------------------------------------------------
// Bundles

/** The deployed build splits (serverless.yml); the other way of building it is the option compared. */
const deployedSplits = serverlessEsbuildOptions().splitting === true;
const OPTION = deployedSplits ? 'single file (splitting: false)' : 'split (splitting: true)';

async function bundles() {
  log('building bundles with the esbuild options of serverless.yml');
  const [handler, deps, option, unbundled, warm, getUser] = await Promise.all([
    // What `osls package` deploys: the options of serverless.yml as they are.
    buildBundle('handler', 'src/functions/patch-user/handler.ts'),
    buildBundle('deps', 'bench/entries/deps.ts'),
    // The same handler built the other way: with splitting deployed, the single file it replaced.
    buildBundle('option', 'src/functions/patch-user/handler.ts', { splitting: !deployedSplits }),
    // Our own code in one file, every package imported from node_modules as Node resolves it.
    buildBundle('unbundled', 'src/functions/patch-user/handler.ts', { packages: 'external', splitting: false }),
    buildBundle('warm', 'bench/warm.ts'),
    // The GET function (serverless.yml getUser), deployed the same way.
    buildBundle('getUser', 'src/functions/get-user/handler.ts'),
  ]);

  section(`Bundle (esbuild, options of serverless.yml: ${deployedSplits ? 'entry + chunks' : 'one file'})`);
  row({
    figure: 'handler, loaded at start (entry + static chunks), minified',
    value: kb(handler.startupBytes),
    floor: `${kb(deps.startupBytes)} deps`,
    ratio: times(handler.startupBytes / deps.startupBytes),
    target: '≤ 560 KB',
    ok: handler.startupBytes <= 560 * KB,
  });
  row({
    figure: 'handler, loaded at start, gzip (each file)',
    value: kb(handler.startupGzipBytes),
    floor: `${kb(deps.startupGzipBytes)} deps`,
    ratio: times(handler.startupGzipBytes / deps.startupGzipBytes),
  });
  // Chunks only import() loads (credential providers other than the environment's, SSO/STS, …).
  row({
    figure: 'handler, all files (start + lazily loaded chunks)',
    value: kb(handler.totalBytes),
    floor: `${kb(deps.totalBytes)} deps`,
    ratio: times(handler.totalBytes / deps.totalBytes),
  });
  row({
    figure: 'files: loaded at start / in all',
    value: `${handler.startupFiles.length} / ${handler.files}`,
    floor: `${deps.startupFiles.length} / ${deps.files} deps`,
  });
  // What the dependencies weigh is theirs, not a target of ours: shown for the ratio above.
  row({ figure: 'bare dependencies (S3, DynamoDB, jwt, busboy, valibot), at start', value: kb(deps.startupBytes) });
  const own = ownCodeBytes(handler.metafile);
  row({
    figure: 'own code and glue at start (handler − deps)',
    value: kb(handler.startupBytes - deps.startupBytes),
    floor: `${kb(own)} lib+handlers`,
    target: '≤ 50 KB',
    ok: handler.startupBytes - deps.startupBytes <= 50 * KB,
  });
  const missing = [...bundledPackages(handler.metafile)].filter((p) => !bundledPackages(deps.metafile).has(p));
  row({
    figure: 'packages in handler not in deps bundle',
    value: missing.length ? missing.join(', ') : 'none',
    target: 'none',
    ok: missing.length === 0,
  });
  // sharp is external (serverless.yml): the modules that import it are the image code. A text
  // request's cold start must load neither (README, Node 24 and arm64).
  const imageModules = Object.entries(handler.metafile.inputs)
    .filter(([, input]) => input.imports.some((i) => i.path === 'sharp'))
    .map(([name]) => name);
  const startOutputs = handler.startupFiles.map((file) => relative(PROJECT_DIR, file));
  const loadedAtStart = startOutputs.flatMap((output) => [
    ...Object.keys(handler.metafile.outputs[output]!.inputs).filter((input) => imageModules.includes(input)),
    ...(handler.metafile.outputs[output]!.imports.some((i) => i.path === 'sharp' && i.kind === 'import-statement')
      ? [`sharp (imported by ${basename(output)})`]
      : []),
  ]);
  const bundledSharp = [...bundledPackages(handler.metafile)].filter((p) => p === 'sharp' || p.startsWith('@img/'));
  row({
    figure: 'sharp, or code importing it, loaded at start',
    value: loadedAtStart.length ? loadedAtStart.join(', ') : 'none',
    floor: imageModules.length ? `sharp imported by ${imageModules.join(', ')}` : 'nothing imports sharp',
    target: 'none',
    ok: loadedAtStart.length === 0,
  });
  row({
    figure: 'sharp bundled (it must stay external: native)',
    value: bundledSharp.length ? bundledSharp.join(', ') : 'no',
    target: 'no',
    ok: bundledSharp.length === 0,
  });
  const withMap = Object.keys(handler.metafile.outputs).filter(
    (output) => output.endsWith('.map') || /sourceMappingURL/.test(readFileSync(join(PROJECT_DIR, output), 'utf8')),
  );
  row({
    figure: 'source map or its reference, any file',
    value: withMap.length ? withMap.join(', ') : 'none',
    target: 'none',
    ok: withMap.length === 0,
  });
  row({
    figure: `${OPTION}, loaded at start`,
    value: kb(option.startupBytes),
    floor: `${kb(handler.startupBytes)} deployed`,
    ratio: times(option.startupBytes / handler.startupBytes),
    target: '(option)',
  });
  row({
    figure: `${OPTION}, all files`,
    value: `${kb(option.totalBytes)}, ${option.files} file${option.files === 1 ? '' : 's'}`,
    floor: `${kb(handler.totalBytes)}, ${handler.files} deployed`,
    target: '(option)',
  });
  // The reads are a function of their own so that their cold start skips the PATCH-only parts.
  row({
    figure: 'GET function (src/functions/get-user/handler.ts), loaded at start',
    value: kb(getUser.startupBytes),
    floor: `${kb(handler.startupBytes)} PATCH handler`,
    ratio: times(getUser.startupBytes / handler.startupBytes),
  });
  const patchOnly = ['busboy', '@aws-sdk/client-s3', 'sharp'];
  const inGet = patchOnly.filter((name) => bundledPackages(getUser.metafile).has(name));
  row({
    figure: `GET function bundles ${patchOnly.join(', ')}`,
    value: inGet.length ? inGet.join(', ') : 'none',
    target: 'none',
    ok: inGet.length === 0,
  });
  return { handler, deps, option, unbundled, warm, getUser };
}

async function oslsPackage(built: BuiltBundle): Promise<void> {
  if (args.has('--no-package') || !runs('package')) return;
  log('osls package --stage prod (the deployed artifact)');
  section('osls package --stage prod (the zip it deploys, read back)');
  const temp = await mkdtemp(join(tmpdir(), 'bench-package-'));
  try {
    await execFileAsync(
      process.execPath,
      [join(PROJECT_DIR, 'node_modules', 'osls', 'bin', 'serverless.js'), 'package', '--stage', 'prod', '--package', join(temp, 'pkg')],
      {
        cwd: PROJECT_DIR,
        timeout: 60_000,
        env: {
          ...CHILD_ENV,
          // serverless-esbuild leaves a folder per run in TMPDIR; keep everything in ours.
          TMPDIR: temp,
          ESBUILD_WORK_FOLDER: join(temp, 'esbuild'),
          COGNITO_USER_POOL_ID: 'eu-west-1_Example',
          COGNITO_CLIENT_ID: 'x',
          MEDIA_BASE_URL: 'https://media.example.org',
        },
      },
    );
    const zip = await readFile(join(temp, 'pkg', 'selfcommunity-user-patch.zip'));
    const files = readZip(zip);
    const sources = new Map(files.map((f) => [f.name, f.data.toString('utf8')]));
    const bytes = new Map(files.map((f) => [f.name, f.data.length]));
    const size = (names: string[]) => names.reduce((total, name) => total + bytes.get(name)!, 0);
    const entry = 'src/functions/patch-user/handler.mjs';
    const startup = sources.has(entry) ? staticClosure(entry, sources) : [];
    // The bundle's own files; node_modules/ holds sharp as npm installed it.
    const unresolved = files.filter((f) => f.name.startsWith('src/')).flatMap((f) => {
      const imports = relativeImports(f.name, sources.get(f.name)!);
      return [...imports.static, ...imports.dynamic].filter((name) => !sources.has(name));
    });
    const folders = new Map<string, number>();
    for (const f of files) {
      const folder = f.name.startsWith('node_modules/') ? 'node_modules' : dirname(f.name);
      folders.set(folder, (folders.get(folder) ?? 0) + 1);
    }
    const modules = files.filter((f) => f.name.startsWith('node_modules/'));
    const packages = [
      ...new Set(modules.map((f) => /^node_modules\/((?:@[^/]+\/)?[^/.][^/]*)\//.exec(f.name)?.[1]).filter(Boolean)),
    ].sort() as string[];
    const platforms = packages.filter((p) => p.startsWith('@img/sharp-'));
    row({
      figure: 'handler loaded at start (entry + static chunks)',
      value: startup.length ? kb(size(startup)) : `${entry} not found`,
      floor: `${kb(built.startupBytes)} bench build`,
      ratio: startup.length ? times(size(startup) / built.startupBytes) : undefined,
      target: '≤ 560 KB',
      ok: startup.length > 0 && size(startup) <= 560 * KB,
    });
    row({
      figure: 'files in the zip, unzipped',
      value: `${files.length}: ${[...folders].map(([folder, n]) => `${n} in ${folder}/`).join(', ')}`,
      floor: `${kb(size(files.map((f) => f.name)))}, zip ${kb(zip.length)}`,
    });
    row({
      figure: 'entry file; files loaded at start',
      value: `${sources.has(entry) ? kb(bytes.get(entry)!) : 'none'}; ${startup.length} of ${files.length}`,
      floor: `${built.startupFiles.length} of ${built.files} bench build`,
    });
    row({
      figure: 'relative imports (static, import()) not in the zip',
      value: unresolved.length ? unresolved.join(', ') : 'none',
      target: 'none',
      ok: unresolved.length === 0 && startup.length > 0,
    });
    row({
      figure: 'node_modules (sharp, outside the bundle): platform packages',
      value: platforms.join(', ') || 'none',
      floor: `${kb(size(modules.map((f) => f.name)))} in ${packages.length} packages`,
      target: 'linux-arm64 only',
      ok: platforms.length > 0 && platforms.every((p) => p.endsWith('-linux-arm64')),
    });
    await sharpUnderQemu(zip, temp);
  } catch (error) {
    row({ figure: 'osls package', value: `failed: ${(error as Error).message.split('\n')[0]}` });
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Cold import

interface ColdSample {
  importMs: number;
  sinceProcessStartMs: number;
  firstUseMs?: number;
  libvips: boolean;
  sourceMaps: boolean;
}

/**
 * The zip's own sharp (linux-arm64) imported by Node 24 for linux-arm64 under qemu user mode, as a
 * container's first image request does: proof that it loads from the artifact, and its cost
 * relative to the emulated Node's own start. Emulation makes every millisecond several times
 * longer than on Lambda; the x64 row of the cold import is the speed to expect.
 */
async function sharpUnderQemu(zip: Buffer, temp: string) {
  const samples = QUICK ? 2 : 5;
  log(`the zip's sharp under qemu (linux-arm64): ${samples} fresh processes`);
  const task = join(temp, 'task');
  try {
    await unzipTo(zip, task);
    await copyFile(join(PROJECT_DIR, 'bench', 'children', 'cold.mjs'), join(task, 'cold.mjs'));
    const [qemu, qemuArgs] = await arm64NodeCommand(['cold.mjs']);
    const sharpRuns: ColdSample[] = [];
    const bare: ColdSample[] = [];
    for (let i = 0; i < samples; i++) {
      for (const [kind, into] of [['sharp', sharpRuns], ['none', bare]] as const) {
        const { stdout } = await execFileAsync(qemu, [...qemuArgs, '', kind], { cwd: task, timeout: 60_000 });
        into.push(JSON.parse(stdout));
      }
    }
    row({
      figure: 'import the zip’s sharp, linux-arm64 under qemu (emulated)',
      value: ms(median(sharpRuns.map((s) => s.importMs))),
      floor: `+ ${ms(median(sharpRuns.map((s) => s.firstUseMs!)))} first pipeline`,
      ratio: `${ms(median(bare.map((s) => s.sinceProcessStartMs)))} emulated node start`,
      target: 'loads',
      ok: sharpRuns.every((s) => s.libvips),
    });
  } catch (error) {
    row({
      figure: 'import the zip’s sharp, linux-arm64 under qemu (emulated)',
      value: `not run: ${(error as Error).message.split('\n')[0]}`,
    });
  }
}

async function coldImport(built: { handler: BuiltBundle; deps: BuiltBundle; unbundled: BuiltBundle; option: BuiltBundle; getUser: BuiltBundle }) {
  log(`cold import: ${COLD_SAMPLES} fresh processes per variant, interleaved`);
  // A deployed configuration: no endpoints, no key file, credentials left to the default chain.
  const config = readConfig(deployedEnv());
  const child = join(PROJECT_DIR, 'bench', 'children', 'cold.mjs');
  const variants = [
    { name: 'handler', file: built.handler.file, kind: 'handler' },
    { name: 'deps', file: built.deps.file, kind: 'deps' },
    { name: 'unbundled', file: built.unbundled.file, kind: 'handler' },
    { name: 'option', file: built.option.file, kind: 'handler' },
    { name: 'getUser', file: built.getUser.file, kind: 'handler' },
    { name: 'node', file: '', kind: 'none' },
    // The project's sharp (this machine's build, the zip's version) as a first image request loads it.
    { name: 'sharp', file: '', kind: 'sharp' },
  ] as const;
  const samples = new Map<string, ColdSample[]>(
    variants.map((v) => [v.name, []]),
  );
  // Round 0 only warms the file cache.
  for (let round = 0; round <= COLD_SAMPLES; round++) {
    for (const variant of variants) {
      const { stdout } = await execFileAsync(process.execPath, [child, variant.file, variant.kind], {
        env: { ...CHILD_ENV, BENCH_COLD_CONFIG: JSON.stringify(config), AWS_REGION: config.region },
      });
      if (round > 0) samples.get(variant.name)!.push(JSON.parse(stdout));
    }
  }
  const importMs = (name: string) => median(samples.get(name)!.map((s) => s.importMs));
  const startMs = (name: string) => median(samples.get(name)!.map((s) => s.sinceProcessStartMs));
  const [handler, deps, unbundled] = [importMs('handler'), importMs('deps'), importMs('unbundled')];

  const deployed = deployedSplits ? 'bundled handler (split, deployed)' : 'bundled handler (deployed)';
  section(`Cold import (fresh node, import + create clients and verifier; median of ${COLD_SAMPLES})`);
  row({
    figure: `${deployed} vs deps${deployedSplits ? ' (split too)' : ''}`,
    value: ms(handler),
    floor: `${ms(deps)} deps`,
    ratio: times(handler / deps),
    target: '≤ 1.15× deps',
    ok: handler / deps <= 1.15,
  });
  row({
    figure: 'unbundled (node_modules) vs bundled',
    value: ms(unbundled),
    floor: `${ms(handler)} bundled`,
    ratio: `${(unbundled / handler).toFixed(2)}× faster`,
    target: '≥ 3× faster',
    ok: unbundled / handler >= 3,
  });
  const option = importMs('option');
  row({
    figure: `${OPTION}, not deployed`,
    value: ms(option),
    floor: `${ms(handler)} deployed`,
    ratio: `${times(option / handler)}; ${(unbundled / option).toFixed(2)}× faster than unbundled`,
    target: '(option)',
  });
  const libvips = samples.get('handler')!.some((s) => s.libvips);
  row({
    figure: 'libvips in the process after the bundled cold import',
    value: libvips ? 'yes' : 'no',
    target: 'no',
    ok: !libvips,
  });
  row({
    figure: 'import sharp, first image request of a container (x64)',
    value: ms(importMs('sharp')),
    floor: `+ ${ms(median(samples.get('sharp')!.map((s) => s.firstUseMs!)))} first pipeline`,
    ratio: `${times(importMs('sharp') / handler)} the cold import`,
  });
  row({
    figure: 'ready since process start, bundled',
    value: ms(startMs('handler')),
    floor: `${ms(startMs('node'))} bare node`,
    ratio: times(startMs('handler') / startMs('node')),
  });
  // createHandler of the GET function: its DynamoDB client and token verifier, no S3 client.
  row({
    figure: 'GET function (src/functions/get-user/handler.ts) vs PATCH handler',
    value: ms(importMs('getUser')),
    floor: `${ms(handler)} PATCH`,
    ratio: times(importMs('getUser') / handler),
    target: '< 1× PATCH',
    ok: importMs('getUser') < handler,
  });
  const sourceMaps = [...samples.values()].flat().some((s) => s.sourceMaps);
  row({ figure: 'source maps enabled at start', value: sourceMaps ? 'yes' : 'no', target: 'no', ok: !sourceMaps });
}

// ---------------------------------------------------------------------------------------------
// Round trips and warm timings

const key = makeKey();
const token = (sub: string) => accessToken(key, { sub }, TEST_POOL);

function localConfig(emulators: Emulators, jwksFile: string): Config {
  const suffix = `${process.pid}`;
  return readConfig({
    AWS_REGION: TEST_POOL.region,
    TABLE_NAME: `bench-users-${suffix}`,
    MEDIA_BUCKET: `bench-media-${suffix}`,
    MEDIA_BASE_URL: `${emulators.s3Endpoint}/bench-media-${suffix}`,
    COGNITO_USER_POOL_ID: TEST_POOL.userPoolId,
    COGNITO_CLIENT_ID: TEST_POOL.clientId,
    COGNITO_JWKS_FILE: jwksFile,
    DYNAMODB_ENDPOINT: emulators.dynamodbEndpoint,
    S3_ENDPOINT: emulators.s3Endpoint,
  });
}

function benchUsers(): Record<string, BenchUser> {
  const roles: [string, number, string][] = [
    ['textHandler', 101, 'text_h'],
    ['textFloor', 102, 'text_f'],
    ['renameHandler', 201, 'renh_b'],
    ['renameFloor', 202, 'renf_b'],
    ['avatarHandler', 301, 'avatar_h'],
    ['avatarFloor', 302, 'avatar_f'],
    ['coverHandler', 401, 'cover_h'],
    ['coverFloor', 402, 'cover_f'],
    ['countText', 501, 'count_text'],
    ['countOther', 502, 'count_other'],
    ['countRename', 503, 'count_rename'],
    ['countImage', 504, 'count_image'],
    ['countBoth', 505, 'count_both'],
    ['memory', 601, 'memory'],
  ];
  return Object.fromEntries(
    roles.map(([role, id, username]) => {
      const sub = `00000000-0000-4000-8000-${String(id).padStart(12, '0')}`;
      return [role, { id, sub, username, token: token(sub) }];
    }),
  );
}

async function runChild(
  file: string,
  childArgs: string[],
  options: { nodeArgs?: string[]; env?: Record<string, string> } = {},
): Promise<string> {
  const { stdout, stderr } = await execFileAsync(process.execPath, [...(options.nodeArgs ?? []), file, ...childArgs], {
    env: { ...CHILD_ENV, ...options.env },
    maxBuffer: 64 * MB,
  });
  if (stderr) process.stderr.write(stderr);
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  if (!line) throw new Error(`${file} printed no result`);
  return line.slice('BENCH_RESULT '.length);
}

function warmChild(bundle: string, inputFile: string): Promise<WarmResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle], {
      // The handler logs one line per request to stdout; the results come over IPC.
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: { ...CHILD_ENV, BENCH_WARM_INPUT: inputFile },
    });
    let result: WarmResult | undefined;
    child.on('message', (message) => (result = message as WarmResult));
    child.on('error', reject);
    child.on('exit', (code) => (result ? resolve(result) : reject(new Error(`warm child exited with ${code}`))));
  });
}

/** Longest chain of calls each starting after the previous one ended: round trips waited for. */
function sequentialRounds(calls: CallRecord[]): number {
  const sorted = [...calls].sort((a, b) => a.end - b.end);
  const depth = new Map<CallRecord, number>();
  for (const call of sorted) {
    let best = 0;
    for (const before of sorted) if (before.end <= call.start) best = Math.max(best, depth.get(before) ?? 0);
    depth.set(call, best + 1);
  }
  return Math.max(0, ...depth.values());
}

const overlap = (a: CallRecord, b: CallRecord) => a.start < b.end && b.start < a.end;
const WRITES = new Set(['UpdateItem', 'TransactWriteItems']);

function describeCalls(calls: CallRecord[]): string {
  const counts = new Map<string, number>();
  for (const call of calls) counts.set(call.command, (counts.get(call.command) ?? 0) + 1);
  return [...counts].map(([command, n]) => (n > 1 ? `${command}×${n}` : command)).join(' + ') || 'none';
}

function roundTripRows(traces: RequestTrace[]) {
  section('AWS round trips per request (SDK middleware, every HTTP attempt)');
  const checks: Record<string, { target: string; ok: (calls: CallRecord[]) => boolean }> = {
    // A transaction returns no item: the answer is one consistent read after it.
    'text patch': { target: '1 TransactWriteItems, then the answer’s GetItem', ok: (c) => shape(c, ['TransactWriteItems', 'GetItem']) },
    'empty patch': { target: '1 GetItem', ok: (c) => c.length === 1 && c[0]!.command === 'GetItem' },
    'not the owner (403)': { target: '1 TransactWriteItems, no read', ok: (c) => shape(c, ['TransactWriteItems']) },
    'no such user (404)': { target: '1 TransactWriteItems, no read', ok: (c) => shape(c, ['TransactWriteItems']) },
    'username change': { target: '≤ 2: read + transaction', ok: (c) => c.length <= 2 },
    'username taken (400)': { target: '≤ 2: read + transaction', ok: (c) => c.length <= 2 },
    'case-only rename': { target: '≤ 3: read + transaction + the answer’s read', ok: (c) => c.length <= 3 },
    // After a committed write the handler makes no S3 call: the stream tags and deletes (README, Write path).
    'avatar replaced': {
      target: '1 put, then the transaction; only the answer’s read after',
      ok: (c) => shape(c, ['PutObject', 'TransactWriteItems', 'GetItem']),
    },
    'avatar removed': { target: '1 TransactWriteItems; only the answer’s read after', ok: (c) => shape(c, ['TransactWriteItems', 'GetItem']) },
    'username + avatar + cover': {
      target: 'puts ∥ read; ≤ 2 DynamoDB; nothing after',
      ok: (c) => {
        const read = c.find((x) => x.command === 'GetItem');
        const puts = c.filter((x) => x.command === 'PutObject');
        const dynamo = c.filter((x) => x.service === 'dynamodb');
        return !!read && puts.length === 2 && puts.every((p) => overlap(p, read)) && dynamo.length <= 2 && roundsAfterWrite(c) === 0;
      },
    },
  };
  for (const trace of traces) {
    const check = checks[trace.scenario];
    const ok = answerReadOnlyAfterWrite(trace.calls) && (check ? check.ok(trace.calls) : true);
    row({
      figure: `${trace.scenario} → ${trace.status}`,
      value: describeCalls(trace.calls),
      floor: `${sequentialRounds(trace.calls)} sequential`,
      target: check?.target ?? '',
      ok: check ? ok : undefined,
    });
  }
  const more = traces.filter((t) => !answerReadOnlyAfterWrite(t.calls)).map((t) => t.scenario);
  row({
    figure: 'after a write, anything but the answer’s one read, any request',
    value: more.length ? more.join(', ') : 'none',
    target: 'none',
    ok: more.length === 0,
  });
}

/**
 * After the write, at most the one consistent read of the answer (a transaction returns no item),
 * and never S3: the stream tags and deletes.
 */
function answerReadOnlyAfterWrite(calls: CallRecord[]): boolean {
  const after = calls.filter((call) => calls.some((w) => WRITES.has(w.command) && w.start < call.start));
  return after.length <= 1 && after.every((call) => call.command === 'GetItem');
}

const count = (calls: CallRecord[], command: string) => calls.filter((c) => c.command === command).length;

/** Exactly these calls, one after the other. */
const shape = (calls: CallRecord[], commands: string[]) =>
  calls.length === commands.length && [...calls].sort((a, b) => a.start - b.start).every((c, i) => c.command === commands[i]) && sequentialRounds(calls) === commands.length;

/** Round trips the caller waits for after the DynamoDB write has answered. */
function roundsAfterWrite(calls: CallRecord[]): number {
  const write = calls.filter((c) => WRITES.has(c.command)).at(-1);
  if (!write) return 0;
  return sequentialRounds(calls.filter((c) => c.start >= write.end));
}

function warmRows(result: WarmResult) {
  section(`Warm handler on the local stack (n requests after warm-up; floor = same AWS calls issued directly)`);
  for (const timing of result.timings) {
    const p50 = [median(timing.handler), median(timing.floor)] as const;
    const p99 = [percentile(timing.handler, 0.99), percentile(timing.floor, 0.99)] as const;
    const sameCalls = JSON.stringify(sortKeys(timing.handlerCalls)) === JSON.stringify(sortKeys(timing.floorCalls));
    row({
      figure: `${timing.scenario} p50 (n=${timing.handler.length})`,
      value: ms(p50[0]),
      floor: ms(p50[1]),
      ratio: times(p50[0] / p50[1]),
      target: '≤ 1.2× floor',
      ok: p50[0] / p50[1] <= 1.2 && sameCalls,
    });
    row({ figure: `${timing.scenario} p99`, value: ms(p99[0]), floor: ms(p99[1]), ratio: times(p99[0] / p99[1]) });
    // Time outside the HTTP attempts: ours, plus the SDK's serializing and signing (in both).
    row({
      figure: `${timing.scenario}: outside the HTTP calls, p50`,
      value: ms(median(timing.own)),
      floor: ms(median(timing.floorOwn)),
    });
    if (!sameCalls) {
      row({
        figure: `${timing.scenario}: floor issues other calls`,
        value: JSON.stringify(timing.handlerCalls),
        floor: JSON.stringify(timing.floorCalls),
        ok: false,
      });
    }
  }
}

const sortKeys = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).sort());

// ---------------------------------------------------------------------------------------------
// Memory and JWKS

const MEMORY_ROUNDS = 6;

async function memory(
  handlerBundle: string,
  optionBundle: string,
  dir: string,
  config: Config,
  user: BenchUser,
  template: EventTemplates,
) {
  log(`memory: a fresh process handling a 4 MB cover ${MEMORY_ROUNDS} times`);
  const small = (seed: number) =>
    multipartEvent(template.multipart, user.id, user.token, {
      avatar: { bytes: photoJpeg(20_000, 200, 200, seed), filename: 'a.jpg', type: 'image/jpeg' },
    });
  const cover = multipartEvent(template.multipart, user.id, user.token, {
    cover: { bytes: photoJpeg(4 * MB, 4000, 3000, 7), filename: 'cover.jpg', type: 'image/jpeg' },
  });
  const files = { warm1: join(dir, 'mem-warm1.json'), warm2: join(dir, 'mem-warm2.json'), cover: join(dir, 'mem-cover.json') };
  await writeFile(files.warm1, JSON.stringify(small(3)));
  await writeFile(files.warm2, JSON.stringify(small(4)));
  await writeFile(files.cover, JSON.stringify(cover));
  const input = join(dir, 'memory-input.json');
  await writeFile(
    input,
    JSON.stringify({ config, warmupEvents: [files.warm1, files.warm2], eventFile: files.cover, rounds: MEMORY_ROUNDS }),
  );
  interface MemoryResult {
    rounds: { status: number; idleKb: number; withEventKb: number; peakKb: number }[];
    resetPeak: boolean;
  }
  const measure = async (bundle: string) =>
    JSON.parse(
      await runChild(join(PROJECT_DIR, 'bench', 'children', 'memory.mjs'), [bundle, input], {
        nodeArgs: ['--expose-gc'],
        // glibc otherwise raises its mmap threshold after the first large free, and memory freed
        // while reading the event file stays resident and is reused: RSS would follow the
        // allocator's history instead of what is live. A fixed threshold returns freed blocks.
        env: { MALLOC_MMAP_THRESHOLD_: String(128 * 1024) },
      }),
    ) as MemoryResult;
  const result = await measure(handlerBundle);
  // The other build of the same handler: the same requests, for the idle and peak RSS beside ours.
  const option = await measure(optionBundle);
  const body = decodedBodyBytes(cover);
  const above = (r: { idleKb: number; peakKb: number }) => (r.peakKb - r.idleKb) * 1024;
  const [first, ...steady] = result.rounds;
  const allOk = result.rounds.every((r) => r.status === 200);
  const steadyPeak = median(steady.map(above));

  section(`Memory (fresh process, 4 MB cover ×${MEMORY_ROUNDS}; VmHWM − idle VmRSS${result.resetPeak ? '' : ', lifetime peak'})`);
  row({
    figure: `peak RSS above idle, median of ${steady.length} (warm)`,
    value: mb(steadyPeak),
    floor: `${mb(body)} body`,
    ratio: times(steadyPeak / body),
    // The cover is decoded and re-encoded by libvips now, which outweighs the copies of the body;
    // the bound is the images part's: half of the function's 1024 MB.
    target: '≤ 512 MB',
    ok: allOk && steadyPeak <= 512 * 1024 * 1024,
  });
  row({
    figure: `peak RSS above idle, max of ${steady.length} (warm)`,
    value: mb(Math.max(...steady.map(above))),
    floor: `${mb(body)} body`,
    ratio: times(Math.max(...steady.map(above)) / body),
  });
  row({
    figure: 'peak RSS above idle, first cover of the process',
    value: mb(above(first!)),
    floor: `${mb(body)} body`,
    ratio: times(above(first!) / body),
  });
  row({
    figure: 'of which the event itself (base64 input)',
    value: mb(median(result.rounds.map((r) => (r.withEventKb - r.idleKb) * 1024))),
    floor: `${mb(cover.body!.length)} string`,
  });
  // Above idle is what a request costs; the absolute RSS shows where idle and peak sit. A build
  // whose process idles higher (memory freed but still resident) can put the body there.
  const rss = (r: MemoryResult, kb: 'idleKb' | 'peakKb') => median(r.rounds.slice(1).map((x) => x[kb] * 1024));
  row({
    figure: 'RSS idle / peak, warm (medians)',
    value: `${mb(rss(result, 'idleKb'))} / ${mb(rss(result, 'peakKb'))}`,
    floor: `${mb(rss(option, 'idleKb'))} / ${mb(rss(option, 'peakKb'))} ${deployedSplits ? 'single file' : 'split'}`,
  });
  const optionAbove = median(option.rounds.slice(1).map(above));
  row({
    figure: `${OPTION}: peak RSS above idle, warm`,
    value: mb(optionAbove),
    floor: `${mb(body)} body`,
    ratio: times(optionAbove / body),
    target: '(option)',
  });
}

async function jwks(handlerBundle: string, dir: string) {
  log('JWKS: fetches per container');
  // Through the Lambda entry with a deployed configuration: the verifier fetches the pool's keys.
  const subs = Array.from({ length: 10 }, (_, i) => `00000000-0000-4000-9000-${String(i).padStart(12, '0')}`);
  const tokens = subs.map(token);
  const events = Array.from({ length: 100 }, (_, i) =>
    // A non-integer id: authenticated first, then 404, so no AWS call is needed.
    jsonEvent(template().json, 'abc', tokens[i % tokens.length]!, { bio: 'x' }),
  );
  const input = join(dir, 'jwks-input.json');
  await writeFile(
    input,
    JSON.stringify({
      jwks: { keys: [key.jwk] },
      env: deployedEnv(),
      events,
    }),
  );
  const result = JSON.parse(await runChild(join(PROJECT_DIR, 'bench', 'children', 'jwks.mjs'), [handlerBundle, input])) as {
    requests: number;
    statuses: Record<string, number>;
    fetched: string[];
  };
  section('Token verification');
  const authenticatedAll = result.statuses['404'] === result.requests;
  row({
    figure: `JWKS fetches, ${result.requests} requests via \`handler\` (${subs.length} users)`,
    value: String(result.fetched.length),
    target: '1 per container',
    ok: result.fetched.length === 1 && authenticatedAll,
  });

  // createAuthenticator with a counting fetcher: many verifications, one verifier, one fetch.
  let fetches = 0;
  const config = readConfig(deployedEnv());
  const body = new TextEncoder().encode(JSON.stringify({ keys: [key.jwk] }));
  const authenticate = createAuthenticator(config, {
    jwksFetcher: {
      fetch: async () => {
        fetches++;
        return body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
      },
    },
  });
  const verifications = 1000;
  await Promise.all(Array.from({ length: verifications }, (_, i) => authenticate(`Bearer ${tokens[i % tokens.length]}`)));
  row({
    figure: `JWKS fetches, ${verifications} verifications (counting fetcher)`,
    value: String(fetches),
    target: '1',
    ok: fetches === 1,
  });
}

/** A deployed stage's environment: no endpoints, no key file; tokens of the test pool. */
function deployedEnv(): Record<string, string> {
  return {
    AWS_REGION: TEST_POOL.region,
    TABLE_NAME: 'users',
    MEDIA_BUCKET: 'media',
    MEDIA_BASE_URL: 'https://media.example.org',
    COGNITO_USER_POOL_ID: TEST_POOL.userPoolId,
    COGNITO_CLIENT_ID: TEST_POOL.clientId,
  };
}

interface EventTemplates {
  json: ApiEvent;
  multipart: ApiEvent;
}
let templates: EventTemplates | undefined;
function template(): EventTemplates {
  const load = (kind: string) =>
    JSON.parse(readFileSync(join(PROJECT_DIR, 'test', 'fixtures', 'events', `rest-api-patch-${kind}.json`), 'utf8')) as ApiEvent;
  templates ??= { json: load('json'), multipart: load('multipart') };
  return templates;
}

// ---------------------------------------------------------------------------------------------

/** Round trips, warm timings, memory and JWKS: everything that needs DynamoDB Local and s3rver. */
async function onTheLocalStack(
  built: Awaited<ReturnType<typeof bundles>>,
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
  };
  await writeFile(files.avatarImage, photoJpeg(1 * MB, 1024, 1024, 1));
  await writeFile(files.coverImage, photoJpeg(4 * MB, 4000, 3000, 2));
  await writeFile(files.smallImage, photoJpeg(30_000, 256, 256, 3));
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
  if (runs('images')) await imageBench({ section, row, log, quick: QUICK }, { config, key, dir });
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
  console.log(`\n${new Date().toISOString().slice(0, 10)} · ${machine} · ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  printTable();
}

await main();
