// The operator's page, `/admin`: a concert's line live (read every 2 s), pause and resume,
// the active limit, the opening, and each date's seats by state. The operator's token is
// typed in and kept in sessionStorage (this tab only).

import { Api, loadConfig, type AdminReport } from './api';
import { byId, h, show } from './dom';
import { mountLangSwitch } from './page';
import { clockTime, dateTime, day, explain, num, t } from './i18n';

const REFRESH_MS = 2000;

const s = {
  token: sessionStorage.getItem('adminToken') ?? '',
  concert: new URLSearchParams(location.search).get('concert') ?? 'demo',
  report: null as AdminReport | null,
  at: '',
};

let api: Api;
let timer: number | undefined;

function say(text: string, kind: 'error' | 'info' = 'error'): void {
  const box = byId(kind === 'error' ? 'alert' : 'note')!;
  box.textContent = text;
  box.hidden = !text;
}

async function refresh(): Promise<void> {
  window.clearTimeout(timer);
  if (!s.token) return;
  try {
    s.report = await api.adminReport(s.token, s.concert);
    s.at = new Date().toISOString();
    say('');
    drawReport();
    timer = window.setTimeout(() => void refresh(), REFRESH_MS);
  } catch (e) {
    say(explain(e));
    s.report = null;
    drawReport();
  }
}

async function act(f: () => Promise<unknown>): Promise<void> {
  say('');
  try {
    await f();
    say(t('admin.saved'), 'info');
    await refresh();
  } catch (e) {
    say(explain(e));
  }
}

function drawLogin(): void {
  const token = h('input', {
    id: 'op-token',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
    value: s.token,
    'aria-describedby': 'op-token-hint',
  });
  const concert = h('input', { id: 'op-concert', required: true, value: s.concert, pattern: '[A-Za-z0-9_\\-]{1,64}' });
  const submit = (e: Event) => {
    e.preventDefault();
    s.token = token.value.trim();
    s.concert = concert.value.trim();
    sessionStorage.setItem('adminToken', s.token);
    history.replaceState(null, '', `?concert=${encodeURIComponent(s.concert)}`);
    void refresh();
  };
  const forget = () => {
    sessionStorage.removeItem('adminToken');
    s.token = '';
    s.report = null;
    window.clearTimeout(timer);
    render();
  };
  show(
    byId('login')!,
    h(
      'form',
      { class: 'card row', onsubmit: submit },
      h('div', { class: 'stack' }, h('label', { for: 'op-token' }, t('admin.token')), token,
        h('p', { class: 'hint', id: 'op-token-hint' }, t('admin.tokenHint'))),
      h('div', { class: 'stack' }, h('label', { for: 'op-concert' }, t('admin.concert')), concert),
      h('div', { class: 'stack end' },
        h('button', { type: 'submit', class: 'primary' }, t('admin.connect')),
        s.token && h('button', { type: 'button', class: 'link', onclick: forget }, t('admin.signOut'))),
    ),
  );
}

function drawReport(): void {
  const r = s.report;
  const box = byId('report')!;
  if (!r) {
    show(box);
    return;
  }
  const q = r.queue;
  const limit = h('input', { id: 'limit', type: 'number', min: 1, max: 100000, required: true, value: q.activeLimit });
  const opening = h('input', { id: 'opening', type: 'datetime-local', step: 1, value: localInput(r.opensAt) });
  const focused = document.activeElement?.id;
  const typing = focused ? byId<HTMLInputElement>(focused)?.value : undefined;
  show(
    box,
    h('h2', null, r.name, ' ', h('span', { class: 'hint' }, `(${r.concertId})`)),
    h('p', { class: 'hint', 'aria-live': 'off' }, t('admin.updated', { time: clockTime(s.at) })),
    h(
      'dl',
      { class: 'figures', id: 'figures' },
      figure('waiting', t('admin.waiting'), num(q.waiting)),
      figure('active', t('admin.active'), `${num(q.active)} / ${num(q.activeLimit)}`),
      figure('per-minute', t('admin.perMinute'), num(q.admittedLastMinute)),
      figure('state', t('admin.state'), q.paused ? t('admin.pausedState') : t('admin.running')),
      figure('opens', t('admin.opensAt'), r.opensAt ? dateTime(r.opensAt) : t('admin.noOpening')),
    ),
    h(
      'div',
      { class: 'card row' },
      h('button', {
        type: 'button',
        id: 'pause',
        class: q.paused ? 'primary' : 'danger',
        onclick: () => void act(() => api.adminControls(s.token, r.concertId, { paused: !q.paused })),
      }, q.paused ? t('admin.resume') : t('admin.pause')),
      h('form', {
        class: 'row',
        onsubmit: (e: Event) => {
          e.preventDefault();
          void act(() => api.adminControls(s.token, r.concertId, { activeLimit: Number(limit.value) }));
        },
      }, h('div', { class: 'stack' }, h('label', { for: 'limit' }, t('admin.limit')), limit),
        h('button', { type: 'submit', class: 'end' }, t('admin.setLimit'))),
      h('form', {
        class: 'row',
        onsubmit: (e: Event) => {
          e.preventDefault();
          const at = opening.value ? new Date(opening.value).toISOString().replace(/\.\d+Z$/, 'Z') : null;
          void act(() => api.adminSetOpening(s.token, r, at));
        },
      }, h('div', { class: 'stack' }, h('label', { for: 'opening' }, t('admin.openingField')), opening),
        h('button', { type: 'submit', class: 'end' }, t('admin.setOpening')),
        r.opensAt && h('button', {
          type: 'button',
          class: 'link end',
          onclick: () => void act(() => api.adminSetOpening(s.token, r, null)),
        }, t('admin.clearOpening'))),
    ),
    h('h2', null, t('admin.seatsHeading')),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        null,
        h('thead', null, h('tr', null,
          ['admin.date', 'admin.seats', 'admin.available', 'admin.held', 'admin.sold'].map((k) =>
            h('th', { scope: 'col' }, t(k as Parameters<typeof t>[0]))),
          h('th', { scope: 'col', class: 'bar-col' }, ''))),
        h('tbody', null, r.dates.map((d) =>
          h('tr', { 'data-date': d.date },
            h('th', { scope: 'row' }, day(d.date)),
            h('td', null, num(d.seats)),
            h('td', null, num(d.available)),
            h('td', { class: 'held-count' }, num(d.held)),
            h('td', { class: 'sold-count' }, num(d.sold)),
            h('td', { class: 'bar-col', 'aria-hidden': 'true' },
              h('span', { class: 'bar' },
                h('span', { class: 'sold', style: `width:${(100 * d.sold) / d.seats}%` }),
                h('span', { class: 'held', style: `width:${(100 * d.held) / d.seats}%` })))),
        )),
      ),
    ),
  );
  // A redraw keeps the operator's place, and what they were typing.
  if ((focused === 'limit' || focused === 'opening') && typing !== undefined) {
    const input = byId<HTMLInputElement>(focused)!;
    input.value = typing;
    input.focus();
  }
}

function figure(id: string, label: string, value: string): Node {
  return h('div', { id: `fig-${id}` }, h('dt', null, label), h('dd', null, value));
}

/** An instant as a datetime-local input's value, in the browser's time zone. */
function localInput(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function render(): void {
  document.title = t('admin.title');
  drawLogin();
  drawReport();
}

async function main(): Promise<void> {
  api = new Api((await loadConfig()).apiBase);
  api.onRetry = (seconds) => say(t('busy.retry', { s: seconds }), 'info');
  mountLangSwitch(render);
  render();
  if (s.token) await refresh();
}

void main();
