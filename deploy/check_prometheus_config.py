#!/usr/bin/env python3
"""Checks prometheus.yml with promtool, Consul discovery and relabelling included.

1. `promtool check config prometheus.yml`. Some promtool builds are compiled
   without Consul service discovery (Debian's prometheus package disables
   it); they reject `consul_sd_configs` as an unknown field. In that case the
   Consul blocks are checked against the fields Prometheus documents for
   `consul_sd_config`, and step 2 carries the rest.
2. The same file with every `consul_sd_configs` replaced by a `file_sd_configs`
   whose targets carry exactly the `__meta_consul_*` labels Consul discovery
   would give for the mesh (plus one untagged service) goes through
   `promtool check config` and `promtool check service-discovery`, and the
   relabelled targets must be: one per process, `service` = the Consul
   service name, `instance` = its address, the advertised metrics path, and
   the untagged service dropped.

    python3 deploy/check_prometheus_config.py [--promtool promtool] [prometheus.yml]
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml  # PyYAML, installed with kubernetes-validate

ROOT = Path(__file__).resolve().parent.parent

# The processes that register in Consul, as docker-compose runs them.
MESH = {
    "gateway": "gateway:8000", "order-svc": "order-svc:8001",
    "restaurant-svc": "restaurant-svc:8002", "kitchen-svc": "kitchen-svc:8003",
    "delivery-svc": "delivery-svc:8004", "accounting-svc": "accounting-svc:8005",
    "notification-svc": "notification-svc:8006",
}
TAG = "foodmesh"

# consul_sd_config fields (Prometheus configuration reference), HTTP client
# fields included.
CONSUL_SD_FIELDS = {
    "server", "path_prefix", "token", "datacenter", "namespace", "partition", "scheme",
    "username", "password", "services", "tags", "node_meta", "tag_separator", "allow_stale",
    "refresh_interval", "filter",
    "basic_auth", "authorization", "oauth2", "proxy_url", "no_proxy", "proxy_from_environment",
    "proxy_connect_header", "follow_redirects", "enable_http2", "tls_config", "http_headers",
}
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")

problems: list[str] = []


def fail(msg: str) -> None:
    problems.append(msg)


def run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)


def check_consul_blocks(config: dict) -> int:
    n = 0
    for job in config.get("scrape_configs", []):
        for i, sd in enumerate(job.get("consul_sd_configs", []) or []):
            n += 1
            where = f"job {job['job_name']} consul_sd_configs[{i}]"
            for key in sorted(set(sd) - CONSUL_SD_FIELDS):
                fail(f"{where}: unknown field `{key}`")
            server = str(sd.get("server", ""))
            if not re.fullmatch(r"[A-Za-z0-9.\-]+:\d+", server):
                fail(f"{where}: server `{server}` is not host:port")
            if TAG not in (sd.get("tags") or []):
                fail(f"{where}: does not filter on the `{TAG}` tag")
            ri = sd.get("refresh_interval")
            if ri is not None and not DURATION.match(str(ri)):
                fail(f"{where}: refresh_interval `{ri}` is not a duration")
            for key in ("services", "tags"):
                if key in sd and not isinstance(sd[key], list):
                    fail(f"{where}: `{key}` must be a list")
    return n


def simulated_targets() -> list[dict]:
    """What Consul discovery yields for the mesh, as file_sd target groups."""
    groups = []
    for service, addr in MESH.items():
        host, port = addr.split(":")
        groups.append({"targets": [addr], "labels": {
            "__meta_consul_service": service,
            "__meta_consul_service_id": f"{service}-{host}-{port}",
            "__meta_consul_service_address": host,
            "__meta_consul_service_port": port,
            "__meta_consul_tags": f",{TAG},",
            "__meta_consul_service_metadata_metrics_path": "/metrics",
            "__meta_consul_node": "consul",
            "__meta_consul_health": "passing",
        }})
    groups.append({"targets": ["consul:8300"], "labels": {
        "__meta_consul_service": "consul", "__meta_consul_tags": ",,",
        "__meta_consul_node": "consul", "__meta_consul_health": "passing",
    }})
    return groups


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config", nargs="?", type=Path, default=ROOT / "prometheus.yml")
    ap.add_argument("--promtool", default="promtool")
    args = ap.parse_args()

    config = yaml.safe_load(args.config.read_text(encoding="utf-8"))
    direct = run([args.promtool, "check", "config", str(args.config)])
    out = (direct.stdout + direct.stderr).strip()
    if direct.returncode == 0:
        print(f"promtool check config {args.config.name}: SUCCESS")
    elif "field consul_sd_configs not found" in out:
        print(f"promtool check config {args.config.name}: this promtool has no Consul discovery "
              "compiled in; checking the consul_sd_configs blocks by their documented fields")
    else:
        fail(f"promtool check config {args.config}:\n{out}")
    n_consul = check_consul_blocks(config)

    consul_jobs = [j["job_name"] for j in config.get("scrape_configs", []) if j.get("consul_sd_configs")]
    if not consul_jobs:
        fail("no job discovers its targets through consul_sd_configs")
    derived = copy.deepcopy(config)
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "consul-targets.json").write_text(json.dumps(simulated_targets()))
        for job in derived.get("scrape_configs", []):
            if job.pop("consul_sd_configs", None) is not None:
                job.setdefault("file_sd_configs", []).append({"files": ["consul-targets.json"]})
        (tmpdir / "prometheus.yml").write_text(yaml.safe_dump(derived, sort_keys=False))
        check = run([args.promtool, "check", "config", "prometheus.yml"], cwd=tmpdir)
        if check.returncode != 0:
            fail(f"promtool check config (Consul discovery simulated):\n{(check.stdout + check.stderr).strip()}")
        else:
            print("promtool check config (Consul discovery simulated by file_sd): SUCCESS")
        for job in consul_jobs:
            sd = run([args.promtool, "check", "service-discovery", "--timeout=1s", "prometheus.yml", job],
                     cwd=tmpdir)
            try:
                targets = json.loads(sd.stdout)
            except json.JSONDecodeError:
                fail(f"promtool check service-discovery {job}: {(sd.stdout + sd.stderr).strip()}")
                continue
            kept = [t["labels"] for t in targets if t.get("labels")]
            by_service = {t.get("service"): t for t in kept}
            for service, addr in MESH.items():
                t = by_service.get(service)
                if t is None:
                    fail(f"job {job}: {service} is discovered but not scraped (relabelling dropped it "
                         "or set no `service` label)")
                    continue
                expect = {"instance": addr, "__address__": addr, "__metrics_path__": "/metrics", "job": job}
                for k, v in expect.items():
                    if t.get(k) != v:
                        fail(f"job {job}: {service} gets {k}={t.get(k)!r}, expected {v!r}")
            stray = sorted(t.get("__address__", "?") for t in kept if t.get("service") not in MESH)
            if stray:
                fail(f"job {job}: scrapes targets that are not FoodMesh processes with a `service` "
                     f"label: {', '.join(stray)}")
            print(f"promtool check service-discovery {job}: {len(kept)} targets after relabelling "
                  f"({', '.join(sorted(s for s in by_service if s))})")

    for p in problems:
        print(f"FAIL {p}")
    if problems:
        return 1
    print(f"prometheus.yml: valid; {n_consul} Consul discovery block(s); relabelling gives "
          "service, instance and the metrics path for every process")
    return 0


if __name__ == "__main__":
    sys.exit(main())
