#!/usr/bin/env bash
# `make test`: formatting, lints, the template check and every test, against a stack of its own
# (`stack with test`: in memory, on 8100/6380 or TEST_DDB_PORT/TEST_REDIS_PORT), so it runs
# beside `make run`; the stack is stopped again whatever happens.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The one debug build's settings (clippy compiles the workspace's crates), for every cargo below.
source local/cargo-env.sh
if [[ -z "${LOCAL_STACK:-}" ]]; then
  cargo run -q -p stack -- deps
  exec cargo run -q -p stack -- with test "${TEST_DDB_PORT:-8100}" "${TEST_REDIS_PORT:-6380}" \
    --in-memory --table concert-booking-test -- bash "$0" "$@"
fi

# Each phase's time, so a slow one shows.
phase_start=$SECONDS
phase() { echo "test: $1 took $((SECONDS - phase_start))s"; phase_start=$SECONDS; }
log="$(mktemp)"
validated="$(mktemp)"
validate_pid=""
trap 'rm -f "$log" "$validated"; [[ -z "$validate_pid" ]] || kill "$validate_pid" 2>/dev/null || true' EXIT

# `sam validate` beside the compiler: the first time it installs aws-sam-cli from PyPI, most of
# a minute of downloads that need little CPU. Its answer is read after the build.
bash local/validate.sh >"$validated" 2>&1 &
validate_pid=$!
cargo fmt --all -- --check
phase "cargo fmt"
# Every binary and test binary, as the other checks build them, linted by clippy with -D
# warnings as it compiles (local/debug-build.sh): `cargo clippy --workspace --all-targets` in the
# same build.
bash local/debug-build.sh
phase "the debug build, with clippy"
validate_status=0
wait "$validate_pid" || validate_status=$?
validate_pid=""
cat "$validated"
phase "sam validate (what was left of it)"
((validate_status == 0)) || exit "$validate_status"
# One table set per run: tests isolate themselves by unique IDs and Redis key prefixes.
"${CARGO_TARGET_DIR:-target}/debug/devserver" create-tables
# Concurrency tests open many sockets at once.
ulimit -n 65536 2>/dev/null || true
status=0
# The waiting room again (the line, the token guard), on a real 3-master Redis Cluster
# (REDIS_CLUSTER=true), as ElastiCache Serverless runs it: a key outside its concert's slot
# is an error there (CROSSSLOT), not a pass. tests/cluster.rs adds the dates cache and MOVED.
# Beside the other tests, on a Redis of its own: its output is printed after theirs.
cluster_log="$(mktemp)"
cargo run -q -p stack -- cluster test "${TEST_REDIS_CLUSTER_PORT:-7100}" -- \
  bash local/run-tests.sh --test queue >"$cluster_log" 2>&1 &
cluster_pid=$!
# Every test binary, a few at a time (local/run-tests.sh); one failing binary does not hide the
# others' results.
bash local/run-tests.sh 2>&1 | tee "$log" || status=$?
phase "the tests"
wait "$cluster_pid" || status=$?
echo "--- the queue tests on a Redis Cluster:"
tee -a "$log" <"$cluster_log"
rm -f "$cluster_log"
phase "the queue tests on a Redis Cluster (what was left of them)"
# One closing line for the whole run: cargo prints a summary per test binary.
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
