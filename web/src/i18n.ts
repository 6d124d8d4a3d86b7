// The words both pages show (the language switch, the refusals), in English and Korean, each
// page's own words added by its script (words-buyer.ts, words-admin.ts: a page carries only
// its own), and the number, money and time formats. The language follows the browser's until
// the switch is used (then it is remembered).

import { ApiError } from './api';
import type * as AdminWords from './words-admin';
import type * as BuyerWords from './words-buyer';

const en = {
  'lang.switch': '한국어',
  'lang.switchLabel': 'Switch to Korean',
  'skip': 'Skip to content',
  'busy.retry': 'The service is busy. Trying again in {s} s…',
  'loading': 'Loading…',
  // refusals, by code
  'err.VALIDATION_FAILED': 'The request was not accepted: {detail}.',
  'err.SIGNED_OUT': 'Your sign-in has ended. Please sign in again.',
  'err.TOO_MANY_REQUESTS': 'Too many requests at once. Please wait a moment and try again.',
  'err.TICKET_INVALID': 'That is not one of our tickets.',
  'err.ALREADY_CHECKED_IN': 'This ticket was already used at the door.',
  'err.TICKET_REFUNDED': 'This ticket was refunded and is no longer valid.',
  'err.TOKEN_MISSING': 'Your place in line was lost. Please join the line again.',
  'err.TOKEN_INVALID': 'Your place in line is not valid any more. Please join the line again.',
  'err.TOKEN_EXPIRED': 'Your turn has ended. Please join the line again.',
  'err.TOKEN_NOT_ACTIVE': 'It is not your turn yet: please wait in the line.',
  'err.FORBIDDEN': 'That belongs to another user or another concert.',
  'err.NOT_FOUND': 'That does not exist (any more).',
  'err.SEAT_UNAVAILABLE': 'Someone else just took seat {seats}; pick another.',
  'err.SEAT_LIMIT_REACHED': 'You already hold as many seats as one buyer may.',
  'err.RESERVATION_EXPIRED': 'The hold ended before it was paid; the seats are free again.',
  'err.RESERVATION_NOT_HELD': 'This reservation is no longer held (it may be paid already).',
  'err.RESERVATION_NOT_PAID': 'Only a paid reservation can be refunded.',
  'err.REFUND_WINDOW_CLOSED': 'It is too late to refund this reservation.',
  'err.INSUFFICIENT_BALANCE': 'Your balance is too low for this price. Add money first.',
  'err.BALANCE_LIMIT_EXCEEDED': 'That would take your balance over 1,000,000,000 won.',
  'err.ADMIN_UNAUTHORIZED': 'The operator token is wrong or missing.',
  'err.IAM_SIGNATURE':
    "AWS did not accept the signature: check the access key ID, the secret key and the session token (temporary keys expire), and this computer's clock.",
  'err.IAM_DENIED':
    "These AWS keys may not use the operator API: attach the stack's OperatorPolicy to their user or role.",
  'err.IAM_NETWORK':
    "The API cannot be reached, or AWS refused the signed request without saying why. Check your connection, the keys and this computer's clock.",
  'err.IDEMPOTENCY_KEY_REUSED': 'This request was already made differently. Please try again.',
  'err.SERVICE_UNAVAILABLE': 'The service is busy right now. Please try again in a moment.',
  'err.INTERNAL_ERROR': 'Something went wrong on our side. Please try again.',
  'err.CATALOG_LOCKED': 'That can no longer change: seats of this concert were already held.',
  'err.NETWORK': 'The server cannot be reached. Check your connection and try again.',
  'err.other': 'The server refused this (HTTP {status}). Please try again.',
};

const ko: Record<keyof typeof en, string> = {
  'lang.switch': 'English',
  'lang.switchLabel': '영어로 보기',
  'skip': '본문으로 건너뛰기',
  'busy.retry': '서비스가 혼잡합니다. {s}초 후 다시 시도합니다…',
  'loading': '불러오는 중…',
  'err.VALIDATION_FAILED': '요청이 받아들여지지 않았습니다: {detail}.',
  'err.SIGNED_OUT': '로그인이 만료되었습니다. 다시 로그인해 주세요.',
  'err.TOO_MANY_REQUESTS': '요청이 너무 많습니다. 잠시 후 다시 시도해 주세요.',
  'err.TICKET_INVALID': '우리 티켓이 아닙니다.',
  'err.ALREADY_CHECKED_IN': '이미 입장에 사용된 티켓입니다.',
  'err.TICKET_REFUNDED': '환불되어 더 이상 유효하지 않은 티켓입니다.',
  'err.TOKEN_MISSING': '대기 순서를 잃었습니다. 대기열에 다시 들어가 주세요.',
  'err.TOKEN_INVALID': '대기 순서가 더 이상 유효하지 않습니다. 대기열에 다시 들어가 주세요.',
  'err.TOKEN_EXPIRED': '내 차례가 끝났습니다. 대기열에 다시 들어가 주세요.',
  'err.TOKEN_NOT_ACTIVE': '아직 차례가 아닙니다. 대기열에서 기다려 주세요.',
  'err.FORBIDDEN': '다른 사용자나 다른 공연의 것입니다.',
  'err.NOT_FOUND': '존재하지 않거나 더 이상 없습니다.',
  'err.SEAT_UNAVAILABLE': '{seats}번 좌석을 방금 다른 분이 선택했습니다. 다른 좌석을 골라 주세요.',
  'err.SEAT_LIMIT_REACHED': '한 사람이 선점할 수 있는 좌석 수를 이미 채웠습니다.',
  'err.RESERVATION_EXPIRED': '결제 전에 선점 시간이 끝나 좌석이 풀렸습니다.',
  'err.RESERVATION_NOT_HELD': '이 예약은 더 이상 선점 상태가 아닙니다 (이미 결제되었을 수 있습니다).',
  'err.RESERVATION_NOT_PAID': '결제한 예약만 환불할 수 있습니다.',
  'err.REFUND_WINDOW_CLOSED': '이 예약은 환불 기간이 지났습니다.',
  'err.INSUFFICIENT_BALANCE': '잔액이 부족합니다. 먼저 충전해 주세요.',
  'err.BALANCE_LIMIT_EXCEEDED': '잔액은 10억 원을 넘을 수 없습니다.',
  'err.ADMIN_UNAUTHORIZED': '운영자 토큰이 없거나 틀렸습니다.',
  'err.IAM_SIGNATURE':
    'AWS가 서명을 받아들이지 않았습니다. 액세스 키 ID, 비밀 키, 세션 토큰(임시 키는 만료됩니다)과 이 컴퓨터의 시계를 확인해 주세요.',
  'err.IAM_DENIED': '이 AWS 키에는 운영자 API 권한이 없습니다. 사용자나 역할에 스택의 OperatorPolicy를 연결해 주세요.',
  'err.IAM_NETWORK': 'API에 연결할 수 없거나, AWS가 이유 없이 서명된 요청을 거절했습니다. 연결, 키와 이 컴퓨터의 시계를 확인해 주세요.',
  'err.IDEMPOTENCY_KEY_REUSED': '같은 요청이 다른 내용으로 이미 처리되었습니다. 다시 시도해 주세요.',
  'err.SERVICE_UNAVAILABLE': '지금 서비스가 혼잡합니다. 잠시 후 다시 시도해 주세요.',
  'err.INTERNAL_ERROR': '서버에 문제가 생겼습니다. 다시 시도해 주세요.',
  'err.CATALOG_LOCKED': '이미 좌석이 선점된 공연이라 바꿀 수 없습니다.',
  'err.NETWORK': '서버에 연결할 수 없습니다. 연결을 확인하고 다시 시도해 주세요.',
  'err.other': '서버가 요청을 거절했습니다 (HTTP {status}). 다시 시도해 주세요.',
};

