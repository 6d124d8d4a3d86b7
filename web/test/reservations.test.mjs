// "My reservations": release a hold, refund a payment, and neither where the API refuses it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, buyer, shot, api, concert, controls, join, heading, unique, DESKTOP } from './harness.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const daysAhead = (n) => new Date(Date.now() + n * 86400000).toISOString().slice(0, 10);

async function holdSeat(page, id, seat) {
  await page.getByRole('button', { name: /seats free/ }).first().click();
  await heading(page).filter({ hasText: 'Seats on' }).waitFor();
  await page.locator(`[data-seat="${seat}"]`).click();
  await page.locator('#hold').click();
  await heading(page).filter({ hasText: 'Your seats are held' }).waitFor();
}


test('a hold released from my reservations', async () => {
  const id = await concert('release');
  const page = await buyer(browser, DESKTOP);
  await join(page, id, unique('undecided'));
  await heading(page).filter({ hasText: 'Choose a date' }).waitFor();
  await holdSeat(page, id, 4);
  await page.getByRole('button', { name: 'My reservations' }).click();
  await heading(page).filter({ hasText: 'My reservations' }).waitFor();
  await page.getByRole('button', { name: 'Release' }).click();
  await page.locator('#note').filter({ hasText: 'Released' }).waitFor();
  assert.match(await page.locator('.mine').innerText(), /Released/);
});

test('a payment refunded from my reservations', async () => {
  // A refund is open until REFUND_CUTOFF_HOURS (24) before the date: three days ahead.
  const id = await concert('refund', { dates: [{ date: daysAhead(3), sections: [
    { name: 'Floor', fromSeat: 1, toSeat: 10, price: 50000 },
  ] }] });
  await controls(id, { activeLimit: 5 });
  const page = await buyer(browser, DESKTOP);
  await join(page, id, unique('regretful'));
  await heading(page).filter({ hasText: 'Choose a date' }).waitFor();
  await holdSeat(page, id, 5);
  await page.locator('#charge').click();
  await page.locator('#pay').click();
  await heading(page).filter({ hasText: 'Paid' }).waitFor();
  await page.getByRole('button', { name: 'My reservations' }).first().click();
  await page.getByRole('button', { name: 'Refund' }).click();
  await page.locator('#note').filter({ hasText: /Refunded ₩50,000/ }).waitFor();
  assert.match(await page.locator('.mine').innerText(), /Refunded/);
});
