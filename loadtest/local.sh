#!/usr/bin/env bash
# Runs one load scenario against a local, throwaway AuthOS: PostgreSQL and
# Redis started by `authos with-services`, migrations applied, the api
# binary started with rate limits off, then the Go load runner.
#
#   bash loadtest/local.sh -scenario authenticated-read -c 64 -d 20s
#
# Loopback only; everything stops when the run ends.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin
go build -o bin/ ./cmd/authos ./cmd/api
go build -o bin/loadrun ./loadtest
if [ "${1:-}" != "--inner" ]; then
  exec ./bin/authos with-services -- bash loadtest/local.sh --inner "$@"
fi
shift
export DATABASE_URL="$TEST_DATABASE_URL" REDIS_URL="$TEST_REDIS_URL"
export AUTHOS_ENV=development LOG_LEVEL=warn DISABLE_RATE_LIMITING=true SERVER_HOST=127.0.0.1
export PORT="${PORT:-18080}" WORKER_PORT="${WORKER_PORT:-18081}"
export PLATFORM_OWNER_EMAIL=load@authos.test PLATFORM_OWNER_PASSWORD=load-test-passphrase
export DB_MAX_CONNECTIONS="${DB_MAX_CONNECTIONS:-32}"
./bin/authos migrate >/dev/null
./bin/api > /tmp/authos-loadtest-api.log 2>&1 &
api=$!
trap 'kill $api 2>/dev/null; wait $api 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break
  sleep 0.2
done
extra=()
case " $* " in
  *" service-api-read "*|*"-scenario=service-api-read"*)
    read -r -a extra <<<"$(bash loadtest/service-api-setup.sh "http://127.0.0.1:$PORT" "$PLATFORM_OWNER_EMAIL" "$PLATFORM_OWNER_PASSWORD")" ;;
esac
./bin/loadrun -base-url "http://127.0.0.1:$PORT" -email "$PLATFORM_OWNER_EMAIL" -password "$PLATFORM_OWNER_PASSWORD" "${extra[@]}" "$@"
case " $* " in
  *" login "*|*"-scenario=login"*)
    echo "--- raw Argon2id baseline, same parameters, same run:"
    go run ./loadtest/argon2rate -c "$(nproc)" -d 15s ;;
esac
