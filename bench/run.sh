#!/usr/bin/env bash
# Benchmarks FoodMesh in one command: builds the launcher and the load
# generator in release mode, starts a fresh mesh (databases bench_*, event
# streams bench:*) on the default ports, runs every scenario of
# foodmesh-bench, and stops the mesh. Arguments go to foodmesh-bench:
#
#   bench/run.sh                 # 16 workers, 10 s per scenario
#   bench/run.sh -c 32 -d 30     # see target/release/foodmesh-bench --help
#
# The summary goes to stdout and to bench/results/latest.json; the mesh's
# own output to a log file named at the end.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The prefix of the mesh's databases and streams; foodmesh-bench's
# --db-prefix defaults to the same.
PREFIX=bench
PG_URL="${FOODMESH_PG_URL:-postgres://postgres@127.0.0.1:5432}"
PG_URL="${PG_URL%/}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
PORTS=(8000 8001 8002 8003 8004 8005 8006 8010)
# The overload scenarios' gateway: one more gateway process on port 8010,
# in front of the same services, admitting this many requests at once.
OVERLOAD_MAX_IN_FLIGHT="${OVERLOAD_MAX_IN_FLIGHT:-4}"

say() { echo "bench/run.sh: $*" >&2; }

for tool in cargo psql redis-cli; do
    command -v "$tool" >/dev/null || { say "needs $tool on PATH"; exit 1; }
done
for port in "${PORTS[@]}"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        say "port $port is in use: stop the mesh running there first"
        exit 1
    fi
done

cargo build --release -p foodmesh -p foodmesh-bench

# Fresh state: no database or stream of an earlier run.
dbs=$(psql "$PG_URL/postgres" -v ON_ERROR_STOP=1 -Atc \
    "SELECT datname FROM pg_database WHERE datname LIKE '${PREFIX}\_%'")
for db in $dbs; do
    psql "$PG_URL/postgres" -v ON_ERROR_STOP=1 -qc "DROP DATABASE \"$db\" WITH (FORCE)"
done
keys=$(redis-cli -u "$REDIS_URL" --scan --pattern "${PREFIX}:*")
for key in $keys; do
    redis-cli -u "$REDIS_URL" DEL "$key" >/dev/null
done

LOG=$(mktemp "${TMPDIR:-/tmp}/foodmesh-bench-mesh.XXXXXX")
export EVENT_STREAM_PREFIX="$PREFIX"
# The limits stay on (each request still pays its check in Redis), raised
# past what the load generator sends from its one address and few tokens.
# A variable already set wins, so a run can bench the defaults too.
for class in READ WRITE ORDER GUEST_CHECKOUT TRACKING WEBHOOK; do
    var=RATE_LIMIT_$class
    export "$var=${!var:-1000000/s}"
done
# bulk_send measures what notification-svc sustains, not a provider's
# pace: the email sender (the log provider here) may go as fast as it can.
export NOTIFY_RATE_EMAIL="${NOTIFY_RATE_EMAIL:-100000}" NOTIFY_BATCH="${NOTIFY_BATCH:-500}"
target/release/foodmesh up --db-prefix "$PREFIX" --no-demo >"$LOG" 2>&1 &
MESH_PID=$!

OVERLOAD_PID=
# SIGINT, as Ctrl-C would: the launcher stops the gateway, then the
# services, then exits. SIGTERM if it has not stopped after a minute.
stop_mesh() {
    if [ -n "$OVERLOAD_PID" ] && kill -0 "$OVERLOAD_PID" 2>/dev/null; then
        kill -INT "$OVERLOAD_PID" 2>/dev/null || true
        wait "$OVERLOAD_PID" 2>/dev/null || true
    fi
    if kill -0 "$MESH_PID" 2>/dev/null; then
        say "stopping the mesh (pid $MESH_PID)"
        kill -INT "$MESH_PID" 2>/dev/null || true
        for _ in $(seq 1 60); do
            kill -0 "$MESH_PID" 2>/dev/null || break
            sleep 1
        done
        kill -TERM "$MESH_PID" 2>/dev/null || true
    fi
    wait "$MESH_PID" 2>/dev/null || true
}
trap stop_mesh EXIT
trap 'exit 130' INT TERM

say "starting the mesh (pid $MESH_PID, log $LOG)"
for _ in $(seq 1 180); do
    grep -q "Press Ctrl-C" "$LOG" && break
    if ! kill -0 "$MESH_PID" 2>/dev/null; then
        say "the mesh exited while starting:"
        tail -n 40 "$LOG" >&2
        exit 1
    fi
    sleep 1
done
if ! grep -q "Press Ctrl-C" "$LOG"; then
    say "the mesh did not come up within 180 s:"
    tail -n 40 "$LOG" >&2
    exit 1
fi

# Named foodmesh-overload, so the tool counts its CPU apart and leaves it
# out of the mesh's memory.
(
    export MAX_IN_FLIGHT="$OVERLOAD_MAX_IN_FLIGHT" LISTEN_ADDR=127.0.0.1:8010
    exec -a foodmesh-overload target/release/foodmesh serve gateway
) >>"$LOG" 2>&1 &
OVERLOAD_PID=$!
for _ in $(seq 1 30); do
    (exec 3<>/dev/tcp/127.0.0.1/8010) 2>/dev/null && break
    sleep 1
done
say "overload gateway on 8010 (pid $OVERLOAD_PID, MAX_IN_FLIGHT=$OVERLOAD_MAX_IN_FLIGHT)"

status=0
FOODMESH_BENCH_RUNNER="bench/run.sh${*:+ $*}" target/release/foodmesh-bench "$@" || status=$?

stop_mesh
trap - EXIT
say "mesh log: $LOG"
exit "$status"
