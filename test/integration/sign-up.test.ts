// The Cognito Post confirmation trigger against DynamoDB Local: the contract's "Sign-up".
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { createHandler, type Handler, type PostConfirmationEvent } from '../../src/functions/post-confirmation/handler.ts';
import { readSignUpConfig } from '../../src/platform/config.ts';
import { claimKey } from '../../src/users/username-keys.ts';
import { checkInvariants } from '../../tools/cli/check-invariants.ts';
import { startTestBackend, type TestBackend } from '../support/backend.ts';
import { makeKey } from '../../tools/support/tokens.ts';

const FIXTURE = JSON.parse(
  readFileSync(new URL('../fixtures/events/cognito-post-confirmation.json', import.meta.url), 'utf8'),
) as PostConfirmationEvent;

let backend: TestBackend;
let handler: Handler;

before(async () => {
  backend = await startTestBackend({ keys: [makeKey()] });
  // Only what the trigger reads: no bucket, media URL or pool settings.
  const config = readSignUpConfig({
    AWS_REGION: backend.config.region,
    TABLE_NAME: backend.config.tableName,
    DYNAMODB_ENDPOINT: backend.emulators.dynamodbEndpoint,
  });
  handler = createHandler(config);
});
after(async () => {
  const report = await checkInvariants(backend.dynamo, backend.s3, backend.config);
  assert.deepEqual(report.problems, []);
  await backend.stop();
});

let subs = 0;
/** The recorded event for a new sub, with other attributes where given (undefined removes one). */
function signUpEvent(attributes: Record<string, string | undefined> = {}): PostConfirmationEvent {
  const event = structuredClone(FIXTURE);
  const sub = `00000000-0000-4000-9000-${String(++subs).padStart(12, '0')}`;
  const merged: Record<string, string | undefined> = { ...event.request.userAttributes, sub, ...attributes };
  for (const [name, value] of Object.entries(merged)) if (value === undefined) delete merged[name];
  event.request.userAttributes = merged;
  event.userName = merged.sub;
  return event;
}

async function item(pk: string): Promise<Record<string, any> | undefined> {
  return (await backend.scanTable()).find((i) => i.pk === pk);
}

async function userOfSub(sub: string): Promise<Record<string, any>> {
  const index = await item(`SUB#${sub}`);
  assert.ok(index, `a sub index for ${sub}`);
  const user = await backend.getUser(index.user_id);
  assert.ok(user, `user ${index.user_id}`);
  return user as Record<string, any>;
}

const USERNAME = /^[A-Za-z0-9_-]{1,255}$/;
// The contract's "Names nobody may take".
const CONTRACT_RESERVED = ['admin', 'administrator', 'root', 'system', 'support', 'help', 'security', 'staff', 'moderator', 'selfcommunity', 'me', 'avatar', 'hidden_users', 'hidden_users_id'];

