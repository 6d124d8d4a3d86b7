// Both widths, both languages, and a busy server: a 503 is retried after its Retry-After
// with a note on the page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, buyer, shot, axe, fitsWidth, concert, join, heading, unique, BASE, PHONE, DESKTOP } from './harness.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

for (const [name, viewport] of [['390', PHONE], ['1280', DESKTOP]]) {
  test(`the start page at ${name} px: fits, accessible, keyboard only`, async () => {
    const page = await buyer(browser, viewport);
    await page.goto(`${BASE}/?concert=demo`);
    await heading(page).filter({ hasText: 'Tickets for demo' }).waitFor();
    await fitsWidth(page, `the start page at ${name} px`);
    await axe(page, `the start page at ${name} px`);
    await shot(page, `00-start-${name}`);
    // The keyboard alone: skip link, then the form.
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.className), 'skip');
    await page.getByLabel('Username').focus();
    await page.keyboard.type('bad id!');
    await page.keyboard.press('Enter');
    await page.locator('#alert').filter({ hasText: 'A username is 1 to 64 letters' }).waitFor();
    // Then a good name, and the line, all by keyboard.
    await page.getByLabel('Username').fill('');
    await page.keyboard.type(unique('keys'));
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Join the line' }).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'join');
  });
}

test('Korean by the browser language, English by the switch', async () => {
  const page = await buyer(browser, PHONE, 'ko-KR');
  await page.goto(`${BASE}/?concert=demo`);
  await heading(page).filter({ hasText: 'demo 티켓' }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'ko');
  await shot(page, '50-start-ko-390');
  await axe(page, 'the Korean start page');
  await page.getByRole('button', { name: 'English' }).click();
  await heading(page).filter({ hasText: 'Tickets for demo' }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
});

test('a 503 is retried after Retry-After, with a note the buyer can see', async () => {
  const id = await concert('busy');
  const page = await buyer(browser, DESKTOP);
  let refused = 0;
  await page.route('**/queue/tokens', async (route) => {
    if (refused++ === 0) {
      await route.fulfill({
        status: 503,
        headers: { 'content-type': 'application/problem+json', 'retry-after': '2' },
        body: JSON.stringify({ type: '/problems/service-unavailable', title: 'The service is unavailable', status: 503, detail: 'a backing store is unavailable; retry later', code: 'SERVICE_UNAVAILABLE' }),
      });
    } else {
      await route.continue();
    }
  });
  const started = Date.now();
  await join(page, id, unique('patient'));
  await page.locator('#note').filter({ hasText: 'The service is busy. Trying again in 2 s' }).waitFor();
  await heading(page).filter({ hasText: 'Choose a date' }).waitFor();
  assert.ok(Date.now() - started >= 2000, 'waited Retry-After');
  assert.equal(refused, 2);
});

test('an unknown concert is explained in words', async () => {
  const page = await buyer(browser, DESKTOP);
  const id = unique('nowhere');
  await join(page, id, unique('lost'));
  await page.locator('#alert').filter({ hasText: `There is no concert "${id}". Check the address.` }).waitFor();
  assert.doesNotMatch(await page.locator('#alert').innerText(), /NOT_FOUND/);
});
