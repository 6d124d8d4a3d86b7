// The buyer's page, `/?concert=ID`: the waiting room, dates, the seat map, the hold, paying,
// the confirmation and "my reservations". One state object; each view is drawn from it.

import {
  Api,
  ApiError,
  loadConfig,
  newKey,
  type DateList,
  type Payment,
  type Reservation,
  type SeatMap,
  type TokenStatus,
} from './api';
import { byId, h, show, type Child } from './dom';
import { mountLangSwitch, startTicker } from './page';
import { clockTime, countdown, day, explain, num, t, wait, won } from './i18n';

type View = 'start' | 'waiting' | 'dates' | 'seats' | 'hold' | 'paid' | 'mine';

/** How often the open seat map is read again. */
const SEAT_REFRESH_MS = 5000;

const s = {
  view: 'start' as View,
  concert: new URLSearchParams(location.search).get('concert') ?? '',
  user: localStorage.getItem('lastUser') ?? '',
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
  can: { release: false, refund: false },
};

let api: Api;
let timer: number | undefined;

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
  if (['TOKEN_EXPIRED', 'TOKEN_INVALID', 'TOKEN_MISSING'].includes(err.code)) {
    s.token = null;
    go('start');
  } else if (err.code === 'TOKEN_NOT_ACTIVE') {
    void poll();
  }
}

// ---------------------------------------------------------------- the line

async function join(user: string): Promise<void> {
  s.user = user;
  localStorage.setItem('lastUser', user);
  clearMessages();
  try {
    const status = await api.issueToken(user, s.concert);
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
    const r = await api.hold(s.token!.token, s.user, s.concert, date, seats);
    remember(r.reservationId);
    s.reservation = r;
    s.chosen = [];
    s.balance = (await api.balance(s.token!.token, s.user)).balance;
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
    s.balance = (await api.charge(s.token!.token, s.user, amount, newKey())).balance;
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
    s.payment = await api.pay(s.token!.token, s.user, s.reservation!.reservationId, newKey());
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

function storeKey(): string {
  return `reservations:${s.concert}:${s.user}`;
}

function remembered(): string[] {
  try {
    const ids: unknown = JSON.parse(localStorage.getItem(storeKey()) ?? '[]');
    return Array.isArray(ids) ? ids.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

function remember(id: string): void {
  localStorage.setItem(storeKey(), JSON.stringify([id, ...remembered()].slice(0, 50)));
}

async function openMine(): Promise<void> {
  clearMessages();
  try {
    // Reading takes a live token, WAITING will do: a spent one is replaced.
    if (!s.token) s.token = await api.issueToken(s.user, s.concert);
    const [release, refund] = await Promise.all([
      api.supports('DELETE', `/reservations/${ZERO_ID}`),
      api.supports('POST', `/reservations/${ZERO_ID}/refund`),
    ]);
    s.can = { release, refund };
    const token = s.token.token;
    const found = await Promise.all(
      remembered().map((id) => api.reservation(token, id).catch(() => null)),
    );
    s.mine = found.filter((r): r is Reservation => r !== null);
    go('mine');
  } catch (e) {
    fail(e);
  }
}

const ZERO_ID = '00000000-0000-0000-0000-000000000000';

async function onMine(r: Reservation, action: 'release' | 'refund'): Promise<void> {
  clearMessages();
  try {
    if (action === 'release') {
      await api.release(s.token!.token, r.reservationId);
      await openMine();
      say(t('mine.released'), 'info');
    } else {
      const done = await api.refund(s.token!.token, r.reservationId);
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
  const mine = byId('mine-button');
  if (mine) mine.hidden = !s.user || s.view === 'start';
  show(view(), ...VIEWS[s.view]());
}

const VIEWS: Record<View, () => (Child | Child[])[]> = {
  start: () => {
    if (!s.concert) {
      return [
        heading(t('app.title')),
        h('p', null, t('noConcert'), ' ', h('a', { href: '?concert=demo' }, '?concert=demo')),
      ];
    }
    const input = h('input', {
      id: 'user',
      name: 'user',
      autocomplete: 'username',
      required: true,
      maxlength: 64,
      pattern: '[A-Za-z0-9_\\-]{1,64}',
      'aria-describedby': 'user-hint',
      value: s.user,
    });
    const submit = (e: Event) => {
      e.preventDefault();
      const user = input.value.trim();
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(user)) {
        say(t('start.badUser'));
        input.focus();
        return;
      }
      void join(user);
    };
    return [
      heading(t('start.heading', { concert: s.concert })),
      h('p', null, t('start.intro')),
      h(
        'form',
        { class: 'card stack', novalidate: true, onsubmit: submit },
        h('label', { for: 'user' }, t('start.user')),
        input,
        h('p', { id: 'user-hint', class: 'hint' }, t('start.userHint')),
        h('button', { type: 'submit', class: 'primary' }, t('start.join')),
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
              h('p', { class: `state ${r.status.toLowerCase()}` }, t(`state.${r.status}`, { time: clockTime(r.expiresAt) })),
              r.status === 'HELD' && s.can.release && s.token?.status === 'ACTIVE' &&
                h('button', { type: 'button', onclick: () => void onMine(r, 'release') }, t('mine.release')),
              r.status === 'CONFIRMED' && s.can.refund &&
                h('button', { type: 'button', onclick: () => void onMine(r, 'refund') }, t('mine.refund')),
            ),
          ),
        ),
    h('p', null, h('button', { type: 'button', class: 'link', onclick: back }, '← ', t('mine.back'))),
  ],
};

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
  s.maxSeats = config.maxSeatsPerUser;
  api.onRetry = (seconds) => say(t('busy.retry', { s: seconds }), 'info');
  mountLangSwitch(render);
  const mine = byId('mine-button');
  mine?.addEventListener('click', () => void openMine());
  startTicker((what) => {
    if (what === 'hold' && s.view === 'hold') holdEnded();
  });
  render();
}

void main();
