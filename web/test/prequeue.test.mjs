// Before the opening: the countdown in the pre-queue, then the shuffled line.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, buyer, shot, axe, api, concert, join, heading, unique, PHONE, DESKTOP } from './harness.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const inSeconds = (s) => new Date(Date.now() + s * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

test('the pre-queue counts down to the opening, then the line moves on', async () => {
  const id = await concert('pre', { opensAt: inSeconds(12) });
  const pages = [await buyer(browser, DESKTOP), await buyer(browser, PHONE)];
  for (const page of pages) {
    await join(page, id, unique('early'));
    await page.getByText(/Sales open in \d+:\d\d/).waitFor();
  }
  await shot(pages[1], '30-prequeue-390');
  await axe(pages[1], 'the pre-queue');
  // After the opening the three (probe included) are in a shuffled line: limit 1, so one
  // is in and the others have a place.
  const state = async (page) => {
    const place = page.locator('#position');
    const dates = heading(page).filter({ hasText: 'Choose a date' });
    await place.or(dates).waitFor({ timeout: 30_000 });
    return (await dates.count()) ? 'in' : await place.innerText();
  };
  const states = await Promise.all(pages.map(state));
  for (const s of states) assert.match(s, /^in$|Your place in line: \d+/);
});
