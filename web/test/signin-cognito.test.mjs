// The buyer's sign-in as deployed in AWS: config.json names the Cognito user pool's managed
// login, and the page signs in with the authorization code flow and PKCE. The managed login
// is played by the test (page.route on its host), which checks each step as Cognito would
// (the S256 challenge against the verifier, the client, the redirect, the state) and hands out
// access tokens that the local server's issuer signed, so the API calls after it are real.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { launch, buyer, shot, axe, concert, session, signInApi, heading, unique, BASE, DESKTOP } from './harness.mjs';

const DOMAIN = 'https://tickets-test.auth.ap-northeast-2.amazoncognito.com';
const CLIENT_ID = '5example0client0id0000000';
const REDIRECT = `${BASE}/`;
const SCOPES = ['openid', 'aws.cognito.signin.user.admin'];

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const b64url = (buf) => buf.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/**
 * The page as served in AWS, and a managed login for `user`. Returns what the login saw:
 * each authorize request's parameters, each token request's form, and the sign-outs.
 */
async function cognito(page, user, { expiresIn = 3600 } = {}) {
  const seen = { authorize: [], token: [], logout: [] };
  const issued = new Map(); // code -> the authorize request it answers
  await page.route('**/config.json', (route) => route.fulfill({
    json: {
      apiBase: '', maxSeatsPerUser: 1,
      auth: { kind: 'cognito', domain: DOMAIN, clientId: CLIENT_ID, redirectUri: REDIRECT, scopes: SCOPES },
    },
  }));
  await page.route(`${DOMAIN}/oauth2/authorize?**`, async (route) => {
    const q = Object.fromEntries(new URL(route.request().url()).searchParams);
    seen.authorize.push(q);
    // The user signs in on the managed login; it sends them back with a one-time code.
    const code = `code-${unique('c')}`;
    issued.set(code, q);
    await route.fulfill({ status: 302, headers: { location: `${q.redirect_uri}?code=${code}&state=${encodeURIComponent(q.state)}` } });
  });
  await page.route(`${DOMAIN}/oauth2/token`, async (route) => {
    const req = route.request();
    const form = Object.fromEntries(new URLSearchParams(req.postData() ?? ''));
    seen.token.push({ form, contentType: req.headers()['content-type'] });
    const cors = { 'access-control-allow-origin': new URL(BASE).origin };
    const refuse = () => route.fulfill({ status: 400, headers: cors, json: { error: 'invalid_grant' } });
    let ok = false;
    if (form.grant_type === 'authorization_code') {
      const asked = issued.get(form.code);
      issued.delete(form.code); // one use
      ok = !!asked && form.client_id === CLIENT_ID && form.redirect_uri === asked.redirect_uri
        && b64url(createHash('sha256').update(form.code_verifier ?? '').digest()) === asked.code_challenge;
    } else if (form.grant_type === 'refresh_token') {
      ok = form.client_id === CLIENT_ID && form.refresh_token === 'refresh-1';
    }
    if (!ok) return refuse();
    await route.fulfill({
      headers: cors,
      json: {
        access_token: await signInApi(user),
        id_token: 'not.used.here',
        refresh_token: form.grant_type === 'authorization_code' ? 'refresh-1' : undefined,
        expires_in: expiresIn,
        token_type: 'Bearer',
      },
    });
  });
  await page.route(`${DOMAIN}/logout?**`, async (route) => {
    const q = Object.fromEntries(new URL(route.request().url()).searchParams);
    seen.logout.push(q);
    await route.fulfill({ status: 302, headers: { location: q.logout_uri } });
  });
  return seen;
}

