// The operator's page: the line live, the active limit, pause and resume (a waiting buyer
// stays waiting while paused, and moves on once resumed), the seat counts per date.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, buyer, shot, axe, fitsWidth, api, concert, join, heading, unique, signInApi,
  openAdmin as open, BASE, PHONE, DESKTOP,
} from './harness.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const openAdmin = (viewport, id) => open(browser, viewport, id);

const figure = (page, name) => page.locator(`#fig-${name} dd`);

test('the operator sees the line and the seats, and sets the active limit', async () => {
  const id = await concert('op');
  const page = await openAdmin(DESKTOP, id);
  assert.equal(await figure(page, 'state').innerText(), 'Running');
  assert.equal(await figure(page, 'active').innerText(), '0 / 1');
  // A buyer holds a seat: the table shows it held, the line one active, within a refresh.
  const user = unique('u');
  const access = await signInApi(user);
  const token = (await api('POST', '/queue/tokens', { concertId: id }, { access })).body.token;
  const held = await api('POST', '/reservations', {
    userId: user, concertId: id, date: new Date().toISOString().slice(0, 10), seatNo: 2,
  }, { access, queue: token });
  assert.equal(held.status, 201);
  await page.locator('tbody tr .held-count').filter({ hasText: /^1$/ }).waitFor({ timeout: 5000 });
  await figure(page, 'active').filter({ hasText: '1 / 1' }).waitFor();
  await page.getByLabel('Active limit').fill('3');
  await page.getByRole('button', { name: 'Set the limit' }).click();
  await figure(page, 'active').filter({ hasText: '1 / 3' }).waitFor();
  await shot(page, '20-admin-1280');
  await axe(page, 'the operator page');
  // The token is kept for this tab: a reload shows the line again without typing it.
  await page.reload();
  await page.locator('#figures').waitFor();

  const phone = await openAdmin(PHONE, id);
  await fitsWidth(phone, 'the operator page at 390 px');
  await shot(phone, '21-admin-390');
  await axe(phone, 'the operator page at 390 px');
});

test('a wrong operator token is explained in words', async () => {
  const page = await buyer(browser, DESKTOP);
  await page.goto(`${BASE}/admin?concert=demo`);
  await page.getByLabel('Operator token').fill('not-the-token-000000000000000000000000');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.locator('#alert').filter({ hasText: 'The operator token is wrong or missing.' }).waitFor();
});

test('pausing keeps a waiting buyer waiting; resuming lets them in', async () => {
  const id = await concert('pause');
  const admin = await openAdmin(DESKTOP, id);
  const page = await buyer(browser, PHONE);
  await admin.getByRole('button', { name: 'Pause the line' }).click();
  await figure(admin, 'state').filter({ hasText: 'Paused' }).waitFor();
  await join(page, id, unique('patient'));
  await heading(page).filter({ hasText: 'waiting room' }).waitFor();
  await figure(admin, 'waiting').filter({ hasText: /^1$/ }).waitFor();
  await shot(admin, '22-admin-paused');
  // Still waiting after a few polls.
  await page.waitForTimeout(5000);
  assert.match(await heading(page).innerText(), /waiting room/);
  await admin.getByRole('button', { name: 'Resume the line' }).click();
  await figure(admin, 'state').filter({ hasText: 'Running' }).waitFor();
  await heading(page).filter({ hasText: 'Choose a date' }).waitFor({ timeout: 20_000 });
});
