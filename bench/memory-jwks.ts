// Parts memory and JWKS: peak RSS of a fresh process handling a 4 MB cover, and how often the
// pool's keys are fetched.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createAuthenticator } from '../src/http/auth.ts';
import { readConfig, type Config } from '../src/platform/config.ts';
import { PROJECT_DIR } from '../tools/local/local-stack.ts';
import { deployedSplits, OPTION } from './bundle-figures.ts';
import { decodedBodyBytes, jsonEvent, multipartEvent } from '../tools/support/api-events.ts';
import { photoJpeg } from './fixtures.ts';
import { deployedEnv, key, runChild, template, token, type EventTemplates } from './local-setup.ts';
import { log, MB } from './options.ts';
import type { BenchUser } from './protocol.ts';
import { mb, median, row, section, times } from './table.ts';

const MEMORY_ROUNDS = 6;

export async function memory(
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
    // the bound is the images part's, 512 MB.
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

export async function jwks(handlerBundle: string, dir: string) {
  log('JWKS: fetches per container');
  // Through the Lambda entry with a deployed configuration: the verifier fetches the pool's keys.
  const subs = Array.from({ length: 10 }, (_, i) => `00000000-0000-4000-9000-${String(i).padStart(12, '0')}`);
  const tokens = subs.map((sub) => token(sub));
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
