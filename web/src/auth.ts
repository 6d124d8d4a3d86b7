// The buyer's sign-in. Locally, a username (`POST /local/sign-in`, the local server playing the
// identity provider); in AWS, the Cognito user pool's managed login with the authorization
// code flow and PKCE (S256, `state` checked). The session (access token, Cognito's refresh
// token, when the access token expires, who the buyer is) is kept in sessionStorage: this tab
// only, it survives a reload, and closing the tab ends it. The access token is refreshed
// before it expires (Cognito: the refresh_token grant; locally: signing in again by the same
// name, which is all the local issuer knows).

import type { AuthConfig } from './api';

export interface Session {
  accessToken: string;
  /** Cognito's refresh token; null locally. */
  refreshToken: string | null;
  /** When the access token expires (ms since the epoch, this browser's clock). */
  expiresAt: number;
  /** The buyer's userId: the access token's `sub`. */
  userId: string;
  /** What the buyer is shown as: the username they signed in with. */
  username: string;
}

/** Why a sign-in did not happen, for the page to say in words. */
export class SignInError extends Error {
  constructor(readonly reason: 'NETWORK' | 'REFUSED' | 'STATE' | 'CANCELLED') {
    super(reason);
  }
}

const SESSION = 'session';
const PENDING = 'signinPending';
const SIGNED_OUT_FROM = 'signedOutFrom';
/** Refresh this long before the access token expires (less for a token that lives < 2 min). */
const MARGIN_MS = 60_000;
/** A failed refresh is tried again after this long, while the token still lives. */
const RETRY_MS = 10_000;

/** A token endpoint's answer (OAuth 2.0, RFC 6749 section 5.1). */
interface TokenAnswer {
  access_token?: string;
  refresh_token?: string;
  expires_in?: number;
}

export class Auth {
  session: Session | null = readSession();
  /** Told when the session ends by itself (a refresh refused): the page shows the sign-in. */
  onSignedOut: () => void = () => {};
  private refreshing: Promise<void> | null = null;
  private timer: number | undefined;

  constructor(
    readonly config: AuthConfig,
    private readonly apiBase: string,
  ) {
    this.schedule();
  }

  /** The access token for a call, refreshed first when it is about to expire; null when
   * signed out. */
  async accessToken(): Promise<string | null> {
    if (this.session && Date.now() >= this.refreshAt(this.session)) {
      await this.refresh().catch(() => {});
    }
    return this.session?.accessToken ?? null;
  }

