// The API client: one method per endpoint the pages use, typed answers, and every refusal
// turned into an ApiError carrying the problem+json `code`. A 503 (or API Gateway's 429) is
// retried after its Retry-After, and the page is told, so it can say so. The operator's calls
// carry a Bearer token, or are signed (SigV4) by a function the operator's page hands in.

export type QueueState = 'WAITING' | 'ACTIVE';

export interface TokenStatus {
  token: string;
  userId: string;
  concertId: string;
  status: QueueState;
  /** Null in the pre-queue (before the opening). */
  position: number | null;
  estimatedWaitSeconds: number | null;
  activeUntil: string | null;
  pollAfterSeconds: number | null;
  /** Absent from servers that have no opening yet; null when none or passed. */
  opensAt?: string | null;
}

export interface DateList {
  concertId: string;
  dates: { date: string; availableSeats: number }[];
}

export type SeatState = 'AVAILABLE' | 'HELD' | 'SOLD';

export interface Seat {
  seatNo: number;
  section: string;
  price: number;
  status: SeatState;
}

export interface SeatMap {
  concertId: string;
  date: string;
  seats: Seat[];
}

export type ReservationState = 'HELD' | 'CONFIRMED' | 'EXPIRED' | 'RELEASED' | 'REFUNDED';

export interface Reservation {
  reservationId: string;
  userId: string;
  concertId: string;
  date: string;
  seatNo: number;
  /** Multi-seat holds; absent from servers that hold one seat at a time. */
  seatNos?: number[];
  price: number;
  status: ReservationState;
  expiresAt: string;
}

export interface Balance {
  userId: string;
  balance: number;
}

export interface Payment {
  paymentId: string;
  reservationId: string;
  userId: string;
  amount: number;
  balance: number;
  status: 'COMPLETED';
  paidAt: string;
}

export interface Refund {
  reservationId: string;
  userId: string;
  amount: number;
  balance: number;
  status: 'REFUNDED';
  refundedAt: string;
}

export interface QueueFigures {
  /** The counts are null when the line could not be read just then. */
  waiting: number | null;
  active: number | null;
  activeLimit: number;
  paused: boolean;
  admittedLastMinute: number | null;
  opensAt: string | null;
}

export interface Section {
  name: string;
  fromSeat: number;
  toSeat: number;
  price: number;
}

export interface AdminDate {
  date: string;
  sections: Section[];
  seats: number;
  locked: boolean;
  available: number;
  held: number;
  sold: number;
}

export interface AdminReport {
  concertId: string;
  name: string;
  opensAt: string | null;
  revision: number;
  queue: QueueFigures;
  dates: AdminDate[];
}

/** A refusal: the problem's `code` (or NETWORK / HTTP_<status> when there was none). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
  ) {
    super(`${status} ${code}: ${detail}`);
  }
}

export interface Config {
  apiBase: string;
  maxSeatsPerUser: number;
  /** How the operator's calls are authorized: `token` (Bearer ADMIN_TOKEN, the local server)
   * or `iam` (SigV4-signed with the operator's AWS credentials, API Gateway in AWS). */
  adminAuth: 'token' | 'iam';
  /** The API's AWS region, for signing; empty when not said. */
  region: string;
}

/** `/config.json`, beside the pages: where the API is, and how the operator signs in. */
export async function loadConfig(): Promise<Config> {
  try {
    const res = await fetch('/config.json', { cache: 'no-cache' });
    const raw = (await res.json()) as Partial<Config>;
    return {
      apiBase: String(raw.apiBase ?? '').replace(/\/+$/, ''),
      maxSeatsPerUser: Math.max(1, Number(raw.maxSeatsPerUser) || 1),
      adminAuth: raw.adminAuth === 'iam' ? 'iam' : 'token',
      region: String(raw.region ?? ''),
    };
  } catch {
    return { apiBase: '', maxSeatsPerUser: 1, adminAuth: 'token', region: '' };
  }
}

/** Signs a request (SigV4) with the operator's AWS credentials: the request to send. */
export type Signer = (url: string, init: RequestInit) => Promise<Request>;

/** The operator's credential: the token (sent as Bearer), or the signer of every call. */
export type Operator = string | Signer;

interface CallOptions {
  body?: unknown;
  /** A bearer credential (the queue token, or the operator's token), or the operator's signer. */
  auth?: Operator;
  idempotencyKey?: string;
}

const MAX_RETRIES = 4;

export class Api {
  /** Told before each wait on a 503: how long, and which try is next. */
  onRetry: (seconds: number) => void = () => {};

  constructor(private readonly base: string) {}

