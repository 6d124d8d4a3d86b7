// The operator's page as deployed in AWS: config.json says `adminAuth: "iam"`, the operator
// types AWS keys, and every admin call is signed with SigV4. API Gateway is played by the test
// (page.route on an execute-api host): it checks each signature itself, per the SigV4 spec,
// with Node's crypto and the test's secret, and answers as the gateway and the function would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { launch, buyer, shot, axe, fitsWidth, today, unique, BASE, DESKTOP, PHONE } from './harness.mjs';

const REGION = 'ap-northeast-2';
const API = `https://a1b2c3d4e5.execute-api.${REGION}.amazonaws.com`;
const KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const SESSION = 'IQoJb3JpZ2luX2VjEXAMPLE//////////wEaDmFwLW5vcnRoZWFzdC0yIkcwRQIhAEXAMPLE=';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const sha256 = (data) => createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => createHmac('sha256', key).update(data).digest();
/** RFC 3986 percent-encoding, as SigV4 asks: everything but A-Z a-z 0-9 - _ . ~ */
const uriEncode = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * A request's SigV4 signature from scratch, per the spec: the canonical request (method, URI
 * with each path segment encoded, sorted query, the signed headers, the payload's SHA-256),
 * the string to sign, the signing key (date, region, service, "aws4_request") and the HMAC.
 * `value(name)` gives each signed header's value as sent.
 */
function sigv4({ method, url, value, signedHeaders, body, amzDate, region, service, secret }) {
  const u = new URL(url);
  const canonicalUri = u.pathname.split('/').map(uriEncode).join('/') || '/';
  const canonicalQuery = [...u.searchParams]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalHeaders = signedHeaders.split(';')
    .map((n) => `${n}:${String(value(n)).trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonicalRequest = [method, canonicalUri, canonicalQuery, canonicalHeaders, signedHeaders, sha256(body)].join('\n');
  const date = amzDate.slice(0, 8);
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
  return { signature: hmac(key, stringToSign).toString('hex'), canonicalRequest };
}

/**
 * Checks an intercepted request's SigV4 Authorization header the way the gateway does: the
 * scope, the time, what is signed, and the signature recomputed with `secret`. Returns what
 * was found wrong, or null when the signature is valid.
 */
function sigv4Problem(request, secret = SECRET) {
  const headers = request.headers();
  const auth = headers.authorization ?? '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return `not a SigV4 Authorization header: ${JSON.stringify(auth)}`;
  const [, keyId, date, region, service, signedHeaders, signature] = m;
  if (keyId !== KEY_ID) return `access key ${keyId}`;
  if (region !== REGION || service !== 'execute-api') return `scope ${region}/${service}`;
  const amzDate = headers['x-amz-date'] ?? '';
  if (!/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== date) return `x-amz-date ${amzDate}`;
  const at = Date.parse(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  if (Math.abs(Date.now() - at) > 5 * 60_000) return `x-amz-date ${amzDate} is not now`;
  const names = signedHeaders.split(';');
  for (const need of ['host', 'x-amz-date', 'x-amz-security-token']) {
    if (!names.includes(need)) return `${need} is not signed (${signedHeaders})`;
  }
  if (headers['x-amz-security-token'] !== SESSION) return 'the session token was not sent as given';

  // The browser sends Host from the URL; the intercepted headers do not list it.
  const host = new URL(request.url()).host;
  const value = (name) => (name === 'host' ? host : headers[name]);
  for (const name of names) if (value(name) === undefined) return `signed header ${name} was not sent`;
  const expected = sigv4({
    method: request.method(), url: request.url(), value, signedHeaders,
    body: request.postDataBuffer() ?? Buffer.alloc(0), amzDate, region, service, secret,
  });
  return expected.signature === signature ? null : `signature mismatch:\n${expected.canonicalRequest}`;
}

const cors = { 'access-control-allow-origin': new URL(BASE).origin, 'content-type': 'application/json' };

/** The page is served as in AWS: its config.json names the API and IAM. */
async function awsPage(viewport = DESKTOP) {
  const page = await buyer(browser, viewport);
  await page.route('**/config.json', (route) => route.fulfill({
    json: { apiBase: API, maxSeatsPerUser: 1, adminAuth: 'iam', region: REGION },
  }));
  return page;
}

async function signIn(page) {
  await page.getByLabel('AWS access key ID').fill(KEY_ID);
  await page.getByLabel('AWS secret access key').fill(SECRET);
  await page.getByLabel('Session token (temporary keys only)').fill(SESSION);
  await page.getByRole('button', { name: 'Show' }).click();
}

const figure = (page, name) => page.locator(`#fig-${name} dd`);

test('the test\'s SigV4 check gives the signature of AWS\'s own example (get-vanilla)', () => {
  // From AWS's SigV4 test suite: GET / on example.amazonaws.com, service "service".
  const { signature } = sigv4({
    method: 'GET', url: 'https://example.amazonaws.com/', signedHeaders: 'host;x-amz-date',
    value: (n) => ({ host: 'example.amazonaws.com', 'x-amz-date': '20150830T123600Z' })[n],
    body: '', amzDate: '20150830T123600Z', region: 'us-east-1', service: 'service',
    secret: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  });
  assert.equal(signature, '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31');
});

test('in AWS the operator signs in with AWS keys and every admin call is signed (SigV4)', async () => {
  const id = unique('iam');
  const page = await awsPage();
  const seen = []; // { method, path, problem, bearer }
  let limit = 1;
  const queue = () => ({ waiting: 4, active: 1, activeLimit: limit, paused: false, admittedLastMinute: 2, opensAt: null });
  await page.route(`${API}/**`, async (route) => {
    const req = route.request();
    const path = new URL(req.url()).pathname;
    const problem = sigv4Problem(req);
    seen.push({ method: req.method(), path, problem, body: req.postData(), bearer: /bearer/i.test(req.headers().authorization ?? '') });
    if (problem) {
      return route.fulfill({ status: 403, headers: cors, body: JSON.stringify({ message: 'The request signature we calculated does not match the signature you provided.' }) });
    }
    if (req.method() === 'GET' && path === `/admin/concerts/${id}`) {
      return route.fulfill({ headers: cors, body: JSON.stringify({
        concertId: id, name: 'Signed gala', opensAt: null, revision: 1, queue: queue(),
        dates: [{ date: today(), sections: [{ name: 'Floor', fromSeat: 1, toSeat: 20, price: 50000 }],
          seats: 20, locked: true, available: 17, held: 2, sold: 1 }],
      }) });
    }
    if (req.method() === 'PATCH' && path === `/admin/concerts/${id}/queue`) {
      limit = JSON.parse(req.postData()).activeLimit ?? limit;
      return route.fulfill({ headers: cors, body: JSON.stringify(queue()) });
    }
    return route.fulfill({ status: 404, headers: cors, body: JSON.stringify({ message: 'Not Found' }) });
  });

  // A request the fake gateway refused shows as the page's sentence; the test names why.
  const signed = async (step) => {
    try {
      await step();
    } catch (e) {
      const bad = seen.find((r) => r.problem);
      if (bad) assert.fail(`${bad.method} ${bad.path}: ${bad.problem}`);
      throw e;
    }
  };

  await page.goto(`${BASE}/admin?concert=${id}`);
  await page.locator('#op-keys-hint').waitFor();
  assert.equal(await page.getByLabel('Operator token').count(), 0);
  await axe(page, 'the operator sign-in with AWS keys');
  await signIn(page);
  await signed(() => page.locator('#figures').waitFor());
  assert.equal(await figure(page, 'active').innerText(), '1 / 1');
  assert.equal(await figure(page, 'waiting').innerText(), '4');
  assert.equal(await page.locator('tbody tr .held-count').innerText(), '2');

  await page.getByLabel('Active limit').fill('3');
  await page.getByRole('button', { name: 'Set the limit' }).click();
  await signed(() => figure(page, 'active').filter({ hasText: '1 / 3' }).waitFor());
  await shot(page, '23-admin-iam');

  const gets = seen.filter((r) => r.method === 'GET');
  const patches = seen.filter((r) => r.method === 'PATCH');
  assert.ok(gets.length >= 2, `GETs seen: ${gets.length}`);
  assert.equal(patches.length, 1);
  assert.deepEqual(JSON.parse(patches[0].body), { activeLimit: 3 });
  for (const r of seen) {
    assert.equal(r.problem, null, `${r.method} ${r.path}`);
    assert.equal(r.bearer, false, `${r.method} ${r.path} sent a Bearer header`);
  }

  // The check is not vacuous: the same request under another secret does not verify.
  const probe = page.waitForRequest((r) => r.url().startsWith(API) && r.method() === 'GET');
  const another = await probe;
  assert.equal(sigv4Problem(another), null);
  assert.match(sigv4Problem(another, `${SECRET}x`) ?? '', /signature mismatch/);

  // The keys are kept for this tab: a reload shows the line again, still signed.
  await page.reload();
  await page.locator('#figures').waitFor();
  assert.equal(await page.getByLabel('AWS access key ID').inputValue(), KEY_ID);
  // Sign out forgets them.
  await page.getByRole('button', { name: 'Sign out' }).click();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('adminKeys')), null);
  assert.equal(await page.getByLabel('AWS secret access key').inputValue(), '');
  assert.equal(await page.locator('#figures').count(), 0);
  assert.ok(seen.every((r) => r.problem === null && !r.bearer));
});

