#!/usr/bin/env bash
# `make smoke`: the Lambda binaries themselves, each polling the Lambda Runtime API that
# `cargo lambda watch --only-lambda-apis` emulates, invoked with the events AWS would send them,
# against a stack of its own (DynamoDB Local on 8300, Redis on 6382, the emulator on 9300, all
# in memory; SMOKE_DDB_PORT, SMOKE_REDIS_PORT, SMOKE_INVOKE_PORT move them):
#
#   issue_token -> queue_status -> list_dates -> list_seats -> reserve_seat -> get_reservation
#   -> charge_balance -> get_balance -> pay            API Gateway v2 (HTTP API, payload 2.0),
#                                                      JWT authorizer's claims; without: 401
#   -> list_reservations -> get_tickets -> get_ticket_keys -> admin_check_in (twice), and the
#   code checked offline by local/verify-ticket.mjs (Node) with the JWKS get_ticket_keys gave
#   release_hold                                       a DynamoDB stream REMOVE by TTL
#   sweep_holds                                        an EventBridge scheduled event
#   admin_put_concert -> admin_patch_queue -> admin_get_concert   API Gateway v2, IAM caller
#
# The events are local/fixtures/<fn>.json (shaped on the fixtures in aws_lambda_events),
# rendered with this run's tokens and IDs. A buyer's event is what API Gateway sends once its JWT
# authorizer has passed the access token (example-apigw-v2-request-jwt-authorizer.json): the
# verified claims of a Cognito access token in requestContext.authorizer.jwt (`sub` = the run's
# user, every claim a string, as the gateway passes them) and its scopes, and the queue token in
# a `queue-token` header. (The gateway passes the Authorization header on as well; the functions
# never read it, so the events leave it out.) User A is named as Cognito names a user, by a UUID
# `sub`. Without claims (`claims=none`), a buyer's function answers the gateway's 401 itself.
# Every answer is checked; a results table ends the run. The binaries are those of the debug
# build the other checks share (local/debug-build.sh), started here with the environment Lambda
# gives a function, rather than by watch's own `cargo run --bin FN`: cargo would pick each
# function's dependency features apart and compile the AWS SDK again for each set. Everything it
# started (watch, the functions; `stack with` the stores) is stopped, by PID.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The one debug build's settings (local/cargo-env.sh), so no cargo below builds it again.
source local/cargo-env.sh
ROOT="$PWD"
source local/build.sh # lambda_tools, lambda_functions

INVOKE_PORT="${SMOKE_INVOKE_PORT:-9300}"
WORK="$ROOT/local/.run/smoke"
export RUST_LOG="${RUST_LOG:-info}"

# `smoke.sh --install`: cargo-lambda where missing, nothing else.
if [[ "${1:-}" == --install ]]; then
  lambda_tools --emulator
  exit
fi

# Outside its stack: install and build, then run this script again inside `stack with`, which
# starts the stores (their own, whatever the caller's environment points at) and stops them by
# PID whatever happens.
if [[ -z "${LOCAL_STACK:-}" ]]; then
  for tool in jq curl python3; do
    command -v "$tool" >/dev/null || { echo "smoke: $tool is required" >&2; exit 1; }
  done
  cargo run -q -p stack -- deps
  lambda_tools --emulator
  bash local/debug-build.sh
  exec cargo run -q -p stack -- with smoke "${SMOKE_DDB_PORT:-8300}" "${SMOKE_REDIS_PORT:-6382}" \
    --in-memory --table concert-booking-smoke -- bash "$0" "$@"
fi
lambda_tools --emulator

say() { echo "smoke: $*" >&2; }

# ---------------------------------------------------------------- results

