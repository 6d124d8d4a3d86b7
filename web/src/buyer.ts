// The buyer's page, `/?concert=ID`: the sign-in, the waiting room, dates, the seat map, the
// hold, paying, the confirmation and "my reservations" (from the server, with each paid seat's
// ticket as a QR code). One state object; each view is drawn from it.

import {
  Api,
  ApiError,
  loadConfig,
  newKey,
  type DateList,
  type Payment,
  type Reservation,
  type SeatMap,
  type Ticket,
  type TokenStatus,
} from './api';
import { Auth, SignInError } from './auth';
import { byId, h, show, type Child } from './dom';
import { mountLangSwitch, startTicker } from './page';
import { qrCanvas } from './qr';
import { addWords, clockTime, countdown, day, explain, hourMinute, num, t, wait, won, type Key } from './i18n';
import * as words from './words-buyer';

addWords(words.en, words.ko);

type View = 'start' | 'waiting' | 'dates' | 'seats' | 'hold' | 'paid' | 'mine';

/** How often the open seat map is read again. */
const SEAT_REFRESH_MS = 5000;

const s = {
  view: 'start' as View,
  concert: new URLSearchParams(location.search).get('concert') ?? '',
  maxSeats: 1,
  token: null as TokenStatus | null,
  firstPosition: 0,
  dates: null as DateList | null,
  map: null as SeatMap | null,
  chosen: [] as number[],
  reservation: null as Reservation | null,
  balance: 0,
  payment: null as Payment | null,
  mine: [] as Reservation[],
  /** The next page of "my reservations", null when that was the last. */
  mineCursor: null as string | null,
  /** Each paid reservation's tickets, once read ('error' when they could not be). */
  tickets: new Map<string, Ticket[] | 'error'>(),
  can: { release: false, refund: false },
};

let api: Api;
let auth: Auth;
let timer: number | undefined;

/** The signed-in buyer's userId ('' when signed out). */
const me = () => auth.session?.userId ?? '';

const view = () => byId('view')!;

function say(text: string, kind: 'error' | 'info' = 'error'): void {
  const box = byId(kind === 'error' ? 'alert' : 'note')!;
  box.textContent = text;
  box.hidden = !text;
}

function clearMessages(): void {
  say('', 'error');
  say('', 'info');
}

function go(next: View): void {
  window.clearTimeout(timer);
  const moved = next !== s.view;
  s.view = next;
  render();
  if (moved) byId('heading')?.focus();
}

function after(ms: number, f: () => void): void {
  window.clearTimeout(timer);
  timer = window.setTimeout(f, ms);
}

/** What a refusal means for where the buyer is. */
function fail(err: unknown, seats: number[] = []): void {
  say(explain(err, seats));
  if (!(err instanceof ApiError)) return;
  if (err.code === 'SIGNED_OUT') {
    // The access token was refused (expired, or not ours): signed out, back to the sign-in.
    auth.forget();
    s.token = null;
    go('start');
  } else if (['TOKEN_EXPIRED', 'TOKEN_INVALID', 'TOKEN_MISSING'].includes(err.code)) {
    s.token = null;
    go('start');
  } else if (err.code === 'TOKEN_NOT_ACTIVE') {
    void poll();
  }
}

// ---------------------------------------------------------------- signing in

async function signIn(username: string): Promise<void> {
  clearMessages();
  try {
    await auth.signInLocal(username);
    render();
    byId('join')?.focus();
  } catch (e) {
    say(t(e instanceof SignInError ? signInWords(e) : 'signin.NETWORK'));
  }
}

function signOut(): void {
  window.clearTimeout(timer);
  s.token = null;
  s.mine = [];
  s.tickets.clear();
  auth.signOut(here());
  clearMessages();
  say(t('signin.signedOut'), 'info');
  go('start');
}

// ---------------------------------------------------------------- the line

async function join(): Promise<void> {
  clearMessages();
  try {
    const status = await api.issueToken(s.concert);
    s.firstPosition = 0;
    await onStatus(status);
  } catch (e) {
    if (e instanceof ApiError && e.code === 'NOT_FOUND') say(t('start.noSuchConcert', { concert: s.concert }));
    else fail(e);
  }
}

