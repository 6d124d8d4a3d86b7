#!/usr/bin/env bash
# The one debug build that `make test`, `make test-web`, `make test-localstack`, `make fuzz` and
# `make smoke` share: `cargo build --workspace --all-targets` (every binary and every test
# binary, in target/debug), so whichever of them runs second finds everything built.
#
# Why always this one selection: cargo picks the dependencies' features from the packages a
# command selects, so `-p devserver`, `--bin pay` and `cargo test --workspace` each compile
# tokio, hyper and the AWS SDK again, with other features, beside the others. `cargo test
# --workspace` (with or without `--test NAME`) after this build compiles nothing.
#
# It also lints: the workspace's crates are compiled by clippy-driver with -D warnings
# (local/cargo-env.sh), so a lint fails this build, as `cargo clippy` would.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source local/cargo-env.sh
t0=$SECONDS
cargo build --workspace --all-targets "$@"
echo "build: the debug build (cargo build --workspace --all-targets) took $((SECONDS - t0))s" >&2
