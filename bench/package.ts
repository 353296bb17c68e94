// Part package: `osls package --stage prod`, its zip read back, and the zip's sharp under qemu.
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PROJECT_DIR } from '../tools/local/local-stack.ts';
import { arm64NodeCommand, unzipTo } from '../tools/support/arm64.ts';
import { readZip, relativeImports, staticClosure } from '../tools/support/zip.ts';
import type { BuiltBundle } from './bundles.ts';
import type { ColdSample } from './cold.ts';
import { args, CHILD_ENV, execFileAsync, KB, log, QUICK, runs } from './options.ts';
import { kb, median, ms, row, section, times } from './table.ts';

let zipOfThisRun: Buffer | undefined;
/** The zip part package made in this run, if it ran: part images runs its arm64 column on it. */
export const packagedZip = (): Buffer | undefined => zipOfThisRun;

export async function oslsPackage(built: BuiltBundle): Promise<void> {
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
    zipOfThisRun = zip;
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
