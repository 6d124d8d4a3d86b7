#!/usr/bin/env bash
# `make deploy`: `sam build`, then `sam deploy` (`--guided` while there is no samconfig.toml,
# which the guided run writes). `make deploy ARGS='...'` adds arguments to `sam deploy`. `make sam-build` (--build-only) stops after the build, which
# runs offline: cargo-lambda compiles each function for arm64 on this machine, no Docker.
#
# sam comes from local/.venv (as for `make validate`), cargo-lambda and zig from
# local/.venv-lambda (as for `make build`); both are installed on first use. The build goes to
# target/sam/ (ignored by git), not .aws-sam/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source local/build.sh # lambda_tools, sam_cli

# Any other arguments go to `sam deploy`, e.g. --parameter-overrides DeletionProtection=false.
build_only=0
if [[ "${1-}" == --build-only ]]; then
  build_only=1
  shift
fi

sam_cli
sam="$SAM"
lambda_tools

build_dir=target/sam/build
# BuildMethod rust-cargolambda is a SAM CLI beta feature: --beta-features opts in (the same
# as SAM_CLI_BETA_RUST_CARGO_LAMBDA=1). Each function is `cargo lambda build --release
# --arm64 --bin <name>` in its crate; they share the workspace's target/ with `make build`.
start=$(date +%s)
nice -n "${BUILD_NICE:-10}" "$sam" build --beta-features \
  --template-file template.yaml --build-dir "$build_dir" --cache-dir target/sam/cache
echo "deploy: sam build took $(($(date +%s) - start))s; artifacts in $build_dir" >&2

((build_only)) && exit 0

deploy_args=(--template-file "$build_dir/template.yaml" "$@")
if [[ -f samconfig.toml ]]; then
  "$sam" deploy "${deploy_args[@]}"
else
  # Asks for the stack name, region and parameters (DeletionProtection, ExistingRedisUrl,
  # ...), needs CAPABILITY_IAM for the function roles, and saves the answers to samconfig.toml.
  "$sam" deploy --guided "${deploy_args[@]}" --capabilities CAPABILITY_IAM
fi
