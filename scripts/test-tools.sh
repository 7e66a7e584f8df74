#!/usr/bin/env bash
# Installs what the infra tests need, idempotently, under the repository (ignored by git):
#   .venv/  moto server, pinned: the AWS-compatible endpoint the tests start on 127.0.0.1
#           (through scripts/emulator.py, which makes its AgentCore emulation more faithful).
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_SPEC='moto[server,cognitoidp,iam]==5.2.5'
marker=.venv/.installed
if [ ! -f "$marker" ] || [ "$(cat "$marker")" != "$MOTO_SPEC" ]; then
    echo "installing $MOTO_SPEC into .venv" >&2
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check "$MOTO_SPEC"
    echo "$MOTO_SPEC" > "$marker"
fi
