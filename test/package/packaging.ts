// The deployable service as `osls deploy` would create it: `osls package` (no AWS credentials
// needed) for the prod, demo and dev stages, `osls print --stage local`, and a prod run without
// the required inputs. The template tests (test/package/template-*.test.ts) assert on these.
//
// Importing this module registers the hooks of the importing test file: before its tests the
// stages are packaged (or taken from the cache), after them its scratch folder is removed.
// node --test runs each file in its own process, and packaging takes tens of seconds, so the
// result is cached on disk under a key that hashes everything packaging reads (the project's
// files, the inputs, Node): the first file packages, the files running beside it wait for it,
// later files and runs with the same sources reuse it.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, readdir, rename, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { PROJECT_DIR } from '../../tools/local/local-stack.ts';

const run = promisify(execFile);
export const OSLS = join(PROJECT_DIR, 'node_modules', 'osls', 'bin', 'serverless.js');

export type Json = any;
export interface Resource {
  Type: string;
  Condition?: string;
  DependsOn?: string[];
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  Properties: Json;
}
export interface Template {
  Conditions?: Record<string, Json>;
  Resources: Record<string, Resource>;
  Outputs: Record<string, Json>;
}
export interface Packaged {
  template: Template;
  artifact: Buffer;
}
export interface Failed {
  stdout: string;
  stderr: string;
  code: unknown;
}
/** `osls print --stage local`: the configuration serverless-offline runs (npm start). */
export interface LocalConfig {
  functions: Record<string, { environment: Record<string, string> }>;
}

/** Inputs a deployer may have in their shell; each run starts without them. */
const INPUTS = [
  'COGNITO_USER_POOL_ID',
  'COGNITO_CLIENT_ID',
  'MEDIA_BASE_URL',
  'MEDIA_DOMAIN_NAME',
  'MEDIA_CERTIFICATE_ARN',
  'CORS_ALLOWED_ORIGINS',
  'READ_REQUIRES_TOKEN',
  'TABLE_NAME',
  'MEDIA_BUCKET',
  'AWS_REGION',
  'ESBUILD_WORK_FOLDER',
  'SIGNUP_USER_POOL_ID',
  'EVENT_BUS_NAME',
  'ALARM_EMAIL',
];

/** The local-only settings, set in every run to prove that no deployed stage picks them up. */
export const LOCAL_ONLY = {
  DYNAMODB_ENDPOINT: 'http://localhost:18000',
  S3_ENDPOINT: 'http://127.0.0.1:14569',
  COGNITO_JWKS_FILE: '/tmp/leaked/jwks.json',
  EVENTBRIDGE_ENDPOINT: 'http://127.0.0.1:14010',
  DEAD_LETTER_FILE: '/tmp/leaked/dead-letters.jsonl',
};

export const PROD_INPUTS = { COGNITO_USER_POOL_ID: 'eu-west-1_Example', COGNITO_CLIENT_ID: 'exampleclientid0123456789' };
/** An existing pool that the dev stage lets invoke the sign-up trigger. */
export const SIGNUP_USER_POOL_ID = 'eu-west-1_Existing';

/** The inputs of each packaged stage. */
const STAGES = {
  prod: PROD_INPUTS,
  // The demo stage needs no inputs; CORS and a custom media domain are switched on here.
  demo: {
    CORS_ALLOWED_ORIGINS: 'https://app.example.org,https://admin.example.org',
    MEDIA_DOMAIN_NAME: 'media.example.org',
    MEDIA_CERTIFICATE_ARN: 'arn:aws:acm:us-east-1:000000000000:certificate/example',
    EVENT_BUS_NAME: 'community-events',
    ALARM_EMAIL: 'ops@example.org',
  },
  dev: { ...PROD_INPUTS, MEDIA_BASE_URL: 'https://cdn.example.net/media', SIGNUP_USER_POOL_ID },
};

