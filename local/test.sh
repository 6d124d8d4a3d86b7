#!/usr/bin/env bash
# `make test`: its own stack on other ports (in memory), so it runs beside `make run`; then
# formatting, lints, the template check and every test; then it stops what it started.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source local/env.sh

DDB_PORT="${TEST_DDB_PORT:-8100}"
REDIS_PORT="${TEST_REDIS_PORT:-6380}"
unset AWS_ENDPOINT_URL_DYNAMODB REDIS_URL TABLE_NAME RESERVATIONS_TABLE_NAME
local_env test "$DDB_PORT" "$REDIS_PORT"
export TABLE_NAME=concert-booking-test RESERVATIONS_TABLE_NAME=concert-booking-test-reservations

bash local/stack.sh deps
rust_deps
trap 'bash local/stack.sh down test' EXIT
bash local/stack.sh up test "$DDB_PORT" "$REDIS_PORT" --in-memory

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
bash local/validate.sh
# One table set per run: tests isolate themselves by unique IDs and Redis key prefixes.
cargo run -q -p devserver -- create-tables
# Concurrency tests open many sockets at once.
ulimit -n 65536 2>/dev/null || true
log="$(mktemp)"
# --no-fail-fast: one failing test binary does not hide the others' results.
status=0
cargo test --workspace --no-fail-fast 2>&1 | tee "$log" || status=$?
# One closing line for the whole run: cargo prints a summary per test binary.
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
exit "$status"
