// The deployable service as `osls deploy` would create it: `osls package` (no AWS credentials
// needed) for the prod, demo and dev stages, and assertions on the generated CloudFormation
// templates. No AWS account is reachable here, so the template is the evidence.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { jsonEvent } from '../../bench/events.ts';
import { readZip, relativeImports, staticClosure } from '../../tools/support/zip.ts';
import { PROJECT_DIR } from '../../tools/local/local-stack.ts';
import { readConfig, readSignUpConfig } from '../../src/platform/config.ts';
import { readStreamConfig } from '../../src/functions/media-events/config.ts';
import { accessToken, makeKey, TEST_POOL } from '../../tools/support/tokens.ts';

const run = promisify(execFile);
const OSLS = join(PROJECT_DIR, 'node_modules', 'osls', 'bin', 'serverless.js');
/** The function's handler module in the artifact (functions.patchUser.handler, with .mjs). */
const ENTRY = 'src/functions/patch-user/handler.mjs';
/** The stream function's module, as serverless.yml names it (`<path>.handler`). */
const MEDIA_EVENTS_MODULE = (
  parseYaml(await readFile(join(PROJECT_DIR, 'serverless.yml'), 'utf8')) as { functions: { mediaEvents: { handler: string } } }
).functions.mediaEvents.handler.replace(/\.handler$/, '');
const MEDIA_EVENTS_ENTRY = `${MEDIA_EVENTS_MODULE}.mjs`;

// ---------------------------------------------------------------------------------------------
// Packaging

type Json = any;
interface Resource {
  Type: string;
  Condition?: string;
  DependsOn?: string[];
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  Properties: Json;
}
interface Template {
  Conditions?: Record<string, Json>;
  Resources: Record<string, Resource>;
  Outputs: Record<string, Json>;
}
interface Packaged {
  template: Template;
  artifact: Buffer;
}

/** Inputs a deployer may have in their shell; each run starts without them. */
const INPUTS = [
  'COGNITO_USER_POOL_ID',
  'COGNITO_CLIENT_ID',
  'MEDIA_BASE_URL',
  'MEDIA_DOMAIN_NAME',
  'MEDIA_CERTIFICATE_ARN',
  'CORS_ALLOWED_ORIGINS',
  'TABLE_NAME',
  'MEDIA_BUCKET',
  'AWS_REGION',
  'ESBUILD_WORK_FOLDER',
  'SIGNUP_USER_POOL_ID',
  'EVENT_BUS_NAME',
  'ALARM_EMAIL',
];

/** The local-only settings, set in every run to prove that no deployed stage picks them up. */
const LOCAL_ONLY = {
  DYNAMODB_ENDPOINT: 'http://localhost:18000',
  S3_ENDPOINT: 'http://127.0.0.1:14569',
  COGNITO_JWKS_FILE: '/tmp/leaked/jwks.json',
  EVENTBRIDGE_ENDPOINT: 'http://127.0.0.1:14010',
  DEAD_LETTER_FILE: '/tmp/leaked/dead-letters.jsonl',
};

const PROD_INPUTS = { COGNITO_USER_POOL_ID: 'eu-west-1_Example', COGNITO_CLIENT_ID: 'exampleclientid0123456789' };
/** An existing pool that the dev stage lets invoke the sign-up trigger. */
const SIGNUP_USER_POOL_ID = 'eu-west-1_Existing';

let workDir: string;

/** Not copied: dependencies (linked instead), history, and what builds and local stacks leave. */
const NOT_COPIED = new Set(['node_modules', '.git', '.serverless', '.esbuild', '.build', '.local', 'tmp']);

/**
 * A copy of the service to package. osls always writes `.serverless/` in the service folder
 * before moving the result to `--package`, so two runs in one folder (these, another test's,
 * a developer's) would delete each other's files; a copy per run keeps them apart and leaves
 * nothing behind in the project.
 */
async function serviceCopy(name: string): Promise<string> {
  const dir = join(workDir, `${name}-service`);
  await mkdir(dir);
  for (const entry of await readdir(PROJECT_DIR)) {
    if (!NOT_COPIED.has(entry)) await cp(join(PROJECT_DIR, entry), join(dir, entry), { recursive: true });
  }
  await symlink(join(PROJECT_DIR, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

function packagingEnv(inputs: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of INPUTS) delete env[key];
  // serverless-esbuild leaves a staging folder in the temporary directory: keep it in workDir.
  return Object.assign(env, LOCAL_ONLY, inputs, { TMPDIR: workDir });
}

async function oslsPackage(name: string, stage: string, inputs: Record<string, string>): Promise<Packaged> {
  const out = join(workDir, name);
  try {
    await run(process.execPath, [OSLS, 'package', '--stage', stage, '--region', 'eu-west-1', '--package', out], {
      cwd: await serviceCopy(name),
      env: packagingEnv(inputs),
      maxBuffer: 10 * 1024 * 1024,
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`osls package --stage ${stage} failed:\n${stdout ?? ''}\n${stderr ?? ''}`);
  }
  const template = JSON.parse(await readFile(join(out, 'cloudformation-template-update-stack.json'), 'utf8')) as Template;
  const artifact = await readFile(join(out, 'selfcommunity-user-patch.zip'));
  return { template, artifact };
}

let prod: Packaged;
let demo: Packaged;
let dev: Packaged;
let withoutInputs: { stdout: string; stderr: string; code: unknown };
/** `osls print --stage local`: the configuration serverless-offline runs (npm start). */
let local: { functions: Record<string, { environment: Record<string, string> }> };

async function oslsPrintLocal(): Promise<typeof local> {
  const { stdout } = await run(process.execPath, [OSLS, 'print', '--stage', 'local', '--format', 'json'], {
    cwd: await serviceCopy('local'),
    env: packagingEnv({}),
    maxBuffer: 10 * 1024 * 1024,
  });
  return JSON.parse(stdout) as typeof local;
}

before(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'template-test-'));
  const failing = (async () => {
    try {
      await run(process.execPath, [OSLS, 'package', '--stage', 'prod', '--package', join(workDir, 'failing')], {
        cwd: await serviceCopy('failing'),
        env: packagingEnv({}),
      });
      return { stdout: '', stderr: '', code: 0 };
    } catch (error) {
      const { stdout = '', stderr = '', code } = error as { stdout?: string; stderr?: string; code?: unknown };
      return { stdout, stderr, code };
    }
  })();
  [prod, demo, dev, withoutInputs, local] = await Promise.all([
    oslsPackage('prod', 'prod', PROD_INPUTS),
    // The demo stage needs no inputs; CORS and a custom media domain are switched on here.
    oslsPackage('demo', 'demo', {
      CORS_ALLOWED_ORIGINS: 'https://app.example.org,https://admin.example.org',
      MEDIA_DOMAIN_NAME: 'media.example.org',
      MEDIA_CERTIFICATE_ARN: 'arn:aws:acm:us-east-1:000000000000:certificate/example',
      EVENT_BUS_NAME: 'community-events',
      ALARM_EMAIL: 'ops@example.org',
    }),
    oslsPackage('dev', 'dev', { ...PROD_INPUTS, MEDIA_BASE_URL: 'https://cdn.example.net/media', SIGNUP_USER_POOL_ID }),
    failing,
    oslsPrintLocal(),
  ]);
});

after(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Reading templates

function resource(template: Template, logicalId: string, type: string): Resource {
  const found = template.Resources[logicalId];
  assert.ok(found, `no resource ${logicalId}`);
  assert.equal(found.Type, type);
  return found;
}

const resourcesOfType = (template: Template, type: string): [string, Resource][] =>
  Object.entries(template.Resources).filter(([, r]) => r.Type === type);

const fnFunction = (template: Template) => resource(template, 'PatchUserLambdaFunction', 'AWS::Lambda::Function');
const environmentOf = (template: Template): Record<string, Json> => fnFunction(template).Properties.Environment.Variables;

/** Evaluates a condition the way CloudFormation does, for the functions this template uses. */
function condition(template: Template, name: string): boolean {
  const expression = template.Conditions?.[name];
  assert.ok(expression, `no condition ${name}`);
  return evaluate(template, expression);
}

function evaluate(template: Template, expression: Json): boolean {
  const [fn, args] = Object.entries(expression)[0] as [string, Json[]];
  switch (fn) {
    case 'Fn::Equals': {
      for (const arg of args) assert.equal(typeof arg, 'string', `Fn::Equals compares strings, got ${JSON.stringify(arg)}`);
      return args[0] === args[1];
    }
    case 'Fn::Not':
      return !evaluate(template, args[0]);
    case 'Fn::And':
      return args.every((arg) => evaluate(template, arg));
    case 'Fn::Or':
      return args.some((arg) => evaluate(template, arg));
    case 'Condition':
      return condition(template, args as unknown as string);
    default:
      throw new Error(`condition function ${fn} not handled`);
  }
}

/** `value` with every Fn::If replaced by its chosen branch (AWS::NoValue drops the key). */
function resolveIfs(template: Template, value: Json): Json {
  if (Array.isArray(value)) return value.map((item) => resolveIfs(template, item));
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === 'Fn::If') {
    const [name, whenTrue, whenFalse] = value['Fn::If'];
    return resolveIfs(template, condition(template, name) ? whenTrue : whenFalse);
  }
  const result: Record<string, Json> = {};
  for (const [key, item] of Object.entries(value)) {
    const resolved = resolveIfs(template, item);
    if (resolved?.Ref !== 'AWS::NoValue') result[key] = resolved;
  }
  return result;
}

const bucketObjects = (prefix: string) => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': ['MediaBucket', 'Arn'] }, `/${prefix}/*`]] });
const distributionUrl = { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': ['MediaDistribution', 'DomainName'] }]] };

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: Json | Json[];
  Principal?: Json;
  Condition?: Json;
  Sid?: string;
}
const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Every policy statement anywhere in the template (roles, bucket policies, …). */
function allStatements(value: Json, found: Statement[] = []): Statement[] {
  if (Array.isArray(value)) for (const item of value) allStatements(item, found);
  else if (value && typeof value === 'object') {
    if (Array.isArray(value.Statement)) found.push(...(value.Statement as Statement[]));
    for (const item of Object.values(value)) allStatements(item, found);
  }
  return found;
}

/** The statements of a function's own role (serverless.yml gives each function one). */
function roleStatements(template: Template, functionId: string): Statement[] {
  const fn = resource(template, functionId, 'AWS::Lambda::Function');
  const [roleId] = fn.Properties.Role['Fn::GetAtt'] as [string, string];
  const role = resource(template, roleId, 'AWS::IAM::Role');
  assert.deepEqual(role.Properties.AssumeRolePolicyDocument.Statement, [
    { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
  ]);
  assert.equal(role.Properties.ManagedPolicyArns, undefined, `${roleId} has no managed policies`);
  return role.Properties.Policies.flatMap((policy: Json) => policy.PolicyDocument.Statement as Statement[]);
}

// ---------------------------------------------------------------------------------------------
// The IAM actions the code needs, derived from the AWS SDK commands it sends

// Both the plain client's commands and the document client's (@aws-sdk/lib-dynamodb) wrappers.
const ACTIONS_OF_COMMAND: Record<string, string[]> = {
  GetItemCommand: ['dynamodb:GetItem'],
  GetCommand: ['dynamodb:GetItem'],
  UpdateItemCommand: ['dynamodb:UpdateItem'],
  UpdateCommand: ['dynamodb:UpdateItem'],
  PutItemCommand: ['dynamodb:PutItem'],
  PutCommand: ['dynamodb:PutItem'],
  DeleteItemCommand: ['dynamodb:DeleteItem'],
  DeleteCommand: ['dynamodb:DeleteItem'],
  // Authorised item by item: see TRANSACT_ITEM_ACTIONS.
  TransactWriteItemsCommand: [],
  TransactWriteCommand: [],
  // A PutObject with a Tagging parameter (src/store/media-uploads.ts) needs both.
  PutObjectCommand: ['s3:PutObject', 's3:PutObjectTagging'],
  PutObjectTaggingCommand: ['s3:PutObjectTagging'],
  DeleteObjectCommand: ['s3:DeleteObject'],
  PutEventsCommand: ['events:PutEvents'],
  SendMessageCommand: ['sqs:SendMessage'],
  CreateInvalidationCommand: ['cloudfront:CreateInvalidation'],
};
const TRANSACT_ITEM_ACTIONS: Record<string, string> = {
  Put: 'dynamodb:PutItem',
  Delete: 'dynamodb:DeleteItem',
  Update: 'dynamodb:UpdateItem',
  ConditionCheck: 'dynamodb:ConditionCheckItem',
};

/** The project's modules a handler module loads (its own file and every relative import, transitively). */
async function moduleClosure(entry: string): Promise<string[]> {
  const seen = new Set<string>();
  const visit = async (file: string): Promise<void> => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = await readFile(join(PROJECT_DIR, file), 'utf8');
    // Type-only imports load nothing at run time.
    for (const [, typeOnly, target] of source.matchAll(/^\s*(?:import|export)\s+(type\s+)?[^;]*?from\s+'(\.{1,2}\/[^']+\.ts)'/gm)) {
      if (!typeOnly) await visit(relative(PROJECT_DIR, join(PROJECT_DIR, dirname(file), target!)));
    }
  };
  await visit(entry);
  return [...seen].sort();
}

