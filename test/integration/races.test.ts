// Concurrent requests through the real handler against DynamoDB Local: no two requests get one
// name, a failed request leaves no claim behind, and no stored user is a mix of two requests.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createHandler, type Handler } from '../../src/functions/patch-user/handler.ts';
import { checkInvariants } from '../../tools/cli/check-invariants.ts';
import { fixtureEvent, multipartBody, startTestBackend, type TestBackend, userSeeder } from '../support/backend.ts';
import { avatarEvent } from '../support/avatars.ts';
import { catchUpStream, catchUpTarget } from '../support/stream.ts';
import { pngImage } from '../../tools/support/images.ts';
import { accessToken, makeKey } from '../../tools/support/tokens.ts';
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { profileEvent } from '../support/profile-requests.ts';
import { createAwsClients } from '../../src/store/aws-clients.ts';

const key = makeKey();
let backend: TestBackend;
let handler: Handler;

before(async () => {
  backend = await startTestBackend({ keys: [key] });
  handler = createHandler(backend.config);
});
after(async () => {
  // Whatever the races did, the table and the bucket must still be consistent.
  const report = await checkInvariants(backend.dynamo, backend.s3, backend.config);
  assert.deepEqual(report.problems, []);
  await backend.stop();
});

const newUsers = userSeeder(() => backend, 'racer', 1000).many;

async function patch(user: { id: number; sub: string }, body: unknown) {
  const response = await handler(
    fixtureEvent('json', { id: user.id, token: accessToken(key, { sub: user.sub }, backend.pool), body: JSON.stringify(body) }),
  );
  return { status: response.statusCode, json: JSON.parse(response.body) as Record<string, any> };
}

const claimsOf = async (username: string) =>
  (await backend.scanTable()).filter((item) => item.pk === `USERNAME#${username.toLowerCase()}`);

describe('races', () => {
  it('20 users claiming one name at once: exactly one wins', async () => {
    const users = await newUsers(20);
    const results = await Promise.all(users.map((user, i) => patch(user, { username: i % 2 ? 'TheOne' : 'theone' })));
    const winners = results.filter((r) => r.status === 200);
    const losers = results.filter((r) => r.status === 400);
    assert.equal(winners.length, 1, JSON.stringify(results.map((r) => r.status)));
    assert.equal(losers.length, 19);
    for (const loser of losers) {
      assert.deepEqual(loser.json.errors, [
        { field: 'username', messages: [{ code: 'unique', message: 'A user with that username already exists.' }] },
      ]);
    }
    const claims = await claimsOf('theone');
    assert.equal(claims.length, 1);
    assert.equal(claims[0]!.user_id, winners[0]!.json.id);
    // The losers keep their names and claims.
    for (const user of users.filter((u) => u.id !== winners[0]!.json.id)) {
      assert.equal((await backend.getUser(user.id))?.username, user.username);
      assert.equal((await backend.getClaim(user.username))?.user_id, user.id);
    }
  });

  it('two concurrent renames by one user: one name ends up held, the other is free', async () => {
    const [user] = await newUsers(1);
    const results = await Promise.all([patch(user!, { username: 'first_choice' }), patch(user!, { username: 'second_choice' })]);
    for (const r of results) assert.ok(r.status === 200 || r.status === 503, JSON.stringify(r));
    const stored = await backend.getUser(user!.id);
    assert.ok(['first_choice', 'second_choice'].includes(stored!.username));
    const other = stored!.username === 'first_choice' ? 'second_choice' : 'first_choice';
    assert.equal((await backend.getClaim(stored!.username))?.user_id, user!.id);
    assert.equal(await backend.getClaim(other), undefined, 'the losing name is not left claimed');
    assert.equal(await backend.getClaim(user!.username), undefined, 'the old name is freed');
  });

  it('concurrent patches of one user: the stored user equals one of them', async () => {
    const [user] = await newUsers(1);
    const bodies = Array.from({ length: 10 }, (_, i) => ({
      real_name: `Name ${i}`,
      bio: `Bio ${i}`,
      location: `Place ${i}`,
      ...(i % 3 === 0 && { username: `concurrent_${i}` }),
    }));
    const results = await Promise.all(bodies.map((body) => patch(user!, body)));
    for (const r of results) assert.ok(r.status === 200 || r.status === 503, JSON.stringify(r));
    const stored = await backend.getUser(user!.id);
    const match = bodies.findIndex(
      (b) => b.real_name === stored!.real_name && b.bio === stored!.bio && b.location === stored!.location,
    );
    assert.ok(match >= 0, `stored user is a mix: ${JSON.stringify(stored)}`);
    // Every 200 answer is a user some request could have produced.
    for (const r of results.filter((x) => x.status === 200)) {
      assert.ok(bodies.some((b) => b.real_name === r.json.real_name && b.bio === r.json.bio));
    }
  });

  it('a username freed by a rename is claimable at once', async () => {
    const [a, b] = await newUsers(2);
    assert.equal((await patch(a!, { username: 'passed_on' })).status, 200);
    assert.equal((await patch(a!, { username: 'moved_away' })).status, 200);
    const res = await patch(b!, { username: 'PASSED_ON' });
    assert.equal(res.status, 200);
    assert.equal((await backend.getClaim('passed_on'))?.user_id, b!.id);
  });
});

