#!/usr/bin/env bash
# Builds the pages into web/dist: `npm ci` first when node_modules is missing or the lockfile
# changed since (a sha256 stamp, as local/ does), then build.mjs (esbuild), which prints each
# script's gzipped weight. `build.sh --install` stops after npm ci. Used by `make web`, `make run` (when node is there) and `make test-web`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
stamp=node_modules/.package-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "web: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi
# `build.sh --install`: the packages alone.
[[ "${1:-}" != --install ]] || exit 0
npx --no-install tsc --noEmit -p .
node build.mjs