/** Not copied: dependencies (linked instead), history, and what builds and local stacks leave. */
const NOT_COPIED = new Set(['node_modules', '.git', '.serverless', '.esbuild', '.build', '.local', 'tmp']);

/**
 * A copy of the service to package. osls always writes `.serverless/` in the service folder
 * before moving the result to `--package`, so two runs in one folder (these, another test's,
 * a developer's) would delete each other's files; a copy per run keeps them apart and leaves
 * nothing behind in the project.
 */
async function serviceCopy(workDir: string, name: string): Promise<string> {
  const dir = join(workDir, `${name}-service`);
  await mkdir(dir);
  for (const entry of await readdir(PROJECT_DIR)) {
    if (!NOT_COPIED.has(entry)) await cp(join(PROJECT_DIR, entry), join(dir, entry), { recursive: true });
  }
  await symlink(join(PROJECT_DIR, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

function packagingEnv(workDir: string, inputs: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of INPUTS) delete env[key];
  // serverless-esbuild leaves a staging folder in the temporary directory: keep it in workDir.
  return Object.assign(env, LOCAL_ONLY, inputs, { TMPDIR: workDir });
}

/** `osls package` of one stage into `out` (the template and the zip). */
async function oslsPackage(workDir: string, out: string, stage: string, inputs: Record<string, string>): Promise<void> {
  try {
    await run(process.execPath, [OSLS, 'package', '--stage', stage, '--region', 'eu-west-1', '--package', out], {
      cwd: await serviceCopy(workDir, stage),
      env: packagingEnv(workDir, inputs),
      maxBuffer: 10 * 1024 * 1024,
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`osls package --stage ${stage} failed:\n${stdout ?? ''}\n${stderr ?? ''}`);
  }
}

async function oslsPrintLocal(workDir: string): Promise<LocalConfig> {
  const { stdout } = await run(process.execPath, [OSLS, 'print', '--stage', 'local', '--format', 'json'], {
    cwd: await serviceCopy(workDir, 'local'),
    env: packagingEnv(workDir, {}),
    maxBuffer: 10 * 1024 * 1024,
  });
  return JSON.parse(stdout) as LocalConfig;
}

/** prod without the Cognito inputs (and no region): packaging must refuse. */
async function oslsPackageWithoutInputs(workDir: string): Promise<Failed> {
  try {
    await run(process.execPath, [OSLS, 'package', '--stage', 'prod', '--package', join(workDir, 'failing')], {
      cwd: await serviceCopy(workDir, 'failing'),
      env: packagingEnv(workDir, {}),
    });
    return { stdout: '', stderr: '', code: 0 };
  } catch (error) {
    const { stdout = '', stderr = '', code } = error as { stdout?: string; stderr?: string; code?: unknown };
    return { stdout, stderr, code };
  }
}

/** Everything packaged, into `dir`: one folder per stage, without-inputs.json, local.json. */
async function packageAll(dir: string): Promise<void> {
  const workDir = join(dir, 'work');
  await mkdir(workDir, { recursive: true });
  const [withoutInputs, local] = await Promise.all([
    oslsPackageWithoutInputs(workDir),
    oslsPrintLocal(workDir),
    ...Object.entries(STAGES).map(([stage, inputs]) => oslsPackage(workDir, join(dir, stage), stage, inputs)),
  ]);
  await writeFile(join(dir, 'without-inputs.json'), JSON.stringify(withoutInputs));
  await writeFile(join(dir, 'local.json'), JSON.stringify(local));
  await rm(workDir, { recursive: true, force: true });
}

/** A hash of what packaging reads: the copied project files, the inputs, Node and the environment osls reads. */
async function packagingKey(): Promise<string> {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ STAGES, LOCAL_ONLY, INPUTS, node: process.execPath, version: process.version }));
  for (const [name, value] of Object.entries(process.env).sort()) {
    if (/^(AWS|SLS|SERVERLESS)_/.test(name) && !INPUTS.includes(name)) hash.update(`${name}=${value}\n`);
  }
  const visit = async (relativeDir: string): Promise<void> => {
    const entries = await readdir(join(PROJECT_DIR, relativeDir), { withFileTypes: true });
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (relativeDir === '' && NOT_COPIED.has(entry.name)) continue;
      const path = join(relativeDir, entry.name);
      if (entry.isDirectory()) await visit(path);
      else if (entry.isFile()) hash.update(`${path}\0`).update(await readFile(join(PROJECT_DIR, path))).update('\0');
    }
  };
  await visit('');
  return hash.digest('hex').slice(0, 32);
}