  async call<T>(method: string, path: string, opts: CallOptions = {}): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = {};
      const sign = typeof opts.auth === 'function' ? opts.auth : undefined;
      if (opts.body !== undefined) headers['content-type'] = 'application/json';
      if (opts.auth && !sign) headers.authorization = `Bearer ${opts.auth}`;
      if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
      const init: RequestInit = {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      };
      // Signed again on each try: the signature carries its time (X-Amz-Date).
      const signed = sign ? await sign(this.base + path, init) : undefined;
      let res: Response;
      try {
        res = await (signed ? fetch(signed) : fetch(this.base + path, init));
      } catch (e) {
        // Cross-origin, a refusal without CORS headers reads as a network failure too.
        throw new ApiError(0, sign ? 'IAM_NETWORK' : 'NETWORK', String(e));
      }
      if (res.ok) return (await res.json()) as T;
      if ((res.status === 503 || res.status === 429) && attempt < MAX_RETRIES) {
        // Cross-origin, the header is readable only if the API exposes it; 1 s otherwise.
        const seconds = Math.min(30, Math.max(1, Number(res.headers.get('retry-after')) || 1));
        this.onRetry(seconds);
        await new Promise((r) => setTimeout(r, seconds * 1000));
        continue;
      }
      const err = await problem(res);
      // API Gateway's own refusal of a signed call: {"message": "..."}, no problem code.
      if (sign && res.status === 403 && err.code === 'HTTP_403') {
        const denied = /not authorized|explicit deny/i.test(err.detail);
        throw new ApiError(403, denied ? 'IAM_DENIED' : 'IAM_SIGNATURE', err.detail);
      }
      throw err;
    }
  }

  /** Whether the server has this route: a request without credentials is refused (401) by
   * a route that exists, and answered 404 or 405 where there is none. */
  async supports(method: string, path: string): Promise<boolean> {
    try {
      const res = await fetch(this.base + path, { method });
      return res.status !== 404 && res.status !== 405;
    } catch {
      return false;
    }
  }

  issueToken(userId: string, concertId: string) {
    return this.call<TokenStatus>('POST', '/queue/tokens', { body: { userId, concertId } });
  }
  queueStatus(token: string) {
    return this.call<TokenStatus>('GET', '/queue/status', { auth: token });
  }
  dates(token: string, concert: string) {
    return this.call<DateList>('GET', `/concerts/${enc(concert)}/dates`, { auth: token });
  }
  seats(token: string, concert: string, date: string) {
    return this.call<SeatMap>('GET', `/concerts/${enc(concert)}/dates/${enc(date)}/seats`, {
      auth: token,
    });
  }
  /** One seat as `seatNo` (every server), more as `seatNos`. */
  hold(token: string, userId: string, concertId: string, date: string, seats: number[]) {
    const pick = seats.length === 1 ? { seatNo: seats[0] } : { seatNos: seats };
    return this.call<Reservation>('POST', '/reservations', {
      auth: token,
      body: { userId, concertId, date, ...pick },
    });
  }
  reservation(token: string, id: string) {
    return this.call<Reservation>('GET', `/reservations/${enc(id)}`, { auth: token });
  }
  release(token: string, id: string) {
    return this.call<Reservation>('DELETE', `/reservations/${enc(id)}`, { auth: token });
  }
  refund(token: string, id: string) {
    return this.call<Refund>('POST', `/reservations/${enc(id)}/refund`, { auth: token });
  }
  balance(token: string, userId: string) {
    return this.call<Balance>('GET', `/users/${enc(userId)}/balance`, { auth: token });
  }
  charge(token: string, userId: string, amount: number, key: string) {
    return this.call<Balance>('POST', `/users/${enc(userId)}/balance/charges`, {
      auth: token,
      body: { amount },
      idempotencyKey: key,
    });
  }
  pay(token: string, userId: string, reservationId: string, key: string) {
    return this.call<Payment>('POST', '/payments', {
      auth: token,
      body: { userId, reservationId },
      idempotencyKey: key,
    });
  }

  adminReport(op: Operator, concert: string) {
    return this.call<AdminReport>('GET', `/admin/concerts/${enc(concert)}`, { auth: op });
  }
  adminControls(op: Operator, concert: string, body: { paused?: boolean; activeLimit?: number }) {
    return this.call<QueueFigures>('PATCH', `/admin/concerts/${enc(concert)}/queue`, {
      auth: op,
      body,
    });
  }
  /** Changes the opening only: the catalog goes back as stored. */
  adminSetOpening(op: Operator, report: AdminReport, opensAt: string | null) {
    return this.call<unknown>('PUT', `/admin/concerts/${enc(report.concertId)}`, {
      auth: op,
      body: {
        name: report.name,
        opensAt,
        dates: report.dates.map((d) => ({ date: d.date, sections: d.sections })),
      },
    });
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

async function problem(res: Response): Promise<ApiError> {
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('json')) {
    try {
      const body = (await res.json()) as { code?: string; detail?: string; message?: string };
      if (body.code) return new ApiError(res.status, body.code, body.detail ?? '');
      // API Gateway's own answers: {"message": "..."}.
      return new ApiError(res.status, `HTTP_${res.status}`, body.message ?? '');
    } catch {
      // fall through
    }
  }
  return new ApiError(res.status, `HTTP_${res.status}`, res.statusText);
}

/** A fresh Idempotency-Key. */
export function newKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
