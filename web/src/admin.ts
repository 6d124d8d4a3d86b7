// The operator's page, `/admin`: a concert's line live (read every 2 s), pause and resume,
// the active limit, the opening, each date's seats by state, and the door (tickets checked
// in by camera or pasted code). Locally the operator's token is typed in (sent as Bearer); in
// AWS (config.json's `adminAuth: "iam"`) the operator's AWS keys are, and every call is signed
// with SigV4 (aws4fetch, WebCrypto). Either is kept in sessionStorage (this tab only).

import { AwsV4Signer } from 'aws4fetch';
import { Api, ApiError, loadConfig, type AdminReport, type CheckIn, type Config, type Operator } from './api';
import { byId, h, show } from './dom';
import { mountLangSwitch } from './page';
import { addWords, clockTime, dateTime, day, explain, hourMinute, num, t } from './i18n';
import * as words from './words-admin';

addWords(words.en, words.ko);

const REFRESH_MS = 2000;

interface Keys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}
const NO_KEYS: Keys = { accessKeyId: '', secretAccessKey: '', sessionToken: '' };

function storedKeys(): Keys {
  try {
    return { ...NO_KEYS, ...(JSON.parse(sessionStorage.getItem('adminKeys') ?? '{}') as Partial<Keys>) };
  } catch {
    return NO_KEYS;
  }
}

const s = {
  token: sessionStorage.getItem('adminToken') ?? '',
  keys: storedKeys(),
  concert: new URLSearchParams(location.search).get('concert') ?? 'demo',
  report: null as AdminReport | null,
  at: '',
};

let api: Api;
let config: Config;
/** The credential every operator call carries: the token, or the keys' signer; null until given. */
let op: Operator | null = null;
let timer: number | undefined;

const iam = () => config.adminAuth === 'iam';

function credential(): Operator | null {
  if (!iam()) return s.token || null;
  const { accessKeyId, secretAccessKey, sessionToken } = s.keys;
  if (!accessKeyId || !secretAccessKey) return null;
  return async (url, init) => {
    const signed = await new AwsV4Signer({
      url,
      method: init.method,
      headers: init.headers,
      body: init.body,
      accessKeyId,
      secretAccessKey,
      sessionToken: sessionToken || undefined,
      service: 'execute-api',
      // Unsaid, aws4fetch reads it from the execute-api host name.
      region: config.region || undefined,
    }).sign();
    return new Request(signed.url, signed);
  };
}

function say(text: string, kind: 'error' | 'info' = 'error'): void {
  const box = byId(kind === 'error' ? 'alert' : 'note')!;
  box.textContent = text;
  box.hidden = !text;
}

