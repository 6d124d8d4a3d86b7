"""Schemathesis hooks for `make fuzz` (local/fuzz.sh): how the fuzzer signs in and gets past
the token guard and into the flows, so it reaches more than 401/403/404.

- Signed in: every buyer call carries the access token of the user it is for (the `userId` it
  names, else its queue token's owner, else `fuzz`), from the local issuer's sign-in, renewed
  before it expires; and the identity boundary is fuzzed: a call that succeeded is sent again
  with missing, forged and other users' credentials, which must all be refused (the
  `identity_boundary` check below; local/fuzz_identity.py).
- Queue token: the queue token of the user `fuzz` for the demo concert, fetched from
  POST /queue/tokens (`fuzz` is the demo concert's only user, so it is ACTIVE at once), sent as
  `Queue-Token`. A payment spends the token (so does any TOKEN_EXPIRED answer show it ended):
  a case that still carries it when it is sent gets the new one instead (`before_call`), as
  schemathesis's own refresh after a 401 does not reach every phase's cached cases.
- Operator auth: the /admin routes get `Authorization: Bearer $ADMIN_TOKEN` (the fixed token
  local/fuzz.sh gives the server) instead, except one call in ten, which gets no header, a
  wrong token, a queue token, a buyer's access token or another scheme, and must be 401
  ADMIN_UNAUTHORIZED. Which calls is a hash of the generated values, so a replay of the call is
  refused the same way. (schemathesis's ignored_auth check also sends each operation, buyer's
  or operator's, without credentials and with made-up ones once it has seen it succeed.)
- Data: two positive cases in three get the IDs that exist (user `fuzz`, concert `demo`, one of
  its dates, seats 1 to 50, a reservation `fuzz` holds), so holds, charges, payments and
  reservation reads succeed; the rest keep what was generated and exercise the refusals.
  POST /queue/tokens gets the concert `fuzz-line` instead and a user of its own (the generated
  ID with a number appended), so new tokens are issued, ACTIVE until the concert's active
  slots (QUEUE_ACTIVE_LIMIT) are full and WAITING after; every fifth call then presents such a
  WAITING token instead of the `fuzz` one.
  Reservations come from the run's own successful holds, and from a few holds this module
  takes itself when it has none yet (payments may be fuzzed before holds are).
  The admin routes get the concert `fuzz-admin` (no holds, so any catalog may replace its
  own) or, one steered case in five, `fuzz-locked` (a date of it has had a hold, so most
  PUTs are 409 CATALOG_LOCKED); a steered PUT body also has its sections renumbered to cover
  seats 1 to N once each, its dates and section names made distinct and a past `opensAt`
  left out, so catalogs get stored rather than refused. The admin routes never touch `demo`
  or `fuzz-line`, whatever a case carries (a generated ID, or one the stateful phase took
  from an answer): the run depends on their lines and seats.
  Only values that were valid already are replaced, and only in positive cases, so a
  generated violation is never repaired. Which cases are steered is a hash of the generated
  values, not a random draw; what a value becomes (a reservation held, a user's number) depends
  on what the run did before, as the server's answers do anyway.
"""

import datetime
import itertools
import json
import os
import re
import sys
import threading
import urllib.error
import urllib.request
import zlib
from collections.abc import MutableMapping

import schemathesis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzz_identity as identity  # noqa: E402  (beside this file, which schemathesis loads by path)

BASE = os.environ.get("FUZZ_BASE_URL", "http://127.0.0.1:3400")
USER = os.environ.get("FUZZ_USER", "fuzz")
CONCERT = os.environ.get("FUZZ_CONCERT", "demo")
# Where generated users take their place in line, away from `fuzz`'s own concert.
LINE_CONCERT = os.environ.get("FUZZ_LINE_CONCERT", "fuzz-line")
SEATS = 50
# The operator's token the fuzz server was started with (local/fuzz.sh), and the concerts the
# admin routes are steered to: one that any catalog may replace, and one with a locked date.
ADMIN_TOKEN = os.environ.get("ADMIN_TOKEN", "")
ADMIN_CONCERT = os.environ.get("FUZZ_ADMIN_CONCERT", "fuzz-admin")
LOCKED_CONCERT = os.environ.get("FUZZ_LOCKED_CONCERT", "fuzz-locked")
PROTECTED = {CONCERT, LINE_CONCERT}
MAX_SEATS = 2000

ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
UUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")

