# syntax=docker/dockerfile:1
#
# One image for the whole mesh: every binary of the workspace is built once
# and copied into a small Debian runtime. Each container picks its process
# by command: `gateway`, `order-svc`, `restaurant-svc`, `kitchen-svc`,
# `delivery-svc`, `accounting-svc` or `notification-svc`.
#
#   docker build -t foodmesh:latest .
#
# Protos are compiled by a pure-Rust compiler (protox), so no protoc is
# installed; the API docs page is vendored into the gateway binary.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

############################  build  ############################
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
WORKDIR /src

# The cache mounts keep the crate registry and the target directory between
# builds (BuildKit), so a code change does not re-download or rebuild every
# dependency. The target directory lives only in the cache, hence the copy
# of the finished binaries to /out inside the same step.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --workspace --bins \
 && mkdir -p /out \
 && for bin in gateway order-svc restaurant-svc kitchen-svc delivery-svc \
               accounting-svc notification-svc foodmesh; do \
      cp "target/release/${bin}" /out/; \
    done

###########################  runtime  ###########################
FROM debian:${DEBIAN_RELEASE}-slim AS runtime

# ca-certificates: TLS to payment, SMS and e-mail providers.
# curl: the container health checks (GET /healthz on each process's port).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*

# A fixed numeric non-root user, so Kubernetes can verify runAsNonRoot.
RUN groupadd --system --gid 10001 foodmesh \
 && useradd --system --uid 10001 --gid foodmesh --home-dir /nonexistent \
      --no-create-home --shell /usr/sbin/nologin foodmesh

COPY --from=build /out/ /usr/local/bin/

USER 10001:10001
WORKDIR /tmp
ENV LOG_FORMAT=json \
    RUST_LOG=info
# gateway 8000; order, restaurant, kitchen, delivery, accounting and
# notification services 8001-8006 (gRPC, plus /metrics and /healthz).
EXPOSE 8000 8001 8002 8003 8004 8005 8006
# The processes handle SIGTERM themselves: deregister from Consul, drain
# in-flight calls, close their pools.
STOPSIGNAL SIGTERM
CMD ["gateway"]