/** Every word of both pages; a page's script has its own and the shared ones. */
export type Key = keyof typeof en | keyof typeof BuyerWords.en | keyof typeof AdminWords.en;

export type Lang = 'en' | 'ko';
/** The shared words, then the page's (`addWords`); a key the page never added shows as itself. */
const tables: Record<Lang, Partial<Record<Key, string>>> = { en: { ...en }, ko: { ...ko } };

/** A page's own words, added once as its script starts. */
export function addWords<K extends Key>(pageEn: Record<K, string>, pageKo: Record<K, string>): void {
  Object.assign(tables.en, pageEn);
  Object.assign(tables.ko, pageKo);
}

let lang: Lang = initialLang();

function initialLang(): Lang {
  const saved = localStorage.getItem('lang');
  if (saved === 'en' || saved === 'ko') return saved;
  return navigator.language.toLowerCase().startsWith('ko') ? 'ko' : 'en';
}

export function currentLang(): Lang {
  return lang;
}

export function setLang(next: Lang): void {
  lang = next;
  localStorage.setItem('lang', next);
  document.documentElement.lang = next;
}

export type Params = Record<string, string | number>;

export function t(key: Key, params: Params = {}): string {
  return (tables[lang][key] ?? key).replace(/\{(\w+)\}/g, (_, name: string) =>
    name in params ? String(params[name]) : `{${name}}`,
  );
}

export function won(amount: number): string {
  return new Intl.NumberFormat(lang === 'ko' ? 'ko-KR' : 'en-US', {
    style: 'currency',
    currency: 'KRW',
  }).format(amount);
}

/** A count; null (the line could not be read just then) shows as a dash. */
export function num(n: number | null): string {
  if (n === null) return '—';
  return new Intl.NumberFormat(lang === 'ko' ? 'ko-KR' : 'en-US').format(n);
}

export function day(iso: string): string {
  const [y, m, d] = iso.split('-').map(Number);
  return new Intl.DateTimeFormat(lang === 'ko' ? 'ko-KR' : 'en-GB', {
    weekday: 'short',
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    timeZone: 'UTC',
  }).format(Date.UTC(y, m - 1, d));
}

export function clockTime(iso: string): string {
  return new Intl.DateTimeFormat(lang === 'ko' ? 'ko-KR' : 'en-GB', {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).format(new Date(iso));
}

/** A time of day to the minute, in the browser's time zone: "19:04". */
export function hourMinute(iso: string): string {
  return new Intl.DateTimeFormat(lang === 'ko' ? 'ko-KR' : 'en-GB', {
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(new Date(iso));
}

export function dateTime(iso: string): string {
  return new Intl.DateTimeFormat(lang === 'ko' ? 'ko-KR' : 'en-GB', {
    dateStyle: 'medium',
    timeStyle: 'short',
  }).format(new Date(iso));
}

/** A countdown: "4:05", "1:02:03". */
export function countdown(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh > 0 ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** A wait in words: "about 2 min", "about 40 s". */
export function wait(seconds: number): string {
  if (seconds < 60) return lang === 'ko' ? `${seconds}초` : `${seconds} s`;
  const min = Math.ceil(seconds / 60);
  return lang === 'ko' ? `${min}분` : `${min} min`;
}

/** A refusal in words, never a bare code. `seats` names the seats a hold was for. */
export function explain(err: unknown, seats: number[] = []): string {
  if (!(err instanceof ApiError)) return t('err.INTERNAL_ERROR');
  const key = `err.${err.code}` as Key;
  if (key in tables.en) {
    return t(key, { seats: seats.join(', '), detail: err.detail });
  }
  return t('err.other', { status: err.status });
}
