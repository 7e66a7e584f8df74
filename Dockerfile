# syntax=docker/dockerfile:1
# The MCP server image for people who build with Docker:
#   docker buildx build --platform linux/arm64 -t web-search-mcp .
# The build stage runs on the BUILD platform and cross-compiles (cargo-zigbuild, static musl):
# no QEMU emulation. `infra` builds an equivalent image without Docker (infra/src/image/).
FROM --platform=$BUILDPLATFORM rust:1.95-bookworm AS build
ARG TARGETARCH
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-pip ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && pip3 install --no-cache-dir --break-system-packages ziglang==0.15.2 cargo-zigbuild==0.24.0
RUN case "$TARGETARCH" in \
      arm64) echo aarch64-unknown-linux-musl ;; \
      amd64) echo x86_64-unknown-linux-musl ;; \
      *) echo "unsupported TARGETARCH $TARGETARCH (linux/arm64 or linux/amd64)" >&2; exit 1 ;; \
    esac > /target-triple \
 && rustup target add "$(cat /target-triple)"
WORKDIR /src
COPY . .
# Paths remapped as infra::image does, so no build path reaches the binary.
ENV RUSTFLAGS="--remap-path-prefix=/src=/build --remap-path-prefix=/usr/local/cargo=/cargo" \
    SOURCE_DATE_EPOCH=0
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo zigbuild --release --locked -p server --target "$(cat /target-triple)" \
 && cp "target/$(cat /target-triple)/release/server" /server

FROM scratch
# The server verifies TLS (OpenAI) against the system roots.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /server /server
ENV HOST=0.0.0.0 PORT=8000 SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
EXPOSE 8000
ENTRYPOINT ["/server"]
