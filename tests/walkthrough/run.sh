#!/usr/bin/env bash
# Runs the README's walkthrough (scripts/walkthrough.sh) against a fresh
# mesh of its own, so the README's commands cannot drift from the API.
#
# Needs the debug `foodmesh` binary (`cargo build -p foodmesh`), Postgres,
# Redis, python3, curl and jq.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
MESH_NAME=walkthrough
# shellcheck source=tests/lib/mesh.sh
. "$root/tests/lib/mesh.sh"
# shellcheck disable=SC2119
mesh_start

if FOODMESH_URL=$gateway FOODMESH_BIN=$bin "$root/scripts/walkthrough.sh"; then
  mesh_say "the walkthrough ran to its end"
else
  status=$?
  if grep -q ' ERROR ' "$mesh_log"; then
    mesh_say "the errors the mesh logged:"
    grep ' ERROR ' "$mesh_log" | tail -n 50 >&2
  fi
  exit "$status"
fi
