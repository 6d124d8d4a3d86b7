// The buyer signs in first (locally: a username, `POST /local/sign-in`). The session is kept
// in sessionStorage: a reload keeps it; the access token is refreshed before it expires; a
// token the API refuses sends the buyer back to the sign-in, in words.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { launch, buyer, shot, axe, concert, signIn, session, heading, unique, BASE, DESKTOP } from './harness.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** The local issuer's development key (committed, as the local server compiles it in). */
const devKey = () => readFileSync(new URL('../../local/fixtures/issuer/dev.pem', import.meta.url), 'utf8');
const b64url = (buf) => Buffer.from(buf).toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/** `jwt` as it would be had it been issued `ago` seconds back: the same claims, signed again
 * (RS256) with the issuer's own key, only the times moved. Expired, and genuinely signed. */
function issuedAgo(jwt, ago) {
  const [head, body] = jwt.split('.');
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
  const lifetime = claims.exp - claims.iat;
  const iat = Math.floor(Date.now() / 1000) - ago;
  const moved = { ...claims, iat, auth_time: iat, exp: iat + lifetime };
  const input = `${head}.${b64url(JSON.stringify(moved))}`;
  return `${input}.${b64url(sign('sha256', Buffer.from(input), devKey()))}`;
}

/** Every API call the page makes, with the headers that carry who is calling. */
function watchCalls(page) {
  const calls = [];
  page.on('request', (req) => {
    const path = new URL(req.url()).pathname;
    if (path === '/' || path === '/config.json' || path.startsWith('/assets/')) return;
    const h = req.headers();
    calls.push({ method: req.method(), path, authorization: h.authorization ?? null, queueToken: h['queue-token'] ?? null, body: req.postData() });
  });
  return calls;
}

test('a buyer signs in by name, keeps the session across a reload, and every call carries it', async () => {
  const id = await concert('signin');
  const user = unique('signer');
  const page = await buyer(browser, DESKTOP);
  const calls = watchCalls(page);
  await page.goto(`${BASE}/?concert=${id}`);
  await heading(page).filter({ hasText: `Tickets for ${id}` }).waitFor();
  // Signed out: the sign-in, and nothing else to do yet.
  assert.equal(await page.getByRole('button', { name: 'Join the line' }).count(), 0);
  assert.ok(await page.locator('#mine-button').isHidden(), 'no "my reservations" before the sign-in');
  await shot(page, '40-sign-in');
  await axe(page, 'the sign-in');

  await signIn(page, id, user);
  const first = await session(page);
  assert.equal(first.userId, user);
  assert.ok(first.accessToken.split('.').length === 3, 'a JWT');
  assert.ok(first.expiresAt > Date.now(), 'expires later');
  const signInCall = calls.find((c) => c.path === '/local/sign-in');
  assert.deepEqual(JSON.parse(signInCall.body), { username: user });

  // A reload keeps the session: no sign-in again, and the line works with it.
  await page.reload();
  await page.getByText(`Signed in as ${user}.`).waitFor();
  assert.equal(await page.getByLabel('Username').count(), 0);
  assert.equal((await session(page)).accessToken, first.accessToken);
  await page.getByRole('button', { name: 'Join the line' }).click();
  await heading(page).filter({ hasText: 'Choose a date' }).waitFor();
  await page.getByRole('button', { name: /seats free/ }).first().click();
  await heading(page).filter({ hasText: 'Seats on' }).waitFor();

  // Every call after the sign-in carries the access token; the queue token travels apart,
  // in Queue-Token, and no call names the user in its body.
  const apiCalls = calls.filter((c) => c.path !== '/local/sign-in');
  assert.ok(apiCalls.length >= 3, JSON.stringify(apiCalls));
  for (const c of apiCalls) {
    assert.equal(c.authorization, `Bearer ${first.accessToken}`, `${c.method} ${c.path}`);
  }
  const issue = apiCalls.find((c) => c.path === '/queue/tokens');
  assert.deepEqual(JSON.parse(issue.body), { concertId: id });
  assert.equal(issue.queueToken, null);
  for (const c of apiCalls.filter((c) => c.path !== '/queue/tokens')) {
    assert.match(c.queueToken ?? '', /^[A-Za-z0-9._~-]+$/, `${c.method} ${c.path} has its queue token`);
  }
});

test('the access token is refreshed before it expires', async () => {
  const id = await concert('refresh');
  const user = unique('stayer');
  const page = await buyer(browser, DESKTOP);
  await signIn(page, id, user);
  const before = await session(page);
  // Its expiry brought to a minute and two seconds from now: the page signs in again, by the
  // same name, a minute before.
  await page.evaluate(() => {
    const s = JSON.parse(sessionStorage.getItem('session'));
    sessionStorage.setItem('session', JSON.stringify({ ...s, expiresAt: Date.now() + 62_000 }));
  });
  const refreshed = page.waitForRequest((req) => req.url().endsWith('/local/sign-in'), { timeout: 10_000 });
  await page.reload();
  const req = await refreshed;
  assert.deepEqual(JSON.parse(req.postData()), { username: user });
  await page.waitForFunction((old) => JSON.parse(sessionStorage.getItem('session')).expiresAt > old, before.expiresAt - 1);
  const after = await session(page);
  assert.equal(after.userId, user);
  assert.ok(after.expiresAt > Date.now() + 62_000, 'a whole new lifetime');
  await page.getByRole('button', { name: 'Join the line' }).click();
  await heading(page).filter({ hasText: 'Choose a date' }).waitFor();
});

test('an expired access token refused by the API sends the buyer back to the sign-in', async () => {
  const id = await concert('refused');
  const user = unique('expired');
  const page = await buyer(browser, DESKTOP);
  await signIn(page, id, user);
  await page.getByRole('button', { name: 'Join the line' }).click();
  await heading(page).filter({ hasText: 'Choose a date' }).waitFor();
  // The token swapped for one issued an hour ago, so expired (a tab asleep past its refresh,
  // or a clock that is wrong). The page's own expiry is left as it was, so the page sends it
  // as good; the API refuses it (401 {"message":"Unauthorized"}, as API Gateway does).
  const expired = issuedAgo((await session(page)).accessToken, 3600);
  await page.evaluate((token) => {
    const s = JSON.parse(sessionStorage.getItem('session'));
    sessionStorage.setItem('session', JSON.stringify({ ...s, accessToken: token }));
  }, expired);
  const refused = page.waitForResponse((res) => res.url().endsWith('/queue/tokens'));
  await page.reload();
  await page.getByRole('button', { name: 'Join the line' }).click();
  const res = await refused;
  assert.equal(res.status(), 401);
  assert.deepEqual(await res.json(), { message: 'Unauthorized' });
  await page.locator('#alert').filter({ hasText: 'Your sign-in has ended. Please sign in again.' }).waitFor();
  await page.getByLabel('Username').waitFor();
  assert.equal(await session(page), null, 'the session is gone');
  await shot(page, '41-signed-out');
  await axe(page, 'the sign-in after a refused token');
  // Signing in again gets the buyer's place back.
  await signIn(page, id, user);
  await page.getByRole('button', { name: 'Join the line' }).click();
  await heading(page).filter({ hasText: 'Choose a date' }).waitFor();
});

test('signing out forgets the session', async () => {
  const id = await concert('signout');
  const page = await buyer(browser, DESKTOP);
  await signIn(page, id, unique('leaver'));
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.locator('#note').filter({ hasText: 'You are signed out.' }).waitFor();
  await page.getByLabel('Username').waitFor();
  assert.equal(await session(page), null);
  assert.ok(await page.locator('#signout-button').isHidden());
});
