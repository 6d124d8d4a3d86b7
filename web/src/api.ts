// The API client: one method per endpoint the pages use, typed answers, and every refusal
// turned into an ApiError carrying the problem+json `code`. A 503 (or a 429) is retried after
// its Retry-After, and the page is told, so it can say so. The buyer's calls carry the
// signed-in buyer's access token (`Authorization: Bearer`) and, where the route needs one, the
// queue token (`Queue-Token`); the operator's calls carry the operator's token, or are signed
// (SigV4) by a function the operator's page hands in.

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

/** One page of a user's reservations, newest first; `nextCursor` null on the last page. */
export interface ReservationPage {
  userId: string;
  reservations: Reservation[];
  nextCursor: string | null;
}

/** An e-ticket: one seat of a paid reservation; `code` is what the door scans. */
export interface Ticket {
  ticketId: string;
  reservationId: string;
  concertId: string;
  date: string;
  seatNo: number;
  section: string;
  code: string;
  checkedInAt: string | null;
}

export interface TicketList {
  reservationId: string;
  tickets: Ticket[];
}

/** The door's answer to a ticket it let in. */
export interface CheckIn {
  ticketId: string;
  concertId: string;
  date: string;
  seatNo: number;
  section: string;
  checkedInAt: string;
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
    /** The problem's other members (RFC 9457 extensions), e.g. ALREADY_CHECKED_IN's `checkedInAt`. */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(`${status} ${code}: ${detail}`);
  }
}

/** How the buyer signs in: locally by a username (`POST /local/sign-in`), or in AWS through
 * the Cognito user pool's managed login (authorization code + PKCE). */
export type AuthConfig =
  | { kind: 'local' }
  | {
      kind: 'cognito';
      /** The managed login's origin, `https://PREFIX.auth.REGION.amazoncognito.com`. */
      domain: string;
      clientId: string;
      /** Where the login sends the buyer back: the buyer's page, as the app client lists it. */
      redirectUri: string;
      scopes: string[];
    };

export interface Config {
  apiBase: string;
  maxSeatsPerUser: number;
  auth: AuthConfig;
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
      auth: authConfig(raw.auth),
      adminAuth: raw.adminAuth === 'iam' ? 'iam' : 'token',
      region: String(raw.region ?? ''),
    };
  } catch {
    return { apiBase: '', maxSeatsPerUser: 1, auth: { kind: 'local' }, adminAuth: 'token', region: '' };
  }
}

/** The sign-in settings; anything but a complete Cognito one is the local sign-in. */
function authConfig(raw: unknown): AuthConfig {
  const a = (raw ?? {}) as Record<string, unknown>;
  if (a.kind !== 'cognito') return { kind: 'local' };
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  const domain = str(a.domain).replace(/\/+$/, '');
  const clientId = str(a.clientId);
  const redirectUri = str(a.redirectUri);
  if (!domain || !clientId || !redirectUri) return { kind: 'local' };
  const scopes = Array.isArray(a.scopes)
    ? a.scopes.filter((x): x is string => typeof x === 'string')
    : ['openid', 'aws.cognito.signin.user.admin'];
  return { kind: 'cognito', domain, clientId, redirectUri, scopes };
}

/** Signs a request (SigV4) with the operator's AWS credentials: the request to send. */
export type Signer = (url: string, init: RequestInit) => Promise<Request>;

/** The operator's credential: the token (sent as Bearer), or the signer of every call. */
export type Operator = string | Signer;

interface CallOptions {
  body?: unknown;
  /** An operator call: the operator's token (sent as Bearer) or signer. Without it, the call
   * is the buyer's and carries the access token. */
  operator?: Operator;
  /** The queue token, for the routes that need one. */
  queueToken?: string;
  idempotencyKey?: string;
}

const MAX_RETRIES = 4;

export class Api {
  /** Told before each wait on a 503: how long, and which try is next. */
  onRetry: (seconds: number) => void = () => {};

  /** The signed-in buyer's access token, asked before every try of a buyer call (so it can be
   * refreshed first when it is about to expire); the operator's page leaves it null. */
  accessToken: () => Promise<string | null> = async () => null;

  constructor(private readonly base: string) {}

