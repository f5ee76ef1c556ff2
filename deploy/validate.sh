#!/usr/bin/env bash
# Validates the operations files offline, with real tools:
#
#   docker-compose.yml          docker compose / docker-compose config
#   prometheus.yml              promtool check config + service-discovery
#   prometheus-local.yml        promtool check config
#   deploy/k8s/*.yaml           kubernetes-validate --strict (Kubernetes $K8S_VERSION)
#   deploy/grafana/             JSON and YAML syntax; every dashboard query
#                               parses as PromQL and uses only the metrics
#                               listed in deploy/exported-metrics.txt
#   Dockerfile                  BuildKit's parser (PyPI `dockerfile`)
#   all of them together        deploy/check_manifests.py (names, ports, refs)
#   shell scripts               shellcheck
#
# Missing tools are installed first: docker-compose and shellcheck from
# Debian's packages, promtool taken out of Debian's prometheus package
# (without installing the server, so no Prometheus daemon is started), and
# kubernetes-validate and dockerfile from PyPI. No Docker engine, cluster or network
# service is needed.
#
#   bash deploy/validate.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
started=$SECONDS

K8S_VERSION="${K8S_VERSION:-1.35.0}"
PYPI_TOOLS=("kubernetes-validate==1.37.0" "dockerfile==3.4.0")
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/foodmesh-validate"

step() { printf '\n== %s\n' "$*"; }
die() { printf 'validate: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

apt_updated=""
apt_update_once() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $* by hand"
  if [[ -z "$apt_updated" ]]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
}

apt_install() {
  apt_update_once "$@"
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ───────────────────────────── tools ─────────────────────────────
step "tools"

# Compose: the docker CLI plugin if present (no engine needed for `config`),
# else the standalone docker-compose.
if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
else
  if ! command -v docker-compose >/dev/null 2>&1; then
    echo "installing docker-compose (Debian)"
    apt_install docker-compose
  fi
  COMPOSE=(docker-compose)
fi

# promtool: from PATH, else extracted from Debian's prometheus package.
if command -v promtool >/dev/null 2>&1; then
  PROMTOOL="$(command -v promtool)"
elif [[ -x "$CACHE/bin/promtool" ]]; then
  PROMTOOL="$CACHE/bin/promtool"
else
  echo "extracting promtool from Debian's prometheus package"
  apt_update_once prometheus
  work="$(mktemp -d)"
  chmod 755 "$work"
  (cd "$work" && apt-get download prometheus >/dev/null 2>&1) || die "apt-get download prometheus failed"
  dpkg-deb -x "$work"/prometheus_*.deb "$work/root"
  mkdir -p "$CACHE/bin"
  install -m 0755 "$work/root/usr/bin/promtool" "$CACHE/bin/promtool"
  rm -rf "$work"
  PROMTOOL="$CACHE/bin/promtool"
fi

if ! command -v shellcheck >/dev/null 2>&1; then
  echo "installing shellcheck (Debian)"
  apt_install shellcheck
fi

# kubernetes-validate, dockerfile and PyYAML (which the check scripts use):
# in the current python3 if it has them or pip may install there, else in a
# virtualenv.
PY=python3
command -v python3 >/dev/null 2>&1 || apt_install python3
has_validators() { "$1" -c 'import kubernetes_validate, dockerfile, yaml' >/dev/null 2>&1; }
if ! has_validators "$PY"; then
  if [[ -x "$CACHE/venv/bin/python" ]] && has_validators "$CACHE/venv/bin/python"; then
    PY="$CACHE/venv/bin/python"
  elif echo "installing ${PYPI_TOOLS[*]} (PyPI)" &&
       python3 -m pip install -q --disable-pip-version-check "${PYPI_TOOLS[@]}" >/dev/null 2>&1 &&
       has_validators python3; then
    PY=python3
  else
    # e.g. Debian's system python, which refuses pip installs (PEP 668).
    echo "installing them into $CACHE/venv instead"
    python3 -m venv "$CACHE/venv" >/dev/null 2>&1 || { apt_install python3-venv; python3 -m venv "$CACHE/venv"; }
    "$CACHE/venv/bin/python" -m pip install -q --disable-pip-version-check "${PYPI_TOOLS[@]}"
    PY="$CACHE/venv/bin/python"
  fi
fi

echo "compose:             $("${COMPOSE[@]}" version --short 2>/dev/null || "${COMPOSE[@]}" version | head -n1)"
echo "promtool:            $("$PROMTOOL" --version 2>&1 | head -n1)"
echo "kubernetes-validate: $("$PY" -m kubernetes_validate --version) (Kubernetes $K8S_VERSION)"
echo "shellcheck:          $(shellcheck --version | sed -n 's/^version: //p')"

# ─────────────────────────── docker-compose ───────────────────────────
step "docker-compose.yml"
"${COMPOSE[@]}" -f docker-compose.yml config -q
echo "docker-compose.yml: valid ($("${COMPOSE[@]}" -f docker-compose.yml config --services | wc -l) services)"

# ───────────────────────────── prometheus ─────────────────────────────
step "prometheus.yml"
"$PY" deploy/check_prometheus_config.py --promtool "$PROMTOOL" prometheus.yml
step "prometheus-local.yml"
# The targets file exists only while a mesh runs; promtool only warns of it.
"$PROMTOOL" check config prometheus-local.yml

# ──────────────────────────── kubernetes ────────────────────────────
step "Kubernetes manifests (deploy/k8s)"
manifests=()
for f in deploy/k8s/*.yaml; do
  [[ "$(basename "$f")" == kustomization.yaml ]] || manifests+=("$f")
done
"$PY" -m kubernetes_validate --strict --quiet -k "$K8S_VERSION" "${manifests[@]}"
objects="$(grep -c '^kind:' "${manifests[@]}" | awk -F: '{ n += $NF } END { print n }')"
echo "${#manifests[@]} files, $objects objects: valid against Kubernetes $K8S_VERSION (strict)"

# ────────────────────────────── grafana ──────────────────────────────
step "Grafana provisioning and dashboards"
for f in deploy/grafana/dashboards/*.json; do
  "$PY" -m json.tool "$f" >/dev/null || die "$f is not valid JSON"
  echo "$f: valid JSON"
done
"$PY" - deploy/grafana/provisioning/*/*.yaml <<'EOF'
import sys, yaml
for path in sys.argv[1:]:
    doc = yaml.safe_load(open(path, encoding="utf-8"))
    assert doc.get("apiVersion") == 1, f"{path}: apiVersion must be 1"
    assert doc.get("datasources") or doc.get("providers"), f"{path}: no datasources or providers"
    print(f"{path}: valid YAML")
EOF
"$PY" deploy/check_dashboard_metrics.py --promtool "$PROMTOOL" deploy/grafana/dashboards

# ─────────────────────────── cross-checks ───────────────────────────
step "Dockerfile and cross-checks"
"$PY" deploy/check_manifests.py

step "shell scripts"
shellcheck deploy/validate.sh deploy/postgres/create-databases.sh
shellcheck -x -P SCRIPTDIR tests/lib/mesh.sh tests/fuzz/run.sh tests/walkthrough/run.sh \
  tests/prometheus/run.sh tests/prometheus/load.sh tests/browser/run.sh scripts/walkthrough.sh
echo "shellcheck: clean"

printf '\nall operations files valid (%ss)\n' "$((SECONDS - started))"
