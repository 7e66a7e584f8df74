#!/usr/bin/env bash
# Installs the third-party MCP clients the server's tests drive, under the
# repository's git-ignored .tools/ directory:
#   .tools/mcp-1.12.2/   Python venv: mcp==1.12.2 + httpx-sse==0.4.1 (the seed's client)
#   .tools/mcp-latest/   Python venv: the newest mcp, pinned
#   .tools/node/         npm prefix: @modelcontextprotocol/inspector (CLI mode)
# Idempotent: each part writes a marker naming its exact pins and is skipped
# when that marker exists, so a second run takes milliseconds.
set -euo pipefail

MCP_SEED_VERSION=1.12.2
HTTPX_SSE_VERSION=0.4.1
# mcp 1.12.2 predates pydantic 2.12 (it imports a private helper 2.12 removed).
PYDANTIC_FOR_SEED=2.11.7
MCP_LATEST_VERSION=2.3.0
INSPECTOR_VERSION=0.22.0

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
python="${PYTHON:-python3}"
mkdir -p "$tools"

if ! "$python" -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    printf 'server-tools: %s must be Python >= 3.10 with the venv module (Debian: apt-get install python3-venv); set PYTHON to another interpreter\n' "$python" >&2
    exit 1
fi

log() { printf 'server-tools: %s\n' "$*" >&2; }

# install_venv DIR PACKAGE...
install_venv() {
    local dir="$1"
    shift
    local marker="$dir/.installed"
    local want="$*"
    if [[ -f "$marker" && "$(cat "$marker")" == "$want" ]]; then
        return 0
    fi
    log "creating $dir with $want"
    rm -rf "$dir"
    "$python" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "$@"
    printf '%s' "$want" >"$marker"
}

install_inspector() {
    local dir="$tools/node"
    local marker="$dir/.installed"
    local want="@modelcontextprotocol/inspector@$INSPECTOR_VERSION"
    if [[ -f "$marker" && "$(cat "$marker")" == "$want" && -x "$dir/node_modules/.bin/mcp-inspector" ]]; then
        return 0
    fi
    command -v npm >/dev/null || { log "npm is required (install Node.js >= 20)"; exit 1; }
    log "installing $want into $dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    printf '{"private":true}\n' >"$dir/package.json"
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "$want"
    printf '%s' "$want" >"$marker"
}

install_venv "$tools/mcp-$MCP_SEED_VERSION" "mcp==$MCP_SEED_VERSION" "httpx-sse==$HTTPX_SSE_VERSION" "pydantic==$PYDANTIC_FOR_SEED" &
seed=$!
install_venv "$tools/mcp-latest" "mcp==$MCP_LATEST_VERSION" &
latest=$!
install_inspector &
inspector=$!
status=0
wait "$seed" || status=1
wait "$latest" || status=1
wait "$inspector" || status=1
if [[ $status -ne 0 ]]; then
    log "failed"
    exit 1
fi