ROWS=()
row() { ROWS+=("$(printf '%-3s %-16s %-34s %-6s %6s  %s' "$@")"); }
table() {
  ((${#ROWS[@]})) || return 0
  echo
  printf '%-3s %-16s %-34s %-6s %6s  %s\n' "#" function step result ms "checked"
  printf '%s\n' "${ROWS[@]}"
  echo
}

WATCH_PID=""
FUNCTIONS_PID=""
# Stops a process group this script started (with setsid, so the group is exactly that):
# TERM, then KILL after 5 s.
stop_group() { # PGID WHAT
  kill -TERM -- "-$1" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 -- "-$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$1" 2>/dev/null || true
  say "$2 stopped (process group $1)"
}
cleanup() {
  local rc=$?
  table
  [[ -z "$FUNCTIONS_PID" ]] || stop_group "$FUNCTIONS_PID" "the functions"
  [[ -z "$WATCH_PID" ]] || stop_group "$WATCH_PID" "cargo lambda watch"
  if ((rc != 0)); then
    say "FAILED (logs: local/.run/smoke/watch.log, events and answers: local/.run/smoke/)"
  fi
  exit "$rc"
}

# ---------------------------------------------------------------- helpers

# Renders a fixture: every {{name}} in its strings (including inside an HTTP body) becomes the
# value given as name=value; content-length and timeEpoch are filled in from the result; the
# claims' times (iat, exp: a token signed now, for 10 minutes) and IDs are the render's own.
# claims=none renders the event without the authorizer's claims (a request no JWT authorizer
# passed).
render() { # TEMPLATE OUT NAME=VALUE...
  python3 - "$@" <<'PY'
import json, re, sys, time, uuid
from datetime import datetime, timezone
template, out, *pairs = sys.argv[1:]
now = datetime.now(timezone.utc)
values = {
    "requestId": str(uuid.uuid4()),
    "eventId": uuid.uuid4().hex,
    "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
    "isoTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    "contentLength": "0",
    "iat": str(int(time.time())),
    "exp": str(int(time.time()) + 600),
    "jti": str(uuid.uuid4()),
    "originJti": str(uuid.uuid4()),
}
values.update(p.split("=", 1) for p in pairs)
no_claims = values.pop("claims", None) == "none"
def walk(x):
    if isinstance(x, str):
        return re.sub(r"\{\{(\w+)\}\}", lambda m: values.get(m.group(1), m.group(0)), x)
    if isinstance(x, list):
        return [walk(v) for v in x]
    if isinstance(x, dict):
        return {k: walk(v) for k, v in x.items()}
    return x
with open(template) as f:
    event = json.load(f)
if no_claims:
    event.get("requestContext", {}).pop("authorizer", None)
    event.get("headers", {}).pop("queue-token", None)
event = walk(event)
if isinstance(event.get("body"), str) and "content-length" in event.get("headers", {}):
    event["headers"]["content-length"] = str(len(event["body"].encode()))
if "timeEpoch" in event.get("requestContext", {}):
    event["requestContext"]["timeEpoch"] = int(time.time() * 1000)
left = sorted(set(re.findall(r"\{\{(\w+)\}\}", json.dumps(event))))
if left:
    sys.exit(f"{template}: no value for {', '.join(left)}")
with open(out, "w") as f:
    json.dump(event, f, indent=2)
PY
}

# Invokes FN with its fixture (local/fixtures/FN.json, or $FIXTURE.json) rendered from
# NAME=VALUE pairs; the answer lands in
# $WORK/STEP.answer.json, and ANSWER, STATUS, BODY and MS are set for the checks.
N=0
invoke() { # STEP FN NAME=VALUE...
  local step=$1 fn=$2 t0
  shift 2
  N=$((N + 1))
  STEP="$step" FN="$fn"
  render "local/fixtures/${FIXTURE:-$fn}.json" "$WORK/$N-$step.event.json" "$@"
  t0=$(date +%s%N)
  if ! cargo lambda invoke "$fn" -A 127.0.0.1 -P "$INVOKE_PORT" -o json \
    --data-file "$WORK/$N-$step.event.json" >"$WORK/$N-$step.answer.json" 2>"$WORK/$N-$step.err"; then
    MS=$((($(date +%s%N) - t0) / 1000000))
    row "$N" "$fn" "$step" FAIL "$MS" "invoke failed: $(tr '\n' ' ' <"$WORK/$N-$step.err" | cut -c1-160)"
    tail -n 20 "$WORK/watch.log" >&2 || true
    tail -n 40 "$WORK/$fn.log" >&2 || true
    exit 1
  fi
  MS=$((($(date +%s%N) - t0) / 1000000))
  ANSWER="$(cat "$WORK/$N-$step.answer.json")"
  STATUS="$(jq -r '.statusCode // empty' <<<"$ANSWER")"
  BODY="$(jq -r 'if has("body") then .body else empty end' <<<"$ANSWER")"
}

# Records the step as passed if the jq filter holds on $DOC (the HTTP body, or the whole
# answer of an event function); else records the failure and stops.
expect() { # WHAT JQ_FILTER [DOC]
  local what=$1 filter=$2 doc=${3-$BODY}
  if jq -e "$filter" >/dev/null 2>&1 <<<"$doc"; then
    row "$N" "$FN" "$STEP" ok "$MS" "$what"
  else
    row "$N" "$FN" "$STEP" FAIL "$MS" "$what; got: $(tr '\n' ' ' <<<"${STATUS:+$STATUS }$doc" | cut -c1-160)"
    exit 1
  fi
}

# An HTTP answer: the status, then a jq filter on its JSON body.
expect_http() { # STATUS WHAT JQ_FILTER
  if [[ "$STATUS" != "$1" ]]; then
    row "$N" "$FN" "$STEP" FAIL "$MS" "want $1, got ${STATUS:-no statusCode}: $(cut -c1-160 <<<"${BODY:-$ANSWER}")"
    exit 1
  fi
  expect "$1, $2" "$3"
}

# The gateway's own 401: {"message":"Unauthorized"} as application/json, a Bearer challenge.
expect_gateway_401() { # WHAT
  expect_http 401 "$1" '. == {"message":"Unauthorized"}'
  expect "$1: WWW-Authenticate: Bearer, application/json" \
    '(.headers | with_entries(.key |= ascii_downcase)) as $h | $h["www-authenticate"] == "Bearer" and ($h["content-type"] | startswith("application/json"))' "$ANSWER"
}

# One DynamoDB API call to the local store, signed with the dummy credentials (curl signs).
ddb() { # OPERATION JSON
  curl -sS --fail-with-body --max-time 10 \
    --aws-sigv4 "aws:amz:$AWS_REGION:dynamodb" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H "X-Amz-Target: DynamoDB_20120810.$1" -H "Content-Type: application/x-amz-json-1.0" \
    --data "$2" "$AWS_ENDPOINT_URL_DYNAMODB"
}
# Keys as shared/src/store/items.rs writes them.
marker_key() { jq -cn --arg pk "SEATS#$CONCERT#$1" --arg sk "$(printf 'SEAT#%04d#HOLD' "$2")" '{PK:{S:$pk},SK:{S:$sk}}'; }
reservation_key() { jq -cn --arg pk "RESERVATION#$1" '{PK:{S:$pk},SK:{S:"RESERVATION"}}'; }
get_item() { # TABLE KEY_JSON -> the item in DynamoDB JSON, or {} when there is none
  ddb GetItem "$(jq -cn --arg t "$1" --argjson k "$2" '{TableName:$t,Key:$k,ConsistentRead:true}')" | jq -c '.Item // {}'
}
# Moves a hold's end (marker and reservation) a minute into the past, as if its five minutes
# were over; TTL has not deleted the marker yet. Only `expiresAt` moves, which is what the
# release and the sweep read: DynamoDB Local runs a TTL deleter of its own on the marker's
# table, and a `ttl` in the past let it delete the marker before the script read it (seen
# in CI). The release event's `ttl` is worked out from `expiresAt` instead.
backdate_hold() { # RESERVATION_ID SEAT_NO
  local ms=$(($(date +%s%3N) - 60000))
  ddb UpdateItem "$(jq -cn --arg t "$TABLE_NAME" --argjson k "$(marker_key "$DATE" "$2")" \
    --arg rid "$1" --arg ms "$ms" \
    '{TableName:$t,Key:$k,UpdateExpression:"SET expiresAt = :ms",
      ConditionExpression:"reservationId = :rid",
      ExpressionAttributeValues:{":ms":{N:$ms},":rid":{S:$rid}}}')" >/dev/null
  ddb UpdateItem "$(jq -cn --arg t "$RESERVATIONS_TABLE_NAME" --argjson k "$(reservation_key "$1")" \
    --arg ms "$ms" '{TableName:$t,Key:$k,UpdateExpression:"SET expiresAt = :ms",
      ExpressionAttributeValues:{":ms":{N:$ms}}}')" >/dev/null
}
uuid() { cat /proc/sys/kernel/random/uuid; }

# ---------------------------------------------------------------- setup

rm -rf "$WORK"
mkdir -p "$WORK"

trap cleanup EXIT
trap 'exit 130' INT TERM

CONCERT="smoke-$(date +%s)"
DATE="$(date -u +%F)"
TARGET="${CARGO_TARGET_DIR:-target}/debug"
"$TARGET/devserver" create-tables >&2
"$TARGET/devserver" seed --concert-id "$CONCERT" --dates "$DATE,$(date -u -d tomorrow +%F)" \
  --seats 5 --price 50000 >&2

port_free() { ! timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
port_free "$INVOKE_PORT" || { say "port $INVOKE_PORT is taken (SMOKE_INVOKE_PORT picks another)"; exit 1; }
# Its own session and process group, so cleanup stops exactly what it started.
# --only-lambda-apis: the emulator alone; the functions are started below.
setsid sh -c 'echo $$ >"$0"; exec "$@"' "$WORK/watch.pid" \
  cargo lambda watch --only-lambda-apis -A 127.0.0.1 -P "$INVOKE_PORT" --timeout 120 \
  </dev/null >"$WORK/watch.log" 2>&1 &
for _ in $(seq 50); do [[ -s "$WORK/watch.pid" ]] && break; sleep 0.1; done
WATCH_PID="$(cat "$WORK/watch.pid")"
for i in $(seq 600); do
  port_free "$INVOKE_PORT" || break
  kill -0 "$WATCH_PID" 2>/dev/null || { tail -n 40 "$WORK/watch.log" >&2; say "cargo lambda watch exited"; exit 1; }
  ((i < 600)) || { say "cargo lambda watch did not listen on $INVOKE_PORT within 60s"; exit 1; }
  sleep 0.1
done
say "cargo lambda watch on 127.0.0.1:$INVOKE_PORT (pid $WATCH_PID); concert $CONCERT, date $DATE"

# Every function, in one process group of its own, each polling the emulator's Runtime API
# under its name with the environment watch (and Lambda) gives a function; logs in
# $WORK/FN.log.
INVOKE_PORT="$INVOKE_PORT" WORK="$WORK" TARGET="$TARGET" AWS_LAMBDA_FUNCTION_VERSION=1 \
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE=4096 setsid bash -c '
  echo $$ >"$0"
  for fn in "$@"; do
    AWS_LAMBDA_FUNCTION_NAME="$fn" AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$INVOKE_PORT/.rt/$fn" \
      "$TARGET/$fn" </dev/null >"$WORK/$fn.log" 2>&1 &
  done
  wait' "$WORK/functions.pid" $(lambda_functions) </dev/null >/dev/null 2>&1 &
for _ in $(seq 50); do [[ -s "$WORK/functions.pid" ]] && break; sleep 0.1; done
FUNCTIONS_PID="$(cat "$WORK/functions.pid")"
say "$(lambda_functions | wc -l) functions from $TARGET polling it (process group $FUNCTIONS_PID)"

# ---------------------------------------------------------------- the flow

# A is named as Cognito names its users: `sub` is a UUID (36 of [0-9a-f-], a valid userId).
USER_A="$(uuid)"
USER_B="smoke-b-$RANDOM"

# Without the authorizer's claims, the function refuses as the gateway would: nobody is signed in.
invoke issue-token-unsigned issue_token claims=none userId="$USER_A" concertId="$CONCERT"
expect_gateway_401 "no claims: the gateway's 401"
# The buyer is the claims' sub, never the body's userId.
invoke issue-token-for-another issue_token sub="$USER_B" userId="$USER_A" concertId="$CONCERT"
expect_http 403 "B signed in, naming A: FORBIDDEN" '.code == "FORBIDDEN"'

invoke issue-token issue_token sub="$USER_A" userId="$USER_A" concertId="$CONCERT"
expect_http 201 "a new ACTIVE token" '.status == "ACTIVE" and (.token | length) > 0 and (.token | length) <= 128 and .pollAfterSeconds == null'
TOKEN_A="$(jq -r .token <<<"$BODY")"

invoke queue-status queue_status sub="$USER_A" token="$TOKEN_A"
expect_http 200 "ACTIVE, same token" ".status == \"ACTIVE\" and .token == \"$TOKEN_A\" and .userId == \"$USER_A\""

invoke list-dates list_dates sub="$USER_A" token="$TOKEN_A" concertId="$CONCERT"
expect_http 200 "2 dates, 5 seats free on $DATE" \
  ".dates | length == 2 and (.[0].date == \"$DATE\" and .[0].availableSeats == 5)"

invoke list-seats list_seats sub="$USER_A" token="$TOKEN_A" concertId="$CONCERT" date="$DATE"
expect_http 200 "5 seats, all AVAILABLE" '.seats | length == 5 and all(.status == "AVAILABLE")'

invoke reserve-seat-1 reserve_seat sub="$USER_A" token="$TOKEN_A" userId="$USER_A" concertId="$CONCERT" \
  date="$DATE" seatNo=1
expect_http 201 "seat 1 HELD at 50000" '.status == "HELD" and .seatNo == 1 and .price == 50000'
RES_1="$(jq -r .reservationId <<<"$BODY")"

invoke get-reservation get_reservation sub="$USER_A" token="$TOKEN_A" reservationId="$RES_1"
expect_http 200 "HELD, same reservation" ".status == \"HELD\" and .reservationId == \"$RES_1\""

invoke charge-balance charge_balance sub="$USER_A" token="$TOKEN_A" userId="$USER_A" amount=100000 \
  idempotencyKey="$(uuid)"
expect_http 200 "balance 100000" '.balance == 100000'

invoke get-balance get_balance sub="$USER_A" token="$TOKEN_A" userId="$USER_A"
expect_http 200 "balance 100000" ".balance == 100000 and .userId == \"$USER_A\""
invoke get-balance-unsigned get_balance claims=none userId="$USER_A"
expect_gateway_401 "no claims: the gateway's 401"

# Two more holds by another user, for the release and the sweep below.
invoke issue-token-b issue_token sub="$USER_B" userId="$USER_B" concertId="$CONCERT"
expect_http 201 "a second user's ACTIVE token" '.status == "ACTIVE"'
TOKEN_B="$(jq -r .token <<<"$BODY")"
# A queue token is its user's: B presenting A's is refused, and A's balance stays A's.
invoke get-balance-others-token get_balance sub="$USER_B" token="$TOKEN_A" userId="$USER_B"
expect_http 403 "B with A's queue token: FORBIDDEN" '.code == "FORBIDDEN"'
invoke reserve-seat-2 reserve_seat sub="$USER_B" token="$TOKEN_B" userId="$USER_B" concertId="$CONCERT" \
  date="$DATE" seatNo=2
expect_http 201 "seat 2 HELD (to expire, stream)" '.status == "HELD" and .seatNo == 2'
RES_2="$(jq -r .reservationId <<<"$BODY")"
invoke reserve-seat-3 reserve_seat sub="$USER_B" token="$TOKEN_B" userId="$USER_B" concertId="$CONCERT" \
  date="$DATE" seatNo=3
expect_http 201 "seat 3 HELD (to expire, sweep)" '.status == "HELD" and .seatNo == 3'
RES_3="$(jq -r .reservationId <<<"$BODY")"

invoke pay pay sub="$USER_A" token="$TOKEN_A" userId="$USER_A" reservationId="$RES_1" idempotencyKey="$(uuid)"
expect_http 201 "paid 50000, balance 50000" \
  ".reservationId == \"$RES_1\" and .amount == 50000 and .balance == 50000"
DOC="$(get_item "$RESERVATIONS_TABLE_NAME" "$(reservation_key "$RES_1")")"
expect "table: reservation CONFIRMED" '.status.S == "CONFIRMED"' "$DOC"
DOC="$(get_item "$TABLE_NAME" "$(marker_key "$DATE" 1)")"
expect "table: seat 1's marker SOLD, no ttl" '.status.S == "SOLD" and (has("ttl") | not)' "$DOC"

# My reservations, the ticket, the keys, and the door (the buyer as API Gateway's JWT
# authorizer passes it, in the event's request context).
invoke list-reservations list_reservations userId="$USER_A" accessToken=smoke limit=5
expect_http 200 "seat 1's reservation, CONFIRMED, the last page" \
  ".reservations | length == 1 and .[0].reservationId == \"$RES_1\" and .[0].status == \"CONFIRMED\""
expect "no next page" '.nextCursor == null'
invoke get-tickets get_tickets userId="$USER_A" accessToken=smoke reservationId="$RES_1"
expect_http 200 "one ticket, seat 1, not let in" \
  ".tickets | length == 1 and .[0].seatNo == 1 and .[0].ticketId == \"$RES_1-1\" and .[0].checkedInAt == null and (.[0].code | length) <= 400"
CODE="$(jq -r '.tickets[0].code' <<<"$BODY")"
invoke get-ticket-keys get_ticket_keys
expect_http 200 "an OKP/Ed25519 key, the code's kid" \
  ".keys[0].kty == \"OKP\" and .keys[0].crv == \"Ed25519\" and .keys[0].kid == \"${CODE%%.*}\""
printf '%s' "$BODY" >"$WORK/ticket-keys.json"
if node local/verify-ticket.mjs "$WORK/ticket-keys.json" "$CODE" >"$WORK/verify.out" 2>&1; then
  row "$N" node verify-ticket-offline ok 0 "the code verifies with the JWKS alone"
else
  row "$N" node verify-ticket-offline FAIL 0 "$(cut -c1-160 "$WORK/verify.out")"
  exit 1
fi
invoke check-in admin_check_in code="$CODE"
expect_http 200 "seat 1 let in" ".seatNo == 1 and .ticketId == \"$RES_1-1\" and (.checkedInAt | length) == 20"
invoke check-in-again admin_check_in code="$CODE"
expect_http 409 "already in, since when" '.code == "ALREADY_CHECKED_IN" and (.checkedInAt | length) == 20'
DOC="$(get_item "$TABLE_NAME" "$(marker_key "$DATE" 1)")"
expect "table: seat 1's marker let in" '.status.S == "SOLD" and (.checkedInAt.S | length) > 0' "$DOC"

# release_hold: hold 2's time is over and TTL deletes its marker; the stream brings the REMOVE.
backdate_hold "$RES_2" 2
MARKER="$(get_item "$TABLE_NAME" "$(marker_key "$DATE" 2)")"
# The fixture's OldImage must be the marker's whole shape; a new attribute means a fixture update.
FIXTURE_ATTRS="$(jq -c '.Records[0].dynamodb.OldImage | keys' local/fixtures/release_hold.json)"
[[ "$(jq -c 'keys' <<<"$MARKER")" == "$FIXTURE_ATTRS" ]] || {
  row "$((N + 1))" release_hold fixture FAIL 0 "marker attributes $(jq -c keys <<<"$MARKER") != fixture's $FIXTURE_ATTRS"
  exit 1
}
ddb DeleteItem "$(jq -cn --arg t "$TABLE_NAME" --argjson k "$(marker_key "$DATE" 2)" '{TableName:$t,Key:$k}')" >/dev/null
invoke release-hold-remove release_hold tableName="$TABLE_NAME" \
  pk="$(jq -r .PK.S <<<"$MARKER")" sk="$(jq -r .SK.S <<<"$MARKER")" \
  concertId="$(jq -r .concertId.S <<<"$MARKER")" date="$(jq -r .date.S <<<"$MARKER")" \
  seatNo="$(jq -r .seatNo.N <<<"$MARKER")" reservationId="$(jq -r .reservationId.S <<<"$MARKER")" \
  userId="$(jq -r .userId.S <<<"$MARKER")" expiresAt="$(jq -r .expiresAt.N <<<"$MARKER")" \
  ttl="$((($(jq -r .expiresAt.N <<<"$MARKER") + 999) / 1000))" sequenceNumber="$(date +%s%N)"
expect "no batchItemFailures" '.batchItemFailures == []' "$ANSWER"
DOC="$(get_item "$RESERVATIONS_TABLE_NAME" "$(reservation_key "$RES_2")")"
expect "table: reservation 2 EXPIRED, out of the index" \
  '.status.S == "EXPIRED" and (has("heldShard") | not)' "$DOC"

invoke list-seats-after list_seats sub="$USER_B" token="$TOKEN_B" concertId="$CONCERT" date="$DATE"
expect_http 200 "seats: 1 SOLD, 2 AVAILABLE again, 3 HELD" \
  '[.seats[] | .status] == ["SOLD", "AVAILABLE", "HELD", "AVAILABLE", "AVAILABLE"]'

# sweep_holds: hold 3's time is over too, and TTL has not come by (in AWS: up to 48 h).
backdate_hold "$RES_3" 3
invoke sweep sweep_holds
expect "found 1, released 1, failed 0" '.found == 1 and .released == 1 and .failed == 0' "$ANSWER"
DOC="$(get_item "$RESERVATIONS_TABLE_NAME" "$(reservation_key "$RES_3")")"
expect "table: reservation 3 EXPIRED" '.status.S == "EXPIRED"' "$DOC"
DOC="$(get_item "$TABLE_NAME" "$(marker_key "$DATE" 3)")"
expect "table: seat 3's marker deleted" '. == {}' "$DOC"

# The operator's functions, called as API Gateway calls them after checking SigV4: the IAM
# authorizer's caller is in the event. Without it (and without ADMIN_TOKEN, as in AWS): 401.
ADMIN_CONCERT="smoke-op-$(date +%s)"
TOMORROW="$(date -u -d tomorrow +%F)"
invoke admin-put-concert admin_put_concert concertId="$ADMIN_CONCERT" \
  body="{\"name\":\"Smoke Gala\",\"dates\":[{\"date\":\"$TOMORROW\",\"sections\":[{\"name\":\"Floor\",\"fromSeat\":1,\"toSeat\":3,\"price\":70000},{\"name\":\"Balcony\",\"fromSeat\":4,\"toSeat\":10,\"price\":30000}]}]}"
expect_http 201 "created, 10 seats in 2 sections" \
  '.name == "Smoke Gala" and .dates[0].seats == 10 and (.dates[0].sections | length) == 2'
invoke admin-patch-queue admin_patch_queue concertId="$ADMIN_CONCERT" body='{"activeLimit":7,"paused":true}'
expect_http 200 "limit 7, paused" '.activeLimit == 7 and .paused == true'
invoke admin-get-concert admin_get_concert concertId="$ADMIN_CONCERT"
expect_http 200 "the line's controls, 10 seats available" \
  '.queue.activeLimit == 7 and .queue.paused == true and .dates[0].available == 10 and .dates[0].sold == 0'
FIXTURE=admin_get_concert.unsigned invoke admin-get-unsigned admin_get_concert concertId="$ADMIN_CONCERT"
expect_http 401 "no IAM caller" '.code == "ADMIN_UNAUTHORIZED"'

say "all $N invocations answered as expected (${SECONDS}s in all)"
