#!/usr/bin/env bash
# Installs what `infra::image` and its tests need, idempotently (fast when already present):
#   rustup target   aarch64-unknown-linux-musl (and x86_64 with IMAGE_TARGETS="aarch64 x86_64")
#   .tools/zig/     a venv with PyPI `ziglang` (zig, the cross linker cargo-zigbuild drives)
#   .tools/cargo/   cargo-zigbuild (cargo install --locked --root .tools/cargo)
#   apt             qemu-user-static (runs the arm64 binary), docker-registry (a real OCI registry)
set -euo pipefail
cd "$(dirname "$0")/.."

ZIGLANG_SPEC='ziglang==0.15.2'
ZIGBUILD_VERSION='0.24.1'

for arch in ${IMAGE_TARGETS:-aarch64}; do
    triple="$arch-unknown-linux-musl"
    if ! rustup target list --installed | grep -qx "$triple"; then
        echo "adding rustup target $triple" >&2
        rustup target add "$triple"
    fi
done

marker=.tools/zig/.installed
if [ ! -f "$marker" ] || [ "$(cat "$marker")" != "$ZIGLANG_SPEC" ]; then
    echo "installing $ZIGLANG_SPEC into .tools/zig" >&2
    python3 -m venv .tools/zig
    .tools/zig/bin/pip install --quiet --disable-pip-version-check "$ZIGLANG_SPEC"
    echo "$ZIGLANG_SPEC" > "$marker"
fi

if ! .tools/cargo/bin/cargo-zigbuild --version 2>/dev/null | grep -q "$ZIGBUILD_VERSION"; then
    echo "installing cargo-zigbuild $ZIGBUILD_VERSION into .tools/cargo" >&2
    cargo install cargo-zigbuild --version "$ZIGBUILD_VERSION" --locked --root .tools/cargo
fi

missing=()
command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
[ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} with apt-get" >&2
    sudo_=""
    [ "$(id -u)" = 0 ] || sudo_=sudo
    $sudo_ apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