test('in AWS the buyer signs in through the managed login (code + PKCE) and the token is refreshed', async () => {
  const id = await concert('cognito');
  const user = unique('pooled');
  const page = await buyer(browser, DESKTOP);
  // 65 s: the page refreshes a minute before, 5 s after the sign-in.
  const seen = await cognito(page, user, { expiresIn: 65 });
  await page.goto(`${BASE}/?concert=${id}`);
  await heading(page).filter({ hasText: `Tickets for ${id}` }).waitFor();
  assert.equal(await page.getByLabel('Username').count(), 0, 'no username field in AWS');
  await axe(page, 'the managed sign-in');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText(`Signed in as ${user}.`).waitFor();

  // The authorize request: the code flow with PKCE (S256), the app client, the scopes.
  assert.equal(seen.authorize.length, 1);
  const q = seen.authorize[0];
  assert.equal(q.response_type, 'code');
  assert.equal(q.client_id, CLIENT_ID);
  assert.equal(q.redirect_uri, REDIRECT);
  assert.deepEqual(q.scope.split(' '), SCOPES);
  assert.equal(q.code_challenge_method, 'S256');
  assert.match(q.code_challenge, /^[A-Za-z0-9_-]{43}$/);
  assert.match(q.state, /^[A-Za-z0-9_-]{22,}$/);
  // The code was traded once, with the verifier (checked by the login above).
  const trade = seen.token.find((t) => t.form.grant_type === 'authorization_code');
  assert.match(trade.contentType, /^application\/x-www-form-urlencoded/);
  assert.match(trade.form.code_verifier, /^[A-Za-z0-9_-]{43}$/);
  // Back where the sign-in started, the code gone from the address.
  assert.equal(new URL(page.url()).search, `?concert=${id}`);
  const first = await session(page);
  assert.equal(first.userId, user);
  assert.equal(first.refreshToken, 'refresh-1');

  await page.getByRole('button', { name: 'Join the line' }).click();
  await heading(page).filter({ hasText: 'Choose a date' }).waitFor();
  await shot(page, '42-cognito-signed-in');

  // The refresh_token grant, a minute before the access token expires (5 s after the sign-in).
  await page.waitForRequest(
    (req) => req.url() === `${DOMAIN}/oauth2/token` && /grant_type=refresh_token/.test(req.postData() ?? ''),
    { timeout: 15_000 },
  );
  await page.waitForFunction((old) => JSON.parse(sessionStorage.getItem('session'))?.expiresAt > old, first.expiresAt);
  const refresh = seen.token.find((t) => t.form.grant_type === 'refresh_token');
  assert.deepEqual(refresh.form, { grant_type: 'refresh_token', client_id: CLIENT_ID, refresh_token: 'refresh-1' });
  assert.equal((await session(page)).refreshToken, 'refresh-1', 'the refresh token is kept');

  // Signing out ends the managed login's session too, and comes back signed out.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.locator('#note').filter({ hasText: 'You are signed out.' }).waitFor();
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  assert.equal(new URL(page.url()).search, `?concert=${id}`, 'back on the concert signed out from');
  assert.deepEqual(seen.logout, [{ client_id: CLIENT_ID, logout_uri: REDIRECT }]);
  assert.equal(await session(page), null);
});

test('an answer from the login that this page did not ask for is refused', async () => {
  const page = await buyer(browser, DESKTOP);
  const seen = await cognito(page, unique('forged'));
  // A code and state made elsewhere (a login CSRF): the page never started a sign-in.
  await page.goto(`${BASE}/?code=code-from-elsewhere&state=not-ours`);
  await page.locator('#alert').filter({ hasText: 'That sign-in did not start on this page' }).waitFor();
  assert.equal(seen.token.length, 0, 'the code was not traded');
  assert.equal(await session(page), null);
  assert.doesNotMatch(page.url(), /code=/);

  // A state of ours with a code is traded; the same answer again is not (the state is spent).
  await page.goto(`${BASE}/?concert=demo`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText(/Signed in as/).waitFor();
  const { state } = seen.authorize[0];
  await page.evaluate(() => sessionStorage.removeItem('session'));
  await page.goto(`${BASE}/?code=code-replayed&state=${state}`);
  await page.locator('#alert').filter({ hasText: 'That sign-in did not start on this page' }).waitFor();
  assert.equal(seen.token.length, 1);
});

test('a sign-in cancelled on the managed login is said in words', async () => {
  const page = await buyer(browser, DESKTOP);
  const seen = await cognito(page, unique('shy'));
  await page.unroute(`${DOMAIN}/oauth2/authorize?**`);
  await page.route(`${DOMAIN}/oauth2/authorize?**`, (route) => {
    const q = new URL(route.request().url()).searchParams;
    seen.authorize.push(q);
    return route.fulfill({ status: 302, headers: { location: `${q.get('redirect_uri')}?error=access_denied&state=${q.get('state')}` } });
  });
  await page.goto(`${BASE}/?concert=demo`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#alert').filter({ hasText: 'The sign-in was cancelled.' }).waitFor();
  assert.equal(new URL(page.url()).search, '?concert=demo');
  assert.equal(seen.token.length, 0);
});