async function onStatus(status: TokenStatus): Promise<void> {
  s.token = status;
  if (status.status === 'ACTIVE') {
    await openDates();
    return;
  }
  if (status.position !== null && !s.firstPosition) s.firstPosition = status.position;
  go('waiting');
  // Exactly as told; at the opening, at once.
  let ms = (status.pollAfterSeconds ?? 2) * 1000;
  if (status.position === null && status.opensAt) {
    ms = Math.min(ms, Math.max(0, Date.parse(status.opensAt) - Date.now()) + 200);
  }
  after(ms, () => void poll());
}

async function poll(): Promise<void> {
  if (!s.token) return;
  try {
    await onStatus(await api.queueStatus(s.token.token));
  } catch (e) {
    fail(e);
  }
}

// ---------------------------------------------------------------- dates and seats

async function openDates(): Promise<void> {
  try {
    s.dates = await api.dates(s.token!.token, s.concert);
    go('dates');
  } catch (e) {
    fail(e);
  }
}

async function openSeats(date: string): Promise<void> {
  clearMessages();
  s.chosen = [];
  s.map = null;
  await refreshSeats(date);
}

async function refreshSeats(date: string): Promise<void> {
  try {
    const map = await api.seats(s.token!.token, s.concert, date);
    const free = new Set(map.seats.filter((x) => x.status === 'AVAILABLE').map((x) => x.seatNo));
    const gone = s.chosen.filter((n) => !free.has(n));
    if (gone.length) {
      s.chosen = s.chosen.filter((n) => free.has(n));
      say(t('seats.gone', { list: gone.join(', ') }));
    }
    s.map = map;
    const focused = document.activeElement?.getAttribute('data-seat');
    go('seats');
    if (focused) view().querySelector<HTMLElement>(`[data-seat="${focused}"]`)?.focus();
    after(SEAT_REFRESH_MS, () => void refreshSeats(date));
  } catch (e) {
    fail(e);
  }
}

function toggle(seatNo: number): void {
  clearMessages();
  if (s.chosen.includes(seatNo)) {
    s.chosen = s.chosen.filter((n) => n !== seatNo);
  } else if (s.maxSeats === 1) {
    s.chosen = [seatNo];
  } else if (s.chosen.length >= s.maxSeats) {
    say(t('seats.tooMany', { n: s.maxSeats }));
    return;
  } else {
    s.chosen = [...s.chosen, seatNo].sort((a, b) => a - b);
  }
  const focused = seatNo;
  render();
  view().querySelector<HTMLElement>(`[data-seat="${focused}"]`)?.focus();
}

async function hold(): Promise<void> {
  const seats = s.chosen;
  const date = s.map!.date;
  clearMessages();
  try {
    const r = await api.hold(s.token!.token, me(), s.concert, date, seats);
    s.reservation = r;
    s.chosen = [];
    s.balance = (await api.balance(s.token!.token, me())).balance;
    go('hold');
  } catch (e) {
    fail(e, seats);
    if (e instanceof ApiError && e.code === 'SEAT_UNAVAILABLE') {
      s.chosen = s.chosen.filter((n) => !seats.includes(n));
      window.clearTimeout(timer);
      const message = explain(e, seats);
      await refreshSeats(date);
      say(message);
    }
  }
}

// ---------------------------------------------------------------- hold and payment

async function charge(): Promise<void> {
  const amount = s.reservation!.price - s.balance;
  clearMessages();
  try {
    s.balance = (await api.charge(s.token!.token, me(), amount, newKey())).balance;
    render();
    say(t('hold.charged', { amount: won(amount), balance: won(s.balance) }), 'info');
    byId('pay')?.focus();
  } catch (e) {
    fail(e);
  }
}

async function pay(): Promise<void> {
  clearMessages();
  try {
    s.payment = await api.pay(s.token!.token, me(), s.reservation!.reservationId, newKey());
    s.reservation = { ...s.reservation!, status: 'CONFIRMED' };
    // The payment spent the token.
    s.token = null;
    go('paid');
  } catch (e) {
    fail(e);
    if (e instanceof ApiError && e.code === 'RESERVATION_EXPIRED') go('hold');
  }
}

async function releaseHeld(): Promise<void> {
  clearMessages();
  try {
    await api.release(s.token!.token, s.reservation!.reservationId);
    const date = s.reservation!.date;
    s.reservation = null;
    await openSeats(date);
    say(t('mine.released'), 'info');
  } catch (e) {
    fail(e);
  }
}

function holdEnded(): void {
  const date = s.reservation?.date;
  s.reservation = null;
  say(t('hold.expired'));
  if (date && s.token) void refreshSeats(date);
}

