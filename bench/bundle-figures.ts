// Part bundles: the handler built with serverless.yml's esbuild options against the bare
// dependencies, the other way of building it, and the GET function (bench/bundles.ts builds them).
import { readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { PROJECT_DIR } from '../tools/local/local-stack.ts';
import { buildBundle, bundledPackages, ownCodeBytes, serverlessEsbuildOptions } from './bundles.ts';
import { KB, log } from './options.ts';
import { kb, row, section, times } from './table.ts';

/** The deployed build splits (serverless.yml); the other way of building it is the option compared. */
export const deployedSplits = serverlessEsbuildOptions().splitting === true;
export const OPTION = deployedSplits ? 'single file (splitting: false)' : 'split (splitting: true)';

export async function bundles() {
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
    floor: `${kb(own)} src`,
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
  // request's cold start must load neither (docs/node24-arm64.md).
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
  // What its cold start reads: the packages of the entry and its static chunks (the SDK's own
  // helpers, @smithy/* and @aws-sdk/* other than the clients, counted rather than named).
  const atStart = new Set<string>();
  for (const file of getUser.startupFiles) {
    for (const input of Object.keys(getUser.metafile.outputs[relative(PROJECT_DIR, file)]!.inputs)) {
      const match = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
      if (match) atStart.add(match[1]!);
    }
  }
  const helpers = [...atStart].filter((p) => p.startsWith('@smithy/') || ((p.startsWith('@aws-') || p.startsWith('@aws/')) && !p.startsWith('@aws-sdk/client-')));
  row({
    figure: 'GET function: packages loaded at start',
    value: `${[...atStart].filter((p) => !helpers.includes(p)).sort().join(', ')} + ${helpers.length} SDK helper packages`,
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

export type Built = Awaited<ReturnType<typeof bundles>>;
