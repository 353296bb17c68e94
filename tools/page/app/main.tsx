// The stock-UI page (docs/stock-ui.md): SelfCommunity's own React components, unmodified, in an
// ordinary SCContextProvider whose portal is this service's API. Who is signed in comes from the
// page's query (`?sub=…`, or `?sub=` for logged out); tokens come from the dev page server's
// local-only helper (tools/page/server.ts), which mints them as `npm run token` does.
import { StrictMode, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { SCContextProvider, SCNotificationProvider, useSCUser, type SCSettingsType } from '@selfcommunity/react-core';
import { DEFAULT_CONTEXT_PROVIDERS } from '@selfcommunity/react-core/constants/ContextProviders.js';
import { UserProfileEdit, UserProfileHeader } from '@selfcommunity/react-ui';
import theme from '@selfcommunity/react-theme-default';

interface PageUser {
  sub: string;
  id?: number;
  username: string;
  email: string;
}

interface PageConfig {
  apiBaseUrl: string;
  users: PageUser[];
}

async function postJson<T>(path: string, body: unknown): Promise<T> {
  const response = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

const mintToken = (sub: string) => postJson<{ token: string }>('/local/token', { sub }).then((answer) => answer.token);

function go(sub: string): void {
  const url = new URL(window.location.href);
  url.searchParams.set('sub', sub);
  window.location.assign(url.toString());
}

/** Who is signed in, the switch between the local users, and a new sign-up. */
function SessionBar({ config, sub }: { config: PageConfig; sub: string }) {
  const [busy, setBusy] = useState(false);
  const [email, setEmail] = useState('');
  async function signUp(event: React.FormEvent) {
    event.preventDefault();
    setBusy(true);
    try {
      const user = await postJson<{ sub: string }>('/local/signup', { email });
      go(user.sub);
    } finally {
      setBusy(false);
    }
  }
  return (
    <header className="session">
      <strong>Stock SelfCommunity UI</strong> <span className="api">API {config.apiBaseUrl}</span>
      <label>
        Signed in as{' '}
        <select data-testid="user-switch" value={sub} onChange={(event) => go(event.target.value)}>
          <option value="">nobody (logged out)</option>
          {config.users.map((user) => (
            <option key={user.sub} value={user.sub}>
              {user.username || user.email} {user.id !== undefined ? `(id ${user.id})` : ''}
            </option>
          ))}
        </select>
      </label>
      <form onSubmit={signUp}>
        <input data-testid="signup-email" type="email" required placeholder="new@example.org" value={email} onChange={(event) => setEmail(event.target.value)} />
        <button data-testid="signup" type="submit" disabled={busy}>
          Sign up
        </button>
      </form>
    </header>
  );
}

/** The signed-in person's own profile: header (picture and cover), then the edit tabs. */
function OwnProfile() {
  const { user } = useSCUser();
  if (!user) return <p data-testid="no-user">Loading the signed-in user…</p>;
  return (
    <section data-testid="own-profile">
      <h2>Your profile</h2>
      <UserProfileHeader user={user} />
      <UserProfileEdit />
    </section>
  );
}

/** Somebody else's profile header, as this session sees it. */
function OtherProfile({ userId }: { userId: number }) {
  return (
    <section data-testid="other-profile">
      <h2>Another person's profile (id {userId})</h2>
      <UserProfileHeader userId={userId} />
    </section>
  );
}

function Page({ config, sub, token }: { config: PageConfig; sub: string; token: string | undefined }) {
  const conf = useMemo<SCSettingsType>(
    () => ({
      portal: config.apiBaseUrl,
      // react-core's default providers but its SCNotificationProvider, which opens the
      // notifications websocket (wss://<portal host>/ws/notify) of another SelfCommunity service,
      // not this one; nothing on this page reads it.
      contextProviders: DEFAULT_CONTEXT_PROVIDERS.filter((provider) => provider !== SCNotificationProvider),
      locale: { default: 'en' },
      // The default theme is a set of theme options; react-core's getTheme() builds the MUI theme from it.
      theme: theme as unknown as SCSettingsType['theme'],
      session: token
        ? {
            type: 'JWT',
            authToken: { accessToken: token },
            // As a real app would: a fresh token when the API says this one expired.
            handleRefreshToken: () => mintToken(sub).then((accessToken) => ({ accessToken })),
          }
        : { type: 'JWT' },
    }),
    [config, sub, token],
  );
  const others = config.users.filter((user) => user.sub !== sub && user.id !== undefined).slice(0, 1);
  return (
    <SCContextProvider conf={conf}>
      {token && <OwnProfile />}
      {others.map((user) => (
        <OtherProfile key={user.sub} userId={user.id!} />
      ))}
    </SCContextProvider>
  );
}

async function main(): Promise<void> {
  const config = (await (await fetch('/local/config')).json()) as PageConfig;
  const query = new URLSearchParams(window.location.search);
  // No choice yet: the first demo user.
  const sub = query.has('sub') ? query.get('sub')! : (config.users[0]?.sub ?? '');
  const token = sub ? await mintToken(sub) : undefined;
  createRoot(document.getElementById('root')!).render(
    <StrictMode>
      <SessionBar config={config} sub={sub} />
      <main>
        <Page config={config} sub={sub} token={token} />
      </main>
    </StrictMode>,
  );
}

void main();