async function refresh(): Promise<void> {
  window.clearTimeout(timer);
  const used = op;
  if (!used) return;
  try {
    const report = await api.adminReport(used, s.concert);
    if (op !== used) return; // signed out (or in again) meanwhile
    s.report = report;
    s.at = new Date().toISOString();
    say('');
    drawReport();
    timer = window.setTimeout(() => void refresh(), REFRESH_MS);
  } catch (e) {
    if (op !== used) return;
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

/** A secret field: a password input, never spell-checked or filled by the browser. */
function secret(id: string, value: string, required: boolean, hint?: string): HTMLInputElement {
  return h('input', {
    id,
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required,
    value,
    'aria-describedby': hint,
  });
}

function drawLogin(): void {
  const token = secret('op-token', s.token, true, 'op-token-hint');
  token.autocomplete = 'current-password';
  const keyId = h('input', {
    id: 'op-key-id',
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
    value: s.keys.accessKeyId,
    'aria-describedby': 'op-keys-hint',
  });
  const secretKey = secret('op-secret-key', s.keys.secretAccessKey, true);
  const sessionToken = secret('op-session-token', s.keys.sessionToken, false);
  const concert = h('input', { id: 'op-concert', required: true, value: s.concert, pattern: '[A-Za-z0-9_\\-]{1,64}' });
  const field = (input: HTMLInputElement, label: string, hint?: Node) =>
    h('div', { class: 'stack' }, h('label', { for: input.id }, label), input, hint);
  const submit = (e: Event) => {
    e.preventDefault();
    if (iam()) {
      s.keys = {
        accessKeyId: keyId.value.trim(),
        secretAccessKey: secretKey.value.trim(),
        sessionToken: sessionToken.value.trim(),
      };
      sessionStorage.setItem('adminKeys', JSON.stringify(s.keys));
    } else {
      s.token = token.value.trim();
      sessionStorage.setItem('adminToken', s.token);
    }
    s.concert = concert.value.trim();
    op = credential();
    history.replaceState(null, '', `?concert=${encodeURIComponent(s.concert)}`);
    drawLogin(); // now with "sign out"
    drawDoor();
    byId('op-show')?.focus();
    void refresh();
  };
  const forget = () => {
    sessionStorage.removeItem('adminToken');
    sessionStorage.removeItem('adminKeys');
    s.token = '';
    s.keys = NO_KEYS;
    op = null;
    s.report = null;
    window.clearTimeout(timer);
    stopCamera();
    door.answer = null;
    say('');
    render();
  };
  show(
    byId('login')!,
    h(
      'form',
      { class: 'card row', onsubmit: submit },
      iam()
        ? [
          field(keyId, t('admin.accessKeyId')),
          field(secretKey, t('admin.secretAccessKey')),
          field(sessionToken, t('admin.sessionToken')),
        ]
        : field(token, t('admin.token'), h('p', { class: 'hint', id: 'op-token-hint' }, t('admin.tokenHint'))),
      field(concert, t('admin.concert')),
      h('div', { class: 'stack end' },
        h('button', { type: 'submit', id: 'op-show', class: 'primary' }, t('admin.connect')),
        op && h('button', { type: 'button', class: 'link', onclick: forget },
          t(iam() ? 'admin.signOutKeys' : 'admin.signOut'))),
      iam() && h('p', { class: 'hint', id: 'op-keys-hint' }, t('admin.keysHint')),
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
        onclick: () => void act(() => api.adminControls(op!, r.concertId, { paused: !q.paused })),
      }, q.paused ? t('admin.resume') : t('admin.pause')),
      h('form', {
        class: 'row',
        onsubmit: (e: Event) => {
          e.preventDefault();
          void act(() => api.adminControls(op!, r.concertId, { activeLimit: Number(limit.value) }));
        },
      }, h('div', { class: 'stack' }, h('label', { for: 'limit' }, t('admin.limit')), limit),
        h('button', { type: 'submit', class: 'end' }, t('admin.setLimit'))),
      h('form', {
        class: 'row',
        onsubmit: (e: Event) => {
          e.preventDefault();
          const at = opening.value ? new Date(opening.value).toISOString().replace(/\.\d+Z$/, 'Z') : null;
          void act(() => api.adminSetOpening(op!, r, at));
        },
      }, h('div', { class: 'stack' }, h('label', { for: 'opening' }, t('admin.openingField')), opening),
        h('button', { type: 'submit', class: 'end' }, t('admin.setOpening')),
        r.opensAt && h('button', {
          type: 'button',
          class: 'link end',
          onclick: () => void act(() => api.adminSetOpening(op!, r, null)),
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

// ---------------------------------------------------------------- the door

/** What the door last answered, kept as facts so a language switch says it again. */
type DoorAnswer =
  | { kind: 'in'; ticket: CheckIn }
  | { kind: 'already'; since: string | null }
  | { kind: 'refunded' }
  | { kind: 'invalid' }
  | { kind: 'error'; error: unknown };

/** The part of the Shape Detection API the door uses (not yet in TypeScript's DOM types). */
interface Detector {
  detect(source: HTMLVideoElement): Promise<{ rawValue: string }[]>;
}
interface DetectorClass {
  new (options: { formats: string[] }): Detector;
  getSupportedFormats?(): Promise<string[]>;
}

/** A code seen by the camera again within this long is the same scan, not a second one. */
const SAME_SCAN_MS = 5000;
const SCAN_EVERY_MS = 250;

const door = {
  answer: null as DoorAnswer | null,
  typed: '',
  scanning: false,
  stream: null as MediaStream | null,
  last: { code: '', at: 0 },
  timer: undefined as number | undefined,
};
/** One video element for the page's life, so that a redraw does not stop the picture. */
let video: HTMLVideoElement | null = null;

function detectorClass(): DetectorClass | null {
  const found = (window as unknown as { BarcodeDetector?: DetectorClass }).BarcodeDetector;
  // Both are missing where the page is not a secure context (plain http but localhost).
  return found && 'mediaDevices' in navigator ? found : null;
}

/** Checks a code in; `from` the paste form or the camera (which keeps the focus where it is:
 * on a phone, focusing the field would open the keyboard over the picture). */
async function checkIn(raw: string, from: 'paste' | 'camera' = 'paste'): Promise<void> {
  const used = op;
  const code = raw.trim();
  if (!used) return;
  say('');
  if (!code) {
    say(t('door.empty'));
    return;
  }
  let answer: DoorAnswer;
  try {
    answer = { kind: 'in', ticket: await api.adminCheckIn(used, code) };
  } catch (e) {
    answer = refusal(e);
  }
  if (op !== used) return;
  door.answer = answer;
  door.typed = '';
  drawDoor();
  // Ready for the next pasted ticket.
  if (from === 'paste') byId('door-code')?.focus();
}

/** Why a ticket is not let in, from the API's refusal. */
function refusal(e: unknown): DoorAnswer {
  if (!(e instanceof ApiError)) return { kind: 'error', error: e };
  switch (e.code) {
    case 'ALREADY_CHECKED_IN': {
      // The first scan's instant: the problem's `checkedInAt`, else the RFC 3339 instant in
      // its `detail`.
      const at = typeof e.extra.checkedInAt === 'string'
        ? e.extra.checkedInAt
        : /\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)/.exec(e.detail)?.[0];
      return { kind: 'already', since: at && !Number.isNaN(Date.parse(at)) ? at : null };
    }
    case 'TICKET_REFUNDED':
      return { kind: 'refunded' };
    // A code that is not ours: a bad signature or shape, a ticket the store does not know, or
    // not even a code (too long, characters a code never has).
    case 'TICKET_INVALID':
    case 'NOT_FOUND':
    case 'VALIDATION_FAILED':
      return { kind: 'invalid' };
    default:
      return { kind: 'error', error: e };
  }
}

function answerView(a: DoorAnswer): Node {
  switch (a.kind) {
    case 'in':
      return h(
        'div',
        { class: 'door-answer in' },
        h('p', { class: 'big' }, t('door.in', { n: a.ticket.seatNo, section: a.ticket.section })),
        h('p', null, t('door.inDetail', { concert: a.ticket.concertId, date: day(a.ticket.date) })),
      );
    case 'already':
      return h(
        'div',
        { class: 'door-answer stop' },
        h('p', { class: 'big' }, a.since ? t('door.already', { time: hourMinute(a.since) }) : t('door.alreadyNoTime')),
      );
    case 'refunded':
      return h('div', { class: 'door-answer stop' }, h('p', { class: 'big' }, t('door.refunded')));
    case 'invalid':
      return h('div', { class: 'door-answer stop' }, h('p', { class: 'big' }, t('door.invalid')));
    case 'error':
      return h('div', { class: 'door-answer error' }, h('p', null, explain(a.error)));
  }
}

function drawDoor(): void {
  const box = byId('door')!;
  if (!op) {
    show(box);
    return;
  }
  const input = h('textarea', {
    id: 'door-code',
    rows: 3,
    autocomplete: 'off',
    spellcheck: 'false',
    autocapitalize: 'off',
    'aria-describedby': 'door-intro',
  });
  input.value = door.typed;
  input.addEventListener('input', () => {
    door.typed = input.value;
  });
  const submit = (e: Event) => {
    e.preventDefault();
    void checkIn(input.value);
  };
  const canScan = detectorClass() !== null;
  video ??= h('video', { class: 'camera', playsinline: true });
  video.muted = true;
  video.setAttribute('aria-label', t('door.video'));
  video.hidden = !door.scanning;
  show(
    box,
    h('h2', { id: 'door-heading' }, t('door.heading')),
    h('p', { id: 'door-intro', class: 'hint' }, t('door.intro')),
    h(
      'div',
      { class: 'card stack' },
      h(
        'div',
        { class: 'row' },
        canScan
          ? h(
              'button',
              { type: 'button', id: 'door-scan', onclick: () => void (door.scanning ? stopCamera() : startCamera()) },
              door.scanning ? t('door.stop') : t('door.scan'),
            )
          : h('p', { class: 'hint' }, t('door.noCamera')),
      ),
      door.scanning && h('p', { class: 'hint' }, t('door.scanning')),
      video,
      h(
        'form',
        { class: 'stack wide', onsubmit: submit },
        h('label', { for: 'door-code' }, t('door.code')),
        input,
        h('button', { type: 'submit', class: 'primary', id: 'door-check' }, t('door.check')),
      ),
      h('div', { id: 'door-result', role: 'status', 'aria-live': 'polite', class: 'wide' }, door.answer && answerView(door.answer)),
    ),
  );
}

async function startCamera(): Promise<void> {
  const Detector = detectorClass();
  if (!Detector) return;
  say('');
  try {
    const formats = (await Detector.getSupportedFormats?.()) ?? ['qr_code'];
    if (!formats.includes('qr_code')) {
      say(t('door.noCamera'));
      return;
    }
    const detector = new Detector({ formats: ['qr_code'] });
    door.stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: 'environment' },
      audio: false,
    });
    door.scanning = true;
    drawDoor();
    video!.srcObject = door.stream;
    await video!.play();
    const tick = async () => {
      if (!door.scanning) return;
      try {
        for (const found of await detector.detect(video!)) {
          const code = found.rawValue;
          const now = Date.now();
          if (!code || (code === door.last.code && now - door.last.at < SAME_SCAN_MS)) continue;
          door.last = { code, at: now };
          await checkIn(code, 'camera');
        }
      } catch {
        // A frame that could not be read: the next one will do.
      }
      if (door.scanning) door.timer = window.setTimeout(() => void tick(), SCAN_EVERY_MS);
    };
    void tick();
  } catch {
    stopCamera();
    say(t('door.cameraFailed'));
  }
}

function stopCamera(): void {
  window.clearTimeout(door.timer);
  const was = door.scanning || door.stream;
  door.scanning = false;
  for (const track of door.stream?.getTracks() ?? []) track.stop();
  door.stream = null;
  if (video) video.srcObject = null;
  if (was) drawDoor();
}

function render(): void {
  document.title = t('admin.title');
  drawLogin();
  drawDoor();
  drawReport();
}

async function main(): Promise<void> {
  config = await loadConfig();
  api = new Api(config.apiBase);
  api.onRetry = (seconds) => say(t('busy.retry', { s: seconds }), 'info');
  op = credential();
  mountLangSwitch(render);
  render();
  if (op) await refresh();
}

void main();
