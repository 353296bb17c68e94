// A user item another tool wrote out of shape (a number beyond JavaScript's safe integers, a
// string where a number belongs): every reader refuses it the same defined way (src/users/user-item.ts).
// GET and PATCH answer the contract's 500 `server_error` in its envelope, with the item's key and
// the attribute names (never the values) in the log line. The stream side
// (dead-letter queue) is in test/integration/media-events.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NumberValue, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { createHandler as createGetHandler } from '../../src/functions/get-user/handler.ts';
import { createHandler as createPatchHandler, type ApiEvent } from '../../src/functions/patch-user/handler.ts';
import { fixtureEvent, startTestBackend, type TestBackend, userSeeder } from '../support/backend.ts';
import { accessToken, makeKey } from '../../tools/support/tokens.ts';

const key = makeKey();
let backend: TestBackend;

before(async () => {
  backend = await startTestBackend({ keys: [key] });
});
after(async () => {
  await backend.stop();
});

const newUser = userSeeder(() => backend, 'shapeless', 9100);
const token = (sub: string) => accessToken(key, { sub }, backend.pool);

/** Runs `call` and returns what it logged (the handlers' JSON lines on stdout). */
async function logged<T>(call: () => Promise<T>): Promise<{ result: T; lines: Array<Record<string, unknown>> }> {
  const lines: Array<Record<string, unknown>> = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (typeof chunk === 'string' && chunk.startsWith('{"level":')) {
      lines.push(JSON.parse(chunk) as Record<string, unknown>);
      return true;
    }
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  try {
    return { result: await call(), lines };
  } finally {
    process.stdout.write = write;
  }
}

function getEvent(id: number, sub: string): ApiEvent {
  const event = fixtureEvent('json', { id, token: token(sub) });
  event.httpMethod = 'GET';
  event.body = null;
  const headers: Record<string, string | undefined> = { ...event.headers };
  delete headers['Content-Type'];
  event.headers = headers;
  return event;
}

const SERVER_ERROR = { errors: [{ code: 'server_error', message: 'A server error occurred.' }] };

describe('a user item out of shape', () => {
  for (const [what, attribute, value] of [
    ['a number beyond JavaScript’s safe integers', 'reputation', NumberValue.from('9007199254740993')],
    ['a string where a counter belongs', 'followers_counter', 'many'],
    // The gallery (src/users/avatar-gallery.ts): entries must be `{id, key, uploaded}`.
    ['a gallery entry without its key', 'avatars', [{ id: 1, uploaded: '2025-01-01T00:00:00Z' }]],
    ['a gallery that is not a list', 'avatars', 'many'],
    ['a string where the last avatar id belongs', 'avatar_seq', 'many'],
  ] as const) {
    it(`${what}: GET and PATCH answer 500 server_error in the envelope, logged with the key`, async () => {
      const user = await newUser();
      await backend.dynamo.send(
        new UpdateCommand({
          TableName: backend.config.tableName,
          Key: { pk: `USER#${user.id}` },
          UpdateExpression: 'SET #a = :v',
          ExpressionAttributeNames: { '#a': attribute },
          ExpressionAttributeValues: { ':v': value },
        }),
      );
      const stored = await backend.scanTable();

      const get = await logged(() => createGetHandler(backend.config)(getEvent(user.id, user.sub)));
      assert.equal(get.result.statusCode, 500);
      assert.deepEqual(JSON.parse(get.result.body), SERVER_ERROR);
      const getLine = get.lines.find((line) => line.message === 'request failed');
      assert.ok(getLine, JSON.stringify(get.lines));
      assert.equal(getLine.error, 'UnreadableItemError');
      assert.match(String(getLine.detail), new RegExp(`USER#${user.id}\\b.*${attribute}`));
      assert.doesNotMatch(JSON.stringify(get.lines), /9007199254740993|many/, 'never the value');

      const patch = await logged(() =>
        createPatchHandler(backend.config)(fixtureEvent('json', { id: user.id, token: token(user.sub), body: JSON.stringify({ bio: 'new' }) })),
      );
      assert.equal(patch.result.statusCode, 500);
      assert.deepEqual(JSON.parse(patch.result.body), SERVER_ERROR);
      assert.match(String(patch.lines.find((line) => line.message === 'request failed')?.detail), new RegExp(`USER#${user.id}\\b`));
      // The PATCH's one conditional UpdateItem has no read before it: its write stands (whole,
      // the stream parks its record in the dead-letter queue), and the answer cannot render it.
      const after = (await backend.scanTable()).find((item) => item.pk === `USER#${user.id}`)!;
      const before = stored.find((item) => item.pk === `USER#${user.id}`)!;
      assert.deepEqual({ ...after, bio: undefined, version: undefined }, { ...before, bio: undefined, version: undefined });
    });
  }
});