  async call<T>(method: string, path: string, opts: CallOptions = {}): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = {};
      const sign = typeof opts.operator === 'function' ? opts.operator : undefined;
      if (opts.body !== undefined) headers['content-type'] = 'application/json';
      if (opts.operator) {
        if (!sign) headers.authorization = `Bearer ${opts.operator}`;
      } else {
        const access = await this.accessToken();
        if (access) headers.authorization = `Bearer ${access}`;
        if (opts.queueToken) headers['queue-token'] = opts.queueToken;
      }
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
      // The JWT authorizer's refusal of the access token (missing, expired, forged), the same
      // body in AWS and locally: {"message": "Unauthorized"}. The buyer must sign in again.
      if (!opts.operator && res.status === 401 && err.code === 'HTTP_401') {
        throw new ApiError(401, 'SIGNED_OUT', err.detail);
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

  /** A place in line for the signed-in buyer (the server takes the user from the sign-in). */
  issueToken(concertId: string) {
    return this.call<TokenStatus>('POST', '/queue/tokens', { body: { concertId } });
  }
  queueStatus(queue: string) {
    return this.call<TokenStatus>('GET', '/queue/status', { queueToken: queue });
  }
  dates(queue: string, concert: string) {
    return this.call<DateList>('GET', `/concerts/${enc(concert)}/dates`, { queueToken: queue });
  }
  seats(queue: string, concert: string, date: string) {
    return this.call<SeatMap>('GET', `/concerts/${enc(concert)}/dates/${enc(date)}/seats`, {
      queueToken: queue,
    });
  }
  /** One seat as `seatNo` (every server), more as `seatNos`. */
  hold(queue: string, userId: string, concertId: string, date: string, seats: number[]) {
    const pick = seats.length === 1 ? { seatNo: seats[0] } : { seatNos: seats };
    return this.call<Reservation>('POST', '/reservations', {
      queueToken: queue,
      body: { userId, concertId, date, ...pick },
    });
  }
  release(queue: string, id: string) {
    return this.call<Reservation>('DELETE', `/reservations/${enc(id)}`, { queueToken: queue });
  }
  refund(queue: string, id: string) {
    return this.call<Refund>('POST', `/reservations/${enc(id)}/refund`, { queueToken: queue });
  }
  balance(queue: string, userId: string) {
    return this.call<Balance>('GET', `/users/${enc(userId)}/balance`, { queueToken: queue });
  }
  charge(queue: string, userId: string, amount: number, key: string) {
    return this.call<Balance>('POST', `/users/${enc(userId)}/balance/charges`, {
      queueToken: queue,
      body: { amount },
      idempotencyKey: key,
    });
  }
  pay(queue: string, userId: string, reservationId: string, key: string) {
    return this.call<Payment>('POST', '/payments', {
      queueToken: queue,
      body: { userId, reservationId },
      idempotencyKey: key,
    });
  }
  /** The signed-in buyer's reservations of every concert, newest first (no queue token). */
  myReservations(userId: string, cursor: string | null = null) {
    const query = cursor ? `?cursor=${enc(cursor)}` : '';
    return this.call<ReservationPage>('GET', `/users/${enc(userId)}/reservations${query}`);
  }
  /** A paid reservation's e-tickets, one per seat (no queue token). */
  tickets(reservationId: string) {
    return this.call<TicketList>('GET', `/reservations/${enc(reservationId)}/tickets`);
  }

  adminReport(op: Operator, concert: string) {
    return this.call<AdminReport>('GET', `/admin/concerts/${enc(concert)}`, { operator: op });
  }
  adminControls(op: Operator, concert: string, body: { paused?: boolean; activeLimit?: number }) {
    return this.call<QueueFigures>('PATCH', `/admin/concerts/${enc(concert)}/queue`, {
      operator: op,
      body,
    });
  }
  /** Changes the opening only: the catalog goes back as stored. */
  adminSetOpening(op: Operator, report: AdminReport, opensAt: string | null) {
    return this.call<unknown>('PUT', `/admin/concerts/${enc(report.concertId)}`, {
      operator: op,
      body: {
        name: report.name,
        opensAt,
        dates: report.dates.map((d) => ({ date: d.date, sections: d.sections })),
      },
    });
  }
  /** The door: lets a ticket in, once. */
  adminCheckIn(op: Operator, code: string) {
    return this.call<CheckIn>('POST', '/admin/checkins', { operator: op, body: { code } });
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
      if (body.code) return new ApiError(res.status, body.code, body.detail ?? '', body);
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