# Reservations the run held as `fuzz`, for the reads and payments to find.
_held: list[str] = []
_held_lock = threading.Lock()
_next_seat = 0  # where _hold_some looks for a free seat next
# WAITING tokens the run was issued on LINE_CONCERT.
_waiting: list[str] = []
_users = itertools.count(1)  # numbers the users who line up
_calls = itertools.count(1)  # numbers the calls, to send every fifth with a WAITING token
# `fuzz`'s current queue token, and the tokens the run saw end (spent by a payment, expired).
_live: list[str] = []
_ended: set[str] = set()


def _demo_dates() -> list[str]:
    # The demo concert plays today and the next two days (UTC), as `devserver serve` seeds it.
    today = datetime.datetime.now(datetime.timezone.utc).date()
    return [(today + datetime.timedelta(days=d)).isoformat() for d in range(3)]


def _post(path: str, body: dict, token: str | None = None, user: str = USER) -> tuple[int, dict]:
    """POST as `user`, signed in, with the queue token when there is one."""
    headers = {"Content-Type": "application/json", **identity.headers(user, token)}
    request = urllib.request.Request(
        f"{BASE}{path}", data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def _token() -> str:
    status, view = _post("/queue/tokens", {"concertId": CONCERT})
    if status not in (200, 201) or view.get("status") != "ACTIVE":
        raise RuntimeError(f"the fuzz token is not ACTIVE: {status} {view}")
    identity.learn_owner(view["token"], view["userId"])
    return view["token"]


def _fuzz_token() -> str:
    """`fuzz`'s live queue token: the one held, or a new one once it has ended."""
    with _held_lock:
        if _live and _live[0] not in _ended:
            return _live[0]
    token = _token()
    with _held_lock:
        _live[:] = [token]
    return token


def _hold_some(wanted: int = 5, tries: int = 30) -> None:
    """Holds up to `wanted` free seats as `fuzz`; the caller holds `_held_lock`."""
    global _next_seat
    token = _token()
    dates = _demo_dates()
    for _ in range(tries):
        if wanted == 0:
            return
        n = _next_seat % (SEATS * len(dates))
        _next_seat += 1
        body = {"userId": USER, "concertId": CONCERT, "date": dates[n // SEATS], "seatNo": 1 + n % SEATS}
        status, view = _post("/reservations", body, token)
        if status == 201:
            _held.append(view["reservationId"])
            wanted -= 1


def _pick(value: object) -> int:
    return zlib.crc32(json.dumps(value, sort_keys=True, default=str).encode())


def _valid_date(value: object) -> bool:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return False
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is(case, method: str, path: str) -> bool:
    return case.operation.method.upper() == method and case.operation.path == path


def _is_admin(case) -> bool:
    return case.operation.path.startswith("/admin/")


def _in_future(value: str) -> bool | None:
    """Whether an RFC 3339 date-time is after now; None when Python cannot read it."""
    try:
        at = datetime.datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return None
    if at.tzinfo is None:
        return None
    return at > datetime.datetime.now(datetime.timezone.utc)


def _catalog(body: dict) -> dict:
    """A generated (valid) PUT body made into a catalog the server stores: each date once, its
    sections renumbered in the order given to cover seats 1 to N, each of its generated size
    (those past seat 2,000 dropped), their names distinct; a past `opensAt` left out."""
    body = dict(body)
    opens = body.get("opensAt")
    if isinstance(opens, str) and _in_future(opens) is False:
        del body["opensAt"]
    dates = body.get("dates")
    if not isinstance(dates, list):
        return body
    seen: set[str] = set()
    out = []
    for entry in dates:
        if not isinstance(entry, dict) or not isinstance(entry.get("sections"), list):
            out.append(entry)
            continue
        if entry.get("date") in seen:
            continue
        seen.add(entry.get("date"))
        sections, names, next_seat = [], set(), 1
        for i, section in enumerate(entry["sections"]):
            if not isinstance(section, dict) or next_seat > MAX_SEATS:
                break
            low, high = section.get("fromSeat"), section.get("toSeat")
            if type(low) is not int or type(high) is not int:
                sections.append(section)
                continue
            size = min(abs(high - low) + 1, MAX_SEATS + 1 - next_seat)
            section = dict(section, fromSeat=next_seat, toSeat=next_seat + size - 1)
            next_seat += size
            name = section.get("name")
            if isinstance(name, str) and name in names:
                section["name"] = f"{name[:90]}-{i}"
            names.add(section.get("name"))
            sections.append(section)
        out.append(dict(entry, sections=sections))
    body["dates"] = out
    return body


def _steer(name: str, value: object, seed: int, issuing: bool) -> object:
    """The existing counterpart of a valid generated value; anything else is left as it is."""
    if name == "userId" and isinstance(value, str) and ID.match(value):
        return f"{value[:48]}-{next(_users)}" if issuing else USER
    if name == "concertId" and isinstance(value, str) and ID.match(value):
        return LINE_CONCERT if issuing else CONCERT
    if name == "date" and _valid_date(value):
        dates = _demo_dates()
        return dates[seed % len(dates)]
    if name == "seatNo" and type(value) is int and 1 <= value <= 9999:
        return 1 + value % SEATS
    if name == "reservationId" and isinstance(value, str) and UUID.match(value):
        with _held_lock:
            if not _held:
                _hold_some()
            if _held:
                return _held[seed % len(_held)]
    return value


@schemathesis.auth(refresh_interval=None).apply_to(path_regex="^/admin/")
class OperatorToken:
    """The operator's token on the admin routes; one call in ten gets bad credentials."""

    def get(self, case, context):
        if not ADMIN_TOKEN:
            raise RuntimeError("ADMIN_TOKEN is not set: local/fuzz.sh gives the server one")
        return ADMIN_TOKEN

    def set(self, case, data, context):
        case.headers = dict(case.headers or {})
        seed = _pick([case.operation.method, case.operation.path, case.path_parameters, case.body])
        if seed % 10 != 7:
            case.headers["Authorization"] = f"Bearer {data}"
            return
        kind = (seed // 10) % 5
        if kind == 0:
            case.headers.pop("Authorization", None)
        elif kind == 1:
            case.headers["Authorization"] = f"Bearer {data[:-1]}{'A' if data[-1] != 'A' else 'B'}"
        elif kind == 2:
            case.headers["Authorization"] = f"Bearer {_queue_token()}"
        elif kind == 3:
            case.headers["Authorization"] = f"Bearer {identity.access_for(USER)}"
        else:
            case.headers["Authorization"] = f"Basic {data}"


_some_queue_token: list[str] = []


def _queue_token() -> str:
    """A queue token of `fuzz` (fetched once): never an operator's credential."""
    with _held_lock:
        if not _some_queue_token:
            _some_queue_token.append(_token())
        return _some_queue_token[0]


def _issuing(case) -> bool:
    return _is(case, "POST", "/queue/tokens")


@schemathesis.auth(refresh_interval=120).skip_for(path_regex="^/admin/")
class BuyerTokens:
    """The queue token (`fuzz`'s, or every fifth call a WAITING one) and the access token of
    whom the call is for; `before_call` signs the call in again once the case is final."""

    def get(self, case, context):
        return _fuzz_token()

    def set(self, case, data, context):
        with _held_lock:
            n = next(_calls)
            if _waiting and n % 5 == 0:
                data = _waiting[n % len(_waiting)]
        case.headers = dict(case.headers or {})
        if not _issuing(case):
            case.headers["Queue-Token"] = data
        case.headers["Authorization"] = f"Bearer {identity.access_for(identity.buyer_of(case))}"


def _negated(case) -> set[str]:
    """The parameters (lower-case names) a negative case mutated on purpose."""
    from schemathesis.generation.meta import negated_parameters

    return {name.lower() for name, _ in negated_parameters(case._meta)}


def _sign_in(case) -> None:
    """A buyer call goes signed in as whom it is for, as the case finally is (the steering and
    the stateful phase change its userId after the auth was set). An `Authorization` that a
    negative case mutated is left as it is; any other (the one the auth set, or a value
    schemathesis generated for the scheme while it mutated the queue token) is replaced, so a
    mutated queue token reaches the function and its own 401s."""
    if _is_admin(case):
        return
    headers = case.headers if isinstance(case.headers, MutableMapping) else None
    if headers is None or "authorization" in _negated(case):
        return
    for k in [k for k in headers if k.lower() == "authorization"]:
        del headers[k]
    access = identity.access_for(identity.buyer_of(case))
    if access:
        headers["Authorization"] = f"Bearer {access}"


def _admin_case(case, seed: int):
    """Steers an admin operation's positive case: its concert, and a PUT's catalog."""
    concert = (case.path_parameters or {}).get("concertId")
    if isinstance(concert, str) and ID.match(concert):
        target = LOCKED_CONCERT if seed % 5 == 0 else ADMIN_CONCERT
        case.path_parameters = dict(case.path_parameters, concertId=target)
    if _is(case, "PUT", "/admin/concerts/{concertId}") and isinstance(case.body, dict):
        case.body = _catalog(case.body)
    return case


def _keep_off_protected(case) -> None:
    """The admin routes never change or read the concerts the rest of the run depends on."""
    params = case.path_parameters or {}
    if _is_admin(case) and params.get("concertId") in PROTECTED:
        case.path_parameters = dict(params, concertId=ADMIN_CONCERT)


@schemathesis.hook
def map_case(context, case):
    _keep_off_protected(case)
    meta = case.meta
    if meta is not None and meta.generation.mode.is_negative:
        return case
    seed = _pick([case.path_parameters, case.body if isinstance(case.body, dict) else None])
    if seed % 3 == 0:
        return case
    if _is_admin(case):
        return _admin_case(case, seed)
    issuing = _is(case, "POST", "/queue/tokens")
    if case.path_parameters:
        case.path_parameters = {k: _steer(k, v, seed, issuing) for k, v in case.path_parameters.items()}
    if isinstance(case.body, dict):
        case.body = {k: _steer(k, v, seed, issuing) for k, v in case.body.items()}
    return case


def _renew_queue_token(case) -> None:
    """A case generated before `fuzz`'s token ended goes with its new one (a negative case's
    mutated token, and other users' tokens, are left as they are)."""
    headers = case.headers if isinstance(case.headers, MutableMapping) else None
    if headers is None or _is_admin(case) or "queue-token" in _negated(case):
        return
    for name, value in list(headers.items()):
        if name.lower() != "queue-token" or not isinstance(value, str):
            continue
        with _held_lock:
            ended = value in _ended
        if ended and identity.owner_of(value) == USER:
            headers[name] = _fuzz_token()


# HTTP's own framing: the client library writes these, and a made-up value makes a request
# that no HTTP parser takes (the server's, API Gateway's), answered as the spec says outside
# the functions, not by the API.
FRAMING = {"content-length", "transfer-encoding", "host", "connection"}


def _drop_framing(case) -> None:
    headers = case.headers if isinstance(case.headers, MutableMapping) else None
    for name in [k for k in (headers or {}) if k.lower() in FRAMING]:
        del headers[name]


@schemathesis.hook
def before_call(context, case, **kwargs):
    # Again here: the stateful phase fills path parameters from earlier answers after map_case.
    _keep_off_protected(case)
    _drop_framing(case)
    _renew_queue_token(case)
    _sign_in(case)


def _schemes(case) -> set[str]:
    """The security schemes the operation requires, from openapi.yaml: its own `security`, else
    the document's."""
    security = case.operation.definition.raw.get("security")
    if security is None:
        security = case.operation.schema.raw_schema.get("security", [])
    return {name for requirement in security for name in requirement}


@schemathesis.check
def identity_boundary(ctx, response, case):
    """A buyer call that succeeded signed in is refused with missing, forged and other users'
    credentials: the gateway's 401, or 403 FORBIDDEN (local/fuzz_identity.py)."""
    schemes = _schemes(case)
    # Public routes (`security: []`) and the operator's take no buyer's credentials at all.
    if "accessToken" not in schemes or not 200 <= response.status_code < 300:
        return None
    with _held_lock:
        waiting = list(_waiting)
    failures = identity.probe(case.operation.label, response.request, waiting, "queueToken" in schemes)
    if failures:
        raise AssertionError(
            f"{case.operation.label} answered credentials that must not work wrongly: " + "; ".join(failures)
        )
    return None


@schemathesis.hook
def after_call(context, case, response):
    sent = response.request.headers.get("Queue-Token")
    if sent and (
        (response.status_code == 201 and _is(case, "POST", "/payments"))
        or (response.status_code == 401 and b"TOKEN_EXPIRED" in (response.content or b""))
    ):
        # Spent by the payment, or found ended: no case sends it again.
        with _held_lock:
            _ended.add(sent)
            if sent in _waiting:
                _waiting.remove(sent)
    if response.status_code not in (200, 201):
        return
    try:
        view = json.loads(response.content)
    except ValueError:
        return
    if not isinstance(view, dict):
        return
    with _held_lock:
        if _is(case, "POST", "/reservations") and "reservationId" in view:
            _held.append(view["reservationId"])
            del _held[:-50]
        if _issuing(case) and "token" in view and "userId" in view:
            identity.learn_owner(view["token"], view["userId"])
        if _issuing(case) and view.get("status") == "WAITING":
            _waiting.append(view["token"])
            del _waiting[:-50]