  /** Locally: signs in as `username` (a valid userId). */
  async signInLocal(username: string): Promise<void> {
    let res: Response;
    try {
      res = await fetch(`${this.apiBase}/local/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username }),
      });
    } catch {
      throw new SignInError('NETWORK');
    }
    if (!res.ok) throw new SignInError('REFUSED');
    const body = (await res.json()) as { accessToken: string; expiresIn: number; userId: string };
    this.store({
      accessToken: body.accessToken,
      refreshToken: null,
      expiresAt: Date.now() + body.expiresIn * 1000,
      userId: body.userId,
      username,
    });
  }

  /** In AWS: off to the managed login; it comes back to `redirectUri` with a code. The page
   * to come back to (`returnTo`, e.g. `/?concert=X`) waits in sessionStorage with the PKCE
   * verifier and the state. */
  async beginCognito(returnTo: string): Promise<void> {
    const c = this.cognito();
    const verifier = randomString(32);
    const state = randomString(16);
    const challenge = base64url(
      new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))),
    );
    sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, returnTo }));
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: c.clientId,
      redirect_uri: c.redirectUri,
      scope: c.scopes.join(' '),
      state,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    location.assign(`${c.domain}/oauth2/authorize?${query}`);
  }

  /** On the page's load: when the address carries the managed login's answer (`code` and
   * `state`, or `error`), trades the code for tokens. Returns where to go back to (the page the
   * sign-in started from), or null when there was no answer to handle. Throws SignInError when
   * the answer is refused (a state that is not ours, a cancelled login, a refused code). */
  async completeCognito(url: URL): Promise<string | null> {
    if (this.config.kind !== 'cognito') return null;
    const code = url.searchParams.get('code');
    const error = url.searchParams.get('error');
    if (!code && !error) return null;
    const pending = readPending();
    sessionStorage.removeItem(PENDING);
    // Whatever happens, the code leaves the address bar and the history.
    history.replaceState(null, '', pending?.returnTo ?? url.pathname);
    if (!pending || url.searchParams.get('state') !== pending.state) throw new SignInError('STATE');
    if (error || !code) throw new SignInError('CANCELLED');
    const c = this.cognito();
    const answer = await this.tokenCall({
      grant_type: 'authorization_code',
      client_id: c.clientId,
      code,
      redirect_uri: c.redirectUri,
      code_verifier: pending.verifier,
    });
    if (!answer.refresh_token) throw new SignInError('REFUSED');
    this.store(fromCognito(answer, answer.refresh_token));
    return pending.returnTo;
  }

  /** A new access token before this one expires; one refresh at a time. */
  refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    const s = this.session;
    if (!s) return;
    try {
      if (this.config.kind === 'local') {
        await this.signInLocal(s.username);
      } else {
        const answer = await this.tokenCall({
          grant_type: 'refresh_token',
          client_id: this.config.clientId,
          refresh_token: s.refreshToken ?? '',
        });
        this.store(fromCognito(answer, s.refreshToken));
      }
    } catch (e) {
      if (e instanceof SignInError && e.reason === 'REFUSED') {
        // The refresh token is revoked or expired: only a new sign-in helps.
        this.forget();
        this.onSignedOut();
      } else {
        // Unreachable for now: try again while the token still lives.
        window.clearTimeout(this.timer);
        if (Date.now() < s.expiresAt) this.timer = window.setTimeout(() => void this.refresh(), RETRY_MS);
      }
      throw e;
    }
  }

  /** Ends the session here (the API refused the token, or the buyer signs out). */
  forget(): void {
    window.clearTimeout(this.timer);
    this.session = null;
    sessionStorage.removeItem(SESSION);
  }

  /** Signs out; in AWS the managed login's own session ends too (its /logout), or the next
   * sign-in would go through without asking. It sends the buyer back to `redirectUri`, the
   * page without its concert: `returnTo` (the page signed out from) waits for
   * [`Auth.signedOutFrom`]. */
  signOut(returnTo: string): void {
    this.forget();
    if (this.config.kind === 'cognito') {
      sessionStorage.setItem(SIGNED_OUT_FROM, returnTo);
      const c = this.config;
      const query = new URLSearchParams({ client_id: c.clientId, logout_uri: c.redirectUri });
      location.assign(`${c.domain}/logout?${query}`);
    }
  }

  /** Back from the managed login's /logout: the page the buyer signed out from, once. */
  signedOutFrom(): string | null {
    const from = sessionStorage.getItem(SIGNED_OUT_FROM);
    sessionStorage.removeItem(SIGNED_OUT_FROM);
    return from && samePath(from) ? from : null;
  }

  private cognito() {
    if (this.config.kind !== 'cognito') throw new Error('not a Cognito sign-in');
    return this.config;
  }

  private async tokenCall(form: Record<string, string>): Promise<TokenAnswer> {
    let res: Response;
    try {
      res = await fetch(`${this.cognito().domain}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form),
      });
    } catch {
      throw new SignInError('NETWORK');
    }
    // 400 invalid_grant and the like: the code or the refresh token is not (any more) good.
    if (!res.ok) throw new SignInError(res.status >= 500 ? 'NETWORK' : 'REFUSED');
    const answer = (await res.json()) as TokenAnswer;
    if (!answer.access_token) throw new SignInError('REFUSED');
    return answer;
  }

  private store(s: Session): void {
    this.session = s;
    sessionStorage.setItem(SESSION, JSON.stringify(s));
    this.schedule();
  }

  private refreshAt(s: Session): number {
    const left = s.expiresAt - Date.now();
    return s.expiresAt - Math.min(MARGIN_MS, Math.max(0, left) / 2);
  }

  private schedule(): void {
    window.clearTimeout(this.timer);
    const s = this.session;
    if (!s) return;
    const ms = Math.max(0, s.expiresAt - MARGIN_MS - Date.now());
    this.timer = window.setTimeout(() => void this.refresh().catch(() => {}), ms);
  }
}

function fromCognito(answer: TokenAnswer, refreshToken: string | null): Session {
  const access = answer.access_token ?? '';
  const claims = jwtClaims(access);
  const sub = typeof claims.sub === 'string' ? claims.sub : '';
  return {
    accessToken: access,
    refreshToken,
    expiresAt: Date.now() + (Number(answer.expires_in) || 300) * 1000,
    userId: sub,
    username: typeof claims.username === 'string' ? claims.username : sub,
  };
}

/** A JWT's claims, read without checking it: the API checks it; the page only needs `sub`. */
export function jwtClaims(jwt: string): Record<string, unknown> {
  try {
    const part = jwt.split('.')[1] ?? '';
    const bin = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
    const json = new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
    const claims: unknown = JSON.parse(json);
    return claims && typeof claims === 'object' ? (claims as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function readSession(): Session | null {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION) ?? 'null') as Session | null;
    if (!s || typeof s.accessToken !== 'string' || typeof s.userId !== 'string') return null;
    return s;
  } catch {
    return null;
  }
}

function readPending(): { verifier: string; state: string; returnTo: string } | null {
  try {
    const p = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null') as Record<string, unknown> | null;
    if (!p || typeof p.verifier !== 'string' || typeof p.state !== 'string') return null;
    const returnTo = typeof p.returnTo === 'string' && samePath(p.returnTo) ? p.returnTo : '/';
    return { verifier: p.verifier, state: p.state, returnTo };
  } catch {
    return null;
  }
}

/** A path on this origin, never an address elsewhere (`//host`, `https:`). */
function samePath(path: string): boolean {
  return path.startsWith('/') && !path.startsWith('//') && !path.startsWith('/\\');
}

/** `bytes` random bytes as base64url: 32 make a PKCE verifier of 43 characters (RFC 7636). */
function randomString(bytes: number): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

function base64url(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
