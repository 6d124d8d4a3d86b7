#!/usr/bin/env bash
# `make load`: a ticket-opening spike over HTTP against a stack of its own (DynamoDB Local on
# 8600 and Redis on 6386, both in memory; the devserver on 3600), its invariant check, then the
# micro-benchmarks: the poll in-process vs raw EVALSHA, our HTTP layer vs a bare hyper server,
# joins over HTTP vs a request that touches no store and vs the ISSUE script alone, and each
# Lambda binary's cold start and size. `stack with` starts the stores and the devserver
# and stops them by PID on exit. One user in ten releases its hold, one in ten pays and is
# refunded (tools/load/src/spike.rs).
#
#   LOAD_USERS (1500)             users in the spike, all arriving at once
#   QUEUE_ACTIVE_LIMIT (500)      ACTIVE at once; the rest wait in line
#   ACTIVE_TOKEN_TTL_SECONDS (20) long enough for an admitted user to finish, short enough that
#                                 the places of those who lost come free and the line moves
#   LOAD_PROFILE (local)          profile of the Lambda binaries timed: local or release
#   LOAD_DDB_PORT, LOAD_REDIS_PORT, LOAD_PORT, LOAD_STACK (8600, 6386, 3600, load): the stores,
#                                 the server's ports and the stack's name, so two checkouts can run it
#   LOAD_ONLY (all)               spike | micro | joins | cold | all (micro includes joins)
#
# Exit 1 when an invariant breaks; a missed performance target is printed as MISSED.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PORT="${LOAD_PORT:-3600}"
export QUEUE_ACTIVE_LIMIT="${QUEUE_ACTIVE_LIMIT:-500}"
export ACTIVE_TOKEN_TTL_SECONDS="${ACTIVE_TOKEN_TTL_SECONDS:-20}"
# The micro-benchmarks drive one token or one user thousands of times a second: fair use
# (BUYER_RATE_PER_SECOND, BUYER_BURST) would measure its refusals instead.
export BUYER_RATE_PER_SECOND="${BUYER_RATE_PER_SECOND:-1000000}" BUYER_BURST="${BUYER_BURST:-1000000}"
export RUST_LOG="${RUST_LOG:-warn}"
PROFILE="${LOAD_PROFILE:-local}"
ONLY="${LOAD_ONLY:-all}"
FUNCTIONS=(issue_token queue_status list_dates list_seats reserve_seat get_reservation
  charge_balance get_balance pay release_hold sweep_holds)

# Outside its stack: build, then run this script again inside `stack with`, which starts the
# stores and the devserver, and stops them by PID whatever happens.
if [[ -z "${LOCAL_STACK:-}" ]]; then
  cargo run -q -p stack -- deps
  nice -n 10 cargo build -q --profile local -p devserver -p load
  if [[ "$ONLY" == all || "$ONLY" == cold ]]; then
    nice -n 10 cargo build -q --profile "$PROFILE" "${FUNCTIONS[@]/#/--package=}"
  fi
  exec cargo run -q -p stack -- with "${LOAD_STACK:-load}" "${LOAD_DDB_PORT:-8600}" \
    "${LOAD_REDIS_PORT:-6386}" --in-memory --serve "$PORT" -- bash "$0" "$@"
fi
URL="http://127.0.0.1:$PORT"
BIN="${CARGO_TARGET_DIR:-target}"
USERS="${LOAD_USERS:-1500}"
echo "load: devserver on $URL (QUEUE_ACTIVE_LIMIT=$QUEUE_ACTIVE_LIMIT, ACTIVE_TOKEN_TTL_SECONDS=$ACTIVE_TOKEN_TTL_SECONDS)"

tag="$(date +%s)"
tomorrow="$(date -u -d tomorrow +%F)"
# Two days ahead: more than REFUND_CUTOFF_HOURS (24) before the date starts, so refundable.
later="$(date -u -d '+2 days' +%F)"
"$BIN/local/devserver" seed --concert-id "load-$tag" --dates "$later" --seats 50 --price 50000
"$BIN/local/devserver" seed --concert-id "http-$tag" --dates "$tomorrow" --seats 1 --price 1000
"$BIN/local/devserver" seed --concert-id "join-$tag" --dates "$tomorrow" --seats 1 --price 1000
if [[ "$ONLY" == all || "$ONLY" == spike ]]; then
  "$BIN/local/devserver" seed --concert-id "warm-$tag" --dates "$later" --seats 50 --price 50000
  # DynamoDB Local is a JVM: a small spike first, unreported, so the figures are not its JIT's.
  echo "load: warming up DynamoDB Local (300 users on concert warm-$tag, not reported)"
  "$BIN/local/load" spike --url "$URL" --concert "warm-$tag" --users 300 >/dev/null 2>&1 || true
  echo
fi

status=0
# 0 or 1 (a missed target) goes on; 2 (could not run) stops.
step() {
  local rc=0
  "$@" || rc=$?
  ((rc != 2)) || exit 2
  return "$rc"
}
if [[ "$ONLY" == all || "$ONLY" == spike ]]; then
  step "$BIN/local/load" spike --url "$URL" --concert "load-$tag" --users "$USERS" \
    --devserver "$BIN/local/devserver" || status=1
fi
if [[ "$ONLY" == all || "$ONLY" == micro ]]; then
  step "$BIN/local/load" poll || true
  step "$BIN/local/load" http --url "$URL" --concert "http-$tag" || true
fi
if [[ "$ONLY" == all || "$ONLY" == micro || "$ONLY" == joins ]]; then
  step "$BIN/local/load" joins --url "$URL" --concert "join-$tag" || true
fi
if [[ "$ONLY" == all || "$ONLY" == cold ]]; then
  step "$BIN/local/load" cold-start --bin-dir "$BIN/$PROFILE" --profile "$PROFILE" || true
fi
exit "$status"
