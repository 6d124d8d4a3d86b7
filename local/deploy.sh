#!/usr/bin/env bash
# `make deploy`: `sam build`, then `sam deploy` (`--guided` while there is no samconfig.toml,
# which the guided run writes). `make deploy ARGS='...'` adds arguments to `sam deploy`. `make sam-build` (--build-only) stops after the build, which
# runs offline: cargo-lambda compiles each function for arm64 on this machine, no Docker.
#
# sam comes from local/.venv (as for `make validate`), cargo-lambda and zig from
# local/.venv-lambda (as for `make build`); both are installed on first use. The build goes to
# target/sam/ (ignored by git), not .aws-sam/.
#
# After the deploy, the pages (web/, built here) go to the stack's bucket (WebBucketName),
# with a config.json naming the API (ApiUrl), the buyer's sign-in (the user pool's managed
# login: BuyerLoginUrl, BuyerUserPoolClientId, back to WebUrl), the operator's sign-in (IAM: the
# admin routes take SigV4 there) and the stack's region, and the distribution (WebDistributionId) is
# invalidated; the stack's outputs say where. STACK_NAME overrides samconfig.toml's
# stack_name. The aws CLI comes from PATH, or is installed into local/.venv.
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

# ---------------------------------------------------------------- the pages
aws_cli=(aws)
if ! command -v aws >/dev/null; then
  [[ -x local/.venv/bin/aws ]] || local/.venv/bin/pip install --quiet --disable-pip-version-check awscli
  aws_cli=(local/.venv/bin/aws)
fi
stack="${STACK_NAME:-$(sed -n 's/^ *stack_name *= *"\(.*\)"/\1/p' samconfig.toml | head -n 1)}"
[[ -n "$stack" ]] || { echo "deploy: no stack name (samconfig.toml, or STACK_NAME)" >&2; exit 1; }
# The region sam deployed to (AWS_REGION, else samconfig.toml's), so that these calls find the
# stack even when the CLI's default region is another one.
deploy_region="${AWS_REGION:-$(sed -n 's/^ *region *= *"\(.*\)"/\1/p' samconfig.toml 2>/dev/null | head -n 1 || true)}"
[[ -z "$deploy_region" ]] || aws_cli+=(--region "$deploy_region")
output() {
  "${aws_cli[@]}" cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
bucket="$(output WebBucketName)"
distribution="$(output WebDistributionId)"
api_url="$(output ApiUrl)"
# The stack's region, from its ID (arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/ID): the
# operator's page signs for it.
region="$("${aws_cli[@]}" cloudformation describe-stacks --stack-name "$stack" \
  --query 'Stacks[0].StackId' --output text | cut -d: -f4)"
[[ -n "$region" ]] || { echo "deploy: no region in the stack's ID" >&2; exit 1; }
# The buyer's page signs in through the user pool's managed login (authorization code + PKCE)
# and comes back to the page itself, the app client's callback URL (WebUrl, exactly). A stack
# pointed at an outside issuer (ExistingJwtIssuer) has no pool, so no such outputs: its
# config.json gets no "auth", and its buyers sign in wherever that issuer has them do so.
login_url="$(output BuyerLoginUrl)"
client_id="$(output BuyerUserPoolClientId)"
web_url="$(output WebUrl)"
auth=""
if [[ -n "$login_url" && "$login_url" != None && -n "$client_id" && "$client_id" != None ]]; then
  auth="$(printf ',"auth":{"kind":"cognito","domain":"%s","clientId":"%s","redirectUri":"%s","scopes":["openid","email","aws.cognito.signin.user.admin"]}' \
    "${login_url%/}" "$client_id" "$web_url")"
fi
bash web/build.sh
printf '{"apiBase":"%s","maxSeatsPerUser":%s,"adminAuth":"iam","region":"%s"%s}\n' \
  "${api_url%/}" "${MAX_SEATS_PER_USER:-1}" "$region" "$auth" >web/dist/config.json
# no-cache: the distribution asks the bucket again (a 304 when unchanged), so a deploy shows.
"${aws_cli[@]}" s3 sync web/dist "s3://$bucket" --delete --cache-control no-cache --exclude weights.json --exclude admin
# `/admin` without the .html, as the local server serves it.
"${aws_cli[@]}" s3 cp web/dist/admin.html "s3://$bucket/admin" \
  --content-type 'text/html; charset=utf-8' --cache-control no-cache
"${aws_cli[@]}" cloudfront create-invalidation --distribution-id "$distribution" --paths '/*' >/dev/null
echo "deploy: pages uploaded to s3://$bucket; open $(output WebUrl)?concert=<id>" >&2
