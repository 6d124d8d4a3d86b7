// A buyer from the sign-in to a paid seat and its ticket, while a second buyer waits in the waiting room
// (active limit 1) and moves on by themselves once the first one's payment frees the place.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, buyer, shot, axe, fitsWidth, concert, join, heading, unique, PHONE, DESKTOP } from './harness.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('a buyer pays for a seat while the next one waits, then moves on by themselves', async () => {
  const id = await concert('journey');
  const alice = await buyer(browser, DESKTOP);
  const bob = await buyer(browser, PHONE);

  // Every poll of Bob's page, with the hint the answer before it gave.
  const polls = [];
  bob.on('response', async (res) => {
    if (!res.url().endsWith('/queue/tokens') && !res.url().endsWith('/queue/status')) return;
    const body = await res.json().catch(() => null);
    polls.push({ at: Date.now(), url: res.url(), hint: body?.pollAfterSeconds ?? null });
  });

  await join(alice, id, unique('alice'));
  await assert.doesNotReject(heading(alice).filter({ hasText: 'Choose a date' }).waitFor());
  await shot(alice, '01-dates-1280');

  await join(bob, id, unique('bob'));
  await heading(bob).filter({ hasText: 'waiting room' }).waitFor();
  assert.match(await bob.locator('#position').innerText(), /Your place in line: 1\b/);
  await shot(bob, '02-waiting-room-390');
  await axe(bob, 'the waiting room');
  await fitsWidth(bob, 'the waiting room at 390 px');

  await alice.getByRole('button', { name: /seats free/ }).first().click();
  await heading(alice).filter({ hasText: 'Seats on' }).waitFor();
  await shot(alice, '03-seat-map-1280');
  await axe(alice, 'the seat map');
  await alice.locator('[data-seat="3"]').click();
  assert.equal(await alice.locator('[data-seat="3"]').getAttribute('aria-pressed'), 'true');
  assert.match(await alice.locator('.sticky').innerText(), /Chosen: 3 · total ₩50,000/);
  await alice.locator('#hold').click();
  await heading(alice).filter({ hasText: 'Your seats are held' }).waitFor();
  assert.match(await alice.locator('[role=timer]').innerText(), /Pay within \d+:\d\d/);
  assert.ok(await alice.locator('#pay').isDisabled(), 'pay waits for the balance');
  await shot(alice, '04-hold-1280');
  await axe(alice, 'the hold');
  await alice.locator('#charge').click();
  await alice.locator('#note').filter({ hasText: 'Added ₩50,000' }).waitFor();
  await alice.locator('#pay').click();
  await heading(alice).filter({ hasText: 'Paid' }).waitFor();
  assert.match(await alice.locator('main').innerText(), /Paid ₩50,000; your balance is ₩0/);
  await shot(alice, '05-paid-1280');
  await axe(alice, 'the confirmation');

  // Bob's page moves on by itself: the payment spent Alice's token and freed the place.
  await heading(bob).filter({ hasText: 'Choose a date' }).waitFor({ timeout: 20_000 });
  await shot(bob, '06-admitted-390');
  await bob.getByRole('button', { name: /seats free/ }).first().click();
  await heading(bob).filter({ hasText: 'Seats on' }).waitFor();
  assert.ok(await bob.locator('[data-seat="3"]').isDisabled(), 'the sold seat cannot be chosen');
  assert.match(await bob.locator('[data-seat="3"]').getAttribute('class'), /\bsold\b/);
  await shot(bob, '07-seat-map-390');
  await fitsWidth(bob, 'the seat map at 390 px');
  await axe(bob, 'the seat map at 390 px');

  // Bob polled exactly as told: each poll came pollAfterSeconds after the answer before it.
  const waits = [];
  for (let i = 1; i < polls.length; i++) {
    if (polls[i - 1].hint !== null) waits.push({ hint: polls[i - 1].hint, gap: (polls[i].at - polls[i - 1].at) / 1000 });
  }
  assert.ok(waits.length >= 1, `Bob's page polled: ${JSON.stringify(polls)}`);
  for (const w of waits) {
    assert.ok(w.gap >= w.hint - 0.3 && w.gap <= w.hint + 1.5, `polled after ${w.gap}s, told ${w.hint}s`);
  }

  // Alice's reservations, from the server (no place in line needed), with the seat's ticket.
  await alice.getByRole('button', { name: 'My reservations' }).first().click();
  await heading(alice).filter({ hasText: 'My reservations' }).waitFor();
  assert.match(await alice.locator('.mine').innerText(), /Seat 3 ·[^\n]*₩50,000\s+Paid/);
  await alice.getByRole('img', { name: /Ticket QR code: Seat 3 · Floor/ }).waitFor();
  await shot(alice, '08-my-reservations-1280');
  await axe(alice, 'my reservations');
});
