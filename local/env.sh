# Sourced by run.sh and test.sh: the settings a local stack runs with.
# Dummy credentials and a region are for the local stores only; DynamoDB Local ignores them.
# shellcheck shell=bash
local_env() { # NAME DDB_PORT REDIS_PORT
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
  export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  export AWS_EC2_METADATA_DISABLED=true
  export AWS_ENDPOINT_URL_DYNAMODB="${AWS_ENDPOINT_URL_DYNAMODB:-http://127.0.0.1:$2}"
  export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:$3}"
  export TABLE_NAME="${TABLE_NAME:-concert-booking}"
  export RESERVATIONS_TABLE_NAME="${RESERVATIONS_TABLE_NAME:-concert-booking-reservations}"
}

# The Rust toolchain's pieces `make test` uses, added where missing.
rust_deps() {
  command -v cargo >/dev/null || { echo "cargo is missing: install Rust (https://rustup.rs)" >&2; exit 1; }
  if command -v rustup >/dev/null; then
    rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
    rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
  fi
}
