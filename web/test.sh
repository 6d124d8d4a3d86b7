#!/usr/bin/env bash
# `make test-web`: the pages in a real browser. Installs what is missing (Debian's chromium
# with apt-get, `npm ci` here), builds the pages, starts a stack and server of its own
# (in memory, 8500/6385, server on 3500) with short settings, runs the browser tests
# (node --test) against it, and stops everything (`stack with` stops what it started, by PID,
# whatever happens). Screenshots go to web/.run/<timestamp>/.
#
# WEB_PORT (3500), WEB_DDB_PORT (8500), WEB_REDIS_PORT (6385) and WEB_STACK (the stack's
# name, `web`) move the run elsewhere, e.g. beside another checkout's run on the same machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The one debug build's settings (local/cargo-env.sh), so no cargo below builds it again.
source local/cargo-env.sh
ROOT="$PWD"
PORT="${WEB_PORT:-3500}"
DDB_PORT="${WEB_DDB_PORT:-8500}"
REDIS_PORT="${WEB_REDIS_PORT:-6385}"
STACK="${WEB_STACK:-web}"

# The first buyer in is ACTIVE, the next one waits; holds end soon; the operator's token is
# fixed (this server is the run's own, on 127.0.0.1).
export QUEUE_ACTIVE_LIMIT=1 HOLD_TTL_SECONDS=60 ACTIVE_TOKEN_TTL_SECONDS=120
export ADMIN_TOKEN="web-test-operator-token-0000000000000000000"
export RUST_LOG="${RUST_LOG:-warn}"
export WEB_DIR="$ROOT/web/dist" WEB_BASE="http://127.0.0.1:$PORT"

# Debian's chromium, where missing (`test.sh --install` does only that and web/'s npm ci).
install_chromium() {
  if [[ ! -x /usr/bin/chromium ]]; then
    echo "test-web: installing chromium (apt)"
    sudo_=(); [[ $(id -u) == 0 ]] || sudo_=(sudo)
    "${sudo_[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    "${sudo_[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null
  fi
}
if [[ "${1:-}" == --install ]]; then
  bash web/build.sh --install
  install_chromium
  exit
fi

if [[ -z "${LOCAL_STACK:-}" ]]; then
  cargo run -q -p stack -- deps
  bash web/build.sh
  install_chromium
  # The debug build the other checks share (local/debug-build.sh): these tests drive pages,
  # and a server built for speed would only cost CI a second compile of every dependency.
  bash local/debug-build.sh
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
  exec cargo run -q -p stack -- with "$STACK" "$DDB_PORT" "$REDIS_PORT" --in-memory \
    --serve "$PORT" --serve-profile debug -- bash "$0" "$@"
fi

export WEB_RUN_DIR="$ROOT/web/.run/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$WEB_RUN_DIR"
echo "test-web: screenshots in ${WEB_RUN_DIR#"$ROOT/"}"
cd web
# One file at a time: the machine has 2 cores and each file starts its own browser.
if (($#)); then files=("$@"); else files=(test/*.test.mjs); fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
node --test --test-concurrency=1 --test-reporter=spec "${files[@]}" 2>&1 | tee "$log" || status=$?
# One closing line, as `make test` ends: the spec reporter's own totals.
echo "test-web: $(sed -n 's/^ℹ pass //p' "$log") passed, $(sed -n 's/^ℹ fail //p' "$log") failed"
exit "$status"
