# shellcheck shell=bash
# Sourced by the scripts that need a whole mesh of their own (the fuzz run,
# the walkthrough, the Prometheus check): `mesh_start` runs `foodmesh up`
# with demo data on seven free loopback ports, with databases, streams and
# a token secret no test and no other run uses; the EXIT trap it sets stops
# the mesh and drops what it made.
#
# Before sourcing, the caller may set MESH_NAME (the run's name prefix) and
# MESH_ENV (an array of extra VAR=value for the mesh). After mesh_start:
#   $bin          the foodmesh binary
#   $gateway      the gateway's URL
#   $mesh_base    the first port (order-svc's HTTP port is $mesh_base + 0 ...)
#   $mesh_log     the mesh's output
#   $mesh_pid     the `foodmesh up` supervisor (its processes are children)
#   $mesh_targets its scrape targets, for Prometheus' file-based discovery
#   $mesh_work    a scratch folder removed on exit
#   $JWT_SECRET   (exported) the secret the mesh signs and checks tokens with
#   $run_id       the prefix of its databases and streams
# A caller's own clean-up goes in MESH_ON_EXIT (a command run first).

mesh_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=${FOODMESH_BIN:-${CARGO_TARGET_DIR:-$mesh_root/target}/debug/foodmesh}
pg=${FOODMESH_PG_URL:-postgres://postgres@127.0.0.1:5432}
redis=${REDIS_URL:-redis://127.0.0.1:6379}
run_id=${MESH_NAME:-mesh}_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
mesh_work=$(mktemp -d "${TMPDIR:-/tmp}/foodmesh-$run_id.XXXXXX")
mesh_log=$mesh_work/mesh.log
mesh_targets=$mesh_work/prometheus-targets.json
mesh_pid=
MESH_ON_EXIT=${MESH_ON_EXIT:-}

mesh_say() { echo "${MESH_NAME:-mesh}: $*" >&2; }

mesh_cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$MESH_ON_EXIT" ]; then eval "$MESH_ON_EXIT" || true; fi
  if [ -n "$mesh_pid" ] && kill -0 "$mesh_pid" 2>/dev/null; then
    mesh_say "stopping the mesh"
    kill -TERM "$mesh_pid" 2>/dev/null || true
    for _ in $(seq 1 60); do
      kill -0 "$mesh_pid" 2>/dev/null || break
      sleep 1
    done
    if kill -0 "$mesh_pid" 2>/dev/null; then
      mesh_say "the mesh did not stop in 60 s; killing the launcher"
      kill -KILL "$mesh_pid" 2>/dev/null || true
    fi
    wait "$mesh_pid" 2>/dev/null || true
  fi
  if command -v psql >/dev/null 2>&1; then
    for service in order restaurant kitchen delivery accounting notification; do
      psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS \"${run_id}_$service\" WITH (FORCE)" \
        >/dev/null 2>&1 || mesh_say "database ${run_id}_$service not dropped"
    done
  else
    mesh_say "psql not found: databases ${run_id}_* are left behind"
  fi
  if command -v redis-cli >/dev/null 2>&1; then
    redis-cli -u "$redis" --scan --pattern "$run_id:*" |
      xargs -r redis-cli -u "$redis" unlink >/dev/null || true
  fi
  rm -rf "$mesh_work"
  exit "$status"
}

# Seven consecutive free loopback ports from a random place below the
# kernel's ephemeral range, so parallel runs and tests do not collide.
mesh_free_ports() {
  python3 - <<'PY'
import random, socket
def free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
slots = list(range(20000, 32000, 12))
start = random.randrange(len(slots))
for base in slots[start:] + slots[:start]:
    if all(free(p) for p in range(base, base + 7)):
        print(base)
        break
else:
    raise SystemExit("no seven consecutive free ports")
PY
}

# mesh_start [VAR=value...]: starts the mesh with those settings added and
# waits (up to 180 s) until it says it is up.
mesh_start() {
  if [ ! -x "$bin" ]; then
    mesh_say "$bin is missing; build it with: cargo build -p foodmesh"
    exit 1
  fi
  trap mesh_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  mesh_base=$(mesh_free_ports)
  gateway=http://127.0.0.1:$((mesh_base + 6))
  mesh_say "starting the mesh on $gateway (databases ${run_id}_*)"
  JWT_SECRET=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
  export JWT_SECRET
  env -u CONSUL_HTTP_ADDR -u DATABASE_URL -u LISTEN_ADDR \
    EVENT_STREAM_PREFIX="$run_id" RUST_LOG=warn FOODMESH_PG_URL="$pg" REDIS_URL="$redis" \
    FOODMESH_PROMETHEUS_TARGETS="$mesh_targets" \
    "$@" \
    "$bin" up --host 127.0.0.1 --base-port "$mesh_base" --gateway-port "$((mesh_base + 6))" \
    --db-prefix "$run_id" >"$mesh_log" 2>&1 &
  mesh_pid=$!
  for _ in $(seq 1 180); do
    grep -q '^Press Ctrl-C' "$mesh_log" && return 0
    if ! kill -0 "$mesh_pid" 2>/dev/null; then
      mesh_say "the mesh did not start:"
      cat "$mesh_log" >&2
      exit 1
    fi
    sleep 1
  done
  mesh_say "the mesh was not up within 180 s:"
  tail -n 50 "$mesh_log" >&2
  exit 1
}
