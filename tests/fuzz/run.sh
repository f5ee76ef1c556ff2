#!/usr/bin/env bash
# Fuzzes the gateway's REST API against its own OpenAPI document with
# schemathesis: starts a fresh mesh with demo data on free loopback ports,
# runs schemathesis once with an admin token and once with no token, and
# fails on any server error or any answer the document does not describe.
# It always stops the mesh it started and drops its databases and streams.
#
# Needs the debug `foodmesh` binary (`cargo build -p foodmesh`), Postgres,
# Redis and python3; schemathesis is installed once into a venv under
# ~/.cache/foodmesh-fuzz.
#
# Settings (environment):
#   FUZZ_MAX_EXAMPLES  cases per operation and phase (schemathesis.toml: 100)
#   FUZZ_SEED          replay a run: the seed schemathesis printed
#   FOODMESH_BIN       the binary (default: $CARGO_TARGET_DIR/debug/foodmesh)
#   FOODMESH_PG_URL, REDIS_URL  as for `foodmesh up`
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${FOODMESH_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/foodmesh}
cache=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/foodmesh-fuzz
pg=${FOODMESH_PG_URL:-postgres://postgres@127.0.0.1:5432}
redis=${REDIS_URL:-redis://127.0.0.1:6379}
python=${PYTHON:-python3}

say() { echo "fuzz: $*" >&2; }

if [ ! -x "$bin" ]; then
  say "$bin is missing; build it with: cargo build -p foodmesh"
  exit 1
fi

# The venv is named after the pins, so changing them makes a new one; it
# counts as installed only once pip has finished.
pins=$(sha256sum "$here/requirements.txt" | cut -c1-12)
venv=$cache/venv-$pins
if [ ! -f "$venv/.installed" ]; then
  say "installing schemathesis into $venv"
  rm -rf "$venv"
  mkdir -p "$cache"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    --requirement "$here/requirements.txt"
  touch "$venv/.installed"
fi

# Names no test and no other run uses.
run_id=fuzz_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
work=$(mktemp -d "${TMPDIR:-/tmp}/foodmesh-$run_id.XXXXXX")
mesh_log=$work/mesh.log

# Seven consecutive free loopback ports from a random place below the
# kernel's ephemeral range, so parallel runs and tests do not collide.
base=$("$venv/bin/python" - <<'EOF'
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
EOF
)
gateway=http://127.0.0.1:$((base + 6))

mesh_pid=
st_pid=
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$st_pid" ]; then
    kill -TERM "$st_pid" 2>/dev/null || true
    wait "$st_pid" 2>/dev/null || true
  fi
  if [ -n "$mesh_pid" ] && kill -0 "$mesh_pid" 2>/dev/null; then
    say "stopping the mesh"
    kill -TERM "$mesh_pid" 2>/dev/null || true
    for _ in $(seq 1 60); do
      kill -0 "$mesh_pid" 2>/dev/null || break
      sleep 1
    done
    if kill -0 "$mesh_pid" 2>/dev/null; then
      say "the mesh did not stop in 60 s; killing the launcher"
      kill -KILL "$mesh_pid" 2>/dev/null || true
    fi
    wait "$mesh_pid" 2>/dev/null || true
  fi
  if command -v psql >/dev/null 2>&1; then
    for service in order restaurant kitchen delivery accounting notification; do
      psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS \"${run_id}_$service\" WITH (FORCE)" \
        >/dev/null 2>&1 || say "database ${run_id}_$service not dropped"
    done
  else
    say "psql not found: databases ${run_id}_* are left behind"
  fi
  if command -v redis-cli >/dev/null 2>&1; then
    redis-cli -u "$redis" --scan --pattern "$run_id:*" |
      xargs -r redis-cli -u "$redis" unlink >/dev/null || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "starting the mesh on $gateway (databases ${run_id}_*)"
# A secret of this run's own, so no token minted elsewhere works here.
JWT_SECRET=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
export JWT_SECRET
# Rate limits stay on, raised past what the fuzzer sends, so every case
# reaches its handler; 429 itself is covered by the end-to-end tests.
env -u CONSUL_HTTP_ADDR -u DATABASE_URL -u LISTEN_ADDR \
  EVENT_STREAM_PREFIX="$run_id" RUST_LOG=warn FOODMESH_PG_URL="$pg" REDIS_URL="$redis" \
  RATE_LIMIT_READ=1000000/min RATE_LIMIT_WRITE=1000000/min RATE_LIMIT_ORDER=1000000/min \
  RATE_LIMIT_GUEST_CHECKOUT=1000000/min RATE_LIMIT_TRACKING=1000000/min \
  "$bin" up --host 127.0.0.1 --base-port "$base" --gateway-port "$((base + 6))" \
  --db-prefix "$run_id" >"$mesh_log" 2>&1 &
mesh_pid=$!
for _ in $(seq 1 180); do
  grep -q '^Press Ctrl-C' "$mesh_log" && break
  if ! kill -0 "$mesh_pid" 2>/dev/null; then
    say "the mesh did not start:"
    cat "$mesh_log" >&2
    exit 1
  fi
  sleep 1
done
if ! grep -q '^Press Ctrl-C' "$mesh_log"; then
  say "the mesh was not up within 180 s:"
  tail -n 50 "$mesh_log" >&2
  exit 1
fi
token=$("$bin" token --role admin --subject fuzz --ttl-hours 1)

seed=${FUZZ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
st_args=(--config-file "$here/schemathesis.toml" run "$gateway/openapi.json" --seed "$seed" --no-color)
if [ -n "${FUZZ_MAX_EXAMPLES:-}" ]; then
  st_args+=(--max-examples "$FUZZ_MAX_EXAMPLES")
fi

# In the background, waited for: bash runs a trap only between commands, and
# a signal must not wait for a whole schemathesis run to end.
schemathesis() {
  "$venv/bin/st" "${st_args[@]}" "$@" &
  st_pid=$!
  local status=0
  wait "$st_pid" || status=$?
  st_pid=
  return "$status"
}

failed=()
# From the work folder: nothing schemathesis writes lands in the repository.
cd "$work"
say "schemathesis with an admin token (seed $seed)"
schemathesis --header "Authorization: Bearer $token" || failed+=(admin)
say "schemathesis with no token (seed $seed)"
schemathesis || failed+=(anonymous)

if [ "${#failed[@]}" -gt 0 ]; then
  say "failed: ${failed[*]} (replay with FUZZ_SEED=$seed)"
  if grep -q ' ERROR ' "$mesh_log"; then
    say "the errors the mesh logged:"
    grep ' ERROR ' "$mesh_log" | tail -n 100 >&2
  fi
  exit 1
fi
say "no failures (seed $seed)"