/** The IAM actions of the AWS SDK commands that the code of one handler module sends. */
async function actionsTheCodeNeeds(entry: string): Promise<string[]> {
  const actions = new Set<string>();
  {
    for (const file of await moduleClosure(entry)) {
      const source = await readFile(join(PROJECT_DIR, file), 'utf8');
      for (const [, command] of source.matchAll(/new (\w+Command)\(/g)) {
        const mapped = ACTIONS_OF_COMMAND[command!];
        assert.ok(mapped, `${file} sends ${command}: give the role its IAM action in serverless.yml and map it here`);
        for (const action of mapped) actions.add(action);
      }
      if (/new TransactWrite(Items)?Command\(/.test(source)) {
        for (const [, kind] of source.matchAll(/^\s*(Put|Delete|Update|ConditionCheck): \{/gm)) {
          actions.add(TRANSACT_ITEM_ACTIONS[kind!]!);
        }
      }
    }
  }
  return [...actions].sort();
}

/**
 * The zip's sharp is built for arm64; a test importing the bundle on this machine gets this
 * machine's build of the same version instead, as `node_modules/sharp` next to the bundle.
 */
async function linkHostSharp(dir: string): Promise<void> {
  await mkdir(join(dir, 'node_modules'), { recursive: true });
  await symlink(join(PROJECT_DIR, 'node_modules', 'sharp'), join(dir, 'node_modules', 'sharp'), 'dir');
}

// ---------------------------------------------------------------------------------------------

describe('osls package --stage prod', () => {
  test('the function runs on Node.js 24, arm64, 1024 MB, 10 s', () => {
    const { Properties } = fnFunction(prod.template);
    // The Node that scripts and tests run on (package.json devDependency `node`) is 24 as well.
    assert.equal(Properties.Runtime, 'nodejs24.x');
    assert.deepEqual(Properties.Architectures, ['arm64']);
    assert.equal(Properties.MemorySize, 1024);
    assert.equal(Properties.Timeout, 10);
  });

  test('the timeout leaves room for every AWS call attempt and stays under API Gateway’s 29 s', () => {
    const { Properties } = fnFunction(prod.template);
    const env = environmentOf(prod.template);
    const worstCallMs = Number(env.AWS_MAX_ATTEMPTS) * Number(env.AWS_REQUEST_TIMEOUT_MS);
    assert.ok(worstCallMs > 0 && worstCallMs < Properties.Timeout * 1000, `${worstCallMs} ms per call, timeout ${Properties.Timeout} s`);
    assert.ok(Properties.Timeout < 29);
  });

  test('the images’ budget and the AWS calls after it add up inside the timeout', () => {
    // The contract: all the images of a request finish, or are stopped, well inside the function's
    // timeout, and a request they slowed is never the 503 of a spent deadline. After the images:
    // the uploads and the write (one attempt each), and the one call the deadline keeps, plus 0.5 s.
    const { Properties } = fnFunction(prod.template);
    const env = environmentOf(prod.template);
    const afterImagesMs = 3 * Number(env.AWS_REQUEST_TIMEOUT_MS) + 500;
    const imagesMs = Number(env.IMAGE_TIMEOUT_SECONDS) * 1000;
    assert.ok(imagesMs > 0 && imagesMs + afterImagesMs < Properties.Timeout * 1000, `${imagesMs} + ${afterImagesMs} ms, timeout ${Properties.Timeout} s`);
  });

  test('the environment names the table, bucket, pool, client, media URL and limits, and nothing local', () => {
    const env = environmentOf(prod.template);
    assert.deepEqual(Object.keys(env).sort(), [
      'AVATAR_MAX_BYTES', 'AVATAR_SIZE', 'AWS_MAX_ATTEMPTS', 'AWS_REQUEST_TIMEOUT_MS', 'COGNITO_CLIENT_ID', 'COGNITO_TOKEN_USE',
      'COGNITO_USER_POOL_ID', 'CORS_ALLOWED_ORIGINS', 'COVER_MAX_BYTES', 'COVER_MAX_SIDE', 'IMAGE_MAX_ANIMATION_PIXELS',
      'IMAGE_MAX_FRAMES', 'IMAGE_MAX_PIXELS', 'IMAGE_MAX_SIDE', 'IMAGE_TIMEOUT_SECONDS', 'JPEG_MAX_SCANS',
      'MAX_BODY_BYTES', 'MEDIA_BASE_URL', 'MEDIA_BUCKET', 'TABLE_NAME',
    ]);
    assert.deepEqual(env.TABLE_NAME, { Ref: 'UsersTable' });
    assert.deepEqual(env.MEDIA_BUCKET, { Ref: 'MediaBucket' });
    assert.equal(env.COGNITO_USER_POOL_ID, PROD_INPUTS.COGNITO_USER_POOL_ID);
    assert.equal(env.COGNITO_CLIENT_ID, PROD_INPUTS.COGNITO_CLIENT_ID);
    assert.equal(env.COGNITO_TOKEN_USE, 'access');
    assert.deepEqual(
      [env.AVATAR_MAX_BYTES, env.COVER_MAX_BYTES, env.IMAGE_MAX_SIDE, env.IMAGE_MAX_PIXELS, env.MAX_BODY_BYTES],
      ['3145728', '4194304', '8192', '40000000', '6000000'],
    );
    assert.deepEqual(
      [env.IMAGE_MAX_FRAMES, env.IMAGE_MAX_ANIMATION_PIXELS, env.JPEG_MAX_SCANS, env.AVATAR_SIZE, env.COVER_MAX_SIDE, env.IMAGE_TIMEOUT_SECONDS],
      ['300', '60000000', '64', '400', '1600', '3'],
    );
    // Without MEDIA_BASE_URL or a media domain, images are served by the stack's distribution.
    assert.deepEqual(resolveIfs(prod.template, env.MEDIA_BASE_URL), distributionUrl);
  });

  test('no local endpoint or key file reaches the template', () => {
    const text = JSON.stringify(prod.template);
    for (const name of Object.keys(LOCAL_ONLY)) assert.ok(!text.includes(name), `${name} in the template`);
    for (const value of Object.values(LOCAL_ONLY)) assert.ok(!text.includes(value), `${value} in the template`);
    for (const marker of ['localhost', '127.0.0.1', 'jwks', '.local/', 'LocalPool', 'localclient']) {
      assert.ok(!text.includes(marker), `"${marker}" in the template`);
    }
  });

  test('the artifact is the bundled handler and its chunks, complete and importable on its own', async () => {
    // sharp (native) is not bundled: it travels installed under node_modules/ (serverless.yml
    // custom.esbuild.external); everything else is the bundle.
    const files = readZip(prod.artifact).filter((f) => !f.name.startsWith('node_modules/'));
    const sources = new Map(files.map((f) => [f.name, f.data.toString('utf8')]));
    // serverless.yml custom.esbuild: splitting, ESM with .mjs, each function's chunks under its folder's chunks/;
    // besides them only node_modules/ (sharp, the next test).
    assert.ok(sources.has(ENTRY), `${ENTRY} in the artifact`);
    for (const name of sources.keys()) {
      assert.ok(
        /^src\/functions\/(patch-user|get-user|post-confirmation|media-events)\/(handler|chunks\/[\w-]+)\.mjs$/.test(name) || name === MEDIA_EVENTS_ENTRY,
        `${name} in the artifact`,
      );
    }
    for (const [name, source] of sources) {
      assert.doesNotMatch(source, /sourceMappingURL/, `a source map reference in ${name}`);
      const imports = relativeImports(name, source);
      for (const target of [...imports.static, ...imports.dynamic]) {
        assert.ok(sources.has(target), `${name} imports ${target}, which is not in the artifact`);
      }
    }
    const total = files.reduce((sum, f) => sum + f.data.length, 0);
    // All four functions' bundles together (each function loads only its own closure, checked
    // below and in the bench); the stream function's SQS and CloudFront clients and the
    // confusables data of the username rules (a chunk of its own, loaded by renames and sign-up
    // only) took it past 2 MB.
    assert.ok(total < 2_500_000, `bundle of ${total} bytes unzipped`);

    // What a cold start reads: the environment's credentials are there; the SDK parts loaded only
    // when another credential source is needed (web identity, SSO, credential_process) are not.
    const atStart = staticClosure(ENTRY, sources);
    const startText = atStart.map((name) => sources.get(name)!).join('\n');
    assert.match(startText, /AWS_ACCESS_KEY_ID/);
    for (const lazy of ['AssumeRoleWithWebIdentity', 'GetRoleCredentials', 'credential_process', 'node:child_process']) {
      assert.ok(!startText.includes(lazy), `${lazy} is loaded at start`);
      assert.ok(
        [...sources].some(([name, source]) => !atStart.includes(name) && source.includes(lazy)),
        `${lazy} is in no lazily loaded chunk`,
      );
    }

    // Unzipped where no node_modules can be found but sharp (this machine's build: the zip's is
    // arm64): the entry exports the Lambda handler, and every chunk (those loaded at start and
    // those import() loads later) evaluates.
    const dir = join(workDir, 'prod-unzipped');
    for (const f of files) {
      await mkdir(join(dir, dirname(f.name)), { recursive: true });
      await writeFile(join(dir, f.name), f.data);
    }
    await linkHostSharp(dir);
    const script = `
      const entry = await import('./${ENTRY}');
      const chunks = [];
      for (const name of ${JSON.stringify([...sources.keys()].filter((name) => name !== ENTRY))}) {
        await import('./' + name);
        chunks.push(name);
      }
      console.log(JSON.stringify({ handler: typeof entry.handler, createHandler: typeof entry.createHandler, chunks: chunks.length }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: dir,
      env: { PATH: process.env.PATH },
    });
    assert.deepEqual(JSON.parse(stdout), { handler: 'function', createHandler: 'function', chunks: sources.size - 1 });
  });

  test('sharp travels in the zip, outside the bundle, for linux-arm64 glibc only', async () => {
    const files = readZip(prod.artifact);
    const modules = files.filter((f) => f.name.startsWith('node_modules/'));
    const packageOf = (name: string) => /^node_modules\/((?:@[^/]+\/)?[^/.][^/]*)\//.exec(name)?.[1];
    const packages = new Set(modules.map((f) => packageOf(f.name)).filter((name) => name !== undefined));

    // sharp at the version package.json pins, its dependencies, and of its platform packages
    // exactly Lambda's: linux, arm64, glibc (no x64, no musl, no other system).
    const project = JSON.parse(await readFile(join(PROJECT_DIR, 'package.json'), 'utf8'));
    const zipped = (name: string) => JSON.parse(files.find((f) => f.name === `node_modules/${name}/package.json`)!.data.toString('utf8'));
    assert.ok(packages.has('sharp'), 'sharp in the zip');
    assert.equal(zipped('sharp').version, project.dependencies.sharp);
    const platformPackages = [...packages].filter((name) => name!.startsWith('@img/sharp-')).sort();
    assert.deepEqual(platformPackages, ['@img/sharp-libvips-linux-arm64', '@img/sharp-linux-arm64']);
    const expected = new Set(['sharp', ...Object.keys(zipped('sharp').dependencies ?? {}), ...platformPackages]);
    assert.deepEqual([...packages].sort(), [...expected].sort(), 'node_modules holds sharp and what it needs, nothing else');

    // Every native file is an arm64 ELF: `e_machine` 183 (EM_AARCH64), 64-bit, little-endian.
    const native = modules.filter((f) => f.data.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46])));
    assert.ok(native.some((f) => f.name.endsWith('.node')) && native.some((f) => /\.so(\.|$)/.test(f.name)), native.map((f) => f.name).join());
    for (const f of native) {
      assert.deepEqual([f.data[4], f.data[5], f.data.readUInt16LE(18)], [2, 1, 183], `${f.name} is not linux-arm64`);
    }

    // Outside the bundle: none of sharp's code in the handler files, and nothing loaded at start
    // imports it: a text request never reads libvips (sharp comes by import() with an image).
    const sources = new Map(files.filter((f) => f.name.startsWith('src/')).map((f) => [f.name, f.data.toString('utf8')]));
    for (const [name, source] of sources) {
      assert.ok(!source.includes('@img/sharp-libvips-'), `sharp is bundled into ${name}`);
    }
    const staticSharp = /(?:^|[;}\n])\s*import\s*(?:[\w$*{][^;"'()]*?from\s*)?["']sharp["']/;
    for (const name of staticClosure(ENTRY, sources)) {
      assert.doesNotMatch(sources.get(name)!, staticSharp, `${name}, loaded at start, imports sharp`);
    }

    // Within Lambda's limits for a zip uploaded directly: 50 MB zipped, 250 MB unzipped.
    const unzipped = files.reduce((sum, f) => sum + f.data.length, 0);
    assert.ok(prod.artifact.length < 50_000_000 && unzipped < 250_000_000, `zip ${prod.artifact.length} bytes, ${unzipped} unzipped`);
  });

  test('with the environment’s credentials, as on Lambda, a text request needs no lazily loaded chunk, an image request only the pipeline’s', async () => {
    // Only what the entry imports statically, unzipped on its own: a chunk that a request reached
    // for would be missing (ERR_MODULE_NOT_FOUND, a 500) instead of the 503 of an unreachable AWS.
    // A text request needs only what the entry imports statically; an image request also the
    // image pipeline's chunk (import()ed by the handler) and sharp, which it imports.
    const files = readZip(prod.artifact).filter((f) => !f.name.startsWith('node_modules/'));
    const sources = new Map(files.map((f) => [f.name, f.data.toString('utf8')]));
    const atStart = new Set(staticClosure(ENTRY, sources));
    assert.ok(atStart.size < files.length, 'some chunks are loaded only by import()');
    const imageChunk = files.find((f) => /^src\/functions\/patch-user\/chunks\/normalize-[\w-]+\.mjs$/.test(f.name));
    assert.ok(imageChunk, 'the image pipeline is a chunk of its own');
    assert.ok(!atStart.has(imageChunk.name), 'the image pipeline is not loaded at start');
    const forImages = new Set(staticClosure(imageChunk.name, sources));
    const dir = join(workDir, 'prod-at-start');
    for (const f of files.filter((file) => atStart.has(file.name) || forImages.has(file.name))) {
      await mkdir(join(dir, dirname(f.name)), { recursive: true });
      await writeFile(join(dir, f.name), f.data);
    }
    // An image request loads sharp (import()) before its upload: this machine's build of it (the
    // zip's is arm64).
    await linkHostSharp(dir);
    const key = makeKey();
    const jwksFile = join(workDir, 'jwks.json');
    await writeFile(jwksFile, JSON.stringify({ keys: [key.jwk] }));
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const template = JSON.parse(await readFile(join(PROJECT_DIR, 'test', 'fixtures', 'events', 'rest-api-patch-json.json'), 'utf8'));
    const token = accessToken(key, { sub: '00000000-0000-4000-8000-000000000001' });
    const pixel = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
    const events = [
      jsonEvent(template, 1, token, { bio: 'hello' }), // UpdateItem: DynamoDB
      jsonEvent(template, 1, token, { avatar_base64: `image/png;base64,${pixel}` }), // PutObject first: S3
    ];
    const script = `
      const { handler } = await import('./${ENTRY}');
      const answers = [];
      for (const event of JSON.parse(process.env.EVENTS)) {
        const { statusCode, body } = await handler(event);
        answers.push({ statusCode, code: JSON.parse(body).errors?.[0]?.code });
      }
      console.log('ANSWERS ' + JSON.stringify(answers));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        EVENTS: JSON.stringify(events),
        // What Lambda gives every function: region and the role's credentials in the environment.
        AWS_REGION: TEST_POOL.region,
        AWS_ACCESS_KEY_ID: 'ASIAEXAMPLEEXAMPLE00',
        AWS_SECRET_ACCESS_KEY: 'example-secret',
        AWS_SESSION_TOKEN: 'example-session-token',
        // The SDK's own endpoint settings (no endpoint in the config, so no local credentials).
        AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${closedPort}`,
        AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${closedPort}`,
        TABLE_NAME: 'users',
        MEDIA_BUCKET: 'media',
        MEDIA_BASE_URL: 'https://media.example.org',
        COGNITO_USER_POOL_ID: TEST_POOL.userPoolId,
        COGNITO_CLIENT_ID: TEST_POOL.clientId,
        COGNITO_JWKS_FILE: jwksFile,
        AWS_MAX_ATTEMPTS: '1',
        AWS_REQUEST_TIMEOUT_MS: '1000',
      },
    });
    const line = stdout.split('\n').find((l) => l.startsWith('ANSWERS '));
    assert.ok(line, stdout);
    assert.deepEqual(JSON.parse(line.slice('ANSWERS '.length)), [
      { statusCode: 503, code: 'service_unavailable' },
      { statusCode: 503, code: 'service_unavailable' },
    ]);
  });

  test('API Gateway passes multipart bodies as binary', () => {
    const api = resource(prod.template, 'ApiGatewayRestApi', 'AWS::ApiGateway::RestApi');
    assert.ok(api.Properties.BinaryMediaTypes.includes('multipart/form-data'));
    const methods = resourcesOfType(prod.template, 'AWS::ApiGateway::Method').map(([, r]) => r.Properties.HttpMethod);
    assert.deepEqual(methods.sort(), ['ANY', 'ANY', 'GET', 'GET', 'PATCH'], 'no CORS preflight unless origins are configured');
  });

  test('no policy statement allows a wildcard action, resource or principal', () => {
    const statements = allStatements(prod.template);
    assert.ok(statements.length > 0);
    for (const statement of statements.filter((s) => s.Effect === 'Allow')) {
      const where = JSON.stringify(statement);
      for (const action of list(statement.Action)) assert.ok(!action.includes('*'), `action ${action} in ${where}`);
      for (const resource of list(statement.Resource)) assert.notEqual(resource, '*', `resource * in ${where}`);
      assert.notEqual(statement.Principal, '*', `principal * in ${where}`);
      assert.notDeepEqual(statement.Principal, { AWS: '*' }, `principal * in ${where}`);
    }
  });

  test('the API function may make exactly the AWS calls its code makes, on this table and the media prefixes', async () => {
    const [logs, ...others] = roleStatements(prod.template, 'PatchUserLambdaFunction');
    assert.deepEqual(logs, {
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: [{ 'Fn::GetAtt': ['PatchUserLogGroup', 'Arn'] }],
    });
    assert.deepEqual(others.flatMap((s) => list(s.Action)).sort(), await actionsTheCodeNeeds('src/functions/patch-user/handler.ts'));

    const dynamodb = others.filter((s) => list(s.Action).some((a) => a.startsWith('dynamodb:')));
    const s3 = others.filter((s) => list(s.Action).some((a) => a.startsWith('s3:')));
    assert.equal(dynamodb.length + s3.length, others.length);
    for (const s of dynamodb) assert.deepEqual(list(s.Resource), [{ 'Fn::GetAtt': ['UsersTable', 'Arn'] }]);
    for (const s of s3) assert.deepEqual(list(s.Resource), [bucketObjects('avatar'), bucketObjects('cover')]);
    // No role shared by both functions, which would give the API the stream function's rights.
    assert.equal(prod.template.Resources.IamRoleLambdaExecution, undefined);
  });

  test('the table is on demand, recoverable, protected from deletion and retained', () => {
    const table = resource(prod.template, 'UsersTable', 'AWS::DynamoDB::Table');
    assert.equal(table.DeletionPolicy, 'Retain');
    assert.equal(table.UpdateReplacePolicy, 'Retain');
    assert.equal(table.Properties.BillingMode, 'PAY_PER_REQUEST');
    assert.equal(table.Properties.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled, true);
    assert.equal(table.Properties.DeletionProtectionEnabled, true);
    assert.deepEqual(table.Properties.KeySchema, [{ AttributeName: 'pk', KeyType: 'HASH' }]);
    assert.deepEqual(table.Properties.AttributeDefinitions, [{ AttributeName: 'pk', AttributeType: 'S' }]);
    assert.equal(table.Properties.GlobalSecondaryIndexes, undefined);
  });

  test('the bucket is private, encrypted, retained, and expires pending uploads', () => {
    const bucket = resource(prod.template, 'MediaBucket', 'AWS::S3::Bucket');
    assert.equal(bucket.DeletionPolicy, 'Retain');
    assert.equal(bucket.UpdateReplacePolicy, 'Retain');
    const p = bucket.Properties;
    assert.deepEqual(p.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true,
    });
    assert.deepEqual(p.OwnershipControls.Rules, [{ ObjectOwnership: 'BucketOwnerEnforced' }]);
    assert.deepEqual(p.BucketEncryption.ServerSideEncryptionConfiguration, [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }]);
    // src/store/media-lifecycle.ts PENDING_TAG: uploads nobody points at yet (or any more) are garbage, but
    // only well after the stream's retry window (its records live 24 h) has passed.
    const [rule, ...others] = p.LifecycleConfiguration.Rules;
    assert.deepEqual(others, []);
    assert.deepEqual({ ...rule, ExpirationInDays: undefined }, {
      Id: 'expire-pending-uploads', Status: 'Enabled', TagFilters: [{ Key: 'state', Value: 'pending' }], ExpirationInDays: undefined,
    });
    assert.equal(p.CorsConfiguration, undefined, 'browsers never call the bucket');
    assert.equal(p.WebsiteConfiguration, undefined);
  });

  test('only the media distribution reads the bucket, and only avatars and covers', () => {
    const policy = resource(prod.template, 'MediaBucketPolicy', 'AWS::S3::BucketPolicy').Properties;
    assert.deepEqual(policy.Bucket, { Ref: 'MediaBucket' });
    const allows = (policy.PolicyDocument.Statement as Statement[]).filter((s) => s.Effect === 'Allow');
    assert.equal(allows.length, 1);
    const [read] = allows;
    assert.deepEqual(read!.Principal, { Service: 'cloudfront.amazonaws.com' });
    assert.deepEqual(list(read!.Action), ['s3:GetObject']);
    assert.deepEqual(list(read!.Resource), [bucketObjects('avatar'), bucketObjects('cover')]);
    const sourceArn = read!.Condition.StringEquals['AWS:SourceArn'];
    assert.ok(JSON.stringify(sourceArn).includes('{"Ref":"MediaDistribution"}'), JSON.stringify(sourceArn));
    const denies = (policy.PolicyDocument.Statement as Statement[]).filter((s) => s.Effect === 'Deny');
    assert.deepEqual(denies.map((s) => s.Condition), [{ Bool: { 'aws:SecureTransport': 'false' } }]);
  });

  test('CloudFront serves the media over HTTPS through origin access control', () => {
    const oac = resource(prod.template, 'MediaOriginAccessControl', 'AWS::CloudFront::OriginAccessControl');
    assert.deepEqual(
      { ...oac.Properties.OriginAccessControlConfig, Name: undefined, Description: undefined },
      { Name: undefined, Description: undefined, OriginAccessControlOriginType: 's3', SigningBehavior: 'always', SigningProtocol: 'sigv4' },
    );
    const config = resolveIfs(prod.template, resource(prod.template, 'MediaDistribution', 'AWS::CloudFront::Distribution').Properties.DistributionConfig);
    assert.equal(config.Enabled, true);
    assert.deepEqual(config.Origins, [
      {
        Id: 'media-bucket',
        DomainName: { 'Fn::GetAtt': ['MediaBucket', 'RegionalDomainName'] },
        OriginAccessControlId: { 'Fn::GetAtt': ['MediaOriginAccessControl', 'Id'] },
        S3OriginConfig: { OriginAccessIdentity: '' },
      },
    ]);
    const behavior = config.DefaultCacheBehavior;
    assert.equal(behavior.TargetOriginId, 'media-bucket');
    assert.equal(behavior.ViewerProtocolPolicy, 'redirect-to-https');
    assert.deepEqual(behavior.AllowedMethods, ['GET', 'HEAD']);
    assert.equal(behavior.CachePolicyId, '658327ea-f89d-4fab-a63d-7e88639e58f6', 'managed policy CachingOptimized');
    assert.equal(behavior.ResponseHeadersPolicyId, '67f7725c-6f97-4210-82d7-5512b31e9d03', 'managed SecurityHeadersPolicy');
    assert.equal(config.Aliases, undefined);
    assert.deepEqual(config.ViewerCertificate, { CloudFrontDefaultCertificate: true });
    assert.deepEqual(resolveIfs(prod.template, prod.template.Outputs.MediaBaseUrl.Value), distributionUrl);
  });

  test('logs: JSON lines, retained for 30 days, no API Gateway logging', () => {
    const group = resource(prod.template, 'PatchUserLogGroup', 'AWS::Logs::LogGroup');
    assert.equal(group.Properties.RetentionInDays, 30);
    assert.deepEqual(fnFunction(prod.template).Properties.LoggingConfig, {
      LogFormat: 'JSON', ApplicationLogLevel: 'INFO', SystemLogLevel: 'INFO',
    });
    const groups = resourcesOfType(prod.template, 'AWS::Logs::LogGroup').map(([id]) => id);
    assert.deepEqual(
      groups.sort(),
      ['GetUserLogGroup', 'MediaEventsLogGroup', 'PatchUserLogGroup', 'PostConfirmationLogGroup'],
      'no API Gateway access log group',
    );
    assert.deepEqual(resourcesOfType(prod.template, 'Custom::ApiGatewayAccountRole'), []);
  });

  test('API Gateway’s own errors use the error envelope and are part of the first deployment', () => {
    const responses = resourcesOfType(prod.template, 'AWS::ApiGateway::GatewayResponse');
    const byType = Object.fromEntries(
      responses.map(([, r]) => {
        const body = JSON.parse(r.Properties.ResponseTemplates['application/json']);
        return [r.Properties.ResponseType, { status: r.Properties.StatusCode, code: body.errors[0].code }];
      }),
    );
    assert.deepEqual(byType, {
      MISSING_AUTHENTICATION_TOKEN: { status: '404', code: 'not_found' },
      REQUEST_TOO_LARGE: { status: '413', code: 'request_too_large' },
      THROTTLED: { status: '429', code: 'throttled' },
      DEFAULT_4XX: { status: undefined, code: 'error' },
      DEFAULT_5XX: { status: undefined, code: 'server_error' },
    });
    const method = resource(prod.template, 'ApiGatewayMethodApiV2UserIdVarPatch', 'AWS::ApiGateway::Method');
    for (const [id] of responses) assert.ok(method.DependsOn?.includes(id), `the method waits for ${id}`);
  });

  test('the demo user pool is not created, and conditions compare strings', () => {
    assert.equal(condition(prod.template, 'CreateDemoUserPool'), false);
    assert.equal(prod.template.Resources.DemoUserPool?.Condition, 'CreateDemoUserPool');
    assert.equal(prod.template.Resources.DemoUserPoolClient?.Condition, 'CreateDemoUserPool');
    for (const name of Object.keys(prod.template.Conditions ?? {})) condition(prod.template, name);
  });

  test('CORS is off without configured origins', () => {
    assert.equal(environmentOf(prod.template).CORS_ALLOWED_ORIGINS, '');
    assert.ok(!resourcesOfType(prod.template, 'AWS::ApiGateway::Method').some(([, r]) => r.Properties.HttpMethod === 'OPTIONS'));
  });

  test('the outputs a deployer needs', () => {
    const outputs = prod.template.Outputs;
    for (const name of ['ServiceEndpoint', 'UsersTableName', 'MediaBucketName', 'MediaDistributionId', 'MediaDistributionDomainName', 'MediaBaseUrl']) {
      assert.ok(outputs[name], `output ${name}`);
    }
    assert.equal(outputs.DemoUserPoolId.Condition, 'CreateDemoUserPool');
  });

  test('without the Cognito inputs packaging fails and names them', () => {
    assert.notEqual(withoutInputs.code, 0);
    const output = `${withoutInputs.stdout}\n${withoutInputs.stderr}`;
    assert.match(output, /COGNITO_USER_POOL_ID/);
    assert.match(output, /COGNITO_CLIENT_ID/);
  });
});

