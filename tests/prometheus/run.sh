#!/usr/bin/env bash
# A real Prometheus scrapes a fresh `foodmesh up` through the target list it
# writes (prometheus-local.yml), and every Grafana dashboard query returns a
# series after a short load: the README's walkthrough, then the calls in
# load.sh for what the walkthrough does not cause (declines, refunds,
# provider calls back, a failed delivery, a refused request).
#
# Needs the debug `foodmesh` binary (`cargo build -p foodmesh`), Debian's
# prometheus, Postgres, Redis, python3, curl and jq.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/prometheus
if ! command -v prometheus >/dev/null 2>&1; then
  echo "prometheus: not installed (apt-get install --no-install-recommends prometheus)" >&2
  exit 1
fi

MESH_NAME=prometheus
prometheus_pid=
stop_prometheus() {
  if [ -n "$prometheus_pid" ]; then
    kill -TERM "$prometheus_pid" 2>/dev/null || true
    wait "$prometheus_pid" 2>/dev/null || true
  fi
}
MESH_ON_EXIT=stop_prometheus
# shellcheck source=tests/lib/mesh.sh
. "$root/tests/lib/mesh.sh"
# shellcheck disable=SC2119
mesh_start

# The shipped local configuration, on this mesh's target list, a free port
# and a scrape every second so a short load shows.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
prometheus_url=http://127.0.0.1:$port
sed -e "s|/tmp/foodmesh/prometheus-targets.json|$mesh_targets|" \
  -e "s|127.0.0.1:9090|127.0.0.1:$port|" \
  -e "s|scrape_interval: 5s|scrape_interval: 1s|" \
  -e "s|scrape_timeout: 4s|scrape_timeout: 1s|" \
  -e "s|refresh_interval: 5s|refresh_interval: 1s|" \
  "$root/prometheus-local.yml" >"$mesh_work/prometheus.yml"
mesh_say "starting Prometheus on $prometheus_url"
prometheus --config.file="$mesh_work/prometheus.yml" --storage.tsdb.path="$mesh_work/tsdb" \
  --web.listen-address="127.0.0.1:$port" >"$mesh_work/prometheus.log" 2>&1 &
prometheus_pid=$!

if ! python3 "$here/check.py" targets "$prometheus_url" 7 --wait 60; then
  tail -n 20 "$mesh_work/prometheus.log" >&2
  exit 1
fi
FOODMESH_URL=$gateway FOODMESH_BIN=$bin "$root/scripts/walkthrough.sh" >/dev/null
FOODMESH_URL=$gateway FOODMESH_BIN=$bin bash "$here/load.sh"
python3 "$here/check.py" queries "$prometheus_url" "$root"/deploy/grafana/dashboards/*.json --wait 30
