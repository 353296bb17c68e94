// The sign-up's username candidates (contract, "Sign-up"): the preferred name when valid, else the
// e-mail's local part in the username alphabet, then with a number added.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reservedNames } from '../../src/users/username-keys.ts';
import { isValidUsername, usernameBase, usernameCandidates as candidatesWith } from '../../src/users/usernames.ts';

const usernameCandidates = (preferred: string | undefined, email: string | undefined, id: number) =>
  candidatesWith(preferred, email, id, reservedNames());

const ALPHABET = /^[A-Za-z0-9_-]{1,255}$/;
const first = (n: number, generator: Generator<string>) => Array.from({ length: n }, () => generator.next().value as string);

describe('usernames', () => {
  it('validity is the contract’s username rule', () => {
    for (const name of ['ada', 'Ada_Lovelace', 'a-1', '_x_', '9', 'x'.repeat(255)]) assert.equal(isValidUsername(name), true, name);
    for (const name of ['', '___', '-', 'a b', 'a.b', 'é', 'x'.repeat(256), 'a@b']) assert.equal(isValidUsername(name), false, name);
  });

  it('a valid preferred name comes first, then the e-mail base, then numbers', () => {
    assert.deepEqual(first(4, usernameCandidates('ada', 'ada.lovelace@example.org', 42)), ['ada', 'ada_lovelace', 'ada_lovelace2', 'ada_lovelace3']);
    assert.deepEqual(first(2, usernameCandidates('not valid', 'grace@example.org', 42)), ['grace', 'grace2']);
    assert.deepEqual(first(2, usernameCandidates(undefined, 'grace@example.org', 42)), ['grace', 'grace2']);
  });

  it('after 2 to 9 the new user’s id, then the id with random digits: all distinct', () => {
    const names = first(30, usernameCandidates(undefined, 'x@example.org', 1042));
    assert.equal(names[9], 'x1042');
    assert.match(names[10]!, /^x1042\d+$/);
    for (const name of names) assert.match(name, ALPHABET);
  });

  it('the local part in the username alphabet', () => {
    assert.equal(usernameBase('Jean.Dupont+news@example.org'), 'Jean_Dupont');
    assert.equal(usernameBase('José.Müller@example.org'), 'Jose_Muller');
    assert.equal(usernameBase('"quoted@local"@example.org'), 'quoted_local');
    assert.equal(usernameBase('--a--@example.org'), 'a');
    for (const email of ['!!!@example.org', 'иван@example.org', '@example.org', '', undefined]) {
      assert.equal(usernameBase(email), 'user', String(email));
    }
  });

  it('without the +tag people use to keep an address private (contract, "Sign-up")', () => {
    assert.equal(usernameBase('alice.private+dating@example.com'), 'alice_private');
    assert.equal(usernameBase('bob+a+b@example.com'), 'bob');
    assert.equal(usernameBase('+only@example.com'), 'user');
  });

  it('full-width and other compatibility forms fold to ASCII', () => {
    assert.equal(usernameBase('ｇｒａｃｅ@example.org'), 'grace');
    assert.equal(usernameBase('ａｌｉｃｅ＋ｔａｇ@example.org'), 'alice');
  });

  it('a reserved name, or a lookalike of one, is never a candidate nor a base (contract, "Names nobody may take")', () => {
    for (const preferred of ['admin', 'Admin', 'SelfCommunity', 'ａｄｍｉｎ', '\u0430dmin', 'adrnin', 'support', 'me']) {
      assert.notEqual(first(1, usernameCandidates(preferred, 'grace@example.org', 42))[0], preferred, preferred);
    }
    assert.deepEqual(first(3, usernameCandidates('admin', 'ａｄｍｉｎ@example.org', 42)), ['user', 'user2', 'user3']);
    assert.deepEqual(first(2, usernameCandidates(undefined, 'Support+x@example.org', 42)), ['user', 'user2']);
    assert.deepEqual(first(2, usernameCandidates(undefined, 'administrators@example.org', 42)), ['administrators', 'administrators2']);
  });

  it('a long local part leaves room for a number within 255 characters', () => {
    const names = first(12, usernameCandidates(undefined, `${'a'.repeat(400)}@example.org`, 123456789012345));
    for (const name of names) assert.match(name, ALPHABET);
  });
});