describe('races: hiding users', () => {
  const hideHandler = () => createHandler(backend.config);
  async function hide(caller: { id: number; sub: string }, id: number, handler = hideHandler()) {
    const response = await handler(
      profileEvent({ path: `${id}/hide/`, method: 'POST', token: accessToken(key, { sub: caller.sub }, backend.pool) }),
    );
    return { status: response.statusCode, json: response.body ? (JSON.parse(response.body) as Record<string, any>) : undefined };
  }
  const hiddenSet = async (id: number) => {
    const { Item } = await backend.dynamo.send(new GetCommand({ TableName: backend.config.tableName, Key: { pk: `HIDDEN#${id}` }, ConsistentRead: true }));
    return [...((Item?.hidden as Set<number> | undefined) ?? [])].sort((a, b) => a - b);
  };

  /**
   * Two handlers whose toggle writes wait for each other: both have read the state before either
   * writes, as two tabs' requests can (without it, one could read after the other wrote).
   */
  function handlersThatReadTogether(count: number) {
    let arrived = 0;
    let release!: () => void;
    const together = new Promise<void>((resolve) => (release = resolve));
    return Array.from({ length: count }, () => {
      const clients = createAwsClients(backend.config);
      clients.dynamo.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === 'UpdateItemCommand') {
            if (++arrived === count) release();
            await together;
          }
          return next(args);
        },
        { step: 'initialize', name: 'readTogether' },
      );
      return createHandler(backend.config, clients);
    });
  }

  it('two toggles from the same state at once: both 204, and the user ends as both asked (hidden, then shown)', async () => {
    const [me, them] = await newUsers(2);
    let handlers = handlersThatReadTogether(2);
    const hides = await Promise.all(handlers.map((h) => hide(me!, them!.id, h)));
    assert.deepEqual(hides.map((r) => r.status), [204, 204], JSON.stringify(hides));
    assert.deepEqual(await hiddenSet(me!.id), [them!.id]);
    handlers = handlersThatReadTogether(2);
    const shows = await Promise.all(handlers.map((h) => hide(me!, them!.id, h)));
    assert.deepEqual(shows.map((r) => r.status), [204, 204], JSON.stringify(shows));
    assert.deepEqual(await hiddenSet(me!.id), []);
  });

  it('the 1000-user limit holds under concurrent hides: exactly the free places are taken, the rest 400 invalid', async () => {
    const [me, ...others] = await newUsers(16);
    // 995 hidden already (ids of no user: removed again below, before the invariants are checked).
    const prefilled = Array.from({ length: 995 }, (_, i) => 5_000_000 + i);
    await backend.dynamo.send(new PutCommand({ TableName: backend.config.tableName, Item: { pk: `HIDDEN#${me!.id}`, hidden: new Set(prefilled) } }));
    try {
      assert.equal(backend.config.maxHiddenUsers, 1000, 'the default limit');
      const results = await Promise.all(others.map((other) => hide(me!, other.id)));
      const taken = results.filter((r) => r.status === 204);
      const refused = results.filter((r) => r.status === 400);
      assert.equal(taken.length, 5, JSON.stringify(results.map((r) => r.status)));
      assert.equal(refused.length, 10);
      for (const r of refused) assert.equal(r.json!.errors[0].code, 'invalid');
      const stored = await hiddenSet(me!.id);
      assert.equal(stored.length, 1000);
      // Exactly the users whose hide was answered 204 are hidden.
      const winners = others.filter((_, i) => results[i]!.status === 204).map((u) => u.id);
      assert.deepEqual(stored.filter((id) => id < 5_000_000), winners);
    } finally {
      await backend.dynamo.send(new DeleteCommand({ TableName: backend.config.tableName, Key: { pk: `HIDDEN#${me!.id}` } }));
    }
  });
});