// ---------------------------------------------------------------- my reservations

/** "My reservations", from the server: every concert's, on any device the buyer signs in on.
 * Reading them needs no place in line. */
async function openMine(): Promise<void> {
  clearMessages();
  try {
    const [release, refund, page] = await Promise.all([
      api.supports('DELETE', `/reservations/${ZERO_ID}`),
      api.supports('POST', `/reservations/${ZERO_ID}/refund`),
      api.myReservations(me()),
    ]);
    s.can = { release, refund };
    s.mine = page.reservations;
    s.mineCursor = page.nextCursor;
    s.tickets.clear();
    go('mine');
    void loadTickets(page.reservations);
  } catch (e) {
    fail(e);
  }
}

async function moreMine(): Promise<void> {
  if (!s.mineCursor) return;
  clearMessages();
  try {
    const page = await api.myReservations(me(), s.mineCursor);
    s.mine = [...s.mine, ...page.reservations];
    s.mineCursor = page.nextCursor;
    render();
    void loadTickets(page.reservations);
  } catch (e) {
    fail(e);
  }
}

/** Each paid reservation's tickets, two reads at a time (a page holds up to 20), each drawn
 * into its place as it comes. */
async function loadTickets(list: Reservation[]): Promise<void> {
  const queue = list.filter((r) => r.status === 'CONFIRMED');
  const worker = async () => {
    for (let r = queue.shift(); r; r = queue.shift()) {
      let got: Ticket[] | 'error';
      try {
        got = (await api.tickets(r.reservationId)).tickets;
      } catch (e) {
        if (e instanceof ApiError && e.code === 'SIGNED_OUT') return fail(e);
        got = 'error';
      }
      s.tickets.set(r.reservationId, got);
      const place = s.view === 'mine' && view().querySelector(`[data-tickets="${r.reservationId}"]`);
      if (place) place.replaceWith(ticketsOf(r));
    }
  };
  await Promise.all([worker(), worker()]);
}

const ZERO_ID = '00000000-0000-0000-0000-000000000000';

/** A live queue token for `concert`: the one in hand, or a new one (a refund needs one; after a
 * payment spent it, asking puts the buyer back in line). */
async function queueTokenFor(concert: string): Promise<string> {
  if (s.token && s.token.concertId === concert) return s.token.token;
  const status = await api.issueToken(concert);
  if (concert === s.concert) s.token = status;
  return status.token;
}

async function onMine(r: Reservation, action: 'release' | 'refund'): Promise<void> {
  clearMessages();
  try {
    if (action === 'release') {
      await api.release(s.token!.token, r.reservationId);
      await openMine();
      say(t('mine.released'), 'info');
    } else {
      const done = await api.refund(await queueTokenFor(r.concertId), r.reservationId);
      await openMine();
      say(t('mine.refunded', { amount: won(done.amount), balance: won(done.balance) }), 'info');
    }
  } catch (e) {
    fail(e);
  }
}

function back(): void {
  clearMessages();
  if (s.token?.status === 'ACTIVE') void openDates();
  else if (s.token) void onStatus(s.token);
  else go('start');
}

// ---------------------------------------------------------------- views

function seatsOf(r: Reservation): number[] {
  return r.seatNos ?? [r.seatNo];
}

function heading(text: string): HTMLHeadingElement {
  return h('h1', { id: 'heading', tabindex: -1 }, text);
}

function render(): void {
  document.title = `${t('app.title')} · ${s.concert || '—'}`;
  const signedIn = auth.session !== null;
  const mine = byId('mine-button');
  if (mine) mine.hidden = !signedIn;
  const out = byId('signout-button');
  if (out) out.hidden = !signedIn;
  show(view(), ...VIEWS[s.view]());
}

