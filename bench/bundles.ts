// The bundles the benchmark compares, all built here with the esbuild JS API and the options of
// serverless.yml `custom.esbuild` (read from the file, so they cannot drift apart). Those options
// split the code: each build is an entry plus chunks, some imported by the entry at start, the
// others only by import() when a lazily loaded part is needed.
//   handler    src/functions/patch-user/handler.ts, everything inside: what `osls package` deploys
//   deps       bench/entries/deps.ts: only the dependencies the handler uses, built the same way
//   option     the handler built the other way (one file while serverless.yml splits): compared with
//   unbundled  the handler's own code in one file, every package loaded from node_modules
//   warm       bench/warm.ts: both API functions' handlers plus the floors' direct calls, for the warm timings
import { readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { basename, extname, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';
import { parse } from 'yaml';
import { PROJECT_DIR } from '../tools/local/local-stack.ts';

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
    params?: { default?: Record<string, unknown> };
    custom?: { esbuild?: Record<string, unknown> };
  };
  // A value that is one `${param:NAME}` takes the deployed stages' value (params.default); the
  // local stage's own values are not what the bench measures.
  const custom = Object.fromEntries(
    Object.entries(yml.custom?.esbuild ?? {}).map(([key, value]) => {
      const param = typeof value === 'string' ? /^\$\{param:(\w+)\}$/.exec(value)?.[1] : undefined;
      if (param === undefined) return [key, value];
      if (!(param in (yml.params?.default ?? {}))) throw new Error(`bench: custom.esbuild.${key} uses \${param:${param}}, not in params.default`);
      return [key, yml.params!.default![param]];
    }),
  );
  if (typeof custom.plugins === 'string' || 'config' in custom) {
    throw new Error('bench: serverless.yml uses an esbuild plugins/config file; bench/bundles.ts must load it too');
  }
  // serverless-esbuild's defaults under the file's values (index.js DEFAULT_BUILD_OPTIONS).
  const exclude = (custom.exclude as string[] | undefined) ?? ['aws-sdk'];
  const outputFileExtension = (custom.outputFileExtension as string | undefined) ?? '.js';
  const options: Record<string, unknown> = { bundle: true, platform: 'node', target: 'node18', ...custom };
  for (const key of PLUGIN_ONLY_KEYS) delete options[key];
  options.external = [...((custom.external as string[] | undefined) ?? []), ...(exclude.includes('*') ? [] : exclude)];
  // bundle.js: the extension applies to the entry and to every chunk.
  if (outputFileExtension !== '.js') options.outExtension = { '.js': outputFileExtension };
  return options as esbuild.BuildOptions;
}

export interface BuiltBundle {
  name: string;
  /** The entry's output file (a split build's chunks are next to it, under its folder). */
  file: string;
  /** The entry and every chunk it imports statically: what a cold start reads and compiles. */
  startupFiles: string[];
  startupBytes: number;
  /** Sum of each startup file gzipped on its own (as a zip compresses them). */
  startupGzipBytes: number;
  /** Every output file: the entry, its static chunks, and the chunks loaded only by import(). */
  files: number;
  totalBytes: number;
  metafile: esbuild.Metafile;
}

/**
 * Builds `entry` the way serverless-esbuild does: the options of serverless.yml (with `overrides`
 * on top), an output folder per build, the entry's output named like the source with
 * `outputFileExtension`, and chunks (with `splitting: true`) placed by `chunkNames` under it.
 */
export async function buildBundle(
  name: string,
  entry: string,
  overrides: esbuild.BuildOptions = {},
): Promise<BuiltBundle> {
  await mkdir(OUT_DIR, { recursive: true });
  const outdir = join(OUT_DIR, name);
  await rm(outdir, { recursive: true, force: true });
  const options = { ...serverlessEsbuildOptions(), ...overrides };
  const extension = options.outExtension?.['.js'] ?? '.js';
  const file = join(outdir, `${basename(entry, extname(entry))}${extension}`);
  const result = await esbuild.build({
    ...options,
    absWorkingDir: PROJECT_DIR,
    entryPoints: [join(PROJECT_DIR, entry)],
    outdir,
    metafile: true,
    write: true,
    logLevel: 'error',
  });
  const { metafile } = result;
  const entryOutput = relative(PROJECT_DIR, file);
  if (!metafile.outputs[entryOutput]) throw new Error(`bench: ${name} did not produce ${entryOutput}`);
  const startupFiles = startupOutputs(metafile, entryOutput);
  return {
    name,
    file,
    startupFiles: startupFiles.map((output) => join(PROJECT_DIR, output)),
    startupBytes: startupFiles.reduce((total, output) => total + metafile.outputs[output]!.bytes, 0),
    startupGzipBytes: startupFiles.reduce(
      (total, output) => total + gzipSync(readFileSync(join(PROJECT_DIR, output))).length,
      0,
    ),
    files: Object.keys(metafile.outputs).length,
    totalBytes: totalBytes(metafile),
    metafile,
  };
}

/** Outputs a build loads at start: the entry and every chunk it imports statically (transitively). */
function startupOutputs(metafile: esbuild.Metafile, entryOutput: string): string[] {
  const seen = new Set<string>();
  const visit = (output: string) => {
    if (seen.has(output)) return;
    if (!metafile.outputs[output]) throw new Error(`bench: ${output} is imported but was not built`);
    seen.add(output);
    for (const imported of metafile.outputs[output]!.imports) {
      if (imported.kind === 'import-statement' && !imported.external) visit(imported.path);
    }
  };
  visit(entryOutput);
  return [...seen];
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
