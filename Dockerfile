# syntax=docker/dockerfile:1
# bun-plasma: the plasma_store in a container. See "Running in containers" in docs/operations.md.
#
#   docker build -t bun-plasma .
#   docker run --rm --memory=768m -v plasma:/run/plasma -e PLASMA_MEMORY=512MiB \
#     -e PLASMA_ADMIN_TOKEN=secret -p 127.0.0.1:9090:9090 bun-plasma
#
# BASE_IMAGE must hold `bun` on PATH and a `bun` user (uid 1000), as the official images do. No shell is
# needed in it: every RUN below is in exec form and runs Bun.
ARG BASE_IMAGE=oven/bun:1.4.5-slim

# ---------------------------------------------------------------- production dependencies only
FROM ${BASE_IMAGE} AS deps
WORKDIR /app
COPY package.json bun.lock ./
RUN ["bun", "install", "--frozen-lockfile", "--production", "--ignore-scripts"]

# ---------------------------------------------------------------- runtime
FROM ${BASE_IMAGE}
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json bun.lock tsconfig.json ./
COPY proto ./proto
COPY src ./src
COPY examples ./examples
COPY docker/healthcheck.ts ./docker/healthcheck.ts
# The socket directory (a volume shared with client containers), owned by the non-root user.
RUN ["bun", "-e", "const fs = require('node:fs'); fs.mkdirSync('/run/plasma', { recursive: true, mode: 0o755 }); fs.chownSync('/run/plasma', 1000, 1000); fs.chmodSync('/run/plasma', 0o755);"]

# Configuration: these environment variables, or the same settings as flags after the image name
# (flags win). The arena is a sealed memfd (no PLASMA_DIRECTORY): no client can resize it, so none can
# crash the store or another client by truncating it (docs/security.md). Its pages are not in /dev/shm
# (--shm-size does not bound them): they count against the memory cgroup (--memory / mem_limit) of the
# process that first writes them, the store's with PLASMA_PREFAULT=1. PLASMA_DIRECTORY=/dev/shm puts the
# arena in a file there instead (bounded by --shm-size, checked and reserved at start-up, but unsealable:
# a client truncating it can crash other clients). Read-only client uids: PLASMA_READ_ONLY_UIDS.
ENV NODE_ENV=production \
    PLASMA_SOCKET=/run/plasma/plasma.sock \
    PLASMA_MEMORY=256MiB \
    PLASMA_ADMIN_HTTP=0.0.0.0:9090 \
    PLASMA_ADMIN_GRPC=0.0.0.0:50051 \
    PLASMA_LOG_LEVEL=info

VOLUME ["/run/plasma"]
# Admin HTTP (/healthz, /readyz, /metrics, /v1/*) and admin gRPC. Binding them to 0.0.0.0 needs
# PLASMA_ADMIN_TOKEN (or PLASMA_ADMIN_INSECURE=1): the store refuses to start otherwise. Every call but
# /healthz and /readyz needs that token, /metrics too unless PLASMA_ADMIN_METRICS_OPEN=1; HTTP answers only
# a Host that is an IP literal, localhost or a PLASMA_ADMIN_ALLOWED_HOSTS name (docs/admin.md#security).
EXPOSE 9090 50051

USER bun
# Runs inside the container, on its loopback: works whatever PLASMA_ADMIN_HTTP binds.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["bun", "/app/docker/healthcheck.ts"]
# The store is PID 1 (exec form, no shell): SIGTERM (docker/podman stop) closes clients, removes the
# socket and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["bun", "/app/src/daemon/cli.ts"]
CMD []