/** The start, signed out: a username locally, the managed login in AWS. */
function signInForm(): Child[] {
  if (auth.config.kind === 'cognito') {
    return [
      h('p', null, t('signin.intro')),
      h(
        'div',
        { class: 'card stack' },
        h(
          'button',
          { type: 'button', class: 'primary', id: 'signin', onclick: () => void auth.beginCognito(here()) },
          t('signin.button'),
        ),
        h('p', { class: 'hint' }, t('signin.cognitoHint')),
      ),
    ];
  }
  const input = h('input', {
    id: 'username',
    name: 'username',
    autocomplete: 'username',
    required: true,
    maxlength: 64,
    pattern: '[A-Za-z0-9_\\-]{1,64}',
    'aria-describedby': 'username-hint',
  });
  const submit = (e: Event) => {
    e.preventDefault();
    const name = input.value.trim();
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
      say(t('signin.badName'));
      input.focus();
      return;
    }
    void signIn(name);
  };
  return [
    h('p', null, t('signin.intro')),
    h(
      'form',
      { class: 'card stack', novalidate: true, onsubmit: submit },
      h('label', { for: 'username' }, t('signin.username')),
      input,
      h('p', { id: 'username-hint', class: 'hint' }, t('signin.usernameHint')),
      h('button', { type: 'submit', class: 'primary' }, t('signin.button')),
    ),
  ];
}

function signInWords(e: SignInError): Key {
  return `signin.${e.reason}`;
}

/** This page's address, to come back to after the managed login. */
function here(): string {
  return `${location.pathname}${location.search}`;
}