describe('races: a sign-in’s e-mail refresh beside the owner’s writes', () => {
  it('sign-ins with new e-mails racing patches and renames: every write lands, none undoes another', async () => {
    const { createHandler: createSignIn } = await import('../../src/functions/post-authentication/handler.ts');
    const { readSignUpConfig } = await import('../../src/platform/config.ts');
    const signIn = createSignIn(
      readSignUpConfig({ AWS_REGION: backend.config.region, TABLE_NAME: backend.config.tableName, DYNAMODB_ENDPOINT: backend.emulators.dynamodbEndpoint }),
    );
    const [user] = await newUsers(1);
    const event = (n: number) => ({
      triggerSource: 'PostAuthentication_Authentication',
      request: { userAttributes: { sub: user!.sub, email: `racer${n}@example.org`, email_verified: 'true' } },
      response: {},
    });
    const before = (await backend.getUser(user!.id))!.version;
    const results = await Promise.all([
      ...Array.from({ length: 6 }, (_, n) => patch(user!, n % 2 ? { bio: `bio ${n}` } : { username: `racer_name_${n}`, bio: `bio ${n}` })),
      ...Array.from({ length: 6 }, (_, n) => signIn(event(n)).then(() => ({ status: 200, json: {} }))),
    ]);
    assert.deepEqual(results.map((r) => r.status), Array(12).fill(200));
    const stored = (await backend.getUser(user!.id))!;
    assert.match(String(stored.email), /^racer[0-5]@example\.org$/);
    assert.match(String(stored.bio), /^bio [0-5]$/);
    assert.match(stored.username, /^racer_name_[024]$/);
    // Each write that changed something moved the version once: 6 patches, and each refresh that
    // found another address than the last one written (at least the first).
    assert.ok(stored.version >= before + 7 && stored.version <= before + 12, `${before} → ${stored.version}`);
    assert.equal((await backend.getClaim(stored.username))?.user_id, user!.id);
  });
});

