// End to end, /me's private fields (contract, "Reading a user"): the local stack as `npm start`
// runs it, read by the official client's own UserService (getCurrentUser, getSpecificUser), with
// users signed up and signed in by `npm run signup` and `npm run token` as a developer runs them.
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { signAccessToken } from '../../tools/local/keys.ts';
import { DEMO_USERS, type LocalStack } from '../../tools/local/local-stack.ts';
import { readLocalUsers, rememberLocalUser } from '../../tools/local/local-users.ts';
import { npmRunAgainst, startTestStack } from '../support/local-stack.ts';

// The package's ESM build uses directory imports that only bundlers resolve; Node loads its CJS build.
const require = createRequire(import.meta.url);
type ApiUser = Record<string, any>;
const { UserService, http } = require('@selfcommunity/api-services') as {
  UserService: {
    getCurrentUser(): Promise<ApiUser>;
    getSpecificUser(id: number): Promise<ApiUser>;
    userPatch(id: number, data?: object): Promise<ApiUser>;
  };
  http: { setBasePortal(url: string): void; setAuthorizeToken(token: string): void };
};

const PRIVATE = ['email', 'email_isvalid', 'role'];
let stack: LocalStack;
let stateDir: string;
const [demo] = DEMO_USERS;

const tokenFor = (sub: string, groups?: string[]) =>
  signAccessToken(stack.keys, {
    sub,
    region: stack.config.region,
    userPoolId: stack.config.userPoolId,
    clientId: stack.config.clientId,
    ...(groups && { groups }),
  });

/** Reads with the official client as the holder of `token` (none: logged out). */
async function as<T>(token: string | undefined, read: () => Promise<T>): Promise<T> {
  http.setAuthorizeToken(token ?? '');
  try {
    return await read();
  } finally {
    http.setAuthorizeToken('');
  }
}

/** `npm run -s <script>` against this stack, as a developer runs it. */
const npmRun = (script: string, ...args: string[]): Promise<string> => npmRunAgainst(stack, stateDir, script, ...args);

const tokenClaims = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

before(async () => {
  ({ stack, stateDir } = await startTestStack('e2e-me'));
  http.setBasePortal(stack.config.baseUrl);
});

after(async () => {
  http.setAuthorizeToken('');
  try {
    await stack?.stop();
  } finally {
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  }
});

describe('getCurrentUser: the caller’s email, email_isvalid and role', () => {
  it('a demo user signed up with their e-mail: no group, role null', async () => {
    const me = await as(stack.demoToken, () => UserService.getCurrentUser());
    assert.equal(me.id, demo.id);
    assert.equal(me.email, demo.email);
    assert.equal(me.email_isvalid, true);
    assert.equal(me.role, null);
  });

  it('a token in the pool group admin: role admin; moderator and editor likewise; another group none', async () => {
    for (const [groups, role] of [
      [['admin'], 'admin'],
      [['moderator'], 'moderator'],
      [['editor'], 'editor'],
      [['Admin', 'readers'], null],
    ] as const) {
      const me = await as(tokenFor(demo.sub, [...groups]), () => UserService.getCurrentUser());
      assert.equal(me.role, role, JSON.stringify(groups));
      assert.equal(me.email, demo.email);
    }
  });

  it('getSpecificUser without a token, with another’s and with the owner’s: none of the three', async () => {
    for (const token of [undefined, tokenFor(DEMO_USERS[1].sub, ['admin']), tokenFor(demo.sub, ['admin'])]) {
      const user = await as(token, () => UserService.getSpecificUser(demo.id));
      assert.equal(user.id, demo.id);
      for (const name of PRIVATE) assert.ok(!(name in user), `${name} in getSpecificUser`);
      assert.ok(!JSON.stringify(user).includes(demo.email));
    }
    const patched = await as(stack.demoToken, () => UserService.userPatch(demo.id, { bio: 'e2e-me' }));
    for (const name of PRIVATE) assert.ok(!(name in patched), `${name} in the userPatch answer`);
  });
});

describe('npm run signup --group and npm run token: the local pool’s e-mail and groups', () => {
  it('signup --group admin gives a token in group admin; /me/ answers its e-mail and role admin', async () => {
    const out = await npmRun('signup', '--email', 'grace.admin@example.org', '--group', 'admin', '--group', 'beta');
    const value = (name: string) => new RegExp(`^${name}: (\\S+)$`, 'm').exec(out)?.[1];
    const token = value('token')!;
    assert.deepEqual(tokenClaims(token)['cognito:groups'], ['admin', 'beta']);
    const me = await as(token, () => UserService.getCurrentUser());
    assert.equal(me.id, Number(value('id')));
    assert.equal(me.email, 'grace.admin@example.org');
    assert.equal(me.email_isvalid, true);
    assert.equal(me.role, 'admin');
    assert.ok(!out.includes('grace.admin@example.org'), 'signup prints no e-mail');
    // Kept where the tools find them.
    assert.deepEqual((await readLocalUsers(stateDir))[value('sub')!], { email: 'grace.admin@example.org', groups: ['admin', 'beta'] });
  });

  it('npm run token carries the recorded groups, and signing in refreshes a changed e-mail', async () => {
    const out = await npmRun('signup', '--email', 'before.change@example.org', '--group', 'editor');
    const sub = /^sub: (\S+)$/m.exec(out)![1]!;
    // The pool's address changes (as an attribute update would), then the person signs in again.
    await rememberLocalUser(stateDir, sub, { email: 'after.change@example.org', groups: ['editor'] });
    const token = (await npmRun('token', '--sub', sub)).trim();
    assert.deepEqual(tokenClaims(token)['cognito:groups'], ['editor']);
    const me = await as(token, () => UserService.getCurrentUser());
    assert.equal(me.email, 'after.change@example.org');
    assert.equal(me.role, 'editor');
    // --group names this token's groups instead; none recorded, none in the token.
    const moderator = (await npmRun('token', '--sub', sub, '--group', 'moderator')).trim();
    assert.equal((await as(moderator, () => UserService.getCurrentUser())).role, 'moderator');
    const stranger = (await npmRun('token', '--sub', 'not-a-local-person')).trim();
    assert.equal(tokenClaims(stranger)['cognito:groups'], undefined);
  });

  it('a seeded user carries its e-mail, and npm run token finds it', async () => {
    const file = join(stateDir, 'seed-me.json');
    await writeFile(file, JSON.stringify([
      { id: 900, sub: 'sub-seeded-900', username: 'seeded900', email: 'seeded.900@example.org' },
      { id: 901, sub: 'sub-seeded-901', username: 'seeded901', email: 'seeded.901@example.org', email_verified: false },
    ]));
    await npmRun('seed', file);
    const first = await as((await npmRun('token', '--sub', 'sub-seeded-900')).trim(), () => UserService.getCurrentUser());
    assert.deepEqual([first.id, first.email, first.email_isvalid, first.role], [900, 'seeded.900@example.org', true, null]);
    // Its sign-in keeps what the seed said of the address.
    const second = await as((await npmRun('token', '--sub', 'sub-seeded-901')).trim(), () => UserService.getCurrentUser());
    assert.deepEqual([second.email, second.email_isvalid], ['seeded.901@example.org', false]);
    assert.equal((await readLocalUsers(stateDir))['sub-seeded-900']?.email, 'seeded.900@example.org');
  });
});
