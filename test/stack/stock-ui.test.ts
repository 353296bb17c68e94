// SelfCommunity's own front end on this service, in a real browser (docs/stock-ui.md): the local
// stack's stock-UI page (npm start's "Page:"), driven by Debian's headless Chromium through
// playwright-core the way a person uses it. The stock components are not patched or mocked; what
// they send goes to our API, and each step is checked against the API and the S3 emulator too.
// Every request the page makes must succeed (no CORS refusal, no 4xx/5xx) and the page must log no
// error. A screenshot of each step is kept in test-output/stock-ui/.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page, type Response } from 'playwright-core';
import { DEMO_USERS, PROJECT_DIR, type LocalStack } from '../../tools/local/local-stack.ts';
import { signAccessToken } from '../../tools/local/keys.ts';
import { startTestStack } from '../support/local-stack.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = join(PROJECT_DIR, 'test-output', 'stock-ui');
const PHONE_PHOTO = join(PROJECT_DIR, 'test', 'fixtures', 'photos', 'phones', 'nokia-8.3-gps.jpg');
const SECOND_PHOTO = join(PROJECT_DIR, 'test', 'fixtures', 'photos', 'phones', 'apple-gainmap.jpg');
/** The contract's largest cover side (serverless.yml COVER_MAX_SIDE). */
const COVER_MAX_SIDE = 1600;
const [demo, alice] = DEMO_USERS;

let stack: LocalStack;
let stateDir: string;
let browser: Browser;
let page: Page;
/** What went wrong in the page: failed requests, 4xx/5xx answers, errors it logged or threw. */
const problems: string[] = [];

function tokenOf(sub: string): string {
  const { config } = stack;
  return signAccessToken(stack.keys, { sub, region: config.region, userPoolId: config.userPoolId, clientId: config.clientId });
}

