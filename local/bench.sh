#!/usr/bin/env bash
# `make bench`: round trips and throughput against its own in-memory stack (8200/6381).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source local/env.sh
unset AWS_ENDPOINT_URL_DYNAMODB REDIS_URL TABLE_NAME RESERVATIONS_TABLE_NAME
local_env bench 8200 6381
# Everyone is admitted at once: the bench measures writes, not the line.
export QUEUE_ACTIVE_LIMIT=1000000 RUST_LOG=warn
bash local/stack.sh deps
rust_deps
trap 'bash local/stack.sh down bench' EXIT
bash local/stack.sh up bench 8200 6381 --in-memory
cargo build -q --profile local -p devserver
"${CARGO_TARGET_DIR:-target}/local/devserver" bench "${BENCH_SCALE:-1000}"
# Whatever the bench wrote must still hold together.
"${CARGO_TARGET_DIR:-target}/local/devserver" check-invariants
