// Parts round trips and warm: the rows made of the warm child's traces and timings (bench/warm.ts).
import type { CallRecord, RequestTrace, WarmResult } from './protocol.ts';
import { median, ms, percentile, row, section, times } from './table.ts';

/** Each call's round: 1 + the longest chain of calls, each starting after the previous one ended, before it. */
function depths(calls: CallRecord[]): Map<CallRecord, number> {
  const sorted = [...calls].sort((a, b) => a.end - b.end);
  const depth = new Map<CallRecord, number>();
  for (const call of sorted) {
    let best = 0;
    for (const before of sorted) if (before.end <= call.start) best = Math.max(best, depth.get(before) ?? 0);
    depth.set(call, best + 1);
  }
  return depth;
}

/** Longest chain of calls each starting after the previous one ended: round trips waited for. */
function sequentialRounds(calls: CallRecord[]): number {
  return Math.max(0, ...depths(calls).values());
}

/** The calls round by round, each named by its command and the kind of item it names (`GetItem SUB#`). */
function roundsOf(calls: CallRecord[]): string[][] {
  const rounds: string[][] = [];
  for (const [call, depth] of depths(calls)) (rounds[depth - 1] ??= []).push(call.item ? `${call.command} ${call.item}` : call.command);
  return rounds.map((round) => round.sort());
}

/** Exactly these calls in these rounds (the calls of a round in any order). */
const inRounds = (calls: CallRecord[], expected: string[][]) =>
  JSON.stringify(roundsOf(calls)) === JSON.stringify(expected.map((round) => [...round].sort()));

const overlap = (a: CallRecord, b: CallRecord) => a.start < b.end && b.start < a.end;
const WRITES = new Set(['UpdateItem', 'TransactWriteItems']);

/** `GetItem SUB# ∥ GetItem USER# → UpdateItem HIDDEN#`: ∥ within a round, → between rounds. */
function describeCalls(calls: CallRecord[]): string {
  const round = (names: string[]) => {
    const counts = new Map<string, number>();
    for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
    return [...counts].map(([name, n]) => (n > 1 ? `${name}×${n}` : name)).join(' ∥ ');
  };
  return roundsOf(calls).map(round).join(' → ') || 'none';
}

