#!/usr/bin/env bash
# `make run`: install what is missing, start DynamoDB Local and Redis (reusing ones a crashed
# run left behind), create the table, seed the demo concert and serve the API in the
# foreground. Ctrl-C stops the server and the stores this stack runs, by PID.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source local/env.sh

DDB_PORT="${DDB_PORT:-8000}"
REDIS_PORT="${REDIS_PORT:-6379}"
# Only start what the environment does not already point elsewhere.
[[ -n "${AWS_ENDPOINT_URL_DYNAMODB:-}" && -n "${REDIS_URL:-}" ]] && external=1 || external=0
local_env dev "$DDB_PORT" "$REDIS_PORT"

bash local/stack.sh deps
rust_deps
if [[ $external == 0 ]]; then
  trap 'bash local/stack.sh down dev' EXIT
  bash local/stack.sh up dev "$DDB_PORT" "$REDIS_PORT"
fi
cargo build --profile local -p devserver
"${CARGO_TARGET_DIR:-target}/local/devserver" serve
