// The ticket, from the buyer's page to the door: "my reservations" comes from the server (a
// second device sees it), each paid seat shows its ticket as a QR code, the QR read back from
// the page's canvas (jsQR, not the encoder the page uses) is the ticket's code, and the
// operator's door view lets it in once: then "already in". A refunded ticket and a code that
// is not ours are refused in words, and the camera path (BarcodeDetector) checks in too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import jsQR from 'jsqr';
import {
  launch, buyer, shot, axe, fitsWidth, api, concert, controls, join, signIn, session, heading, unique,
  openAdmin, buyThroughApi, today, PHONE, DESKTOP,
} from './harness.mjs';

let browser;
// A fake camera for the BarcodeDetector test; nothing else uses it.
before(async () => { browser = await launch(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream']); });
after(async () => { await browser?.close(); });

const daysAhead = (n) => new Date(Date.now() + n * 86400000).toISOString().slice(0, 10);
const CODE = /^[A-Za-z0-9._~-]{1,400}$/;

/** The QR codes drawn on the page, each decoded from the canvas's pixels by jsQR. */
async function readQrCodes(page) {
  const images = await page.locator('canvas.qr').evaluateAll((canvases) => canvases.map((c) => {
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height);
    return { width: c.width, height: c.height, modules: Number(c.dataset.modules), pixels: Array.from(data.data) };
  }));
  return images.map((img) => {
    const found = jsQR(Uint8ClampedArray.from(img.pixels), img.width, img.height);
    assert.ok(found, 'jsQR finds the QR code on the canvas');
    return { text: found.data, version: found.version, modules: img.modules };
  });
}

const doorAnswer = (page) => page.locator('#door-result');

/** Pastes `code` into the door view and checks it in: the API's status. */
async function checkIn(admin, code) {
  await admin.getByLabel('Ticket code').fill(code);
  const answered = admin.waitForResponse((res) => res.url().endsWith('/admin/checkins'));
  await admin.getByRole('button', { name: 'Check in' }).click();
  return (await answered).status();
}

test("a paid seat's QR, read on another device, is its code; the door lets it in once", async () => {
  const id = await concert('ticket');
  const user = unique('holder');
  const phone = await buyer(browser, PHONE);
  await join(phone, id, user);
  await heading(phone).filter({ hasText: 'Choose a date' }).waitFor();
  await phone.getByRole('button', { name: /seats free/ }).first().click();
  await phone.locator('[data-seat="3"]').click();
  await phone.locator('#hold').click();
  await phone.locator('#charge').click();
  await phone.locator('#pay').click();
  await heading(phone).filter({ hasText: 'Paid' }).waitFor();

  // Another device: the same buyer signs in there and finds the reservation and its ticket.
  const laptop = await buyer(browser, DESKTOP);
  await signIn(laptop, id, user);
  await laptop.getByRole('button', { name: 'My reservations' }).click();
  await heading(laptop).filter({ hasText: 'My reservations' }).waitFor();
  assert.match(await laptop.locator('.mine').innerText(), /Seat 3 ·[^\n]*₩50,000\s+Paid/);
  await laptop.getByRole('img', { name: /Ticket QR code: Seat 3 · Floor/ }).waitFor();
  await shot(laptop, '60-ticket-1280');
  await axe(laptop, 'my reservations with a ticket');

  // The QR read back from the canvas is the ticket's code, as the API gives it.
  const [qr] = await readQrCodes(laptop);
  const access = (await session(laptop)).accessToken;
  const mine = await api('GET', `/users/${user}/reservations`, undefined, { access });
  assert.equal(mine.status, 200, JSON.stringify(mine.body));
  const reservationId = mine.body.reservations[0].reservationId;
  const tickets = await api('GET', `/reservations/${reservationId}/tickets`, undefined, { access });
  assert.equal(tickets.status, 200, JSON.stringify(tickets.body));
  const [ticket] = tickets.body.tickets;
  assert.equal(qr.text, ticket.code);
  assert.match(ticket.code, CODE);
  assert.equal(qr.modules, 17 + 4 * qr.version);
  console.log(`ticket code: ${ticket.code.length} characters; QR version ${qr.version}, ${qr.modules} modules a side`);

  // The phone shows the same ticket, and fits its width.
  await phone.getByRole('button', { name: 'My reservations' }).first().click();
  await phone.getByRole('img', { name: /Ticket QR code: Seat 3/ }).waitFor();
  assert.equal((await readQrCodes(phone))[0].text, ticket.code);
  await fitsWidth(phone, 'a ticket at 390 px');
  await shot(phone, '61-ticket-390');

  // The door: pasted (this Chromium has no BarcodeDetector), let in, then already in.
  const admin = await openAdmin(browser, DESKTOP, id);
  await admin.getByText('This browser cannot read QR codes from the camera: paste the code instead.').waitFor();
  assert.equal(await checkIn(admin, qr.text), 200);
  await doorAnswer(admin).filter({ hasText: 'Let in: seat 3, Floor' }).waitFor();
  await shot(admin, '62-door-let-in');
  await axe(admin, 'the door, letting in');
  assert.equal(await admin.getByLabel('Ticket code').inputValue(), '', 'ready for the next ticket');
  assert.equal(await checkIn(admin, qr.text), 409);
  await doorAnswer(admin).filter({ hasText: /^Already in since \d\d:\d\d: do not let in again\.$/ }).waitFor();
  await shot(admin, '63-door-already-in');
  // The same, in Korean.
  await admin.getByRole('button', { name: '한국어' }).click();
  await doorAnswer(admin).filter({ hasText: /\d\d:\d\d에 이미 입장했습니다/ }).waitFor();
  await axe(admin, 'the door in Korean');

  // The buyer's ticket now says when it was used.
  await laptop.getByRole('button', { name: 'My reservations' }).click();
  await laptop.getByText(/Checked in at \d\d:\d\d/).waitFor();
});

test('the door refuses a refunded ticket and a code that is not ours, in words', async () => {
  // A refund is open until REFUND_CUTOFF_HOURS (24) before the date: three days ahead.
  const date = daysAhead(3);
  const id = await concert('door', { dates: [{ date, sections: [{ name: 'Floor', fromSeat: 1, toSeat: 10, price: 50000 }] }] });
  await controls(id, { activeLimit: 5 });
  const kept = await buyThroughApi(unique('kept'), id, date, 1);
  const gone = await buyThroughApi(unique('gone'), id, date, 2);
  const code = async ({ access, reservation }) =>
    (await api('GET', `/reservations/${reservation.reservationId}/tickets`, undefined, { access })).body.tickets[0].code;
  const keptCode = await code(kept);
  const goneCode = await code(gone);
  const issued = await api('POST', '/queue/tokens', { concertId: id }, { access: gone.access });
  const refunded = await api('POST', `/reservations/${gone.reservation.reservationId}/refund`, undefined,
    { access: gone.access, queue: issued.body.token });
  assert.equal(refunded.status, 200, JSON.stringify(refunded.body));

  const admin = await openAdmin(browser, PHONE, id);
  assert.equal(await checkIn(admin, goneCode), 409);
  await doorAnswer(admin).filter({ hasText: 'Refunded: this ticket is no longer valid. Do not let in.' }).waitFor();
  await fitsWidth(admin, 'the door at 390 px');
  await shot(admin, '64-door-refunded-390');
  await axe(admin, 'the door, refusing');
  // One character changed in the signature: not ours. Nor is a made-up text.
  const last = keptCode.at(-1);
  const forged = keptCode.slice(0, -1) + (last === 'A' ? 'B' : 'A');
  for (const bad of [forged, 'hello, let me in']) {
    assert.equal(await checkIn(admin, bad), 400, bad);
    await doorAnswer(admin).filter({ hasText: 'Not a ticket of ours. Do not let in.' }).waitFor();
  }
  // The good one still gets in: nothing above used it.
  assert.equal(await checkIn(admin, keptCode), 200);
  await doorAnswer(admin).filter({ hasText: 'Let in: seat 1, Floor' }).waitFor();
});

test('where the browser has BarcodeDetector, the door scans with the camera', async () => {
  const id = await concert('camera');
  const { access, reservation } = await buyThroughApi(unique('scanned'), id, today(), 4);
  const code = (await api('GET', `/reservations/${reservation.reservationId}/tickets`, undefined, { access })).body.tickets[0].code;

  // Chromium on Linux has no BarcodeDetector: a stand-in that sees, in the camera's video,
  // the code the test holds up (window.__shown), as the real one sees a ticket held up to it.
  // The camera is Chromium's fake device; the page's CSP is in force (a MediaStream is no
  // fetch: `default-src 'self'` lets it play).
  const admin = await openAdmin(browser, DESKTOP, id, (page) => page.addInitScript(() => {
    globalThis.BarcodeDetector = class {
      static async getSupportedFormats() { return ['qr_code', 'ean_13']; }
      constructor(options) { this.formats = options.formats; }
      async detect(video) {
        if (!(video instanceof HTMLVideoElement) || !video.srcObject) throw new TypeError('no video');
        const shown = globalThis.__shown;
        return shown && this.formats.includes('qr_code') ? [{ rawValue: shown, format: 'qr_code' }] : [];
      }
    };
  }), { csp: true });
  await admin.getByRole('button', { name: 'Scan with the camera' }).click();
  await admin.getByText('Hold the ticket in front of the camera.').waitFor();
  await admin.waitForFunction(() => document.querySelector('video.camera')?.readyState >= 2);
  await shot(admin, '65-door-camera');
  const scans = [];
  admin.on('request', (req) => { if (req.url().endsWith('/admin/checkins')) scans.push(req.postDataJSON()); });
  await admin.evaluate((c) => { globalThis.__shown = c; }, code);
  await doorAnswer(admin).filter({ hasText: 'Let in: seat 4, Floor' }).waitFor();
  // The ticket stays in front of the camera for a second: still one scan, not "already in".
  await admin.waitForTimeout(1000);
  assert.deepEqual(scans, [{ code }]);
  await admin.getByRole('button', { name: 'Stop the camera' }).click();
  assert.equal(await admin.evaluate(() => document.querySelector('video.camera').srcObject), null);
  await admin.getByRole('button', { name: 'Scan with the camera' }).waitFor();
});