describe('post confirmation trigger', () => {
  it('creates the user, its claim and its sub index, and answers with the event it received', async () => {
    const event = signUpEvent({ preferred_username: 'grace_hopper', email: 'grace@example.org' });
    const sent = structuredClone(event);
    const before = Date.now();
    const answer = await handler(event);
    assert.deepEqual(answer, sent);
    const sub = event.request.userAttributes.sub!;
    const user = await userOfSub(sub);
    assert.equal(user.username, 'grace_hopper');
    assert.equal(user.sub, sub);
    assert.equal(user.version, 1);
    assert.ok(Number.isSafeInteger(user.id) && user.id > 0);
    const joined = Date.parse(user.date_joined);
    assert.ok(joined >= before - 1000 && joined <= Date.now() + 1000, user.date_joined);
    assert.deepEqual(await backend.getClaim('grace_hopper'), { pk: 'USERNAME#grace_hopper', user_id: user.id });
    // Defaults: no profile text, no images.
    for (const field of ['real_name', 'bio', 'website', 'avatar_key', 'cover_key']) assert.equal(user[field], undefined);
    // The pool's e-mail and its verification, mirrored for /me/ (contract, "Reading a user").
    assert.equal(user.email, 'grace@example.org');
    assert.equal(user.email_verified, true);
  });

  it('gives increasing ids from the counter', async () => {
    const first = signUpEvent({ preferred_username: undefined, email: 'inc1@example.org' });
    const second = signUpEvent({ preferred_username: undefined, email: 'inc2@example.org' });
    await handler(first);
    await handler(second);
    const a = await userOfSub(first.request.userAttributes.sub!);
    const b = await userOfSub(second.request.userAttributes.sub!);
    assert.ok(b.id > a.id, `${b.id} after ${a.id}`);
    const counter = await item('COUNTER#user');
    assert.ok(counter && counter.last_id >= b.id);
  });

  it('a repeated invocation for one sub creates nothing more', async () => {
    const event = signUpEvent({ preferred_username: 'repeated', email: 'repeated@example.org' });
    await handler(event);
    const items = await backend.scanTable();
    assert.deepEqual(await handler(structuredClone(event)), event);
    await Promise.all([handler(structuredClone(event)), handler(structuredClone(event))]);
    const again = await backend.scanTable();
    const withoutCounter = (list: Record<string, unknown>[]) =>
      list.filter((i) => i.pk !== 'COUNTER#user').sort((x, y) => String(x.pk).localeCompare(String(y.pk)));
    assert.deepEqual(withoutCounter(again), withoutCounter(items));
    assert.equal((await userOfSub(event.request.userAttributes.sub!)).username, 'repeated');
  });

  it('a sub index whose user was deleted: the next invocation creates the user again under that id', async () => {
    const event = signUpEvent({ preferred_username: 'back_again', email: 'back.again@example.org' });
    await handler(event);
    const sub = event.request.userAttributes.sub!;
    const { id } = await userOfSub(sub);
    const deleteItem = (pk: string) => backend.dynamo.send(new DeleteCommand({ TableName: backend.config.tableName, Key: { pk } }));
    // The user gone, its claim and sub index left: the claim is taken over, the name kept.
    await deleteItem(`USER#${id}`);
    assert.deepEqual(await handler(structuredClone(event)), event);
    const restored = await userOfSub(sub);
    assert.equal(restored.id, id);
    assert.equal(restored.sub, sub);
    assert.equal(restored.username, 'back_again');
    assert.equal(restored.version, 1);
    assert.deepEqual([restored.email, restored.email_verified], ['back.again@example.org', true]);
    assert.deepEqual(await backend.getClaim('back_again'), { pk: 'USERNAME#back_again', user_id: id });
    // The user and its claim gone: a name from the same candidates. Several invocations at once
    // restore it once.
    await deleteItem(`USER#${id}`);
    await deleteItem('USERNAME#back_again');
    await Promise.all(Array.from({ length: 4 }, () => handler(structuredClone(event))));
    const again = await userOfSub(sub);
    assert.equal(again.id, id);
    assert.equal(again.username, 'back_again');
    assert.equal((await backend.scanTable()).filter((i) => i.sub === sub).length, 1);
    // Restored, a further invocation changes nothing.
    const items = await backend.scanTable();
    await handler(structuredClone(event));
    assert.deepEqual(await backend.scanTable(), items);
  });

  it('a sub index naming a user of another sub fails the trigger and writes nothing', async () => {
    const owner = signUpEvent({ preferred_username: 'index_owner' });
    await handler(owner);
    const { id } = await userOfSub(owner.request.userAttributes.sub!);
    const event = signUpEvent({ preferred_username: 'index_thief' });
    const sub = event.request.userAttributes.sub!;
    await backend.dynamo.send(new PutCommand({ TableName: backend.config.tableName, Item: { pk: `SUB#${sub}`, user_id: id } }));
    const items = await backend.scanTable();
    await assert.rejects(handler(event));
    assert.deepEqual(await backend.scanTable(), items);
    // Put right for the invariant check after the suite.
    await backend.dynamo.send(new DeleteCommand({ TableName: backend.config.tableName, Key: { pk: `SUB#${sub}` } }));
  });

  it('concurrent invocations for one new sub create one user', async () => {
    const event = signUpEvent({ preferred_username: 'twice_at_once', email: 'twice@example.org' });
    await Promise.all(Array.from({ length: 5 }, () => handler(structuredClone(event))));
    const sub = event.request.userAttributes.sub!;
    const users = (await backend.scanTable()).filter((i) => i.sub === sub);
    assert.equal(users.length, 1);
  });

  it('a taken preferred_username falls back to the e-mail, never failing the sign-up', async () => {
    await handler(signUpEvent({ preferred_username: 'Taken_Name', email: 'first@example.org' }));
    // Usernames are unique case-insensitively.
    const event = signUpEvent({ preferred_username: 'taken_name', email: 'marie.curie@example.org' });
    await handler(event);
    const user = await userOfSub(event.request.userAttributes.sub!);
    assert.notEqual(user.username.toLowerCase(), 'taken_name');
    assert.match(user.username, USERNAME);
    assert.match(user.username, /^marie_curie\d*$/);
  });

  it('an invalid preferred_username is not used', async () => {
    for (const preferred of ['has space', 'dot.name', '___', 'é', 'x'.repeat(256), '']) {
      const event = signUpEvent({ preferred_username: preferred, email: 'alan.turing@example.org' });
      await handler(event);
      const user = await userOfSub(event.request.userAttributes.sub!);
      assert.match(user.username, /^alan_turing\d*$/, `preferred ${JSON.stringify(preferred)} gave ${user.username}`);
    }
  });

  it('a name made from the e-mail is in the username alphabet, with a number added until free', async () => {
    const names: string[] = [];
    for (const email of ['"o\'brien"+news@example.org', 'o.brien@example.org', 'O_Brien@example.org']) {
      const event = signUpEvent({ preferred_username: undefined, email });
      await handler(event);
      names.push((await userOfSub(event.request.userAttributes.sub!)).username);
    }
    for (const name of names) assert.match(name, USERNAME);
    // The +tag is dropped (contract, "Sign-up"): the first gets the plain name.
    assert.equal(names[0], 'o_brien');
    // The same letters, case aside, as the first: each gets a number.
    assert.match(names[1]!, /^o_brien\d+$/);
    assert.match(names[2]!, /^O_Brien\d+$/);
    assert.equal(new Set(names.map((n) => n.toLowerCase())).size, names.length);
  });

  it('a +tag never becomes part of the name (contract, "Sign-up")', async () => {
    const event = signUpEvent({ preferred_username: undefined, email: 'alice.private+dating@example.com' });
    await handler(event);
    assert.equal((await userOfSub(event.request.userAttributes.sub!)).username, 'alice_private');
  });

  it('a reserved name or a lookalike of one is skipped, as preferred name and as e-mail base (contract, "Names nobody may take")', async () => {
    const cases = [
      { preferred_username: 'admin', email: 'grace.hopper@example.org' },
      { preferred_username: 'Admin', email: 'grace.hopper@example.org' },
      { preferred_username: 'SelfCommunity', email: 'grace.hopper@example.org' },
      { preferred_username: undefined, email: 'ａｄｍｉｎ@example.org' },
      { preferred_username: undefined, email: '\u0430dmin@example.org' },
      { preferred_username: undefined, email: 'support+help@example.org' },
    ];
    for (const attributes of cases) {
      const event = signUpEvent(attributes);
      await handler(event);
      const { username } = await userOfSub(event.request.userAttributes.sub!);
      assert.match(username, USERNAME);
      for (const reserved of ['admin', 'selfcommunity', 'support']) {
        assert.ok(!username.toLowerCase().startsWith(reserved), `${JSON.stringify(attributes)} gave ${username}`);
      }
    }
  });

  it('a name that only looks like a taken one is not given: it gets a number', async () => {
    const first = signUpEvent({ preferred_username: 'william', email: 'w@example.org' });
    const second = signUpEvent({ preferred_username: 'wi11iam', email: 'wi11iam@example.org' });
    for (const event of [first, second]) await handler(event);
    assert.equal((await userOfSub(first.request.userAttributes.sub!)).username, 'william');
    assert.match((await userOfSub(second.request.userAttributes.sub!)).username, /^wi11iam\d+$/);
  });

  it('a name held under a claim from before lookalike keys (the lower-case name) is not given again', async () => {
    // A user and claim as the first version of the service wrote them: no `username_claim`.
    const counter = await item('COUNTER#user');
    const id = (counter?.last_id ?? 0) + 1000;
    const put = (entry: Record<string, unknown>) => backend.dynamo.send(new PutCommand({ TableName: backend.config.tableName, Item: entry }));
    await put({ pk: `USER#${id}`, id, sub: 'legacy-sub', username: 'Maximilian', version: 1, date_joined: new Date().toISOString() });
    await put({ pk: 'USERNAME#maximilian', user_id: id });
    await put({ pk: 'SUB#legacy-sub', user_id: id });
    const event = signUpEvent({ preferred_username: 'MAXIMILIAN', email: 'maximilian@example.org' });
    await handler(event);
    const { username } = await userOfSub(event.request.userAttributes.sub!);
    assert.match(username, /^maximilian\d+$/i);
    assert.notEqual(username.toLowerCase(), 'maximilian');
    await put({ pk: 'COUNTER#user', last_id: Math.max(id, (await item('COUNTER#user'))!.last_id) });
  });

  it('accents are dropped, and a local part without letters or digits still gives a name', async () => {
    const accented = signUpEvent({ preferred_username: undefined, email: 'José.Müller@example.org' });
    const symbols = signUpEvent({ preferred_username: undefined, email: '!#$%@example.org' });
    const cyrillic = signUpEvent({ preferred_username: undefined, email: 'иван@example.org' });
    for (const event of [accented, symbols, cyrillic]) await handler(event);
    assert.equal((await userOfSub(accented.request.userAttributes.sub!)).username, 'Jose_Muller');
    for (const event of [symbols, cyrillic]) {
      const { username } = await userOfSub(event.request.userAttributes.sub!);
      assert.match(username, USERNAME);
      assert.match(username, /[A-Za-z0-9]/);
    }
  });

  it('a very long local part is cut to fit a number within 255 characters', async () => {
    const long = 'a'.repeat(300);
    const events = [signUpEvent({ preferred_username: undefined, email: `${long}@example.org` }), signUpEvent({ preferred_username: undefined, email: `${long}@example.org` })];
    for (const event of events) await handler(event);
    for (const event of events) {
      const { username } = await userOfSub(event.request.userAttributes.sub!);
      assert.match(username, USERNAME);
    }
  });

  it('20 concurrent sign-ups for one name: 20 users, distinct ids and names, one gets the name', async () => {
    const events = Array.from({ length: 20 }, () => signUpEvent({ preferred_username: 'popular', email: 'popular@example.org' }));
    await Promise.all(events.map((event) => handler(event)));
    const users = await Promise.all(events.map((event) => userOfSub(event.request.userAttributes.sub!)));
    assert.equal(new Set(users.map((u) => u.id)).size, 20);
    assert.equal(new Set(users.map((u) => u.username.toLowerCase())).size, 20);
    assert.equal(users.filter((u) => u.username === 'popular').length, 1);
    for (const user of users) {
      assert.match(user.username, USERNAME);
      assert.deepEqual(await backend.getClaim(user.username), { pk: claimKey(user.username), user_id: user.id });
    }
  });

  it('an id a user already holds (written without the counter) is skipped', async () => {
    const counter = await item('COUNTER#user');
    const next = (counter?.last_id ?? 0) + 1;
    await backend.dynamo.send(
      new PutCommand({
        TableName: backend.config.tableName,
        Item: { pk: `USER#${next}`, id: next, sub: 'hand-made', username: 'handmade', version: 0, date_joined: new Date().toISOString() },
      }),
    );
    await backend.dynamo.send(
      new PutCommand({ TableName: backend.config.tableName, Item: { pk: 'USERNAME#handmade', user_id: next } }),
    );
    await backend.dynamo.send(
      new PutCommand({ TableName: backend.config.tableName, Item: { pk: 'SUB#hand-made', user_id: next } }),
    );
    const event = signUpEvent({ preferred_username: 'after_handmade', email: 'after@example.org' });
    await handler(event);
    const user = await userOfSub(event.request.userAttributes.sub!);
    assert.ok(user.id > next);
    assert.equal(user.username, 'after_handmade');
    assert.equal((await backend.getUser(next))!.username, 'handmade');
  });

  it('a forgotten-password confirmation is answered with its event and creates nothing', async () => {
    const event = signUpEvent({ preferred_username: 'reset_only' });
    event.triggerSource = 'PostConfirmation_ConfirmForgotPassword';
    const items = (await backend.scanTable()).length;
    assert.deepEqual(await handler(structuredClone(event)), event);
    assert.equal((await backend.scanTable()).length, items);
  });

  it('an event without a sub fails the trigger', async () => {
    const event = signUpEvent({ sub: undefined });
    await assert.rejects(handler(event));
  });

  it('its configuration needs only the region and the table', () => {
    assert.throws(() => readSignUpConfig({ AWS_REGION: 'eu-west-1' }), /TABLE_NAME/);
    assert.deepEqual(readSignUpConfig({ AWS_REGION: 'eu-west-1', TABLE_NAME: 't' }), {
      region: 'eu-west-1', tableName: 't', dynamodbEndpoint: undefined, awsRequestTimeoutMs: 2000, awsMaxAttempts: 3,
      reservedUsernames: CONTRACT_RESERVED,
    });
    assert.deepEqual(
      readSignUpConfig({ AWS_REGION: 'eu-west-1', TABLE_NAME: 't', RESERVED_USERNAMES: ' founder, ceo ' }).reservedUsernames,
      [...CONTRACT_RESERVED, 'founder', 'ceo'],
    );
  });
});
