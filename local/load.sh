#!/usr/bin/env bash
# `make load`: a ticket-opening spike over HTTP against a stack of its own (DynamoDB Local on
# 8600 and Redis on 6386, both in memory; the devserver on 3600), its invariant check, then the
# micro-benchmarks: the poll in-process vs raw EVALSHA, our HTTP layer vs a bare hyper server,
# and each Lambda binary's cold start and size. Everything it starts is stopped by PID on exit.
#
#   LOAD_USERS (1500)             users in the spike, all arriving at once
#   QUEUE_ACTIVE_LIMIT (500)      ACTIVE at once; the rest wait in line
#   ACTIVE_TOKEN_TTL_SECONDS (20) long enough for an admitted user to finish, short enough that
#                                 the places of those who lost come free and the line moves
#   LOAD_PROFILE (local)          profile of the Lambda binaries timed: local or release
#   LOAD_ONLY (all)               spike | micro | cold | all
#
# Exit 1 when an invariant breaks; a missed performance target is printed as MISSED.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source local/env.sh
unset AWS_ENDPOINT_URL_DYNAMODB REDIS_URL TABLE_NAME RESERVATIONS_TABLE_NAME
local_env load 8600 6386
PORT=3600
URL="http://127.0.0.1:$PORT"
export QUEUE_ACTIVE_LIMIT="${QUEUE_ACTIVE_LIMIT:-500}"
export ACTIVE_TOKEN_TTL_SECONDS="${ACTIVE_TOKEN_TTL_SECONDS:-20}"
export RUST_LOG="${RUST_LOG:-warn}"
USERS="${LOAD_USERS:-1500}"
PROFILE="${LOAD_PROFILE:-local}"
ONLY="${LOAD_ONLY:-all}"
FUNCTIONS=(issue_token queue_status list_dates list_seats reserve_seat get_reservation
  charge_balance get_balance pay release_hold sweep_holds)

bash local/stack.sh deps
rust_deps

server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  bash local/stack.sh down load
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bash local/stack.sh up load 8600 6386 --in-memory
nice -n 10 cargo build -q --profile local -p devserver -p load
if [[ "$ONLY" == all || "$ONLY" == cold ]]; then
  nice -n 10 cargo build -q --profile "$PROFILE" "${FUNCTIONS[@]/#/--package=}"
fi

mkdir -p local/.run
PORT=$PORT ./target/local/devserver serve >local/.run/load-devserver.log 2>&1 &
server_pid=$!
for ((i = 0; i < 300; i++)); do
  [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/queue/status" || true)" != 000 ]] && break
  kill -0 "$server_pid" 2>/dev/null || {
    tail -n 30 local/.run/load-devserver.log >&2
    echo "load: the devserver exited before answering" >&2
    exit 2
  }
  sleep 0.2
done
echo "load: devserver on $URL (pid $server_pid, QUEUE_ACTIVE_LIMIT=$QUEUE_ACTIVE_LIMIT, ACTIVE_TOKEN_TTL_SECONDS=$ACTIVE_TOKEN_TTL_SECONDS)"

tag="$(date +%s)"
tomorrow="$(date -u -d tomorrow +%F)"
./target/local/devserver seed --concert-id "load-$tag" --dates "$tomorrow" --seats 50 --price 50000
./target/local/devserver seed --concert-id "http-$tag" --dates "$tomorrow" --seats 1 --price 1000
./target/local/devserver seed --concert-id "warm-$tag" --dates "$tomorrow" --seats 50 --price 50000
# DynamoDB Local is a JVM: a small spike first, unreported, so the figures are not its JIT's.
echo "load: warming up DynamoDB Local (300 users on concert warm-$tag, not reported)"
./target/local/load spike --url "$URL" --concert "warm-$tag" --users 300 >/dev/null 2>&1 || true
echo

status=0
# 0 or 1 (a missed target) goes on; 2 (could not run) stops.
step() {
  local rc=0
  "$@" || rc=$?
  ((rc != 2)) || exit 2
  return "$rc"
}
if [[ "$ONLY" == all || "$ONLY" == spike ]]; then
  step ./target/local/load spike --url "$URL" --concert "load-$tag" --users "$USERS" \
    --devserver ./target/local/devserver || status=1
fi
if [[ "$ONLY" == all || "$ONLY" == micro ]]; then
  step ./target/local/load poll || true
  step ./target/local/load http --url "$URL" --concert "http-$tag" || true
fi
if [[ "$ONLY" == all || "$ONLY" == cold ]]; then
  step ./target/local/load cold-start --bin-dir "target/$PROFILE" --profile "$PROFILE" || true
fi
exit "$status"