describe('the stream function, its dead-letter queue and the alarms', () => {
  const mapping = (template: Template): Resource => {
    const mappings = resourcesOfType(template, 'AWS::Lambda::EventSourceMapping');
    assert.equal(mappings.length, 1, 'one event source mapping');
    return mappings[0]![1];
  };
  const busArn = (name: string) => ({
    'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:event-bus/${name}`]],
  });

  test('the table keeps a stream of new and old images', () => {
    for (const template of [prod.template, demo.template]) {
      const table = resource(template, 'UsersTable', 'AWS::DynamoDB::Table');
      assert.deepEqual(table.Properties.StreamSpecification, { StreamViewType: 'NEW_AND_OLD_IMAGES' });
    }
  });

  test('the stream triggers mediaEvents with partial batch responses, bisection, bounded retries and a dead-letter queue', () => {
    const { Properties } = mapping(prod.template);
    assert.deepEqual(Properties.EventSourceArn, { 'Fn::GetAtt': ['UsersTable', 'StreamArn'] });
    assert.deepEqual(Properties.FunctionName, { 'Fn::GetAtt': ['MediaEventsLambdaFunction', 'Arn'] });
    assert.equal(Properties.Enabled, true);
    assert.equal(Properties.StartingPosition, 'TRIM_HORIZON', 'nothing written before the mapping existed is skipped');
    assert.ok(Properties.BatchSize >= 1 && Properties.BatchSize <= 100, `batch size ${Properties.BatchSize}`);
    assert.ok(Properties.MaximumRetryAttempts >= 1, 'failed batches are retried');
    assert.equal(Properties.BisectBatchOnFunctionError, true);
    assert.deepEqual(Properties.FunctionResponseTypes, ['ReportBatchItemFailures']);
    assert.deepEqual(Properties.DestinationConfig, { OnFailure: { Destination: { 'Fn::GetAtt': ['MediaEventsDeadLetterQueue', 'Arn'] } } });
  });

  test('the stream function: its module, Node 24 on arm64, its own environment', () => {
    const fn = resource(prod.template, 'MediaEventsLambdaFunction', 'AWS::Lambda::Function').Properties;
    assert.equal(fn.Handler, `${MEDIA_EVENTS_MODULE}.handler`);
    assert.equal(fn.Runtime, 'nodejs24.x');
    assert.deepEqual(fn.Architectures, ['arm64']);
    assert.ok(fn.Timeout >= 10 && fn.Timeout <= 900, `timeout ${fn.Timeout}`);
    const env = fn.Environment.Variables;
    assert.deepEqual(env.MEDIA_BUCKET, { Ref: 'MediaBucket' });
    assert.deepEqual(resolveIfs(prod.template, env.MEDIA_BASE_URL), distributionUrl);
    assert.deepEqual(env.EVENT_BUS_NAME, { Ref: 'UserEventBus' }, 'the stack’s own bus, never the account’s default');
    const demoEnv = resource(demo.template, 'MediaEventsLambdaFunction', 'AWS::Lambda::Function').Properties.Environment.Variables;
    assert.deepEqual(demoEnv.EVENT_BUS_NAME, { Ref: 'UserEventBus' });
    assert.equal(resolveIfs(demo.template, demoEnv.MEDIA_BASE_URL), 'https://media.example.org');
    for (const name of ['S3_ENDPOINT', 'EVENTBRIDGE_ENDPOINT', 'DYNAMODB_ENDPOINT', 'DEAD_LETTER_FILE']) assert.equal(env[name], undefined, name);
    // Records no retry can fix go to the stack's dead-letter queue; deleted images leave its distribution.
    assert.deepEqual(env.DEAD_LETTER_QUEUE_URL, { Ref: 'MediaEventsDeadLetterQueue' });
    assert.deepEqual(env.CDN_DISTRIBUTION_ID, { Ref: 'MediaDistribution' });
    assert.ok(resource(prod.template, 'MediaEventsLogGroup', 'AWS::Logs::LogGroup'));
  });

  test('the stream function’s role: read the stream, tag and delete media, put events on the bus, dead-letter; nothing else', async () => {
    for (const template of [prod.template, demo.template]) {
      const statements = roleStatements(template, 'MediaEventsLambdaFunction');
      assert.deepEqual(statements, [
        { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: [{ 'Fn::GetAtt': ['MediaEventsLogGroup', 'Arn'] }] },
        {
          Effect: 'Allow',
          Action: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'],
          Resource: [{ 'Fn::GetAtt': ['UsersTable', 'StreamArn'] }],
        },
        { Effect: 'Allow', Action: ['s3:PutObjectTagging', 's3:DeleteObject'], Resource: [bucketObjects('avatar'), bucketObjects('cover')] },
        { Effect: 'Allow', Action: ['events:PutEvents'], Resource: [{ 'Fn::GetAtt': ['UserEventBus', 'Arn'] }] },
        { Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: [{ 'Fn::GetAtt': ['MediaEventsDeadLetterQueue', 'Arn'] }] },
        {
          Effect: 'Allow',
          Action: ['cloudfront:CreateInvalidation'],
          Resource: [
            {
              'Fn::Join': [
                '',
                ['arn:', { Ref: 'AWS::Partition' }, ':cloudfront::', { Ref: 'AWS::AccountId' }, ':distribution/', { Ref: 'MediaDistribution' }],
              ],
            },
          ],
        },
      ]);
    }
    // Exactly what the stream function's code sends, besides its logs and the stream reads the
    // event source mapping makes with its role.
    const granted = roleStatements(prod.template, 'MediaEventsLambdaFunction')
      .flatMap((s) => list(s.Action))
      .filter((action) => !action.startsWith('logs:') && !action.startsWith('dynamodb:'));
    assert.deepEqual(granted.sort(), await actionsTheCodeNeeds(`${MEDIA_EVENTS_MODULE}.ts`));
  });

  test('events go to a bus of the stack’s own whose policy lets only the stream function put (contract, "Events")', () => {
    for (const [template, name] of [[prod.template, 'selfcommunity-users-prod'], [demo.template, 'community-events']] as const) {
      const buses = resourcesOfType(template, 'AWS::Events::EventBus');
      assert.deepEqual(buses.map(([id]) => id), ['UserEventBus'], 'one bus, the stack’s');
      const { Name, Policy } = buses[0]![1].Properties;
      assert.equal(Name, name);
      assert.notEqual(Name, 'default');
      const role = { 'Fn::GetAtt': ['MediaEventsRole', 'Arn'] };
      const statements = Policy.Statement as Json[];
      const puts = statements.filter((s) => list(s.Action).includes('events:PutEvents'));
      assert.deepEqual(
        puts.map((s) => ({ Effect: s.Effect, Principal: s.Principal, Resource: s.Resource, Condition: s.Condition })),
        [
          { Effect: 'Allow', Principal: { AWS: role }, Resource: busArn(name), Condition: undefined },
          { Effect: 'Deny', Principal: '*', Resource: busArn(name), Condition: { ArnNotEquals: { 'aws:PrincipalArn': role } } },
        ],
        'the stream function’s role may put, and every other principal is denied whatever its own IAM says',
      );
      // Reading is through rules on this bus, by this account only; nobody is granted more.
      for (const s of statements.filter((s) => !puts.includes(s))) {
        assert.equal(s.Effect, 'Allow');
        assert.deepEqual(s.Principal, { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root']] } });
        for (const action of list(s.Action)) assert.match(action, /^events:(PutRule|PutTargets|DeleteRule|RemoveTargets|DescribeRule|ListTargetsByRule)$/);
        assert.ok(JSON.stringify(s.Resource).includes(`:rule/${name}/*`), JSON.stringify(s.Resource));
      }
      assert.deepEqual(template.Outputs.UserEventBusName.Value, { Ref: 'UserEventBus' });
    }
  });

  test('the dead-letter queue keeps messages 14 days, encrypted', () => {
    const queue = resource(prod.template, 'MediaEventsDeadLetterQueue', 'AWS::SQS::Queue').Properties;
    assert.equal(queue.MessageRetentionPeriod, 1_209_600);
    assert.equal(queue.SqsManagedSseEnabled, true);
  });

  test('no pending upload expires while a record holding it can still be applied or replayed', () => {
    // A record waits at most 24 h in the table's stream (DynamoDB's fixed retention), then as long
    // as the dead-letter queue keeps it; the image it holds must still exist when it is replayed.
    const STREAM_RETENTION_SECONDS = 24 * 3600;
    for (const template of [prod.template, demo.template, dev.template]) {
      const [rule] = resource(template, 'MediaBucket', 'AWS::S3::Bucket').Properties.LifecycleConfiguration.Rules;
      const queue = resource(template, 'MediaEventsDeadLetterQueue', 'AWS::SQS::Queue').Properties;
      assert.equal(typeof rule.ExpirationInDays, 'number');
      assert.equal(typeof queue.MessageRetentionPeriod, 'number');
      assert.ok(
        rule.ExpirationInDays * 86400 > STREAM_RETENTION_SECONDS + queue.MessageRetentionPeriod,
        `pending uploads expire after ${rule.ExpirationInDays} days; a record may wait 1 + ${queue.MessageRetentionPeriod / 86400} days`,
      );
    }
  });

  test('alarms on API 5xx, errors and throttles of each function, iterator age and dead letters, to one topic', () => {
    const api = resource(prod.template, 'ApiGatewayRestApi', 'AWS::ApiGateway::RestApi');
    const alarms = resourcesOfType(prod.template, 'AWS::CloudWatch::Alarm').map(([, r]) => r.Properties);
    const watched = alarms.map((a) => `${a.Namespace} ${a.MetricName} ${JSON.stringify(a.Dimensions.map((d: Json) => d.Value))}`).sort();
    assert.deepEqual(watched, [
      `AWS/ApiGateway 5XXError ${JSON.stringify([api.Properties.Name])}`,
      'AWS/Lambda Errors [{"Ref":"GetUserLambdaFunction"}]',
      'AWS/Lambda Errors [{"Ref":"MediaEventsLambdaFunction"}]',
      'AWS/Lambda Errors [{"Ref":"PatchUserLambdaFunction"}]',
      'AWS/Lambda Errors [{"Ref":"PostConfirmationLambdaFunction"}]',
      'AWS/Lambda IteratorAge [{"Ref":"MediaEventsLambdaFunction"}]',
      'AWS/Lambda Throttles [{"Ref":"GetUserLambdaFunction"}]',
      'AWS/Lambda Throttles [{"Ref":"MediaEventsLambdaFunction"}]',
      'AWS/Lambda Throttles [{"Ref":"PatchUserLambdaFunction"}]',
      'AWS/Lambda Throttles [{"Ref":"PostConfirmationLambdaFunction"}]',
      'AWS/SQS ApproximateNumberOfMessagesVisible [{"Fn::GetAtt":["MediaEventsDeadLetterQueue","QueueName"]}]',
    ]);
    for (const alarm of alarms) {
      assert.deepEqual(alarm.AlarmActions, [{ Ref: 'AlarmTopic' }]);
      assert.equal(alarm.TreatMissingData, 'notBreaching', 'no data (no traffic) is not an alarm');
      assert.equal(alarm.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
      assert.ok(alarm.Threshold > 0 && alarm.EvaluationPeriods >= 1 && alarm.Period >= 60);
      assert.ok(alarm.AlarmDescription, 'says what happened');
    }
    const iteratorAge = alarms.find((a) => a.MetricName === 'IteratorAge');
    assert.equal(iteratorAge.Statistic, 'Maximum');
    assert.ok(iteratorAge.Threshold < 24 * 3600 * 1000, 'fires long before records leave the stream');
    assert.equal(alarms.find((a) => a.Namespace === 'AWS/SQS').Threshold, 1, 'one dead letter is enough');
    resource(prod.template, 'AlarmTopic', 'AWS::SNS::Topic');
    assert.deepEqual(prod.template.Outputs.AlarmTopicArn, { Value: { Ref: 'AlarmTopic' } });
    assert.deepEqual(prod.template.Outputs.MediaEventsDeadLetterQueueUrl, { Value: { Ref: 'MediaEventsDeadLetterQueue' } });
  });

  test('an e-mail subscription to the alarms only when ALARM_EMAIL is given', () => {
    assert.equal(prod.template.Resources.AlarmEmailSubscription?.Condition, 'AlarmEmailGiven');
    assert.equal(condition(prod.template, 'AlarmEmailGiven'), false);
    assert.equal(condition(demo.template, 'AlarmEmailGiven'), true);
    const subscription = resource(demo.template, 'AlarmEmailSubscription', 'AWS::SNS::Subscription').Properties;
    assert.deepEqual(subscription, { TopicArn: { Ref: 'AlarmTopic' }, Protocol: 'email', Endpoint: 'ops@example.org' });
  });
});

describe('osls package --stage demo (own user pool, CORS, media domain)', () => {
  test('the stack creates a user pool and client and the function uses them', () => {
    assert.equal(condition(demo.template, 'CreateDemoUserPool'), true);
    const pool = resource(demo.template, 'DemoUserPool', 'AWS::Cognito::UserPool');
    // People sign up themselves; the Post confirmation trigger creates their user.
    assert.equal(pool.Properties.AdminCreateUserConfig.AllowAdminCreateUserOnly, false);
    const client = resource(demo.template, 'DemoUserPoolClient', 'AWS::Cognito::UserPoolClient');
    assert.deepEqual(client.Properties.UserPoolId, { Ref: 'DemoUserPool' });
    assert.equal(client.Properties.GenerateSecret, false);
    const env = environmentOf(demo.template);
    assert.deepEqual(env.COGNITO_USER_POOL_ID, { Ref: 'DemoUserPool' });
    assert.deepEqual(env.COGNITO_CLIENT_ID, { Ref: 'DemoUserPoolClient' });
  });

  test('a demo stage is disposable: nothing retained or protected, short log retention', () => {
    const table = resource(demo.template, 'UsersTable', 'AWS::DynamoDB::Table');
    assert.equal(table.DeletionPolicy, 'Delete');
    assert.equal(table.Properties.DeletionProtectionEnabled, false);
    assert.equal(resource(demo.template, 'MediaBucket', 'AWS::S3::Bucket').DeletionPolicy, 'Delete');
    assert.equal(resource(demo.template, 'PatchUserLogGroup', 'AWS::Logs::LogGroup').Properties.RetentionInDays, 14);
  });

  test('configured origins get a preflight and reach the function', () => {
    const origins = 'https://app.example.org,https://admin.example.org';
    assert.equal(environmentOf(demo.template).CORS_ALLOWED_ORIGINS, origins);
    const options = resourcesOfType(demo.template, 'AWS::ApiGateway::Method').find(
      ([, r]) => r.Properties.HttpMethod === 'OPTIONS' && r.Properties.ResourceId.Ref === 'ApiGatewayResourceApiV2UserIdVar',
    );
    assert.ok(options, 'an OPTIONS method');
    const [integration] = options[1].Properties.Integration.IntegrationResponses;
    const headers = integration.ResponseParameters;
    assert.equal(headers['method.response.header.Access-Control-Allow-Headers'], "'Authorization,Content-Type,If-Match,If-None-Match'");
    assert.deepEqual(headers['method.response.header.Access-Control-Allow-Methods'].replace(/'/g, '').split(',').sort(), ['GET', 'OPTIONS', 'PATCH']);
    assert.equal(headers['method.response.header.Access-Control-Allow-Credentials'], undefined);
    const template = integration.ResponseTemplates['application/json'];
    assert.match(template, /https:\/\/app\[\.\]example\[\.\]org/);
    assert.match(template, /https:\/\/admin\[\.\]example\[\.\]org/);
  });

  test('the methods no route names (ANY) leave the preflight to API Gateway and out of its allowed methods', () => {
    const methods = resourcesOfType(demo.template, 'AWS::ApiGateway::Method').map(([, r]) => r.Properties);
    for (const [resourceId, allowed] of [
      ['ApiGatewayResourceApiV2UserIdVar', ['GET', 'OPTIONS', 'PATCH']],
      ['ApiGatewayResourceApiV2UserMe', ['GET', 'OPTIONS']],
    ] as const) {
      const on = methods.filter((m) => m.ResourceId.Ref === resourceId);
      assert.ok(on.some((m) => m.HttpMethod === 'ANY'), `ANY on ${resourceId}`);
      // OPTIONS is a method of its own, which API Gateway prefers over ANY: the preflight never
      // reaches a function, and it allows only the methods the path serves.
      const options = on.find((m) => m.HttpMethod === 'OPTIONS');
      assert.ok(options, `a preflight on ${resourceId}`);
      assert.equal(options.Integration.Type, 'MOCK');
      const headers = options.Integration.IntegrationResponses[0].ResponseParameters;
      assert.deepEqual(headers['method.response.header.Access-Control-Allow-Methods'].replace(/'/g, '').split(',').sort(), allowed);
    }
  });

  test('a media domain of your own goes on the distribution and into the image URLs', () => {
    const config = resolveIfs(demo.template, resource(demo.template, 'MediaDistribution', 'AWS::CloudFront::Distribution').Properties.DistributionConfig);
    assert.deepEqual(config.Aliases, ['media.example.org']);
    assert.equal(config.ViewerCertificate.AcmCertificateArn, 'arn:aws:acm:us-east-1:000000000000:certificate/example');
    assert.equal(config.ViewerCertificate.SslSupportMethod, 'sni-only');
    assert.equal(resolveIfs(demo.template, environmentOf(demo.template).MEDIA_BASE_URL), 'https://media.example.org');
  });

  test('the pool ids are outputs', () => {
    assert.deepEqual(demo.template.Outputs.DemoUserPoolId, { Condition: 'CreateDemoUserPool', Value: { Ref: 'DemoUserPool' } });
    assert.deepEqual(demo.template.Outputs.DemoUserPoolClientId, { Condition: 'CreateDemoUserPool', Value: { Ref: 'DemoUserPoolClient' } });
  });
});

describe('osls package --stage dev with MEDIA_BASE_URL', () => {
  test('an explicit media base URL wins over the distribution', () => {
    assert.equal(resolveIfs(dev.template, environmentOf(dev.template).MEDIA_BASE_URL), 'https://cdn.example.net/media');
    assert.equal(resource(dev.template, 'UsersTable', 'AWS::DynamoDB::Table').DeletionPolicy, 'Delete');
  });
});

describe('serverless.yml', () => {
  test('holds no account id, pool id, client id or key', async () => {
    // The configuration and the resource files it includes (infra/).
    const files = ['serverless.yml', ...(await readdir(join(PROJECT_DIR, 'infra'), { recursive: true })).map((file) => join('infra', file))];
    const texts = await Promise.all(files.filter((file) => /\.(ya?ml|c?js)$/.test(file)).map((file) => readFile(join(PROJECT_DIR, file), 'utf8')));
    const text = texts.join('\n');
    assert.doesNotMatch(text, /\b\d{12}\b/, 'an AWS account id');
    assert.doesNotMatch(text, /\b[a-z]{2}(-[a-z]+)+-\d_[0-9A-Za-z]{9}\b/, 'a user pool id');
    assert.doesNotMatch(text, /arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d/, 'an ARN with an account');
    assert.doesNotMatch(text, /(secret|password|private_?key)\s*[:=]\s*['"]?[A-Za-z0-9+/]{8,}/i, 'a secret');
  });
});

// ---------------------------------------------------------------------------------------------
// The read function and the sign-up trigger

/** The IAM actions of the AWS commands `files` send (TransactWrite* as their item actions). */
async function actionsOf(files: string[]): Promise<string[]> {
  const actions = new Set<string>();
  for (const file of files) {
    const source = await readFile(join(PROJECT_DIR, file), 'utf8');
    for (const [, command] of source.matchAll(/new (\w+Command)\(/g)) for (const action of ACTIONS_OF_COMMAND[command!] ?? []) actions.add(action);
    if (/new TransactWrite(Items)?Command\(/.test(source)) {
      for (const [, kind] of source.matchAll(/^\s*(Put|Delete|Update|ConditionCheck): \{/gm)) actions.add(TRANSACT_ITEM_ACTIONS[kind!]!);
    }
  }
  return [...actions].sort();
}

function functionRole(template: Template, functionId: string, roleId: string): Statement[] {
  const fn = resource(template, functionId, 'AWS::Lambda::Function');
  assert.deepEqual(fn.Properties.Role, { 'Fn::GetAtt': [roleId, 'Arn'] });
  const role = resource(template, roleId, 'AWS::IAM::Role');
  assert.deepEqual(role.Properties.AssumeRolePolicyDocument.Statement, [
    { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
  ]);
  return role.Properties.Policies.flatMap((policy: Json) => policy.PolicyDocument.Statement as Statement[]);
}

/** Table statements as `action: leading keys`, and the log statements' resources. */
function splitStatements(statements: Statement[]) {
  const logs = statements.filter((s) => list(s.Action).every((a) => a.startsWith('logs:')));
  // Denies narrow the grants (mayCall evaluates both); the grants are the Allow statements.
  const table = statements.filter((s) => !logs.includes(s) && s.Effect === 'Allow');
  for (const s of table) assert.deepEqual(list(s.Resource), [{ 'Fn::GetAtt': ['UsersTable', 'Arn'] }]);
  const keys = Object.fromEntries(
    table.flatMap((s) => {
      const condition = s.Condition?.['ForAllValues:StringLike'] ?? s.Condition?.['ForAllValues:StringEquals'];
      assert.ok(condition, `a leading-key condition on ${JSON.stringify(s)}`);
      return list(s.Action).map((action) => [action, [...condition['dynamodb:LeadingKeys']].sort()]);
    }),
  );
  return { logs, keys };
}

const ENTRIES = { getUser: 'src/functions/get-user/handler.mjs', postConfirmation: 'src/functions/post-confirmation/handler.mjs' };

/** IAM's `StringLike`: `*` any run of characters, `?` any one, case-sensitive. */
const stringLike = (pattern: string, value: string) =>
  new RegExp('^' + pattern.replace(/[.+^$(){}|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$').test(value);

/**
 * How IAM decides a DynamoDB item action on the table for one partition key, from a role's
 * statements: an explicit Deny wins, else an Allow must match, else it is denied.
 */
function mayCall(statements: Statement[], action: string, leadingKey: string): boolean {
  const applies = (s: Statement) => {
    if (!list(s.Action).includes(action)) return false;
    if (!list(s.Resource).some((r) => JSON.stringify(r) === JSON.stringify({ 'Fn::GetAtt': ['UsersTable', 'Arn'] }))) return false;
    for (const [operator, values] of Object.entries(s.Condition ?? {}) as [string, Record<string, string[]>][]) {
      const [qualifier, test] = operator.split(':') as [string, string];
      assert.deepEqual(Object.keys(values), ['dynamodb:LeadingKeys'], `condition keys of ${JSON.stringify(s)}`);
      assert.ok(['ForAllValues', 'ForAnyValue'].includes(qualifier), operator);
      const patterns = list(values['dynamodb:LeadingKeys']!);
      // One key per item action: ForAllValues and ForAnyValue agree on a one-value set.
      const match = test === 'StringLike' ? patterns.some((p) => stringLike(p, leadingKey)) : test === 'StringEquals' && patterns.includes(leadingKey);
      assert.ok(test === 'StringLike' || test === 'StringEquals', operator);
      if (!match) return false;
    }
    return true;
  };
  if (statements.some((s) => s.Effect === 'Deny' && applies(s))) return false;
  return statements.some((s) => s.Effect === 'Allow' && applies(s));
}

describe('GET function and sign-up trigger (osls package)', () => {
  test('getUser serves GET /me, GET /{id} and the 405 of PATCH /me, and may only read users and sub index items', async () => {
    const fn = resource(prod.template, 'GetUserLambdaFunction', 'AWS::Lambda::Function');
    assert.equal(fn.Properties.Handler, 'src/functions/get-user/handler.handler');
    const routes = resourcesOfType(prod.template, 'AWS::ApiGateway::Method')
      .filter(([, r]) => JSON.stringify(r.Properties.Integration).includes('GetUserLambdaFunction'))
      .map(([id, r]) => `${r.Properties.HttpMethod} ${id}`)
      .sort();
    assert.deepEqual(routes, [
      'ANY ApiGatewayMethodApiV2UserIdVarAny',
      'ANY ApiGatewayMethodApiV2UserMeAny',
      'GET ApiGatewayMethodApiV2UserIdVarGet',
      'GET ApiGatewayMethodApiV2UserMeGet',
    ]);
    const statements = functionRole(prod.template, 'GetUserLambdaFunction', 'GetUserRole');
    const { logs, keys } = splitStatements(statements);
    assert.deepEqual(Object.keys(keys), ['dynamodb:GetItem']);
    for (const s of logs) assert.match(s.Resource['Fn::Sub'], /:log-group:\/aws\/lambda\/selfcommunity-user-patch-prod-getUser:\*$/);
    // The data model's items, as IAM decides a GetItem of each: users and sub index items only.
    // `USER#*` alone would match username claims (`USERNAME#…`) too.
    for (const [key, allowed] of [
      ['USER#5', true],
      ['USER#123456789012345', true],
      ['SUB#0b5c5e3a-1c1d-4f4e-9c1b-6a8f7f0e2d11', true],
      ['USERNAME#alice', false],
      ['USERNAME#user#5', false],
      ['USERNAME#', false],
      ['COUNTER#user', false],
      ['user#5', false],
    ] as const) {
      assert.equal(mayCall(statements, 'dynamodb:GetItem', key), allowed, `GetItem of ${key}`);
    }
    for (const action of ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Scan', 'dynamodb:Query']) {
      assert.equal(mayCall(statements, action, 'USER#5'), false, `${action} of USER#5`);
    }
  });

  test('every method of the API’s paths reaches a function: GET and PATCH their own, any other getUser', () => {
    const methods = resourcesOfType(prod.template, 'AWS::ApiGateway::Method').map(([, r]) => r.Properties);
    const target = (m: Json) => {
      assert.equal(m.Integration.Type, 'AWS_PROXY');
      assert.equal(m.AuthorizationType, 'NONE', 'the function authenticates, so 401 comes before 405');
      return JSON.stringify(m.Integration.Uri).match(/"(\w+)LambdaFunction"/)?.[1];
    };
    const routes = Object.fromEntries(methods.map((m) => [`${m.HttpMethod} ${m.ResourceId.Ref}`, target(m)]));
    assert.deepEqual(routes, {
      'GET ApiGatewayResourceApiV2UserIdVar': 'GetUser',
      'PATCH ApiGatewayResourceApiV2UserIdVar': 'PatchUser',
      // API Gateway prefers a method's own route over ANY: DELETE, POST, PUT, HEAD, OPTIONS, …
      'ANY ApiGatewayResourceApiV2UserIdVar': 'GetUser',
      'GET ApiGatewayResourceApiV2UserMe': 'GetUser',
      'ANY ApiGatewayResourceApiV2UserMe': 'GetUser',
    });
    // So API Gateway's own 404 (MISSING_AUTHENTICATION_TOKEN) is left for paths the API lacks.
    const paths = resourcesOfType(prod.template, 'AWS::ApiGateway::Resource').map(([id, r]) => `${id} ${r.Properties.PathPart}`);
    assert.deepEqual(paths.sort(), [
      'ApiGatewayResourceApi api',
      'ApiGatewayResourceApiV2 v2',
      'ApiGatewayResourceApiV2User user',
      'ApiGatewayResourceApiV2UserIdVar {id}',
      'ApiGatewayResourceApiV2UserMe me',
    ]);
    // API Gateway may invoke getUser for any method and path of this API.
    const permission = resourcesOfType(prod.template, 'AWS::Lambda::Permission').find(
      ([, r]) => JSON.stringify(r.Properties.FunctionName).includes('GetUserLambdaFunction') && r.Properties.Principal === 'apigateway.amazonaws.com',
    );
    assert.ok(permission, 'API Gateway may invoke getUser');
    assert.match(JSON.stringify(permission[1].Properties.SourceArn), /\/\*\/\*"\]\]\}$/);
  });

  test('what getUser loads at start holds no body parser, no S3 client, no image code and no confusables data', () => {
    const sources = new Map(readZip(prod.artifact).map((f) => [f.name, f.data.toString('utf8')]));
    const getStart = staticClosure(ENTRIES.getUser, sources);
    const patchStart = staticClosure(ENTRY, sources);
    const text = getStart.map((name) => sources.get(name)!).join('\n');
    const patchText = patchStart.map((name) => sources.get(name)!).join('\n');
    // Markers of busboy, the S3 client, the image header checks and the confusables data (Cherokee
    // Ꭺ to Latin A, src/users/username-keys.ts), as found in PATCH's start files.
    for (const marker of ['Unexpected end of form', 'PutObjectTagging', 'Malformed part header', '\\u13AA:"A"']) {
      assert.ok(patchText.includes(marker), `${marker} is a marker PATCH loads`);
      assert.ok(!text.includes(marker), `${marker} is loaded by getUser at start`);
    }
    const size = (names: string[]) => names.reduce((sum, name) => sum + sources.get(name)!.length, 0);
    assert.ok(size(getStart) < size(patchStart) * 0.8, `getUser loads ${size(getStart)} bytes at start, patchUser ${size(patchStart)}`);
  });

  test('postConfirmation may take an id, read a sub index and its user, put the three items, check the index and the name’s old claim key, nothing more', async () => {
    const fn = resource(prod.template, 'PostConfirmationLambdaFunction', 'AWS::Lambda::Function');
    assert.equal(fn.Properties.Handler, 'src/functions/post-confirmation/handler.handler');
    assert.ok(fn.Properties.Timeout <= 5, 'Cognito waits 5 s for a trigger');
    const { logs, keys } = splitStatements(functionRole(prod.template, 'PostConfirmationLambdaFunction', 'PostConfirmationRole'));
    assert.deepEqual(Object.keys(keys).sort(), await actionsOf(['src/functions/post-confirmation/sign-up.ts']));
    assert.deepEqual(keys, {
      'dynamodb:GetItem': ['SUB#*', 'USER#*'],
      'dynamodb:ConditionCheckItem': ['SUB#*', 'USERNAME#*'],
      'dynamodb:UpdateItem': ['COUNTER#user'],
      'dynamodb:PutItem': ['SUB#*', 'USER#*', 'USERNAME#*'],
    });
    for (const s of logs) assert.match(s.Resource['Fn::Sub'], /:log-group:\/aws\/lambda\/selfcommunity-user-patch-prod-postConfirmation:\*$/);
    // Without SIGNUP_USER_POOL_ID no pool may invoke it on prod (there is no demo pool either).
    assert.equal(condition(prod.template, 'SignUpUserPoolGiven'), false);
    assert.equal(prod.template.Resources.PostConfirmationExistingPoolPermission?.Condition, 'SignUpUserPoolGiven');
    assert.equal(prod.template.Resources.PostConfirmationDemoPoolPermission?.Condition, 'CreateDemoUserPool');
  });

  test('postConfirmation’s AWS calls give up inside Cognito’s 5 s: two calls that hang both fail in time', () => {
    for (const template of [prod.template, demo.template, dev.template]) {
      const fn = resource(template, 'PostConfirmationLambdaFunction', 'AWS::Lambda::Function').Properties;
      const env = fn.Environment.Variables;
      const attempts = Number(env.AWS_MAX_ATTEMPTS);
      const attemptMs = Number(env.AWS_REQUEST_TIMEOUT_MS);
      assert.ok(attempts >= 2, `a failed attempt is retried once at least (${attempts})`);
      assert.ok(attemptMs >= 500, `an attempt has time for a cold TLS handshake (${attemptMs} ms)`);
      // Every sign-up reads the sub index first and takes an id next: both may hang.
      assert.ok(2 * attempts * attemptMs < fn.Timeout * 1000, `${attempts} × ${attemptMs} ms per call, timeout ${fn.Timeout} s`);
      assert.equal(fn.Timeout, 5);
    }
    // The API functions keep theirs (3 × 2 s within 10 s).
    const api = environmentOf(prod.template);
    assert.deepEqual([api.AWS_MAX_ATTEMPTS, api.AWS_REQUEST_TIMEOUT_MS], ['3', '2000']);
  });

  test('the demo pool invokes postConfirmation after a confirmed sign-up, and may', () => {
    const pool = resource(demo.template, 'DemoUserPool', 'AWS::Cognito::UserPool');
    const fn = resource(demo.template, 'PostConfirmationLambdaFunction', 'AWS::Lambda::Function');
    assert.equal(fn.Properties.FunctionName, 'selfcommunity-user-patch-demo-postConfirmation');
    assert.deepEqual(pool.Properties.LambdaConfig, {
      PostConfirmation: {
        'Fn::Sub': `arn:\${AWS::Partition}:lambda:\${AWS::Region}:\${AWS::AccountId}:function:${fn.Properties.FunctionName}`,
      },
    });
    const permission = resource(demo.template, 'PostConfirmationDemoPoolPermission', 'AWS::Lambda::Permission');
    assert.equal(condition(demo.template, permission.Condition!), true);
    assert.deepEqual(permission.Properties, {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': ['PostConfirmationLambdaFunction', 'Arn'] },
      Principal: 'cognito-idp.amazonaws.com',
      SourceAccount: { Ref: 'AWS::AccountId' },
      SourceArn: { 'Fn::GetAtt': ['DemoUserPool', 'Arn'] },
    });
    assert.equal(condition(demo.template, 'SignUpUserPoolGiven'), false);
  });

  test('an existing pool named by SIGNUP_USER_POOL_ID may invoke it', () => {
    const permission = resource(dev.template, 'PostConfirmationExistingPoolPermission', 'AWS::Lambda::Permission');
    assert.equal(condition(dev.template, permission.Condition!), true);
    assert.equal(permission.Properties.Principal, 'cognito-idp.amazonaws.com');
    assert.deepEqual(permission.Properties.FunctionName, { 'Fn::GetAtt': ['PostConfirmationLambdaFunction', 'Arn'] });
    assert.equal(
      permission.Properties.SourceArn['Fn::Sub'],
      `arn:\${AWS::Partition}:cognito-idp:\${AWS::Region}:\${AWS::AccountId}:userpool/${SIGNUP_USER_POOL_ID}`,
    );
    assert.equal(condition(dev.template, 'CreateDemoUserPool'), false);
    assert.ok(dev.template.Outputs.PostConfirmationFunctionArn, 'the ARN to attach is an output');
  });

  test('from their start files alone, as on Lambda, both entries run', async () => {
    const files = readZip(prod.artifact);
    const sources = new Map(files.map((f) => [f.name, f.data.toString('utf8')]));
    const dir = join(workDir, 'prod-entries');
    const needed = new Set([...staticClosure(ENTRIES.getUser, sources), ...staticClosure(ENTRIES.postConfirmation, sources)]);
    for (const f of files.filter((file) => needed.has(file.name))) {
      await mkdir(join(dir, dirname(f.name)), { recursive: true });
      await writeFile(join(dir, f.name), f.data);
    }
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const fixture = await readFile(join(PROJECT_DIR, 'test', 'fixtures', 'events', 'cognito-post-confirmation.json'), 'utf8');
    const key = makeKey();
    const jwksFile = join(workDir, 'entries-jwks.json');
    await writeFile(jwksFile, JSON.stringify({ keys: [key.jwk] }));
    const script = `
      const get = await import('./${ENTRIES.getUser}');
      const signUp = await import('./${ENTRIES.postConfirmation}');
      const event = JSON.parse(process.env.FIXTURE);
      const reset = { ...event, triggerSource: 'PostConfirmation_ConfirmForgotPassword' };
      const ignored = JSON.stringify(await signUp.handler(reset)) === JSON.stringify(reset);
      const failed = await signUp.handler(event).then(() => 'created', (error) => error.name);
      const read = await get.handler({ httpMethod: 'GET', path: '/api/v2/user/me/', headers: { Authorization: 'Bearer ' + process.env.TOKEN } });
      // What API Gateway's ANY routes to getUser: a DELETE, with a token and without.
      const pathParameters = { id: '5' };
      const del = await get.handler({ httpMethod: 'DELETE', path: '/api/v2/user/5/', pathParameters, headers: { Authorization: 'Bearer ' + process.env.TOKEN } });
      const anonymous = await get.handler({ httpMethod: 'DELETE', path: '/api/v2/user/5/', pathParameters, headers: {} });
      const answer = (r) => ({ status: r.statusCode, allow: r.headers.Allow, auth: r.headers['WWW-Authenticate'], code: JSON.parse(r.body).errors[0].code });
      console.log('RESULT ' + JSON.stringify({ ignored, failed, read: read.statusCode, del: answer(del), anonymous: answer(anonymous) }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        FIXTURE: fixture,
        TOKEN: accessToken(key, { sub: 'someone' }),
        AWS_REGION: TEST_POOL.region,
        AWS_ACCESS_KEY_ID: 'ASIAEXAMPLEEXAMPLE00',
        AWS_SECRET_ACCESS_KEY: 'example-secret',
        AWS_SESSION_TOKEN: 'example-session-token',
        AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${closedPort}`,
        TABLE_NAME: 'users',
        MEDIA_BUCKET: 'media',
        MEDIA_BASE_URL: 'https://media.example.org',
        COGNITO_USER_POOL_ID: TEST_POOL.userPoolId,
        COGNITO_CLIENT_ID: TEST_POOL.clientId,
        COGNITO_JWKS_FILE: jwksFile,
        AWS_MAX_ATTEMPTS: '1',
        AWS_REQUEST_TIMEOUT_MS: '1000',
      },
    });
    const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
    assert.ok(line, stdout);
    // DynamoDB unreachable: the trigger fails (Cognito retries), the read is a 503; no missing chunk.
    const result = JSON.parse(line.slice('RESULT '.length));
    assert.equal(result.ignored, true);
    assert.notEqual(result.failed, 'created');
    assert.doesNotMatch(result.failed, /ERR_MODULE_NOT_FOUND/);
    assert.equal(result.read, 503);
    // The contract: authentication first, then 405 with the path's methods.
    assert.deepEqual(result.del, { status: 405, allow: 'GET, PATCH', code: 'method_not_allowed' });
    assert.deepEqual(result.anonymous, { status: 401, auth: 'Bearer', code: 'not_authenticated' });
  });
});

// ---------------------------------------------------------------------------------------------
// Each function's environment: what its configuration reader reads, nothing of the others'

type Reader = (env: Record<string, string | undefined>) => unknown;
const READERS: Record<string, { id: string; reader: Reader }> = {
  patchUser: { id: 'PatchUserLambdaFunction', reader: readConfig },
  getUser: { id: 'GetUserLambdaFunction', reader: readConfig },
  postConfirmation: { id: 'PostConfirmationLambdaFunction', reader: readSignUpConfig },
  mediaEvents: { id: 'MediaEventsLambdaFunction', reader: readStreamConfig },
};

/**
 * Runs `reader` on `env` (plus AWS_REGION, which Lambda sets) and returns the names it looked at;
 * it throws when a required setting is missing or invalid. Values CloudFormation resolves at
 * deploy time stand in as an https URL, which every setting of that kind accepts.
 */
function namesRead(reader: Reader, env: Record<string, Json>): Set<string> {
  const values: Record<string, string> = { AWS_REGION: 'eu-west-1' };
  for (const [name, value] of Object.entries(env)) values[name] = typeof value === 'string' ? value : 'https://resolved.example';
  const read = new Set<string>();
  const recorder = new Proxy(values, {
    get(target, name) {
      if (typeof name === 'string') read.add(name);
      return Reflect.get(target, name);
    },
  });
  reader(recorder);
  return read;
}

describe('each function’s environment (osls package and osls print --stage local)', () => {
  const deployedEnv = (template: Template, name: string) =>
    resource(template, READERS[name]!.id, 'AWS::Lambda::Function').Properties.Environment.Variables as Record<string, Json>;
  const API_CALLS = ['AWS_MAX_ATTEMPTS', 'AWS_REQUEST_TIMEOUT_MS'];
  const IMAGE_AND_BODY_LIMITS = [
    'AVATAR_MAX_BYTES', 'AVATAR_SIZE', 'COVER_MAX_BYTES', 'COVER_MAX_SIDE', 'IMAGE_MAX_ANIMATION_PIXELS', 'IMAGE_MAX_FRAMES',
    'IMAGE_MAX_PIXELS', 'IMAGE_MAX_SIDE', 'IMAGE_TIMEOUT_SECONDS', 'JPEG_MAX_SCANS', 'MAX_BODY_BYTES',
  ];
  const COGNITO = ['COGNITO_CLIENT_ID', 'COGNITO_TOKEN_USE', 'COGNITO_USER_POOL_ID'];
  const DEPLOYED: Record<string, string[]> = {
    patchUser: [...API_CALLS, ...COGNITO, ...IMAGE_AND_BODY_LIMITS, 'CORS_ALLOWED_ORIGINS', 'MEDIA_BASE_URL', 'MEDIA_BUCKET', 'TABLE_NAME'],
    // readConfig requires the bucket; the image and body limits have defaults a read never uses.
    getUser: [...API_CALLS, ...COGNITO, 'CORS_ALLOWED_ORIGINS', 'MEDIA_BASE_URL', 'MEDIA_BUCKET', 'TABLE_NAME'],
    postConfirmation: [...API_CALLS, 'TABLE_NAME'],
    mediaEvents: [...API_CALLS, 'CDN_DISTRIBUTION_ID', 'DEAD_LETTER_QUEUE_URL', 'EVENT_BUS_NAME', 'MEDIA_BASE_URL', 'MEDIA_BUCKET'],
  };
  /** Deployed resources the local stack has none of: locally a dead-letter file, no CDN. */
  const DEPLOYED_ONLY: Record<string, string[]> = { mediaEvents: ['CDN_DISTRIBUTION_ID', 'DEAD_LETTER_QUEUE_URL'] };
  const LOCAL_ADDS: Record<string, Array<keyof typeof LOCAL_ONLY>> = {
    patchUser: ['COGNITO_JWKS_FILE', 'DYNAMODB_ENDPOINT', 'S3_ENDPOINT'],
    getUser: ['COGNITO_JWKS_FILE', 'DYNAMODB_ENDPOINT'],
    postConfirmation: ['DYNAMODB_ENDPOINT'],
    mediaEvents: ['DEAD_LETTER_FILE', 'EVENTBRIDGE_ENDPOINT', 'S3_ENDPOINT'],
  };

  test('deployed, each function has exactly the settings its reader reads, and the reader accepts them', () => {
    for (const template of [prod.template, demo.template, dev.template]) {
      for (const [name, { reader }] of Object.entries(READERS)) {
        const env = deployedEnv(template, name);
        assert.deepEqual(Object.keys(env).sort(), [...DEPLOYED[name]!].sort(), `${name}'s environment`);
        const read = namesRead(reader, env);
        for (const key of Object.keys(env)) assert.ok(read.has(key), `${name} is given ${key}, which its reader never reads`);
      }
    }
    // No provider-level environment gives every function the API's settings.
    const sls = JSON.stringify(prod.template.Resources.GetUserLambdaFunction);
    for (const key of [...IMAGE_AND_BODY_LIMITS, 'S3_ENDPOINT']) assert.ok(!sls.includes(key), `getUser has ${key}`);
  });

  test('the values: the table and bucket of the stack, the pool of the stage, the same media URL everywhere', () => {
    for (const template of [prod.template, demo.template]) {
      const patch = deployedEnv(template, 'patchUser');
      for (const name of ['getUser', 'postConfirmation', 'mediaEvents']) {
        const env = deployedEnv(template, name);
        for (const [key, value] of Object.entries(env)) {
          if ((name === 'postConfirmation' && API_CALLS.includes(key)) || key === 'EVENT_BUS_NAME') continue;
          if (DEPLOYED_ONLY[name]?.includes(key)) continue;
          assert.deepEqual(value, patch[key], `${name}'s ${key} is the API's`);
        }
      }
    }
    assert.deepEqual(deployedEnv(demo.template, 'getUser').COGNITO_USER_POOL_ID, { Ref: 'DemoUserPool' });
    assert.equal(deployedEnv(demo.template, 'getUser').CORS_ALLOWED_ORIGINS, 'https://app.example.org,https://admin.example.org');
    assert.deepEqual(deployedEnv(prod.template, 'postConfirmation').TABLE_NAME, { Ref: 'UsersTable' });
  });

  test('on the local stage (npm start), each function also gets the local endpoints its reader reads, and only those', () => {
    for (const [name, { reader }] of Object.entries(READERS)) {
      const env = local.functions[name]!.environment;
      const deployed = DEPLOYED[name]!.filter((key) => !DEPLOYED_ONLY[name]?.includes(key));
      assert.deepEqual(Object.keys(env).sort(), [...deployed, ...LOCAL_ADDS[name]!].sort(), `${name}'s local environment`);
      for (const key of LOCAL_ADDS[name]!) assert.equal(env[key], LOCAL_ONLY[key], `${name}'s ${key}`);
      const read = namesRead(reader, env);
      for (const key of Object.keys(env)) assert.ok(read.has(key), `${name} is given ${key}, which its reader never reads`);
    }
    // No Cognito waits locally, and DynamoDB Local may be slow: the trigger calls as the API does
    // (a timed-out counter ADD that landed would skip an id; the demo users' ids are fixed).
    const { patchUser, postConfirmation } = local.functions;
    for (const key of ['AWS_MAX_ATTEMPTS', 'AWS_REQUEST_TIMEOUT_MS']) {
      assert.equal(postConfirmation!.environment[key], patchUser!.environment[key], key);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The API function decodes untrusted images: what its role lets a decoder exploit do

/** The operators of IAM's condition block that these roles use, on one request's context. */
type RequestContext = Record<string, string | string[] | undefined>;
interface AwsRequest {
  action: string;
  /** The table, or an object key in the media bucket. */
  target: { table: true } | { objectKey: string };
  context: RequestContext;
}

function conditionHolds(operator: string, key: string, expected: string | string[], context: RequestContext): boolean {
  const [qualifier, test] = operator.includes(':') ? (operator.split(':') as [string, string]) : [undefined, operator];
  const wanted = list(expected);
  const present = context[key];
  const values = present === undefined ? [] : list(present);
  if (test === 'Null') {
    assert.equal(wanted.length, 1, `${operator} ${key}`);
    return (wanted[0] === 'true') === (present === undefined);
  }
  assert.ok(test === 'StringEquals' || test === 'StringLike', `operator ${operator} not modelled`);
  const match = (value: string) => wanted.some((pattern) => (test === 'StringLike' ? stringLike(pattern, value) : pattern === value));
  // A set operator on a missing key: ForAllValues holds (nothing fails), ForAnyValue does not.
  if (qualifier === 'ForAllValues') return values.every(match);
  if (qualifier === 'ForAnyValue') return values.some(match);
  assert.equal(qualifier, undefined, operator);
  assert.ok(!Array.isArray(present), `${key} is single-valued`);
  return present !== undefined && match(present);
}

const TABLE_ARN = { 'Fn::GetAtt': ['UsersTable', 'Arn'] };
function resourceMatches(resource: Json, target: AwsRequest['target']): boolean {
  if ('table' in target) return JSON.stringify(resource) === JSON.stringify(TABLE_ARN);
  const join = resource?.['Fn::Join'];
  if (!join) return false;
  const [separator, [bucket, pattern]] = join as [string, [Json, string]];
  return separator === '' && JSON.stringify(bucket) === JSON.stringify({ 'Fn::GetAtt': ['MediaBucket', 'Arn'] }) && stringLike(pattern, `/${target.objectKey}`);
}

/** IAM's decision on one request from a role's statements: a Deny wins, else an Allow must apply. */
function decide(statements: Statement[], request: AwsRequest): boolean {
  const applies = (s: Statement) =>
    list(s.Action).includes(request.action) &&
    list(s.Resource).some((r) => resourceMatches(r, request.target)) &&
    Object.entries((s.Condition ?? {}) as Record<string, Record<string, string | string[]>>).every(([operator, keys]) =>
      Object.entries(keys).every(([key, expected]) => conditionHolds(operator, key, expected, request.context)),
    );
  if (statements.some((s) => s.Effect === 'Deny' && applies(s))) return false;
  return statements.some((s) => s.Effect === 'Allow' && applies(s));
}

/** Words of an expression that are DynamoDB's, not attribute names. */
const EXPRESSION_WORDS = new Set(['SET', 'REMOVE', 'ADD', 'DELETE', 'AND', 'OR', 'NOT', 'IN', 'BETWEEN', 'attribute_exists', 'attribute_not_exists', 'attribute_type', 'begins_with', 'contains', 'size', 'if_not_exists', 'list_append']);

/**
 * An item action as IAM sees it: the partition key (dynamodb:LeadingKeys) and every attribute the
 * request names, written, read or compared in a condition (dynamodb:Attributes), key included.
 */
function itemRequest(action: string, input: Json): AwsRequest {
  const attributes = new Set<string>([...Object.keys(input.Item ?? input.Key), ...Object.values<string>(input.ExpressionAttributeNames ?? {})]);
  for (const expression of [input.UpdateExpression, input.ConditionExpression, input.ProjectionExpression]) {
    for (const word of (expression as string | undefined)?.match(/(?<![#:\w])[A-Za-z_]\w*/g) ?? []) if (!EXPRESSION_WORDS.has(word)) attributes.add(word);
  }
  const pk = (input.Item ?? input.Key).pk.S as string;
  const context: RequestContext = { 'dynamodb:LeadingKeys': [pk], 'dynamodb:Attributes': [...attributes].sort() };
  if (input.ReturnValues) context['dynamodb:ReturnValues'] = input.ReturnValues;
  return { action, target: { table: true }, context };
}

/** The item actions of a command the code sent (a transaction's are authorised item by item). */
function requestsOf(command: { constructor: { name: string }; input: Json }): AwsRequest[] {
  const name = command.constructor.name;
  if (name === 'TransactWriteItemsCommand') {
    return (command.input.TransactItems as Json[]).map((item) => {
      const [kind, input] = Object.entries(item)[0] as [string, Json];
      return itemRequest(TRANSACT_ITEM_ACTIONS[kind]!, input);
    });
  }
  const [action] = ACTIONS_OF_COMMAND[name]!;
  return [itemRequest(action!, command.input)];
}

/** A PutObject as IAM authorises it: s3:PutObject, and s3:PutObjectTagging for its tags. */
function putObjectRequests(input: Json): AwsRequest[] {
  const tags = [...new URLSearchParams((input.Tagging as string | undefined) ?? '')];
  const context: RequestContext = { 's3:RequestObjectTagKeys': tags.map(([key]) => key) };
  for (const [key, value] of tags) context[`s3:RequestObjectTag/${key}`] = value;
  if (input.IfNoneMatch !== undefined) context['s3:if-none-match'] = input.IfNoneMatch;
  const target = { objectKey: input.Key as string };
  return [{ action: 's3:PutObject', target, context }, ...(tags.length ? [{ action: 's3:PutObjectTagging', target, context }] : [])];
}

describe('the API function’s role holds what a decoder exploit could do to the table and the bucket', () => {
  const SUB = '0b5c5e3a-1c1d-4f4e-9c1b-6a8f7f0e2d11';
  // The contract's writable fields (openapi.yaml WritableField): text fields are stored under their
  // own names, the images as `<field>_key` (README, Data model), the username by a rename.
  const WRITABLE = (parseYaml(readFileSync(join(PROJECT_DIR, 'openapi.yaml'), 'utf8')) as Json).components.schemas.WritableField.enum as string[];
  const IMAGES = ['avatar', 'cover'];
  const TEXT = WRITABLE.filter((name) => name !== 'username' && !IMAGES.some((image) => name === image || name === `${image}_base64`));
  const IMAGE_KEYS = IMAGES.map((image) => `${image}_key`);
  const stored = { pk: 'USER#5', id: 5, sub: SUB, username: 'ada', version: 3, date_joined: '2024-01-01T00:00:00Z', avatar_key: 'avatar/5/a.png' };

  /** Every DynamoDB request the code sends on the paths of a PATCH: owner check, patch, rename, held keys, answer. */
  async function requestsTheCodeSends(): Promise<AwsRequest[]> {
    const { UsersTable } = await import('../../src/store/users-table.ts');
    const { marshall } = await import('@aws-sdk/util-dynamodb');
    const sent: { constructor: { name: string }; input: Json }[] = [];
    const dynamo = {
      send: async (command: { constructor: { name: string }; input: Json }) => {
        sent.push(command);
        if (command.constructor.name === 'GetItemCommand') return { Item: marshall(stored) };
        return {};
      },
    } as never;
    assert.ok(TEXT.includes('bio') && TEXT.includes('real_name'), `text fields of the contract: ${TEXT}`);
    const everyField = { set: Object.fromEntries([...TEXT, ...IMAGE_KEYS].map((name) => [name, 'value'])), remove: [] };
    const clearEverything = { set: {}, remove: [...TEXT, ...IMAGE_KEYS] };
    const tables = [
      new UsersTable(dynamo, 'users'),
      new UsersTable(dynamo, 'users', { ifMatch: [3] }),
      new UsersTable(dynamo, 'users', { ifMatch: '*', ifNoneMatch: [2] }),
    ];
    for (const users of tables) {
      const read = await users.getOwnedUser(5, SUB);
      await users.heldImageKeys(5);
      await users.update(5, SUB, everyField);
      await users.update(5, SUB, clearEverything);
      await users.rename(5, SUB, 'grace', everyField, read); // a new name: the transaction
      await users.rename(5, SUB, 'ADA', clearEverything, read); // a case-only rename: the update's transaction
    }
    const kinds = new Set(sent.map((c) => c.constructor.name));
    assert.deepEqual([...kinds].sort(), ['GetItemCommand', 'TransactWriteItemsCommand']);
    return sent.flatMap(requestsOf);
  }

  test('every table request of a PATCH is allowed', async () => {
    const statements = roleStatements(prod.template, 'PatchUserLambdaFunction');
    const requests = await requestsTheCodeSends();
    assert.deepEqual([...new Set(requests.map((r) => r.action))].sort(), [
      'dynamodb:ConditionCheckItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    for (const request of requests) assert.ok(decide(statements, request), `denied: ${JSON.stringify(request)}`);
    // Every write is checked against the caller's sub index, which it only reads.
    const writes = requests.filter((r) => r.action !== 'dynamodb:GetItem');
    for (const request of writes.filter((r) => (r.context['dynamodb:LeadingKeys'] as string[])[0]!.startsWith('SUB#'))) {
      assert.deepEqual(request, {
        action: 'dynamodb:ConditionCheckItem',
        target: { table: true },
        context: { 'dynamodb:LeadingKeys': [`SUB#${SUB}`], 'dynamodb:Attributes': ['pk', 'user_id'] },
      });
    }
  });

  test('no write names a user’s `sub`, and the role refuses any that does: an exploit cannot give itself a user', async () => {
    const statements = roleStatements(prod.template, 'PatchUserLambdaFunction');
    const userWrites = (await requestsTheCodeSends()).filter(
      (r) => r.action !== 'dynamodb:GetItem' && (r.context['dynamodb:LeadingKeys'] as string[])[0]!.startsWith('USER#'),
    );
    assert.ok(userWrites.length > 0);
    for (const request of userWrites) {
      assert.ok(!(request.context['dynamodb:Attributes'] as string[]).includes('sub'), `names sub: ${JSON.stringify(request)}`);
      // The same request with `SET sub = :attacker` added, as an exploit would send it.
      const withSub = { ...request, context: { ...request.context, 'dynamodb:Attributes': [...(request.context['dynamodb:Attributes'] as string[]), 'sub'] } };
      assert.equal(decide(statements, withSub), false, `a compromised patchUser may write sub: ${JSON.stringify(withSub)}`);
    }
  });

  test('the table: no user put or deleted whole, no sub index or counter touched, no attribute beyond a patch’s', () => {
    const statements = roleStatements(prod.template, 'PatchUserLambdaFunction');
    const request = (action: string, pk: string, attributes: string[]): AwsRequest => ({
      action,
      target: { table: true },
      context: { 'dynamodb:LeadingKeys': [pk], 'dynamodb:Attributes': attributes },
    });
    for (const [what, denied] of [
      ['replace another user with the attacker’s sub', request('dynamodb:PutItem', 'USER#6', ['pk', 'id', 'sub', 'username', 'version'])],
      ['give another user the attacker’s sub', request('dynamodb:UpdateItem', 'USER#6', ['pk', 'sub'])],
      ['give another user the attacker’s sub with a patch', request('dynamodb:UpdateItem', 'USER#6', ['bio', 'pk', 'sub', 'version'])],
      ['remove a user’s sub', request('dynamodb:UpdateItem', `USER#5`, ['pk', 'sub'])],
      ['condition-check a sub index on anything but its id', request('dynamodb:ConditionCheckItem', `SUB#${SUB}`, ['pk', 'sub', 'user_id'])],
      ['delete a user', request('dynamodb:DeleteItem', 'USER#6', ['pk'])],
      ['repoint a sub index item', request('dynamodb:UpdateItem', 'SUB#attacker', ['pk', 'user_id'])],
      ['put a sub index item', request('dynamodb:PutItem', 'SUB#attacker', ['pk', 'user_id'])],
      ['delete a sub index item', request('dynamodb:DeleteItem', `SUB#${SUB}`, ['pk'])],
      ['read the sub index', request('dynamodb:GetItem', `SUB#${SUB}`, ['pk'])],
      ['move the id counter', request('dynamodb:UpdateItem', 'COUNTER#user', ['pk', 'last_id'])],
      ['approve a user', request('dynamodb:UpdateItem', 'USER#6', ['pk', 'reg_approved'])],
      ['undelete a user', request('dynamodb:UpdateItem', 'USER#6', ['pk', 'deleted'])],
      ['change a user’s id', request('dynamodb:UpdateItem', 'USER#6', ['pk', 'id'])],
      ['change a sign-up date', request('dynamodb:UpdateItem', 'USER#6', ['pk', 'date_joined'])],
      ['add an attribute to a claim', request('dynamodb:PutItem', 'USERNAME#admin', ['pk', 'sub', 'user_id'])],
      ['update a claim in place', request('dynamodb:UpdateItem', 'USERNAME#admin', ['pk', 'user_id'])],
      ['scan the table', request('dynamodb:Scan', 'USER#6', [])],
      ['query the table', request('dynamodb:Query', 'USER#6', [])],
    ] as const) {
      assert.equal(decide(statements, denied), false, `a compromised patchUser may ${what}`);
    }
  });

  test('the bucket: new objects tagged pending only; no overwrite, no other tag, no re-tagging of a stored image', async () => {
    const statements = roleStatements(prod.template, 'PatchUserLambdaFunction');
    const { MediaStore } = await import('../../src/store/media-uploads.ts');
    const sent: { constructor: { name: string }; input: Json }[] = [];
    const s3 = { send: async (command: { constructor: { name: string }; input: Json }) => (sent.push(command), {}) } as never;
    const media = new MediaStore(s3, 'media');
    const key = media.newKey('avatar', 5, 'png');
    await media.putPending(key, Buffer.from('image'), 'image/png');
    await media.delete(key);
    assert.deepEqual(sent.map((c) => c.constructor.name), ['PutObjectCommand', 'DeleteObjectCommand']);
    const [upload, removal] = sent as [{ input: Json }, { input: Json }];
    for (const request of [...putObjectRequests(upload.input), { action: 's3:DeleteObject', target: { objectKey: removal.input.Key }, context: {} }]) {
      assert.ok(decide(statements, request), `the code's ${request.action} is denied: ${JSON.stringify(request)}`);
    }

    const base = upload.input;
    const live = 'avatar/6/2f1d0c3e-live.png';
    const denied: [string, AwsRequest[]][] = [
      ['overwrite another user’s image', putObjectRequests({ ...base, Key: live, IfNoneMatch: undefined })],
      ['upload a live image', putObjectRequests({ ...base, Tagging: 'state=live' })],
      ['upload an untagged image (never expired)', putObjectRequests({ ...base, Tagging: undefined }).slice(0, 1)],
      ['upload with a tag besides state', putObjectRequests({ ...base, Tagging: 'state=pending&keep=yes' })],
      ['upload outside the media prefixes', putObjectRequests({ ...base, Key: 'public/index.html' })],
      [
        'tag another user’s live image pending (the lifecycle rule would delete it)',
        [{ action: 's3:PutObjectTagging', target: { objectKey: live }, context: { 's3:ExistingObjectTag/state': 'live', 's3:RequestObjectTagKeys': ['state'], 's3:RequestObjectTag/state': 'pending' } }],
      ],
      [
        'tag another request’s pending upload',
        [{ action: 's3:PutObjectTagging', target: { objectKey: 'cover/7/9c.jpg' }, context: { 's3:ExistingObjectTag/state': 'pending', 's3:RequestObjectTagKeys': ['state'], 's3:RequestObjectTag/state': 'pending' } }],
      ],
      ['read an image', [{ action: 's3:GetObject', target: { objectKey: live }, context: {} }]],
    ];
    for (const [what, requests] of denied) {
      assert.ok(requests.length > 0);
      assert.equal(requests.every((request) => decide(statements, request)), false, `a compromised patchUser may ${what}`);
    }
  });
});

describe('concurrency of the functions and throttling of the API', () => {
  const ACCOUNT_CONCURRENCY = 1000; // Lambda's default per account and region
  const UNRESERVED_MINIMUM = 100; // Lambda keeps at least this many unreserved
  const reserved = (template: Template, id: string): number | undefined =>
    resource(template, id, 'AWS::Lambda::Function').Properties.ReservedConcurrentExecutions;

  test('the stream function and the sign-up trigger have executions of their own; the API functions share the rest', () => {
    for (const template of [prod.template, demo.template, dev.template]) {
      const stream = reserved(template, 'MediaEventsLambdaFunction');
      const signUp = reserved(template, 'PostConfirmationLambdaFunction');
      assert.ok(stream !== undefined && stream >= 1, 'the stream function has reserved concurrency');
      assert.ok(signUp !== undefined && signUp >= 1, 'the sign-up trigger has reserved concurrency');
      // One batch per shard at a time, times the parallelization factor: at least one shard's worth.
      const [, mapping] = resourcesOfType(template, 'AWS::Lambda::EventSourceMapping')[0]!;
      assert.ok(stream >= (mapping.Properties.ParallelizationFactor ?? 1), 'a shard’s batches fit');
      // A reservation is a ceiling too: no cap on the API functions, whose load is the stage's throttle.
      assert.equal(reserved(template, 'PatchUserLambdaFunction'), undefined);
      assert.equal(reserved(template, 'GetUserLambdaFunction'), undefined);
      assert.ok(stream + signUp <= ACCOUNT_CONCURRENCY - UNRESERVED_MINIMUM, 'deployable in an account with the default limit');
    }
  });

  test('the stage is throttled, PATCH (image decoding) more, within what the account can run', () => {
    for (const template of [prod.template, demo.template, dev.template]) {
      const deployments = resourcesOfType(template, 'AWS::ApiGateway::Deployment');
      assert.equal(deployments.length, 1);
      const stage = deployments[0]![1].Properties.StageDescription;
      assert.ok(stage, 'the deployment’s stage has settings');
      assert.ok(stage.ThrottlingRateLimit > 0 && stage.ThrottlingBurstLimit >= stage.ThrottlingRateLimit, JSON.stringify(stage));
      const patch = resource(template, 'ApiGatewayMethodApiV2UserIdVarPatch', 'AWS::ApiGateway::Method');
      assert.deepEqual(patch.Properties.ResourceId, { Ref: 'ApiGatewayResourceApiV2UserIdVar' });
      assert.deepEqual(stage.MethodSettings, [
        { ResourcePath: '/~1api~1v2~1user~1{id}', HttpMethod: 'PATCH', ThrottlingRateLimit: stage.MethodSettings[0].ThrottlingRateLimit, ThrottlingBurstLimit: stage.MethodSettings[0].ThrottlingBurstLimit },
      ]);
      const [patchLimits] = stage.MethodSettings;
      assert.ok(patchLimits.ThrottlingRateLimit > 0 && patchLimits.ThrottlingRateLimit < stage.ThrottlingRateLimit);
      assert.ok(patchLimits.ThrottlingBurstLimit >= patchLimits.ThrottlingRateLimit);
      // PATCHes at the limit, each running to the function's timeout, leave the reserved functions
      // theirs and the unreserved minimum: slow images cannot take the account's executions.
      const timeout = fnFunction(template).Properties.Timeout;
      const reservations = (reserved(template, 'MediaEventsLambdaFunction') ?? 0) + (reserved(template, 'PostConfirmationLambdaFunction') ?? 0);
      assert.ok(patchLimits.ThrottlingBurstLimit + patchLimits.ThrottlingRateLimit * timeout <= ACCOUNT_CONCURRENCY - reservations - UNRESERVED_MINIMUM);
      // The throttled answer is the contract's 429 envelope (GatewayResponseThrottled).
      resource(template, 'GatewayResponseThrottled', 'AWS::ApiGateway::GatewayResponse');
    }
  });
});
