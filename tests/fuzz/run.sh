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
cache=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/foodmesh-fuzz
python=${PYTHON:-python3}

say() { echo "fuzz: $*" >&2; }


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

MESH_NAME=fuzz
MESH_ON_EXIT=stop_schemathesis
st_pid=
stop_schemathesis() {
  if [ -n "$st_pid" ]; then
    kill -TERM "$st_pid" 2>/dev/null || true
    wait "$st_pid" 2>/dev/null || true
  fi
}
# shellcheck source=tests/lib/mesh.sh
. "$root/tests/lib/mesh.sh"
# Rate limits stay on, raised past what the fuzzer sends, so every case
# reaches its handler; 429 itself is covered by the end-to-end tests.
mesh_start \
  RATE_LIMIT_READ=1000000/min RATE_LIMIT_WRITE=1000000/min RATE_LIMIT_ORDER=1000000/min \
  RATE_LIMIT_GUEST_CHECKOUT=1000000/min RATE_LIMIT_TRACKING=1000000/min
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
cd "$mesh_work"
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
