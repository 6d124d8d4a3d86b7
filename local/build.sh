#!/usr/bin/env bash
# `make build`: every function in functions/* built for Lambda (arm64, provided.al2023) with
# `cargo lambda build --release --arm64`, then a table of each binary's size and zip size.
#
# Installs what is missing first, once: cargo-lambda from PyPI into local/.venv-lambda (the
# wheel brings zig, the cross linker, as the `ziglang` package) and the Rust target
# aarch64-unknown-linux-gnu. Sourcing this file only defines `lambda_tools`, which deploy.sh
# and smoke.sh use to put the same cargo-lambda on PATH, and `sam_cli`, the one place
# aws-sam-cli is installed (validate.sh, deploy.sh).
set -euo pipefail

# Puts local/.venv-lambda/bin (cargo-lambda, and the python whose `-m ziglang` is zig) first
# on PATH, installing it and the arm64 Rust target where missing. Idempotent. With
# --emulator (smoke.sh: `watch` and `invoke` on this machine, nothing cross-compiled) only
# cargo-lambda itself: no zig, no arm64 target.
lambda_tools() {
  local root venv cross=1
  [[ "${1:-}" == --emulator ]] && cross=0
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  venv="$root/local/.venv-lambda"
  if [[ ! -x "$venv/bin/cargo-lambda" ]]; then
    echo "build: installing cargo-lambda from PyPI into local/.venv-lambda" >&2
    python3 -m venv "$venv"
    # Everything in the venv is generated: keep it out of git without touching .gitignore.
    echo '*' >"$venv/.gitignore"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps cargo-lambda
  fi
  if ((cross)) && ! "$venv/bin/python" -c 'import ziglang' 2>/dev/null; then
    echo "build: installing zig (cargo-lambda's ziglang) from PyPI into local/.venv-lambda" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
    "$venv/bin/pip" install --quiet --disable-pip-version-check cargo-lambda
  fi
  export PATH="$venv/bin:$PATH"
  if ((cross)) && command -v rustup >/dev/null; then
    rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu ||
      rustup target add aarch64-unknown-linux-gnu
  fi
  command -v cargo-lambda >/dev/null || {
    echo "build: cargo-lambda is still not on PATH" >&2
    return 1
  }
}

# Sets SAM to local/.venv/bin/sam, installing aws-sam-cli from PyPI into local/.venv on first
# use; telemetry off, so nothing leaves the machine. Idempotent.
sam_cli() {
  local root venv
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  venv="$root/local/.venv"
  if [[ ! -x "$venv/bin/sam" ]]; then
    echo "sam: installing aws-sam-cli into local/.venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
    "$venv/bin/pip" install --quiet --disable-pip-version-check aws-sam-cli
  fi
  SAM="$venv/bin/sam"
  export SAM_CLI_TELEMETRY=0
}

# The function crates, from the directory names (each one is a package of the same name).
lambda_functions() {
  local root d
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  for d in "$root"/functions/*/; do
    [[ -f "$d/Cargo.toml" ]] && basename "$d"
  done
}

human() { numfmt --to=iec-i --suffix=B --format='%.1f' "$1" 2>/dev/null || echo "$1 B"; }

build_main() {
  cd "$(dirname "${BASH_SOURCE[0]}")/.."
  lambda_tools
  local fns=() pkgs=() fn start secs bin
  mapfile -t fns < <(lambda_functions)
  for fn in "${fns[@]}"; do pkgs+=(-p "$fn"); done

  # One cargo invocation for all of them: the dependencies are compiled once (with the
  # features these crates need, not the devserver's), then each binary is linked.
  start=$(date +%s)
  nice -n "${BUILD_NICE:-10}" cargo lambda build --release --arm64 "${pkgs[@]}"
  secs=$(($(date +%s) - start))

  TMP_ZIPS="$(mktemp -d)"
  trap 'rm -rf "$TMP_ZIPS"' EXIT
  printf '\n%-16s %12s %12s %12s %12s\n' function binary "(bytes)" zip "(bytes)"
  local total_bin=0 total_zip=0 b z
  for fn in "${fns[@]}"; do
    bin="target/lambda/$fn/bootstrap"
    [[ -f "$bin" ]] || {
      echo "build: $bin is missing" >&2
      return 1
    }
    # What Lambda gets: a zip holding one file named bootstrap (sam packages it the same way).
    rm -f "$TMP_ZIPS/$fn.zip"
    (cd "target/lambda/$fn" && zip -q -9 -X "$TMP_ZIPS/$fn.zip" bootstrap)
    b=$(stat -c %s "$bin")
    z=$(stat -c %s "$TMP_ZIPS/$fn.zip")
    total_bin=$((total_bin + b))
    total_zip=$((total_zip + z))
    printf '%-16s %12s %12s %12s %12s\n' "$fn" "$(human "$b")" "$b" "$(human "$z")" "$z"
  done
  printf '%-16s %12s %12s %12s %12s\n' total "$(human "$total_bin")" "$total_bin" "$(human "$total_zip")" "$total_zip"
  echo "build: ${#fns[@]} functions, arm64, release, in ${secs}s (binaries in target/lambda/<fn>/bootstrap)"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  build_main "$@"
fi