test('in AWS a 403 from the gateway (or no readable answer) is explained in words', async () => {
  const page = await awsPage(PHONE);
  let message = 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';
  await page.route(`${API}/**`, (route) => (message
    ? route.fulfill({ status: 403, headers: cors, body: JSON.stringify({ message }) })
    : route.abort('failed')));
  await page.goto(`${BASE}/admin?concert=${unique('refused')}`);
  await signIn(page);
  const alert = page.locator('#alert');
  await alert.filter({ hasText: "AWS did not accept the signature: check the access key ID, the secret key and the session token (temporary keys expire), and this computer's clock." }).waitFor();
  assert.doesNotMatch(await alert.innerText(), /403|HTTP|IAM_/);
  await fitsWidth(page, 'the operator sign-in with AWS keys at 390 px');
  await shot(page, '24-admin-iam-403');
  await axe(page, 'the operator page refused by the gateway');

  // Signed well, but the keys' user may not call the operator routes.
  message = 'User: arn:aws:iam::123456789012:user/someone is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:ap-northeast-2:123456789012:a1b2c3d4e5/$default/GET/admin/concerts/x';
  await page.getByRole('button', { name: 'Show' }).click();
  await alert.filter({ hasText: "These AWS keys may not use the operator API: attach the stack's OperatorPolicy to their user or role." }).waitFor();

  // A refusal the browser may not read (no CORS headers on it) looks like no answer at all.
  message = null;
  await page.getByRole('button', { name: 'Show' }).click();
  await alert.filter({ hasText: "The API cannot be reached, or AWS refused the signed request without saying why. Check your connection, the keys and this computer's clock." }).waitFor();
});
