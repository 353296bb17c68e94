// What the parts on the local stack share: the test pool's key and tokens, the configuration,
// the bench users, the child processes, a deployed stage's environment and the event templates.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiEvent } from '../src/functions/patch-user/handler.ts';
import { readConfig, type Config } from '../src/platform/config.ts';
import { PROJECT_DIR } from '../tools/local/local-stack.ts';
import type { Emulators } from '../tools/support/emulators.ts';
import { accessToken, makeKey, TEST_POOL } from '../tools/support/tokens.ts';
import { CHILD_ENV, execFileAsync, MB } from './options.ts';
import type { BenchUser, WarmResult } from './protocol.ts';

export const key = makeKey();
export const token = (sub: string, groups?: readonly string[]) => accessToken(key, { sub, ...(groups && { groups }) }, TEST_POOL);

export function localConfig(emulators: Emulators, jwksFile: string): Config {
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

/** Users the reader hides: more than a page of `hidden_users/` (20). */
export const CROWD = 25;

export function benchUsers(): Record<string, BenchUser> {
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
    // The profile pages' requests (bench/warm.ts): a reader with settings, an e-mail, a role and
    // a crowd of hidden users; a user who hides the reader; writers of settings and of the toggle.
    ['reader', 801, 'reader'],
    ['readerHider', 802, 'reader_hider'],
    ['settingsHandler', 803, 'settings_h'],
    ['settingsFloor', 804, 'settings_f'],
    ['hideHandler', 805, 'hide_h'],
    ['hideFloor', 806, 'hide_f'],
    // The avatar gallery's requests: writers of their own for each, and a reader of a gallery.
    ['galleryPostHandler', 1001, 'gpost_h'],
    ['galleryPostFloor', 1002, 'gpost_f'],
    ['galleryPrimaryHandler', 1003, 'gprimary_h'],
    ['galleryPrimaryFloor', 1004, 'gprimary_f'],
    ['galleryDeleteHandler', 1005, 'gdelete_h'],
    ['galleryDeleteFloor', 1006, 'gdelete_f'],
    ['galleryReader', 1007, 'greader'],
    ...Array.from({ length: CROWD }, (_, n): [string, number, string] => [`crowd${n}`, 901 + n, `crowd_${n}`]),
  ];
  // The reader's token names a pool group, so `/me/` answers a role.
  const groups: Record<string, readonly string[]> = { reader: ['moderator'] };
  return Object.fromEntries(
    roles.map(([role, id, username]) => {
      const sub = `00000000-0000-4000-8000-${String(id).padStart(12, '0')}`;
      return [role, { id, sub, username, token: token(sub, groups[role]) }];
    }),
  );
}

export async function runChild(
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

export function warmChild(bundle: string, inputFile: string): Promise<WarmResult> {
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

/** A deployed stage's environment: no endpoints, no key file; tokens of the test pool. */
export function deployedEnv(): Record<string, string> {
  return {
    AWS_REGION: TEST_POOL.region,
    TABLE_NAME: 'users',
    MEDIA_BUCKET: 'media',
    MEDIA_BASE_URL: 'https://media.example.org',
    COGNITO_USER_POOL_ID: TEST_POOL.userPoolId,
    COGNITO_CLIENT_ID: TEST_POOL.clientId,
  };
}

export interface EventTemplates {
  json: ApiEvent;
  multipart: ApiEvent;
}
let templates: EventTemplates | undefined;
export function template(): EventTemplates {
  const load = (kind: string) =>
    JSON.parse(readFileSync(join(PROJECT_DIR, 'test', 'fixtures', 'events', `rest-api-patch-${kind}.json`), 'utf8')) as ApiEvent;
  templates ??= { json: load('json'), multipart: load('multipart') };
  return templates;
}
