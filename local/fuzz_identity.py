"""Who the buyer is, for `make fuzz` (local/fuzz.sh; used by local/fuzz_hooks.py): every buyer
call goes signed in, and the identity boundary is fuzzed.

- Signing in: a buyer call carries `Authorization: Bearer <access token>` of the user it is for
  (the `userId` it names, else the owner of the queue token it carries, else `fuzz`), from the
  local issuer's `POST /local/sign-in`. Each user signs in again `RENEW_BEFORE` seconds before
  the token's `expiresIn` (600 s) runs out, so a run of any length stays signed in.
- The boundary: a buyer call that succeeded signed in is sent again, up to `PROBES_PER_KIND`
  times per operation and kind, with credentials that must not work. Every missing or forged
  access token must get the gateway's 401 (`{"message":"Unauthorized"}` as application/json,
  `WWW-Authenticate: Bearer...`); another signed-in user's access token, or another user's queue
  token, 403 `FORBIDDEN`; a forged queue token, or the queue token twice, 401 `TOKEN_INVALID`. Never a 2xx, never a 5xx; and since every one of them is refused
  before any write, the replays of writes write nothing. The forged tokens are the refused-token
  matrix of local/devserver/tests/identity, each forged for the very buyer the call was for (so
  an authorizer that let one through would answer 2xx): a payload changed after signing,
  `alg: none`, HS256 keyed with the public key, another key under the same `kid`, an unknown
  `kid`, expired, not yet valid, issued in the future, the wrong issuer, the wrong audience, an
  ID token (no scope), no `sub`, a `sub` that is not a userId; and a malformed token, another
  scheme, the header twice. The RS256 ones are signed by `openssl` with the committed
  development keys (local/fixtures/issuer: dev.pem, the local issuer's; other.pem, a stranger).
- Each probe is one line of $FUZZ_IDENTITY_LOG (`operation<TAB>kind<TAB>status`), which
  local/fuzz.sh sums up.
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

BASE = os.environ.get("FUZZ_BASE_URL", "http://127.0.0.1:3400")
DEFAULT_USER = os.environ.get("FUZZ_USER", "fuzz")
# A signed-in user who owns nothing: their access token on a call for someone else.
OTHER_USER = os.environ.get("FUZZ_OTHER_USER", "fuzz-other")
KEYS = Path(__file__).resolve().parent / "fixtures" / "issuer"
# What the local issuer puts in its tokens (local/devserver/src/auth.rs): the app client, and
# the scope every buyer route requires (the template's JwtRequiredScope).
CLIENT_ID = "local-buyer-pages"
SCOPE = "aws.cognito.signin.user.admin"
RENEW_BEFORE = 120
PROBES_PER_KIND = 2
LOG = os.environ.get("FUZZ_IDENTITY_LOG")

ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

_lock = threading.Lock()
_access: dict[str, tuple[str, float]] = {}  # user -> (access token, when to sign in again)
_user_of: dict[str, str] = {}  # every access token this run was issued -> its user
_owners: dict[str, str] = {}  # queue token -> its user
_probes: dict[tuple[str, str], int] = {}  # (operation, kind) -> probes sent
_issuer: dict[str, str] = {}  # "iss" and "kid", from the server's discovery and JWKS
_forged: dict[str, tuple[float, list]] = {}  # user -> (when minted, forged())
# Kinds of probe per operation: the forged access tokens, the two other users' credentials,
# and the two refused queue tokens.
KINDS = 21


def _call(method: str, path: str, body: object = None, headers: dict | None = None) -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{BASE}{path}", data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.load(e)
        except ValueError:
            return e.code, None


def access_for(user: str) -> str | None:
    """`user`'s access token: the one held, or a new sign-in. None when the issuer refuses."""
    with _lock:
        held = _access.get(user)
    if held is not None and time.monotonic() < held[1]:
        return held[0]
    status, view = _call("POST", "/local/sign-in", {"username": user})
    if status != 200 or not isinstance(view, dict):
        return None
    token = view["accessToken"]
    with _lock:
        _access[user] = (token, time.monotonic() + max(view["expiresIn"] - RENEW_BEFORE, 1))
        _user_of[token] = user
    return token


def user_of(authorization: str | None) -> str | None:
    """Whose access token an `Authorization` value is, if this run signed it in."""
    if not authorization or not authorization.startswith("Bearer "):
        return None
    with _lock:
        return _user_of.get(authorization[len("Bearer ") :])


def learn_owner(queue_token: str, user: str) -> None:
    with _lock:
        _owners[queue_token] = user


def owner_of(queue_token: str | None) -> str | None:
    with _lock:
        return _owners.get(queue_token or "")


def buyer_of(case) -> str:
    """Who a buyer call is for: the user it names, else its queue token's owner, else `fuzz`."""
    for source in (case.body, case.path_parameters):
        if isinstance(source, dict):
            named = source.get("userId")
            if isinstance(named, str) and ID.match(named):
                return named
    headers = case.headers or {}
    owner = owner_of(next((v for k, v in headers.items() if k.lower() == "queue-token"), None))
    return owner or DEFAULT_USER