describe('races: the avatar gallery', () => {
  const MAX = 3;
  // A small gallery, so that a handful of tabs can race for its last places.
  const galleryHandler = () => createHandler({ ...backend.config, maxAvatars: MAX });
  const png = () => multipartBody({ avatar: { bytes: pngImage(), filename: 'a.png', type: 'image/png' } });
  const send = async (handler: Handler, user: { sub: string }, method: string, body: Parameters<typeof avatarEvent>[1] = {}) => {
    const response = await handler(avatarEvent(method, { token: accessToken(key, { sub: user.sub }, backend.pool), ...body }));
    return { status: response.statusCode, body: response.body };
  };

  /** The stored gallery is whole: unique ids, at most one primary, the user's avatar its URL. */
  async function assertConsistent(id: number) {
    await catchUpStream(catchUpTarget(backend));
    const stored = (await backend.getUser(id))!;
    const entries = stored.avatars ?? [];
    assert.equal(new Set(entries.map((e) => e.id)).size, entries.length, 'ids unique');
    if (stored.avatar_key !== undefined) assert.equal(entries.filter((e) => e.key === stored.avatar_key).length, 1, 'the primary is one avatar');
    assert.deepEqual((await checkInvariants(backend.dynamo, backend.s3, backend.config)).problems, []);
    return stored;
  }

  it('six tabs adding at once to an empty gallery of at most 3: never more than 3, exactly one primary, no object left behind', async () => {
    const [user] = await newUsers(1);
    const handler = galleryHandler();
    const results = await Promise.all(Array.from({ length: 6 }, () => send(handler, user!, 'POST', png())));
    for (const r of results) assert.ok([201, 400, 503].includes(r.status), JSON.stringify(r));
    const added = results.filter((r) => r.status === 201).map((r) => JSON.parse(r.body));
    for (const r of results.filter((x) => x.status === 400)) assert.equal(JSON.parse(r.body).errors[0].messages[0].code, 'max_avatars');
    assert.ok(added.length <= MAX && added.length >= 1, JSON.stringify(results));
    assert.equal(added.filter((a) => a.primary).length, 1, 'one answer says primary');
    const stored = await assertConsistent(user!.id);
    assert.equal(stored.avatars!.length, added.length, 'every 201 is stored, nothing else');
    assert.equal(stored.avatar_key, stored.avatars!.find((e) => e.id === added.find((a) => a.primary).id)!.key);
    assert.deepEqual((await backend.objectKeys(`avatar/${user!.id}/`)).sort(), stored.avatars!.map((e) => e.key).sort());
  });

  it('deleting the primary while another tab sets it primary again: ends consistent, whichever came first', async () => {
    const [user] = await newUsers(1);
    const handler = galleryHandler();
    for (let i = 0; i < 2; i++) assert.equal((await send(handler, user!, 'POST', png())).status, 201);
    const json = (value: unknown) => ({ body: JSON.stringify(value), contentType: 'application/json' });
    const [deleted, made] = await Promise.all([
      send(handler, user!, 'DELETE', json({ avatar_id: 1 })),
      send(handler, user!, 'PATCH', json({ avatar_id: 1 })),
    ]);
    assert.equal(deleted.status, 204, deleted.body);
    assert.ok([204, 404].includes(made.status), made.body);
    const stored = await assertConsistent(user!.id);
    // Avatar 1 is gone whatever the order, so nobody holds it as primary.
    assert.deepEqual(stored.avatars!.map((e) => e.id), [2]);
    assert.equal(stored.avatar_key, undefined);
  });

  it('a tab adding while another replaces the primary through PATCH /{id}/: both land, one primary', async () => {
    const [user] = await newUsers(1);
    const handler = galleryHandler();
    assert.equal((await send(handler, user!, 'POST', png())).status, 201);
    const [added, patched] = await Promise.all([
      send(handler, user!, 'POST', png()),
      handler(fixtureEvent('multipart', { id: user!.id, token: accessToken(key, { sub: user!.sub }, backend.pool), ...png() })),
    ]);
    assert.equal(added.status, 201, added.body);
    assert.equal(patched.statusCode, 200, patched.body);
    const stored = await assertConsistent(user!.id);
    assert.equal(stored.avatars!.length, 2, 'the old primary replaced, the added one kept');
    assert.equal(`${backend.config.mediaBaseUrl}/${stored.avatar_key}`, JSON.parse(patched.body).avatar);
  });
});
