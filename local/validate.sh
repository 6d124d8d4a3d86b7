#!/usr/bin/env bash
# Validates template.yaml with `sam validate --lint`, fully offline.
# aws-sam-cli comes from PyPI into local/.venv (installed once, on first use).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="$here/.venv"

if [[ ! -x "$venv/bin/sam" ]]; then
    echo "validate: installing aws-sam-cli into local/.venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
    "$venv/bin/pip" install --quiet --disable-pip-version-check aws-sam-cli
fi

# Dummy credentials and a region: validate --lint never calls AWS, but the
# SDK under it wants them present. Telemetry off so nothing leaves the machine.
export AWS_ACCESS_KEY_ID=dummy
export AWS_SECRET_ACCESS_KEY=dummy
export AWS_SESSION_TOKEN=dummy
export AWS_DEFAULT_REGION=us-east-1
export AWS_REGION=us-east-1
export SAM_CLI_TELEMETRY=0
# Keep a user's ~/.aws profile from leaking in.
export AWS_CONFIG_FILE=/dev/null
export AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE

cd "$root"
exec "$venv/bin/sam" validate --lint --template template.yaml --region us-east-1
