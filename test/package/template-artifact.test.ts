// The artifact of the prod stage: the bundled handler and its chunks, sharp for linux-arm64, and
// what a request loads at start.
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { jsonEvent } from '../../tools/support/api-events.ts';
import { readZip, relativeImports, staticClosure } from '../../tools/support/zip.ts';
import { PROJECT_DIR } from '../../tools/local/local-stack.ts';
import { accessToken, makeKey, TEST_POOL } from '../../tools/support/tokens.ts';
import { prod, workDir } from './packaging.ts';
import { ENTRY, MEDIA_EVENTS_ENTRY, linkHostSharp, run } from './template-support.ts';

describe('osls package --stage prod: the artifact', () => {
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
        /^src\/functions\/(patch-user|get-user|post-confirmation|post-authentication|media-events)\/(handler|chunks\/[\w-]+)\.mjs$/.test(name) || name === MEDIA_EVENTS_ENTRY,
        `${name} in the artifact`,
      );
    }
    for (const [name, source] of sources) {
      assert.doesNotMatch(source, /sourceMappingURL/, `a source map reference in ${name}`);
      // The stock-UI page's packages are devDependencies of the page server (docs/stock-ui.md).
      assert.doesNotMatch(source, /react-dom|@selfcommunity\/react-|@mui\/material|react\.element/, `front-end code in ${name}`);
      const imports = relativeImports(name, source);
      for (const target of [...imports.static, ...imports.dynamic]) {
        assert.ok(sources.has(target), `${name} imports ${target}, which is not in the artifact`);
      }
    }
    // The HEIC decoder (libheif in WebAssembly, the .wasm embedded) is one chunk of its own that
    // only a HEIC upload loads (test/package/image-lazy.test.ts); it has its own budget.
    const decoder = files.filter((f) => f.data.includes('heif_context_alloc'));
    assert.equal(decoder.length, 1, `the HEIC decoder is one chunk: ${decoder.map((f) => f.name).join(', ')}`);
    assert.match(decoder[0]!.name, /^src\/functions\/patch-user\/chunks\//);
    assert.ok(decoder[0]!.data.length < 2_300_000, `HEIC decoder chunk of ${decoder[0]!.data.length} bytes`);
    const total = files.filter((f) => !decoder.includes(f)).reduce((sum, f) => sum + f.data.length, 0);
    // All five functions' bundles together (each function loads only its own closure, checked
    // below and in the bench); the stream function's SQS and CloudFront clients and the
    // confusables data of the username rules (a chunk of its own, loaded by renames and sign-up
    // only) took it past 2 MB, the sign-in trigger (its own DynamoDB client and the SDK's lazily
    // loaded chunks, about 370 KB) past 2.5 MB.
    assert.ok(total < 2_900_000, `bundle of ${total} bytes unzipped`);

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
    // header pre-check's chunk and the image pipeline's (both import()ed by the handler) and sharp,
    // which the pipeline imports, and an avatar
    // the gallery model's chunk (import()ed by the write path: the gallery follows the avatar);
    // never the HEIC decoder's for a PNG.
    const files = readZip(prod.artifact).filter((f) => !f.name.startsWith('node_modules/'));
    const sources = new Map(files.map((f) => [f.name, f.data.toString('utf8')]));
    const atStart = new Set(staticClosure(ENTRY, sources));
    assert.ok(atStart.size < files.length, 'some chunks are loaded only by import()');
    const imageChunk = files.find((f) => /^src\/functions\/patch-user\/chunks\/normalize-[\w-]+\.mjs$/.test(f.name));
    assert.ok(imageChunk, 'the image pipeline is a chunk of its own');
    assert.ok(!atStart.has(imageChunk.name), 'the image pipeline is not loaded at start');
    const galleryChunk = files.find((f) => /^src\/functions\/patch-user\/chunks\/avatar-gallery-[\w-]+\.mjs$/.test(f.name));
    assert.ok(galleryChunk, 'the gallery model is a chunk of its own');
    assert.ok(!atStart.has(galleryChunk.name), 'the gallery model is not loaded at start');
    const checkChunk = files.find((f) => /^src\/functions\/patch-user\/chunks\/header-check-[\w-]+\.mjs$/.test(f.name));
    assert.ok(checkChunk, 'the header pre-check is a chunk of its own');
    assert.ok(!atStart.has(checkChunk.name), 'the header pre-check is not loaded at start');
    const forImages = new Set([checkChunk, imageChunk, galleryChunk].flatMap((chunk) => staticClosure(chunk.name, sources)));
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
});