export function roundTripRows(traces: RequestTrace[]) {
  section('AWS round trips per request (SDK middleware, every HTTP attempt)');
  const checks: Record<string, { target: string; ok: (calls: CallRecord[]) => boolean }> = {
    // A transaction returns no item: the answer is one consistent read after it.
    'text patch': { target: '1 TransactWriteItems, then the answer’s GetItem', ok: (c) => shape(c, ['TransactWriteItems', 'GetItem']) },
    'empty patch': { target: '1 GetItem', ok: (c) => c.length === 1 && c[0]!.command === 'GetItem' },
    'not the owner (403)': { target: '1 TransactWriteItems, no read', ok: (c) => shape(c, ['TransactWriteItems']) },
    'no such user (404)': { target: '1 TransactWriteItems, no read', ok: (c) => shape(c, ['TransactWriteItems']) },
    'username change': { target: '≤ 2: read + transaction', ok: (c) => c.length <= 2 },
    'username taken (400)': { target: '≤ 2: read + transaction', ok: (c) => c.length <= 2 },
    'case-only rename': { target: '≤ 3: read + transaction + the answer’s read', ok: (c) => c.length <= 3 },
    // After a committed write the handler makes no S3 call: the stream tags and deletes (docs/write-path.md).
    // Since the gallery the avatar's write is worked out from the user as read (the primary leaves
    // the gallery, the new one joins it) and conditioned on its version: the read goes out with the
    // put, and the answer is the read user with the write applied, no read after (docs/avatars.md).
    'avatar replaced': {
      target: 'put ∥ read, then the transaction; nothing after (before the gallery: put, transaction, the answer’s read)',
      ok: (c) => inRounds(c, [['GetItem USER#', 'PutObject'], ['TransactWriteItems']]),
    },
    'avatar removed': {
      target: 'read, then 1 TransactWriteItems; nothing after (before: the transaction, then the answer’s read)',
      ok: (c) => inRounds(c, [['GetItem USER#'], ['TransactWriteItems']]),
    },
    'username + avatar + cover': {
      target: 'puts ∥ read; ≤ 2 DynamoDB; nothing after',
      ok: (c) => {
        const read = c.find((x) => x.command === 'GetItem');
        const puts = c.filter((x) => x.command === 'PutObject');
        const dynamo = c.filter((x) => x.service === 'dynamodb');
        return !!read && puts.length === 2 && puts.every((p) => overlap(p, read)) && dynamo.length <= 2 && roundsAfterWrite(c) === 0;
      },
    },
    // The profile pages' requests (issue 15). The caller's id is its sub index item's (`SUB#sub`):
    // a read before any read keyed by it (HIDDEN#caller), beside any read that is not.
    'user, anonymous': { target: '1 GetItem USER#', ok: (c) => inRounds(c, [['GetItem USER#']]) },
    'me (email, role)': {
      target: '2: SUB#sub names the id, then USER#id',
      ok: (c) => inRounds(c, [['GetItem SUB#'], ['GetItem USER#']]),
    },
    settings: { target: '1 GetItem USER# (404, 403 and the answer)', ok: (c) => inRounds(c, [['GetItem USER#']]) },
    'settings patch': {
      target: '1 TransactWriteItems, then the answer’s GetItem',
      ok: (c) => inRounds(c, [['TransactWriteItems'], ['GetItem USER#']]),
    },
    hide: { target: TOGGLE_TARGET, ok: (c) => inRounds(c, TOGGLE_ROUNDS) },
    show: { target: TOGGLE_TARGET, ok: (c) => inRounds(c, TOGGLE_ROUNDS) },
    is_hidden: {
      target: '2: SUB# ∥ USER# exists; HIDDEN#caller once SUB# names the caller (was: once both answered)',
      ok: (c) => inRounds(c, [['GetItem SUB#', 'GetItem USER#'], ['GetItem HIDDEN#']]),
    },
    is_hidden_by: {
      target: '1: SUB# ∥ USER# exists ∥ HIDDEN#id',
      ok: (c) => inRounds(c, [['GetItem SUB#', 'GetItem USER#', 'GetItem HIDDEN#']]),
    },
    'hidden_users (a page of 20)': {
      target: '3: SUB#, HIDDEN#caller, 1 BatchGetItem of the page',
      ok: (c) => inRounds(c, [['GetItem SUB#'], ['GetItem HIDDEN#'], ['BatchGetItem USER#']]),
    },
    hidden_users_id: { target: '2: SUB#, then HIDDEN#caller', ok: (c) => inRounds(c, [['GetItem SUB#'], ['GetItem HIDDEN#']]) },
    // The gallery is the caller's (SUB# names the id); a new avatar's key holds the id, so its put
    // follows SUB#, which is read while the image is decoded; the user's read goes out with the put.
    'gallery POST, 12-MP photo': { target: GALLERY_POST_TARGET, ok: (c) => inRounds(c, GALLERY_POST_ROUNDS) },
    'gallery POST, small PNG': { target: GALLERY_POST_TARGET, ok: (c) => inRounds(c, GALLERY_POST_ROUNDS) },
    'gallery PATCH primary': { target: GALLERY_CHANGE_TARGET, ok: (c) => inRounds(c, GALLERY_CHANGE_ROUNDS) },
    'gallery DELETE': { target: GALLERY_CHANGE_TARGET, ok: (c) => inRounds(c, GALLERY_CHANGE_ROUNDS) },
    'gallery GET (a page)': {
      target: '2: SUB#, then USER# (the page is cut from the item)',
      ok: (c) => inRounds(c, [['GetItem SUB#'], ['GetItem USER#']]),
    },
  };
  for (const trace of traces) {
    const check = checks[trace.scenario];
    const ok = answerReadOnlyAfterWrite(trace.calls) && (check ? check.ok(trace.calls) : true);
    row({
      figure: `${trace.scenario} → ${trace.status}`,
      value: describeCalls(trace.calls),
      floor: `${sequentialRounds(trace.calls)} sequential`,
      target: check?.target ?? '',
      ok: check ? ok : undefined,
    });
  }
  const more = traces.filter((t) => !answerReadOnlyAfterWrite(t.calls)).map((t) => t.scenario);
  row({
    figure: 'after a write, anything but the answer’s one read, any request',
    value: more.length ? more.join(', ') : 'none',
    target: 'none',
    ok: more.length === 0,
  });
}

