// Two buyers, two browser contexts, one seat: exactly one holds it; the other is told in
// words and picks another.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, buyer, shot, axe, concert, controls, join, heading, unique, PHONE, DESKTOP } from './harness.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('two buyers race for one seat: one holds it, the other is told and picks another', async () => {
  const id = await concert('race');
  await controls(id, { activeLimit: 2 });
  const pages = [await buyer(browser, DESKTOP), await buyer(browser, PHONE)];
  for (const page of pages) {
    await join(page, id, unique('racer'));
    await heading(page).filter({ hasText: 'Choose a date' }).waitFor();
    await page.getByRole('button', { name: /seats free/ }).first().click();
    await heading(page).filter({ hasText: 'Seats on' }).waitFor();
    await page.locator('[data-seat="7"]').click();
  }
  await Promise.all(pages.map((page) => page.locator('#hold').click()));

  const outcome = async (page) => {
    const held = heading(page).filter({ hasText: 'Your seats are held' });
    const refused = page.locator('#alert').filter({ hasText: 'Someone else just took seat 7; pick another.' });
    await held.or(refused).waitFor();
    return (await held.count()) ? 'held' : 'refused';
  };
  const results = await Promise.all(pages.map(outcome));
  assert.deepEqual([...results].sort(), ['held', 'refused'], `outcomes: ${results}`);
  const loser = pages[results.indexOf('refused')];
  await shot(loser, '10-race-refused');
  await axe(loser, 'the refusal');

  // The loser's map shows seat 7 taken, and another seat can be held.
  assert.ok(await loser.locator('[data-seat="7"]').isDisabled(), 'seat 7 is shown taken');
  await loser.locator('[data-seat="8"]').click();
  await loser.locator('#hold').click();
  await heading(loser).filter({ hasText: 'Your seats are held' }).waitFor();
  assert.match(await loser.locator('main').innerText(), /Seat 8 on/);
});