const CACHE = join(tmpdir(), 'selfcommunity-packaged');
/** A cache entry nobody has used for this long is removed by the next run that packages. */
const STALE_MS = 60 * 60 * 1000;
const WAIT_MS = 10 * 60 * 1000;

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * The folder of the packaged stages for these sources: made by this process under a lock, or by
 * another test file's process that holds the lock (waited for), or left by an earlier run.
 */
async function packagedDir(): Promise<string> {
  const key = await packagingKey();
  const dir = join(CACHE, key);
  const lock = `${dir}.lock`;
  await mkdir(CACHE, { recursive: true });
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    if (await stat(join(dir, 'complete')).catch(() => undefined)) {
      // In use: not stale for another run's clean-up.
      await utimes(dir, new Date(), new Date()).catch(() => undefined);
      return dir;
    }
    try {
      await mkdir(lock);
    } catch {
      // Another process packages: wait for it, unless it died holding the lock.
      const owner = Number(await readFile(join(lock, 'pid'), 'utf8').catch(() => ''));
      const age = Date.now() - ((await stat(lock).catch(() => undefined))?.mtimeMs ?? Date.now());
      // No pid a minute after the lock was made: its maker died between the two steps.
      if (owner ? !isAlive(owner) : age > 60_000) await rm(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`packaging: waited ${WAIT_MS} ms for ${lock}`);
      await sleep(500);
      continue;
    }
    try {
      await writeFile(join(lock, 'pid'), String(process.pid));
      const staging = `${dir}.staging-${process.pid}`;
      await rm(staging, { recursive: true, force: true });
      await packageAll(staging);
      await writeFile(join(staging, 'complete'), '');
      await rename(staging, dir);
      await removeStale(key);
      return dir;
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }
}

async function removeStale(keep: string): Promise<void> {
  for (const entry of await readdir(CACHE)) {
    if (entry.startsWith(keep)) continue;
    const path = join(CACHE, entry);
    const { mtimeMs } = await stat(path);
    if (Date.now() - mtimeMs > STALE_MS) await rm(path, { recursive: true, force: true });
  }
}

async function readPackaged(dir: string, stage: string): Promise<Packaged> {
  const template = JSON.parse(await readFile(join(dir, stage, 'cloudformation-template-update-stack.json'), 'utf8')) as Template;
  const artifact = await readFile(join(dir, stage, 'selfcommunity-user-patch.zip'));
  return { template, artifact };
}

export let prod: Packaged;
export let demo: Packaged;
export let dev: Packaged;
export let withoutInputs: Failed;
export let local: LocalConfig;
/** This test file's scratch folder (removed after its tests). */
export let workDir: string;

before(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'template-test-'));
  const dir = await packagedDir();
  [prod, demo, dev, withoutInputs, local] = await Promise.all([
    readPackaged(dir, 'prod'),
    readPackaged(dir, 'demo'),
    readPackaged(dir, 'dev'),
    readFile(join(dir, 'without-inputs.json'), 'utf8').then((text) => JSON.parse(text) as Failed),
    readFile(join(dir, 'local.json'), 'utf8').then((text) => JSON.parse(text) as LocalConfig),
  ]);
});

after(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});
