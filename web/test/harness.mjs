// The browser tests' harness: Debian's Chromium driven by playwright-core, the API called
// directly for set-up (concerts of the test's own, via the operator routes), screenshots
// into the run folder, and the axe-core check.
import { chromium } from 'playwright-core';
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import assert from 'node:assert/strict';

export const BASE = process.env.WEB_BASE ?? 'http://127.0.0.1:3500';
export const ADMIN_TOKEN = process.env.ADMIN_TOKEN ?? '';
export const RUN_DIR = process.env.WEB_RUN_DIR ?? `.run/${new Date().toISOString().replace(/[:.]/g, '-')}`;
mkdirSync(RUN_DIR, { recursive: true });

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** Headless Chromium; Playwright gives every launch a fresh, temporary --user-data-dir.
 * `extraArgs` adds switches (e.g. a fake camera). */
export function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      ...extraArgs,
    ],
  });
}

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 800 };

/** A browser context (a buyer of their own: storage, cookies) at one width. `csp`: the
 * pages' Content-Security-Policy in force (then axe cannot be injected). */
export async function buyer(browser, viewport = DESKTOP, locale = 'en-US', { csp = false } = {}) {
  // bypassCSP: the pages allow only their own scripts; axe is injected by the test.
  const context = await browser.newContext({ viewport, locale, bypassCSP: !csp });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  return page;
}

export async function shot(page, name) {
  await page.screenshot({ path: `${RUN_DIR}/${name}.png`, fullPage: true });
}

/** axe-core on the page as it is: no serious or critical violation. */
export async function axe(page, what) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`),
    [],
    `axe on ${what}`,
  );
}

/** The page fits its width: nothing scrolls sideways. */
export async function fitsWidth(page, what) {
  const { scroll, width } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    width: window.innerWidth,
  }));
  assert.ok(scroll <= width, `${what}: ${scroll} px wide in a ${width} px window`);
}

/**
 * A call to the API. `auth` is the operator's token (a string, sent as Bearer), or a buyer's
 * `{ access, queue }`: the access token (Bearer) and the queue token (`Queue-Token`).
 */
export async function api(method, path, body, auth) {
  const headers = { 'content-type': 'application/json' };
  if (typeof auth === 'string') headers.authorization = `Bearer ${auth}`;
  else if (auth) {
    if (auth.access) headers.authorization = `Bearer ${auth.access}`;
    if (auth.queue) headers['queue-token'] = auth.queue;
  }
  const res = await fetch(BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

/** A buyer's access token from the local issuer, as the page gets one. */
export async function signInApi(username) {
  const res = await api('POST', '/local/sign-in', { username });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.accessToken;
}

/** A buyer who holds `seatNo` of `date` and has paid for it, through the API: their access
 * token and the reservation. */
export async function buyThroughApi(user, concertId, date, seatNo) {
  const access = await signInApi(user);
  const issued = await api('POST', '/queue/tokens', { concertId }, { access });
  assert.equal(issued.body?.status, 'ACTIVE', JSON.stringify(issued.body));
  const auth = { access, queue: issued.body.token };
  const held = await api('POST', '/reservations', { userId: user, concertId, date, seatNo }, auth);
  assert.equal(held.status, 201, JSON.stringify(held.body));
  const charged = await api('POST', `/users/${user}/balance/charges`, { amount: held.body.price }, auth);
  assert.equal(charged.status, 200, JSON.stringify(charged.body));
  const paid = await api('POST', '/payments', { userId: user, reservationId: held.body.reservationId }, auth);
  assert.equal(paid.status, 201, JSON.stringify(paid.body));
  return { access, reservation: held.body };
}

export const today = () => new Date().toISOString().slice(0, 10);

let n = 0;
/** A unique ID for this run: concerts and users never meet another test's. */
export function unique(prefix) {
  n += 1;
  return `${prefix}-${Date.now().toString(36)}${n}`;
}

/** A concert of 20 seats today (Floor 1-10 at 50,000, Balcony 11-20 at 30,000). */
export async function concert(prefix, extra = {}) {
  const id = unique(prefix);
  const res = await api('PUT', `/admin/concerts/${id}`, {
    name: `Test ${prefix}`,
    dates: [{ date: today(), sections: [
      { name: 'Floor', fromSeat: 1, toSeat: 10, price: 50000 },
      { name: 'Balcony', fromSeat: 11, toSeat: 20, price: 30000 },
    ] }],
    ...extra,
  }, ADMIN_TOKEN);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return id;
}

export async function controls(id, body) {
  const res = await api('PATCH', `/admin/concerts/${id}/queue`, body, ADMIN_TOKEN);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

/** On the buyer's page: sign in as `user` (the local sign-in, by name). */
export async function signIn(page, id, user) {
  await page.goto(`${BASE}/?concert=${id}`);
  await page.getByLabel('Username').fill(user);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText(`Signed in as ${user}.`).waitFor();
}

/** On the buyer's page: sign in as `user`, then join the line. */
export async function join(page, id, user) {
  await signIn(page, id, user);
  await page.getByRole('button', { name: 'Join the line' }).click();
}

/** The page's session, as kept in sessionStorage. */
export const session = (page) => page.evaluate(() => JSON.parse(sessionStorage.getItem('session') ?? 'null'));

/** The operator's page, shown for `id` with the operator's token; `prepare(page)` runs
 * before it loads (e.g. an init script). */
export async function openAdmin(browser, viewport, id, prepare = async () => {}, options = {}) {
  const page = await buyer(browser, viewport, 'en-US', options);
  await prepare(page);
  await page.goto(`${BASE}/admin?concert=${id}`);
  await page.getByLabel('Operator token').fill(ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Show' }).click();
  await page.locator('#figures').waitFor();
  return page;
}

export const heading = (page) => page.locator('#heading');