// The toggle decides hide or show from one read of the set, then writes that decision once (an
// SDK retry of an applied write then finds the set as wanted): the set's read is needed, and is
// keyed by the caller's id, so it follows SUB#, but not the existence check (it did until issue 15's
// bench: test/integration/profile-round-trips.test.ts).
const TOGGLE_TARGET = '3: SUB# ∥ USER# exists; HIDDEN#caller once SUB# names the caller (was: once both answered); 1 UpdateItem';
const TOGGLE_ROUNDS = [['GetItem SUB#', 'GetItem USER#'], ['GetItem HIDDEN#'], ['UpdateItem HIDDEN#']];

const GALLERY_POST_TARGET = 'SUB# during the decode; put ∥ USER#; 1 TransactWriteItems; nothing after';
const GALLERY_POST_ROUNDS = [['GetItem SUB#'], ['GetItem USER#', 'PutObject'], ['TransactWriteItems']];
const GALLERY_CHANGE_TARGET = '3: SUB# names the id, USER#, 1 TransactWriteItems; nothing after';
const GALLERY_CHANGE_ROUNDS = [['GetItem SUB#'], ['GetItem USER#'], ['TransactWriteItems']];

/**
 * After the write, at most the one consistent read of the answer (a transaction returns no item),
 * and never S3: the stream tags and deletes.
 */
function answerReadOnlyAfterWrite(calls: CallRecord[]): boolean {
  const after = calls.filter((call) => calls.some((w) => WRITES.has(w.command) && w.start < call.start));
  return after.length <= 1 && after.every((call) => call.command === 'GetItem');
}

/** Exactly these calls, one after the other. */
const shape = (calls: CallRecord[], commands: string[]) =>
  calls.length === commands.length && [...calls].sort((a, b) => a.start - b.start).every((c, i) => c.command === commands[i]) && sequentialRounds(calls) === commands.length;

/** Round trips the caller waits for after the DynamoDB write has answered. */
function roundsAfterWrite(calls: CallRecord[]): number {
  const write = calls.filter((c) => WRITES.has(c.command)).at(-1);
  if (!write) return 0;
  return sequentialRounds(calls.filter((c) => c.start >= write.end));
}

export function warmRows(result: WarmResult) {
  section(`Warm handler on the local stack (n requests after warm-up; floor = same AWS calls issued directly)`);
  for (const timing of result.timings) {
    const p50 = [median(timing.handler), median(timing.floor)] as const;
    const p99 = [percentile(timing.handler, 0.99), percentile(timing.floor, 0.99)] as const;
    const sameCalls = JSON.stringify(sortKeys(timing.handlerCalls)) === JSON.stringify(sortKeys(timing.floorCalls));
    row({
      figure: `${timing.scenario} p50 (n=${timing.handler.length})`,
      value: ms(p50[0]),
      floor: ms(p50[1]),
      ratio: times(p50[0] / p50[1]),
      target: '≤ 1.2× floor',
      ok: p50[0] / p50[1] <= 1.2 && sameCalls,
    });
    row({ figure: `${timing.scenario} p99`, value: ms(p99[0]), floor: ms(p99[1]), ratio: times(p99[0] / p99[1]) });
    // Time outside the HTTP attempts: ours, plus the SDK's serializing and signing (in both).
    row({
      figure: `${timing.scenario}: outside the HTTP calls, p50`,
      value: ms(median(timing.own)),
      floor: ms(median(timing.floorOwn)),
    });
    if (!sameCalls) {
      row({
        figure: `${timing.scenario}: floor issues other calls`,
        value: JSON.stringify(timing.handlerCalls),
        floor: JSON.stringify(timing.floorCalls),
        ok: false,
      });
    }
  }
}

const sortKeys = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).sort());
