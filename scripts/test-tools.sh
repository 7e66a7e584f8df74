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

# .tools/check-jsonschema/  check-jsonschema, pinned, in its own venv (its jsonschema need not
#           match moto's): validates examples/github-actions/infra.yml against GitHub's workflow
#           schema, which the package carries (no network at test time), and the output of
#           `plan --json` / `apply --json` against docs/plan.schema.json and
#           docs/apply-events.schema.json (JSON Schema draft 2020-12).
CHECK_JSONSCHEMA_SPEC='check-jsonschema==0.39.0'
marker=.tools/check-jsonschema/.installed
if [ ! -f "$marker" ] || [ "$(cat "$marker")" != "$CHECK_JSONSCHEMA_SPEC" ]; then
    echo "installing $CHECK_JSONSCHEMA_SPEC into .tools/check-jsonschema" >&2
    python3 -m venv .tools/check-jsonschema
    .tools/check-jsonschema/bin/pip install --quiet --disable-pip-version-check "$CHECK_JSONSCHEMA_SPEC"
    echo "$CHECK_JSONSCHEMA_SPEC" > "$marker"
fi
