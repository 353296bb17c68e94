// What the local stack's stand-in for Cognito knows about its people beyond their sub: the
// e-mail the pool would hold and the groups it would put in their tokens (`cognito:groups`).
// Kept in the state directory (`.local/users.json`, readable by its owner only), where
// `npm run signup`, `npm run token` and the stack's start find them; never printed or logged.
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface LocalUser {
  email: string;
  /** The pool's `email_verified`; true when absent (the local pool confirms every address). */
  emailVerified?: boolean;
  /** The pool groups the person is in (`admin`, `moderator`, `editor` give /me/ its role). */
  groups: string[];
}

export const localUsersFile = (stateDir: string): string => join(stateDir, 'users.json');

/** The people of the local pool by sub; none when the file is absent. */
export async function readLocalUsers(stateDir: string): Promise<Record<string, LocalUser>> {
  try {
    return JSON.parse(await readFile(localUsersFile(stateDir), 'utf8')) as Record<string, LocalUser>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
}

/** Records (or replaces) one person; the file is rewritten through a rename, never half-written. */
export async function rememberLocalUser(stateDir: string, sub: string, user: LocalUser): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  const entry: LocalUser = { email: user.email, ...(user.emailVerified === false && { emailVerified: false }), groups: [...new Set(user.groups)] };
  const users = { ...(await readLocalUsers(stateDir)), [sub]: entry };
  const file = localUsersFile(stateDir);
  const temporary = `${file}.${process.pid}.${randomUUID()}.tmp`;
  await writeFile(temporary, `${JSON.stringify(users, null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, file);
}