def headers(user: str, queue_token: str | None = None) -> dict:
    """A buyer's headers: signed in as `user`, with the queue token when there is one."""
    out = {}
    access = access_for(user)
    if access:
        out["Authorization"] = f"Bearer {access}"
    if queue_token:
        out["Queue-Token"] = queue_token
    return out


# ---------------------------------------------------------------- forged access tokens


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json64(value: dict) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _rs256(pem: str):
    def sign(data: bytes) -> bytes:
        return subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(KEYS / pem)], input=data, capture_output=True, check=True
        ).stdout

    return sign


def _hs256(key: bytes):
    return lambda data: hmac.new(key, data, hashlib.sha256).digest()


def _jws(header: dict, claims: dict, sign=None) -> str:
    signing_input = f"{_json64(header)}.{_json64(claims)}"
    signature = _b64(sign(signing_input.encode())) if sign else ""
    return f"{signing_input}.{signature}"


def _issuer_facts() -> tuple[str, str]:
    """The issuer (`iss`) and the key's `kid`, as the server's discovery and JWKS say them."""
    with _lock:
        if _issuer:
            return _issuer["iss"], _issuer["kid"]
    _, discovery = _call("GET", "/.well-known/openid-configuration")
    _, jwks = _call("GET", "/.well-known/jwks.json")
    iss, kid = discovery["issuer"], jwks["keys"][0]["kid"]
    with _lock:
        _issuer.update(iss=iss, kid=kid)
    return iss, kid


def forged(user: str) -> list[tuple[str, list[str]]]:
    """Every refused kind of `Authorization` for `user`: (kind, the header's values), minted
    again after five minutes (the changed payload is a live token's)."""
    with _lock:
        held = _forged.get(user)
    if held is not None and time.monotonic() - held[0] < 300:
        return held[1]
    out = _mint(user)
    with _lock:
        _forged[user] = (time.monotonic(), out)
    return out


def _mint(user: str) -> list[tuple[str, list[str]]]:
    iss, kid = _issuer_facts()
    now = int(time.time())
    day = 86_400
    claims = {
        "sub": user,
        "iss": iss,
        "client_id": CLIENT_ID,
        "token_use": "access",
        "scope": SCOPE,
        "auth_time": now,
        "iat": now,
        "exp": now + 600,
        "jti": f"fuzz-{now}",
        "username": user,
    }
    rs = {"alg": "RS256", "kid": kid, "typ": "JWT"}
    dev, other = _rs256("dev.pem"), _rs256("other.pem")

    def but(**changes) -> dict:
        out = dict(claims, **changes)
        return {k: v for k, v in out.items() if v is not None}

    real = access_for(user) or ""
    head, _, rest = real.partition(".")
    _, _, signature = rest.partition(".")
    changed = f"{head}.{_json64(but(sub=OTHER_USER, username=OTHER_USER))}.{signature}"
    public_pem = (KEYS / "dev.pub.pem").read_bytes()
    tokens = [
        ("a payload changed after signing", changed),
        ("alg none", _jws({"alg": "none", "typ": "JWT"}, claims)),
        ("HS256 keyed with the public key", _jws({"alg": "HS256", "kid": kid, "typ": "JWT"}, claims, _hs256(public_pem))),
        ("another key, the same kid", _jws(rs, claims, other)),
        ("an unknown kid", _jws(dict(rs, kid="fuzz-unknown"), claims, dev)),
        ("expired", _jws(rs, but(iat=now - day, auth_time=now - day, exp=now - day + 600), dev)),
        ("not yet valid", _jws(rs, but(nbf=now + day), dev)),
        ("issued in the future", _jws(rs, but(iat=now + day), dev)),
        ("the wrong issuer", _jws(rs, but(iss="http://127.0.0.1:9"), dev)),
        ("the wrong audience", _jws(rs, but(client_id="someone-else"), dev)),
        ("an ID token", _jws(rs, but(token_use="id", aud=CLIENT_ID, client_id=None, scope=None), dev)),
        ("no sub", _jws(rs, but(sub=None), dev)),
        ("a sub that is not a userId", _jws(rs, but(sub="not a user!"), dev)),
        ("malformed", "not-a-jwt"),
    ]
    out = [(kind, [f"Bearer {token}"]) for kind, token in tokens]
    out.append(("missing", []))
    out.append(("another scheme", [f"Basic {real}"]))
    out.append(("the header twice", [f"Bearer {real}", f"Bearer {real}"]))
    return out


# ---------------------------------------------------------------- probes


def _send(method: str, url: str, headers: list[tuple[str, str]], body: bytes | None):
    """One request as given (a header may repeat): (status, headers by lower-case name, body)."""
    parts = urllib.parse.urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        if body:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        response = conn.getresponse()
        got = {}
        for name, value in response.getheaders():
            got.setdefault(name.lower(), []).append(value)
        return response.status, got, response.read()
    finally:
        conn.close()