const VIEWS: Record<View, () => (Child | Child[])[]> = {
  start: () => {
    if (!s.concert) {
      return [
        heading(t('app.title')),
        h('p', null, t('noConcert'), ' ', h('a', { href: '?concert=demo' }, '?concert=demo')),
      ];
    }
    const who = auth.session;
    if (!who) return [heading(t('start.heading', { concert: s.concert })), ...signInForm()];
    return [
      heading(t('start.heading', { concert: s.concert })),
      h(
        'div',
        { class: 'card stack' },
        h('p', { id: 'who' }, t('signin.as', { name: who.username })),
        h('p', null, t('start.intro')),
        h('button', { type: 'button', class: 'primary', id: 'join', onclick: () => void join() }, t('start.join')),
      ),
    ];
  },

  waiting: () => {
    const st = s.token!;
    if (st.position === null) {
      return [
        heading(t('wait.heading')),
        h(
          'div',
          { class: 'card stack' },
          h(
            'p',
            { class: 'big', 'data-until': st.opensAt ?? '', 'data-text': 'wait.prequeue' },
            t('wait.prequeue', { t: countdown((Date.parse(st.opensAt ?? '') - Date.now()) / 1000) }),
          ),
          h('p', null, t('wait.prequeueNote')),
          h('p', { class: 'hint' }, t('wait.keepOpen')),
        ),
      ];
    }
    const done = s.firstPosition > 1 ? (s.firstPosition - st.position) / (s.firstPosition - 1) : 0;
    return [
      heading(t('wait.heading')),
      h(
        'div',
        { class: 'card stack' },
        h(
          'p',
          { class: 'big', 'aria-live': 'polite', 'aria-atomic': 'true', id: 'position' },
          t('wait.position', { n: num(st.position) }),
        ),
        h(
          'p',
          null,
          st.estimatedWaitSeconds === null
            ? t('wait.etaUnknown')
            : t('wait.eta', { t: wait(st.estimatedWaitSeconds) }),
        ),
        h('progress', {
          max: 100,
          value: Math.round(Math.max(0.05, done) * 100),
          'aria-label': t('wait.progress'),
        }),
        h('p', { class: 'hint' }, t('wait.nextCheck')),
        h('p', { class: 'hint' }, t('wait.keepOpen')),
      ),
    ];
  },

  dates: () => [
    heading(t('dates.heading')),
    turnEnds(),
    s.dates!.dates.length === 0
      ? h('p', null, t('dates.none'))
      : h(
          'ul',
          { class: 'dates' },
          s.dates!.dates.map((d) =>
            h(
              'li',
              null,
              h(
                'button',
                { type: 'button', class: 'date', onclick: () => void openSeats(d.date) },
                h('strong', null, day(d.date)),
                h('span', null, t('dates.free', { n: num(d.availableSeats) })),
              ),
            ),
          ),
        ),
  ],

  seats: () => {
    const map = s.map!;
    const sections: { name: string; price: number; seats: SeatMap['seats'] }[] = [];
    for (const seat of map.seats) {
      const last = sections[sections.length - 1];
      if (last && last.name === seat.section) last.seats.push(seat);
      else sections.push({ name: seat.section, price: seat.price, seats: [seat] });
    }
    const total = map.seats
      .filter((x) => s.chosen.includes(x.seatNo))
      .reduce((sum, x) => sum + x.price, 0);
    const state = { AVAILABLE: t('seats.available'), HELD: t('seats.held'), SOLD: t('seats.sold') };
    return [
      heading(t('seats.heading', { date: day(map.date) })),
      turnEnds(),
      h(
        'p',
        null,
        h('button', { type: 'button', class: 'link', onclick: () => void openDates() }, '← ', t('seats.back')),
      ),
      h(
        'ul',
        { class: 'legend', 'aria-label': t('seats.legend') },
        h('li', null, h('span', { class: 'swatch available' }), t('seats.available')),
        h('li', null, h('span', { class: 'swatch chosen' }), t('seats.selected')),
        h('li', null, h('span', { class: 'swatch held' }), t('seats.held')),
        h('li', null, h('span', { class: 'swatch sold' }), t('seats.sold')),
      ),
      sections.map((sec) =>
        h(
          'fieldset',
          { class: 'section' },
          h('legend', null, t('seats.section', { name: sec.name, price: won(sec.price) })),
          h(
            'div',
            { class: 'grid' },
            sec.seats.map((seat) => {
              const chosen = s.chosen.includes(seat.seatNo);
              return h(
                'button',
                {
                  type: 'button',
                  class: `seat ${chosen ? 'chosen' : seat.status.toLowerCase()}`,
                  'data-seat': seat.seatNo,
                  'aria-pressed': chosen ? 'true' : 'false',
                  'aria-label': t('seats.seatLabel', {
                    n: seat.seatNo,
                    section: seat.section,
                    price: won(seat.price),
                    state: chosen ? t('seats.selected') : state[seat.status],
                  }),
                  disabled: seat.status !== 'AVAILABLE',
                  onclick: () => toggle(seat.seatNo),
                },
                seat.seatNo,
              );
            }),
          ),
        ),
      ),
      h(
        'div',
        { class: 'card stack sticky' },
        h('p', { 'aria-live': 'polite' }, s.chosen.length
          ? t('seats.chosen', { list: s.chosen.join(', '), price: won(total) })
          : t('seats.chooseNone')),
        h('p', { class: 'hint' }, t('seats.limit', { n: s.maxSeats }), ' ', t('seats.refreshed')),
        h(
          'button',
          { type: 'button', class: 'primary', id: 'hold', disabled: !s.chosen.length, onclick: () => void hold() },
          t('seats.hold'),
        ),
      ),
    ];
  },

  hold: () => {
    const r = s.reservation;
    if (!r) return [heading(t('hold.heading'))];
    const short = Math.max(0, r.price - s.balance);
    return [
      heading(t('hold.heading')),
      h(
        'div',
        { class: 'card stack' },
        h('p', { class: 'big' }, t('hold.what', { list: seatsOf(r).join(', '), date: day(r.date), price: won(r.price) })),
        h(
          'p',
          { role: 'timer', 'data-until': r.expiresAt, 'data-text': 'hold.payWithin', 'data-expire': 'hold' },
          t('hold.payWithin', { t: countdown((Date.parse(r.expiresAt) - Date.now()) / 1000) }),
        ),
        h('p', null, t('hold.balance', { amount: won(s.balance) })),
        short > 0 &&
          h('button', { type: 'button', id: 'charge', onclick: () => void charge() }, t('hold.charge', { amount: won(short) })),
        h(
          'button',
          { type: 'button', class: 'primary', id: 'pay', disabled: short > 0, onclick: () => void pay() },
          t('hold.pay', { amount: won(r.price) }),
        ),
        s.can.release &&
          h('button', { type: 'button', class: 'link', onclick: () => void releaseHeld() }, t('hold.release')),
      ),
    ];
  },

  paid: () => {
    const r = s.reservation!;
    const p = s.payment!;
    return [
      heading(t('paid.heading')),
      h(
        'div',
        { class: 'card stack' },
        h('p', { class: 'big' }, t('paid.what', { list: seatsOf(r).join(', '), date: day(r.date) })),
        h('p', null, t('paid.amount', { amount: won(p.amount), balance: won(p.balance) })),
        h('p', { class: 'hint' }, t('paid.ref', { id: p.paymentId })),
        h('button', { type: 'button', onclick: () => void openMine() }, t('mine.open')),
      ),
    ];
  },

  mine: () => [
    heading(t('mine.heading')),
    s.mine.length === 0
      ? h('p', null, t('mine.none'))
      : h(
          'ul',
          { class: 'mine' },
          s.mine.map((r) =>
            h(
              'li',
              { class: 'card stack', 'data-reservation': r.reservationId },
              h('p', null, h('strong', null, t('mine.item', { list: seatsOf(r).join(', '), date: day(r.date), price: won(r.price) }))),
              r.concertId !== s.concert && h('p', { class: 'hint' }, t('mine.concert', { concert: r.concertId })),
              h('p', { class: `state ${r.status.toLowerCase()}` }, t(`state.${r.status}`, { time: clockTime(r.expiresAt) })),
              r.status === 'CONFIRMED' && ticketsOf(r),
              r.status === 'HELD' && s.can.release && s.token?.status === 'ACTIVE' && s.token.concertId === r.concertId &&
                h('button', { type: 'button', onclick: () => void onMine(r, 'release') }, t('mine.release')),
              r.status === 'CONFIRMED' && s.can.refund &&
                h('button', { type: 'button', onclick: () => void onMine(r, 'refund') }, t('mine.refund')),
            ),
          ),
        ),
    s.mineCursor && h('p', null, h('button', { type: 'button', id: 'more', onclick: () => void moreMine() }, t('mine.more'))),
    h('p', null, h('button', { type: 'button', class: 'link', onclick: back }, '← ', t('mine.back'))),
  ],
};

