#!/usr/bin/env bash
# Validates template.yaml with `sam validate --lint`, fully offline.
# aws-sam-cli comes from PyPI into local/.venv (sam_cli in build.sh, on first use).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source local/build.sh # sam_cli
sam_cli

# Dummy credentials and a region: validate --lint never calls AWS, but the
# SDK under it wants them present.
export AWS_ACCESS_KEY_ID=dummy
export AWS_SECRET_ACCESS_KEY=dummy
export AWS_SESSION_TOKEN=dummy
export AWS_DEFAULT_REGION=us-east-1
export AWS_REGION=us-east-1
# Keep a user's ~/.aws profile from leaking in.
export AWS_CONFIG_FILE=/dev/null
export AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE

exec "$SAM" validate --lint --template template.yaml --region us-east-1
