// The bundles the benchmark compares, all built here with the esbuild JS API and the options of
// serverless.yml `custom.esbuild` (read from the file, so they cannot drift apart):
//   handler    handlers/patch-user.ts, everything inside: what `osls package` deploys
//   deps       bench/entries/deps.ts: only the dependencies the handler uses, created the same way
//   unbundled  the handler's own code in one file, every package loaded from node_modules
//   warm       bench/warm.ts: the handler plus the floor's direct calls, for the warm timings
import { readFileSync, statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { basename, extname, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';
import { parse } from 'yaml';
import { PROJECT_DIR } from '../scripts/local-stack.ts';

/** Under node_modules, so `packages: 'external'` output resolves the project's packages. */
export const OUT_DIR = join(PROJECT_DIR, 'node_modules', '.cache', 'selfcommunity-bench');

// serverless-esbuild's own keys, removed before the rest goes to esbuild (its bundle.js list).
const PLUGIN_ONLY_KEYS = [
  'concurrency',
  'zipConcurrency',
  'exclude',
  'nativeZip',
  'packager',
  'packagePath',
  'watch',
  'keepOutputDirectory',
  'packagerOptions',
  'installExtraArgs',
  'outputFileExtension',
  'outputBuildFolder',
  'outputWorkFolder',
  'nodeExternals',
  'skipBuild',
  'skipRebuild',
  'skipBuildExcludeFns',
  'stripEntryResolveExtensions',
  'disposeContext',
];

/** esbuild options exactly as serverless-esbuild derives them from serverless.yml. */
export function serverlessEsbuildOptions(): esbuild.BuildOptions {
  const yml = parse(readFileSync(join(PROJECT_DIR, 'serverless.yml'), 'utf8')) as {
    custom?: { esbuild?: Record<string, unknown> };
  };
  const custom = { ...yml.custom?.esbuild };
  if (typeof custom.plugins === 'string' || 'config' in custom) {
    throw new Error('bench: serverless.yml uses an esbuild plugins/config file; bench/bundles.ts must load it too');
  }
  // serverless-esbuild's defaults under the file's values (index.js DEFAULT_BUILD_OPTIONS).
  const exclude = (custom.exclude as string[] | undefined) ?? ['aws-sdk'];
  const options: Record<string, unknown> = { bundle: true, platform: 'node', target: 'node18', ...custom };
  for (const key of PLUGIN_ONLY_KEYS) delete options[key];
  options.external = [...((custom.external as string[] | undefined) ?? []), ...(exclude.includes('*') ? [] : exclude)];
  return options as esbuild.BuildOptions;
}

export interface BuiltBundle {
  name: string;
  file: string;
  bytes: number;
  gzipBytes: number;
  metafile: esbuild.Metafile;
}

export async function buildBundle(
  name: string,
  entry: string,
  overrides: esbuild.BuildOptions = {},
): Promise<BuiltBundle> {
  await mkdir(OUT_DIR, { recursive: true });
  // With code splitting the output is a folder: the entry plus chunks it imports or loads later.
  const split = overrides.splitting === true;
  const outdir = join(OUT_DIR, name);
  const file = split ? join(outdir, `${basename(entry, extname(entry))}.mjs`) : join(OUT_DIR, `${name}.mjs`);
  await rm(split ? outdir : file, { recursive: true, force: true });
  const result = await esbuild.build({
    ...serverlessEsbuildOptions(),
    ...overrides,
    absWorkingDir: PROJECT_DIR,
    entryPoints: [join(PROJECT_DIR, entry)],
    ...(split ? { outdir, outExtension: { '.js': '.mjs' } } : { outfile: file }),
    metafile: true,
    write: true,
    logLevel: 'error',
  });
  return {
    name,
    file,
    bytes: statSync(file).size,
    gzipBytes: gzipSync(readFileSync(file)).length,
    metafile: result.metafile,
  };
}

/** Bytes a split build loads at start: the entry and every chunk it imports statically. */
export function startupBytes(metafile: esbuild.Metafile, entryFile: string): number {
  const seen = new Set<string>();
  const visit = (output: string) => {
    if (seen.has(output) || !metafile.outputs[output]) return;
    seen.add(output);
    for (const imported of metafile.outputs[output]!.imports) {
      if (imported.kind === 'import-statement' && !imported.external) visit(imported.path);
    }
  };
  visit(relative(PROJECT_DIR, entryFile));
  return [...seen].reduce((total, output) => total + metafile.outputs[output]!.bytes, 0);
}

/** Bytes of every output file of a build. */
export const totalBytes = (metafile: esbuild.Metafile): number =>
  Object.values(metafile.outputs).reduce((total, output) => total + output.bytes, 0);

/** Packages (name, with scope) a bundle contains, from its metafile. */
export function bundledPackages(metafile: esbuild.Metafile): Set<string> {
  const packages = new Set<string>();
  for (const input of Object.keys(metafile.inputs)) {
    const match = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match) packages.add(match[1]!);
  }
  return packages;
}

/** Bytes of the output that come from the project's own files (not node_modules). */
export function ownCodeBytes(metafile: esbuild.Metafile): number {
  let total = 0;
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      if (!input.includes('node_modules/')) total += bytesInOutput;
    }
  }
  return total;
}