/** A paid reservation's tickets: each seat's QR code (of its `code`), what it is for, and the
 * code as text (to read out or paste at the door). */
function ticketsOf(r: Reservation): Node {
  const got = s.tickets.get(r.reservationId);
  const box = (...children: Child[]) => h('div', { class: 'tickets', 'data-tickets': r.reservationId }, ...children);
  if (got === undefined) return box(h('p', { class: 'hint' }, t('ticket.loading')));
  if (got === 'error') return box(h('p', { class: 'hint' }, t('ticket.unreadable')));
  return box(
    ...got.map((tk) => {
      const label = t('ticket.label', { n: tk.seatNo, section: tk.section, date: day(tk.date) });
      const qr = qrCanvas(tk.code);
      qr.setAttribute('role', 'img');
      qr.setAttribute('aria-label', t('ticket.qrLabel', { label }));
      return h(
        'figure',
        { class: 'ticket', 'data-ticket': tk.ticketId },
        qr,
        h(
          'figcaption',
          { class: 'stack' },
          h('strong', null, label),
          tk.checkedInAt
            ? h('span', { class: 'state' }, t('ticket.checkedIn', { time: hourMinute(tk.checkedInAt) }))
            : h('span', { class: 'hint' }, t('ticket.show')),
          h('details', null, h('summary', null, t('ticket.asText')), h('code', { class: 'code' }, tk.code)),
        ),
      );
    }),
  );
}

function turnEnds(): Node | null {
  const until = s.token?.activeUntil;
  if (!until) return null;
  return h(
    'p',
    { class: 'hint', 'data-until': until, 'data-text': 'dates.turnEnds' },
    t('dates.turnEnds', { t: countdown((Date.parse(until) - Date.now()) / 1000) }),
  );
}

// ---------------------------------------------------------------- start

async function main(): Promise<void> {
  const config = await loadConfig();
  api = new Api(config.apiBase);
  auth = new Auth(config.auth, config.apiBase);
  api.accessToken = () => auth.accessToken();
  auth.onSignedOut = () => {
    window.clearTimeout(timer);
    s.token = null;
    say(t('err.SIGNED_OUT'));
    go('start');
  };
  s.maxSeats = config.maxSeatsPerUser;
  api.onRetry = (seconds) => say(t('busy.retry', { s: seconds }), 'info');
  mountLangSwitch(render);
  byId('mine-button')?.addEventListener('click', () => void openMine());
  byId('signout-button')?.addEventListener('click', signOut);
  startTicker((what) => {
    if (what === 'hold' && s.view === 'hold') holdEnded();
  });
  try {
    // Back from the managed login: the concert comes back with the address it started from.
    if (await auth.completeCognito(new URL(location.href))) {
      s.concert = new URLSearchParams(location.search).get('concert') ?? '';
    }
  } catch (e) {
    say(t(e instanceof SignInError ? signInWords(e) : 'signin.REFUSED'));
  }
  // Back from the managed login's sign-out, on the page without its concert.
  const from = auth.signedOutFrom();
  if (from && !s.concert) {
    history.replaceState(null, '', from);
    s.concert = new URLSearchParams(location.search).get('concert') ?? '';
    say(t('signin.signedOut'), 'info');
  }
  render();
}

void main();