async function apiGet(path: string, sub?: string): Promise<Record<string, any>> {
  const response = await fetch(`${stack.config.baseUrl}${path}`, {
    headers: sub ? { Authorization: `Bearer ${tokenOf(sub)}` } : {},
  });
  assert.equal(response.status, 200, `GET ${path}: ${response.status}`);
  return (await response.json()) as Record<string, any>;
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

function watch(target: Page): void {
  target.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text().slice(0, 300)}`);
  });
  target.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  target.on('requestfailed', (request) => problems.push(`failed: ${request.method()} ${request.url()} (${request.failure()?.errorText})`));
  target.on('response', (response) => {
    if (response.status() >= 400) problems.push(`${response.status()}: ${response.request().method()} ${response.url()}`);
  });
}

const isApi = (response: Response, method: string, path: RegExp) =>
  response.request().method() === method && response.url().startsWith(stack.config.baseUrl) && path.test(new URL(response.url()).pathname);

async function open(sub: string): Promise<void> {
  await page.goto(`${stack.page!.url}?sub=${encodeURIComponent(sub)}`);
}

/** The header of a section, once it shows `@username`. */
async function headerOf(section: 'own-profile' | 'other-profile', username: string) {
  const header = page.getByTestId(section).locator('.SCUserProfileHeader-root');
  await header.locator('.SCUserProfileHeader-username', { hasText: `@${username}` }).waitFor();
  return header;
}

/** The URL in the header cover's CSS background, and that image's natural size once it loads. */
async function coverOf(section: 'own-profile' | 'other-profile') {
  return page.getByTestId(section).locator('.SCUserProfileHeader-cover').evaluate(async (element) => {
    // Runs in the page (this project's types are Node's, not the DOM's).
    const window = globalThis as any;
    const url = /url\("?'?([^"')]+)/.exec(window.getComputedStyle(element).backgroundImage)?.[1] ?? '';
    const image = new window.Image();
    image.src = url;
    await image.decode();
    return { url, width: image.naturalWidth as number, height: image.naturalHeight as number };
  });
}

describe('the stock SelfCommunity profile UI in headless Chromium', { timeout: 180_000 }, () => {
  before(async () => {
    // Never skipped: without the browser this proof is missing, and the run must say so.
    assert.ok(
      existsSync(CHROMIUM),
      `no Chromium at ${CHROMIUM}: install Debian's package (apt-get install -y --no-install-recommends chromium, ` +
        'as .ci/run does) or set CHROMIUM_PATH',
    );
    await rm(SHOTS, { recursive: true, force: true });
    await mkdir(SHOTS, { recursive: true });
    ({ stack, stateDir } = await startTestStack('stock-ui', { page: true }));
    // Bundling beside the browser's start.
    [browser] = await Promise.all([
      chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] }),
      stack.page!.build(),
    ]);
    page = await browser.newPage({ viewport: { width: 1100, height: 1300 } });
    watch(page);
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  test('the header shows the signed-in user; the bio edited in the public-info tab is saved', async () => {
    await open(demo.sub);
    await headerOf('own-profile', demo.username);
    await shot('01-signed-in');

    const bio = `Written in a real browser at ${new Date().toISOString()}`;
    await page.getByTestId('own-profile').getByLabel('Bio').fill(bio);
    const saved = page.waitForResponse((r) => isApi(r, 'PATCH', new RegExp(`^/api/v2/user/${demo.id}/?$`)));
    await page.getByTestId('own-profile').getByRole('button', { name: 'Save' }).click();
    assert.equal((await saved).status(), 200);
    assert.equal((await apiGet(`/api/v2/user/${demo.id}/`)).bio, bio);
    await page.getByTestId('own-profile').locator('.SCUserProfileHeader-bio', { hasText: bio }).waitFor();
    await shot('02-bio-saved');
  });

  test('ChangeCover uploads a phone photo; the header shows the normalized cover', async () => {
    const header = await headerOf('own-profile', demo.username);
    await header.locator('.SCUserProfileHeader-change-cover button').first().click();
    const saved = page.waitForResponse((r) => isApi(r, 'PATCH', new RegExp(`^/api/v2/user/${demo.id}/?$`)), { timeout: 30_000 });
    await page.locator('input[type=file][accept=".gif,.png,.jpg,.jpeg"]').setInputFiles(PHONE_PHOTO);
    const response = await saved;
    assert.equal(response.status(), 200);
    const stored = (await apiGet(`/api/v2/user/${demo.id}/`)).cover as string;
    assert.ok(stored?.startsWith(stack.config.mediaBaseUrl), `cover ${stored}`);
    await page.waitForFunction((url) => {
      const window = globalThis as any;
      const cover = window.document.querySelector('[data-testid=own-profile] .SCUserProfileHeader-cover');
      return (window.getComputedStyle(cover).backgroundImage as string).includes(url);
    }, stored);
    const cover = await coverOf('own-profile');
    assert.equal(cover.url, stored);
    assert.ok(cover.width > 0 && cover.height > 0, 'the cover loads');
    assert.ok(Math.max(cover.width, cover.height) <= COVER_MAX_SIDE, `${cover.width}x${cover.height}`);
    // The photo is 4000 px wide or more: the stored one was made from it, not passed through.
    assert.equal(Math.max(cover.width, cover.height), COVER_MAX_SIDE);
    await page.keyboard.press('Escape');
    await shot('03-cover');
  });

  test('the picture dialog lists the gallery, adds two photos, makes the first primary again, deletes one; list and header follow', async () => {
    const header = await headerOf('own-profile', demo.username);
    const headerAvatar = () => header.locator('.SCUserProfileHeader-avatar img').getAttribute('src');
    const listed = page.waitForResponse((r) => isApi(r, 'GET', /^\/api\/v2\/user\/avatar\/?$/));
    await header.locator('.SCUserProfileHeader-change-picture').click();
    assert.equal((await listed).status(), 200);
    const dialog = page.getByRole('dialog');
    const items = dialog.locator('.SCChangePictureButton-image-item');
    const primaryItem = dialog.locator('.SCChangePictureButton-primary img');
    assert.equal(await items.count(), (await apiGet('/api/v2/user/avatar/', demo.sub)).count);

    /** Uploads a photo through the dialog; resolves with the Avatar the API answered. */
    async function upload(photo: string): Promise<Record<string, any>> {
      const added = page.waitForResponse((r) => isApi(r, 'POST', /^\/api\/v2\/user\/avatar\/?$/), { timeout: 30_000 });
      await dialog.locator('input[type=file]').setInputFiles(photo);
      const response = await added;
      assert.equal(response.status(), 201);
      return (await response.json()) as Record<string, any>;
    }
    /** Waits until the dialog's primary and the header show `url`, and the API agrees. */
    async function primaryIs(url: string): Promise<void> {
      await dialog.locator('.SCChangePictureButton-primary img').and(page.locator(`img[src="${url}"]`)).waitFor();
      await page.waitForFunction((src) => (globalThis as any).document.querySelector('[data-testid=own-profile] .SCUserProfileHeader-avatar img')?.getAttribute('src') === src, url);
      const gallery = await apiGet('/api/v2/user/avatar/', demo.sub);
      assert.deepEqual(gallery.results.filter((a: any) => a.primary).map((a: any) => a.avatar), [url]);
      assert.equal((await apiGet(`/api/v2/user/${demo.id}/`)).avatar, url);
    }

    const first = await upload(PHONE_PHOTO);
    await primaryIs(first.avatar);
    await shot('04-gallery-first');
    const second = await upload(SECOND_PHOTO);
    await primaryIs(second.avatar);
    assert.equal(await items.count(), 2);
    await shot('05-gallery-second');

    // A click on the first makes it primary again.
    const madePrimary = page.waitForResponse((r) => isApi(r, 'PATCH', /^\/api\/v2\/user\/avatar\/?$/));
    await dialog.locator(`img[src="${first.avatar}"]`).click();
    assert.equal((await madePrimary).status(), 204);
    await primaryIs(first.avatar);
    assert.equal(await headerAvatar(), first.avatar);
    await shot('06-gallery-first-again');

    // Deleting the primary: it leaves the list, and the dialog makes the one left primary.
    const removed = page.waitForResponse((r) => isApi(r, 'DELETE', /^\/api\/v2\/user\/avatar\/?$/));
    await items.filter({ has: page.locator(`img[src="${first.avatar}"]`) }).getByRole('button').click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    assert.equal((await removed).status(), 204);
    await primaryIs(second.avatar);
    assert.equal(await items.count(), 1);
    assert.equal(await primaryItem.getAttribute('src'), second.avatar);
    await shot('07-gallery-deleted');

    // Once the stream has run, the deleted avatar's object is gone from the media bucket.
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline && (status = (await fetch(first.avatar)).status) !== 404) await new Promise((r) => setTimeout(r, 200));
    assert.equal(status, 404, `${first.avatar} still answers ${status}`);
    assert.equal((await fetch(second.avatar)).status, 200);
    await page.keyboard.press('Escape');
  });

  test('the settings tab changes a setting, still changed after a reload', async () => {
    const before = (await apiGet(`/api/v2/user/${demo.id}/settings/`, demo.sub)).show_toast_notifications as number;
    const wanted = before === 1 ? 0 : 1;
    const tab = () => page.getByTestId('own-profile').getByRole('tab', { name: /notification settings/i });
    await tab().click();
    const saved = page.waitForResponse((r) => isApi(r, 'PATCH', new RegExp(`^/api/v2/user/${demo.id}/settings/?$`)));
    // A controlled radio: it turns on once the API has answered.
    const radio = page.locator(`input[name=show_toast_notifications][value="${wanted}"]`);
    await radio.click();
    assert.equal((await saved).status(), 200);
    await page.waitForFunction((value) => (globalThis as any).document.querySelector(`input[name=show_toast_notifications][value="${value}"]`)?.checked === true, wanted);
    assert.equal((await apiGet(`/api/v2/user/${demo.id}/settings/`, demo.sub)).show_toast_notifications, wanted);
    await shot('08-settings');

    await page.reload();
    await headerOf('own-profile', demo.username);
    await tab().click();
    assert.equal(await page.locator(`input[name=show_toast_notifications][value="${wanted}"]`).isChecked(), true);
    await shot('09-settings-after-reload');
  });

  test("another person's profile renders, logged in and logged out", async () => {
    await open(demo.sub);
    await headerOf('other-profile', alice.username);
    await shot('10-other-logged-in');

    await page.getByTestId('user-switch').selectOption('');
    await page.waitForURL(/[?&]sub=(&|$)/);
    // Logged out: no own profile, and another person's header read without a token.
    const other = await headerOf('other-profile', demo.username);
    assert.equal(await page.getByTestId('own-profile').count(), 0);
    assert.equal(await other.locator('.SCUserProfileHeader-bio').textContent(), (await apiGet(`/api/v2/user/${demo.id}/`)).bio);
    const cover = await coverOf('other-profile');
    assert.ok(cover.width > 0, 'the cover loads for a visitor');
    await shot('11-other-logged-out');
  });

  test('a new sign-up through the sign-up trigger is signed in', async () => {
    const email = `browser-${Date.now()}@example.org`;
    await page.getByTestId('signup-email').fill(email);
    await page.getByTestId('signup').click();
    await page.waitForURL(/[?&]sub=[0-9a-f-]{36}/);
    const sub = new URL(page.url()).searchParams.get('sub')!;
    const me = await apiGet('/api/v2/user/me/', sub);
    assert.equal(me.email, email);
    await headerOf('own-profile', me.username as string);
    await shot('12-signed-up');
  });

  test('no request of the page failed and the page logged no error', () => {
    assert.deepEqual(problems, []);
  });
});
