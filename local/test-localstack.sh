#!/usr/bin/env bash
# `make test-localstack`: the integration tests named as arguments (test binaries of
# local/devserver, listed once in the Makefile's LOCALSTACK_TESTS) against LocalStack instead of
# DynamoDB Local, as a user's tests would reach it: through AWS_ENDPOINT_URL_DYNAMODB. Installs
# what is missing (Python 3.13, LocalStack's pinned venv; docs/localstack.md), starts LocalStack
# on TEST_LOCALSTACK_PORT (4567) and a redis-server on TEST_LOCALSTACK_REDIS_PORT (6490) as the
# stack `localstack-test`, and stops both after, whatever happens.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The one debug build's settings (local/cargo-env.sh), so no cargo below builds it again.
source local/cargo-env.sh
if [[ $# -eq 0 ]]; then
  echo "usage: $0 TEST_BINARY... (make test-localstack lists them)" >&2
  exit 2
fi
if [[ -z "${LOCAL_STACK:-}" ]]; then
  cargo run -q -p stack -- deps --localstack
  # Built before LocalStack starts, so its clock does not run during the build: the debug
  # build the other checks share (local/debug-build.sh), the test binaries in it.
  bash local/debug-build.sh
  t0=$SECONDS
  status=0
  cargo run -q -p stack -- with localstack-test "${TEST_LOCALSTACK_PORT:-4567}" \
    "${TEST_LOCALSTACK_REDIS_PORT:-6490}" --store localstack --in-memory \
    --table concert-booking-test -- bash "$0" "$@" || status=$?
  echo "test-localstack: $((SECONDS - t0))s with LocalStack up"
  exit "$status"
fi

echo "test-localstack: AWS_ENDPOINT_URL_DYNAMODB=$AWS_ENDPOINT_URL_DYNAMODB (LocalStack), REDIS_URL=$REDIS_URL"
"${CARGO_TARGET_DIR:-target}/debug/devserver" create-tables
ulimit -n 65536 2>/dev/null || true
tests=()
for t in "$@"; do tests+=(--test "$t"); done
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
# One test binary at a time (local/run-tests.sh; TEST_LOCALSTACK_AT_ONCE), from the build
# local/debug-build.sh made: nothing is compiled again. Not three, as make test runs them:
# LocalStack answers every request on one Python process, and three binaries at once slowed
# its answers past the 2 s holds of the expiry tests (a hold lapsed before its next step).
TESTS_AT_ONCE="${TEST_LOCALSTACK_AT_ONCE:-1}" bash local/run-tests.sh "${tests[@]}" 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
