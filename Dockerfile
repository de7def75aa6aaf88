# syntax=docker/dockerfile:1

# One image holds the three AuthOS binaries: `authos` (operator CLI: migrate,
# api, worker, ...), `api` and `worker`. Pick one with the command, e.g.
#   docker run IMAGE authos migrate
#   docker run IMAGE api          (the default)
#   docker run IMAGE worker
# Configuration comes only from environment variables (see README).

# ---- build: static binaries, cross-compiled for the target platform ----
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
WORKDIR /src
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath \
      -ldflags "-s -w -X github.com/authos/authos/cmd/internal/app.Version=${VERSION}" \
      -o /out/ ./cmd/authos ./cmd/api ./cmd/worker

# ---- runtime: alpine for CA roots, time zones and busybox wget (health checks) ----
FROM alpine:3
ARG VERSION=dev
LABEL org.opencontainers.image.title="AuthOS" \
      org.opencontainers.image.version="${VERSION}"
RUN apk add --no-cache ca-certificates tzdata \
 && addgroup -S -g 10001 authos \
 && adduser -S -D -H -u 10001 -G authos -s /sbin/nologin authos
COPY --from=build /out/authos /out/api /out/worker /usr/local/bin/
USER 10001:10001
# 8080: API (PORT); 8081: worker health endpoints (WORKER_PORT).
EXPOSE 8080 8081
CMD ["api"]