def _gateway_401(status: int, got: dict, body: bytes) -> str | None:
    """Why an answer is not API Gateway's own 401, or None when it is."""
    if status != 401:
        return f"{status}, not the gateway's 401"
    if not any(v.startswith("application/json") for v in got.get("content-type", [])):
        return f"401 as {got.get('content-type')}, not application/json"
    try:
        if json.loads(body) != {"message": "Unauthorized"}:
            return f"401 with {body[:120]!r}"
    except ValueError:
        return f"401 with {body[:120]!r}"
    if not any(v.startswith("Bearer") for v in got.get("www-authenticate", [])):
        return "401 without a Bearer challenge"
    return None


def _forbidden(status: int, got: dict, body: bytes) -> str | None:
    """Why an answer is not 403 FORBIDDEN, or None when it is."""
    try:
        code = json.loads(body).get("code")
    except (ValueError, AttributeError):
        code = None
    if status != 403 or code != "FORBIDDEN":
        return f"{status} {code or body[:120]!r}, not 403 FORBIDDEN"
    return None


def _queue_token_invalid(status: int, got: dict, body: bytes) -> str | None:
    """Why an answer is not 401 TOKEN_INVALID (a problem), or None when it is."""
    try:
        code = json.loads(body).get("code")
    except (ValueError, AttributeError):
        code = None
    if status != 401 or code != "TOKEN_INVALID":
        return f"{status} {code or body[:120]!r}, not 401 TOKEN_INVALID"
    return None


def _claim(operation: str, kind: str) -> bool:
    with _lock:
        n = _probes.get((operation, kind), 0)
        if n >= PROBES_PER_KIND:
            return False
        _probes[(operation, kind)] = n + 1
        return True


def _log(operation: str, kind: str, status: int) -> None:
    if LOG:
        with _lock, open(LOG, "a") as f:
            f.write(f"{operation}\t{kind}\t{status}\n")


def probe(operation: str, request, waiting: list[str], takes_queue_token: bool) -> list[str]:
    """Sends a successful signed-in buyer call (`request`, as sent) again with credentials that
    must not work; what was answered wrongly, in words (empty when all was right). The queue
    token's probes only where the operation takes one (`takes_queue_token`): a route without
    it reads no `Queue-Token` header, whatever it holds."""
    dropped = ("authorization", "host", "content-length") + (() if takes_queue_token else ("queue-token",))
    kept = [(k, v) for k, v in request.headers.items() if k.lower() not in dropped]
    buyer = user_of(request.headers.get("Authorization"))
    with _lock:
        done = sum(n for (op, _), n in _probes.items() if op == operation) >= KINDS * PROBES_PER_KIND
    if buyer is None or done:
        return []
    body = request.body.encode() if isinstance(request.body, str) else request.body
    queue_token = request.headers.get("Queue-Token") if takes_queue_token else None
    try:
        names_a_user = "userId" in json.loads(body or b"{}") or "/users/" in request.path_url
    except ValueError:
        names_a_user = False
    failures = []

    def check(kind: str, sent: list[tuple[str, str]], verdict) -> None:
        if not _claim(operation, kind):
            return
        status, got, answer = _send(request.method, request.url, sent, body)
        _log(operation, kind, status)
        why = verdict(status, got, answer)
        if why:
            failures.append(f"{kind}: {why}")

    def signed(*authorization: str) -> list[tuple[str, str]]:
        return kept + [("Authorization", a) for a in authorization]

    for kind, authorization in forged(buyer):
        check(kind, signed(*authorization), _gateway_401)
    # Another signed-in user, on a call that names a user or carries a queue token (without
    # either, POST /queue/tokens is simply that user's own call).
    other = access_for(OTHER_USER)
    if other and (names_a_user or queue_token):
        check("another user's access token", signed(f"Bearer {other}"), _forbidden)
    # The buyer's own access token with another user's queue token.
    theirs = next((t for t in waiting if owner_of(t) not in (None, buyer)), None)
    own = [(k, v) for k, v in signed(request.headers["Authorization"]) if k.lower() != "queue-token"]
    if queue_token and theirs:
        check("another user's queue token", own + [("Queue-Token", theirs)], _forbidden)
    # The buyer's own access token with a queue token that is not one: refused before any store.
    if queue_token:
        # One character of the MAC changed, not its last (whose low bits base64url ignores).
        at = len(queue_token) - 5
        forged_token = queue_token[:at] + ("A" if queue_token[at] != "A" else "B") + queue_token[at + 1 :]
        check("a forged queue token", own + [("Queue-Token", forged_token)], _queue_token_invalid)
        twice = [("Queue-Token", queue_token), ("Queue-Token", queue_token)]
        check("the queue token twice", own + twice, _queue_token_invalid)
    return failures
