// The DynamoDB calls of the profile pages' requests, counted on the handlers' own client: each
// request makes the calls its design names (docs/settings-and-hidden-users.md, "Round trips";
// docs/users.md for `/me/`), and a read keyed by the caller's id waits for the sub index item
// that names the caller, not for the existence check beside it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createHandler as createGetHandler } from '../../src/functions/get-user/handler.ts';
import { createHandler as createPatchHandler } from '../../src/functions/patch-user/handler.ts';
import type { ApiHandler } from '../../src/http/frame.ts';
import { createAwsClients } from '../../src/store/aws-clients.ts';
import { startTestBackend, type TestBackend, userSeeder } from '../support/backend.ts';
import { profileEvent, type ProfileRequest } from '../support/profile-requests.ts';
import { accessToken, makeKey } from '../../tools/support/tokens.ts';

interface Call {
  /** `GetItem USER#`: the command and the kind of item it names. */
  name: string;
  /** The existence check: a read of the user's key alone. */
  keyOnly: boolean;
  start: number;
  end: number;
}

const key = makeKey();
let backend: TestBackend;

before(async () => {
  backend = await startTestBackend({ keys: [key] });
});
after(async () => {
  await backend.stop();
});

const newUser = userSeeder(() => backend, 'tripper', 9600);
const tokenOf = (user: { sub: string }) => accessToken(key, { sub: user.sub }, backend.pool);

/**
 * The two functions on one DynamoDB client that records every call; the existence check's read
 * is held back `existenceDelayMs` first, as a slow answer from DynamoDB would be.
 */
function countedFunctions(existenceDelayMs = 0) {
  const clients = createAwsClients(backend.config);
  const calls: Call[] = [];
  clients.dynamo.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as {
        Key?: { pk?: { S?: string } };
        ProjectionExpression?: string;
        RequestItems?: Record<string, { Keys: { pk?: { S?: string } }[] }>;
      };
      const pk = input.Key?.pk?.S ?? Object.values(input.RequestItems ?? {})[0]?.Keys[0]?.pk?.S;
      const kind = pk === undefined ? '' : ` ${/^[A-Z]+#/.exec(pk)?.[0]}`;
      const call: Call = {
        name: `${String(context.commandName).replace(/Command$/, '')}${kind}`,
        keyOnly: input.ProjectionExpression === 'pk',
        start: performance.now(),
        end: 0,
      };
      calls.push(call);
      try {
        if (call.keyOnly && existenceDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, existenceDelayMs));
        return await next(args);
      } finally {
        call.end = performance.now();
      }
    },
    { step: 'initialize', name: 'countCalls' },
  );
  const getUser = createGetHandler(backend.config, clients.dynamo);
  const patchUser = createPatchHandler(backend.config, clients);
  const send = async (handler: ApiHandler, request: ProfileRequest) => {
    calls.length = 0;
    const response = await handler(profileEvent(request));
    return { status: response.statusCode, json: response.body ? (JSON.parse(response.body) as any) : undefined, calls: [...calls] };
  };
  return {
    get: (user: { sub: string } | undefined, path: string) => send(getUser, { path, method: 'GET', ...(user && { token: tokenOf(user) }) }),
    write: (user: { sub: string }, method: string, path: string, body?: unknown) =>
      send(patchUser, {
        path,
        method,
        token: tokenOf(user),
        ...(body !== undefined && { body: JSON.stringify(body), contentType: 'application/json' }),
      }),
  };
}

const names = (calls: Call[]) => calls.map((call) => call.name).sort();

describe('round trips of the profile pages’ requests', () => {
  it('each request makes the DynamoDB calls its design names, no more', async () => {
    const [me, them] = [await newUser(), await newUser()];
    const fns = countedFunctions();

    let res = await fns.get(undefined, `${them.id}/`);
    assert.equal(res.status, 200);
    assert.deepEqual(names(res.calls), ['GetItem USER#']);

    res = await fns.get(me, 'me/');
    assert.equal(res.status, 200);
    assert.deepEqual(res.calls.map((c) => c.name), ['GetItem SUB#', 'GetItem USER#']);

    res = await fns.get(me, `${me.id}/settings/`);
    assert.equal(res.status, 200);
    assert.deepEqual(names(res.calls), ['GetItem USER#']);

    res = await fns.write(me, 'PATCH', `${me.id}/settings/`, { qa_frequency: 0 });
    assert.equal(res.status, 200);
    assert.deepEqual(res.calls.map((c) => c.name), ['TransactWriteItems', 'GetItem USER#']);

    res = await fns.write(me, 'POST', `${them.id}/hide/`);
    assert.equal(res.status, 204);
    assert.deepEqual(names(res.calls), ['GetItem HIDDEN#', 'GetItem SUB#', 'GetItem USER#', 'UpdateItem HIDDEN#']);

    res = await fns.get(me, `${them.id}/is_hidden/`);
    assert.deepEqual([res.status, res.json], [200, { is_hidden: true }]);
    assert.deepEqual(names(res.calls), ['GetItem HIDDEN#', 'GetItem SUB#', 'GetItem USER#']);

    res = await fns.get(them, `${me.id}/is_hidden_by/`);
    assert.deepEqual([res.status, res.json], [200, { is_hidden_by: true }]);
    assert.deepEqual(names(res.calls), ['GetItem HIDDEN#', 'GetItem SUB#', 'GetItem USER#']);

    res = await fns.get(me, 'hidden_users/');
    assert.equal(res.status, 200);
    assert.deepEqual(res.calls.map((c) => c.name), ['GetItem SUB#', 'GetItem HIDDEN#', 'BatchGetItem USER#']);

    res = await fns.get(me, 'hidden_users_id/');
    assert.deepEqual([res.status, res.json], [200, [them.id]]);
    assert.deepEqual(res.calls.map((c) => c.name), ['GetItem SUB#', 'GetItem HIDDEN#']);
  });

  it('is_hidden and hide read the caller’s set once the sub index names the caller, beside a slow existence check', async () => {
    const [me, them] = [await newUser(), await newUser()];
    const slow = 300;
    const fns = countedFunctions(slow);
    const check = (calls: Call[]) => {
      const existence = calls.find((c) => c.keyOnly)!;
      const set = calls.find((c) => c.name === 'GetItem HIDDEN#')!;
      assert.ok(existence && set, JSON.stringify(calls));
      // Before the fix the set's read waited for both reads: it started after the slow one ended.
      assert.ok(set.start < existence.end - slow / 2, `HIDDEN# read started ${set.start - existence.start} ms after the existence check`);
      return existence;
    };

    const hide = await fns.write(me, 'POST', `${them.id}/hide/`);
    assert.equal(hide.status, 204);
    const existence = check(hide.calls);
    // The write waits for the existence check: an unknown user is a 404 and nothing is written.
    const write = hide.calls.find((c) => c.name === 'UpdateItem HIDDEN#')!;
    assert.ok(write.start >= existence.end);

    const isHidden = await fns.get(me, `${them.id}/is_hidden/`);
    assert.deepEqual([isHidden.status, isHidden.json], [200, { is_hidden: true }]);
    check(isHidden.calls);

    // An unknown user is still a 404, and the toggle writes nothing.
    const unknown = await fns.write(me, 'POST', '9699/hide/');
    assert.equal(unknown.status, 404);
    assert.ok(!unknown.calls.some((c) => c.name.startsWith('UpdateItem')));
    assert.deepEqual((await fns.get(me, 'hidden_users_id/')).json, [them.id]);
  });
});
