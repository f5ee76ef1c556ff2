#!/usr/bin/env python3
"""Cross-checks the deployment files where schema validation cannot see.

kubernetes-validate proves each Kubernetes object is well formed, and
`docker-compose config` does the same for the compose file; neither sees
whether the objects fit together. This script checks that they do:

Kubernetes (deploy/k8s/):
* kustomization.yaml lists every manifest in the folder, and nothing else;
* every object is in the foodmesh namespace (except the Namespace itself);
* each Deployment's selector matches its pod labels; each Service selects
  pods that exist and targets a port they declare; HPAs and PDBs point at
  Deployments that exist, and an autoscaled Deployment sets no `replicas`;
* every container of the mesh runs the foodmesh image with one of its
  binaries, listens (LISTEN_ADDR) on the port it declares, advertises that
  port, has requests, limits, readiness and liveness probes on that port,
  and Prometheus annotations naming that port;
* every ConfigMap, Secret and key referenced exists (unless optional).

Dockerfile and .dockerignore (parsed by BuildKit's parser):
* a rust:1.9x-bookworm build stage runs the workspace build and copies out
  every binary (each a workspace member); the debian:bookworm-slim runtime
  stage copies them in, ends as a numeric non-root USER and has an exec-form
  CMD; the build context leaves out target/ and .git/.

docker-compose.yml:
* each mesh service runs its own binary, listens and advertises on its
  port, health-checks that port, and (services only) uses its own database.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml  # PyYAML, installed with kubernetes-validate

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
NAMESPACE = "foodmesh"
IMAGE = "foodmesh"
PORTS = {
    "gateway": 8000, "order-svc": 8001, "restaurant-svc": 8002, "kitchen-svc": 8003,
    "delivery-svc": 8004, "accounting-svc": 8005, "notification-svc": 8006,
}

problems: list[str] = []


def fail(msg: str) -> None:
    problems.append(msg)


def load_k8s() -> list[tuple[str, dict]]:
    objs = []
    for f in sorted(K8S.glob("*.yaml")):
        if f.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(f.read_text(encoding="utf-8")):
            if doc:
                objs.append((f.name, doc))
    return objs


def matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def env_value(container: dict, name: str) -> str | None:
    for e in container.get("env", []) or []:
        if e.get("name") == name:
            return e.get("value")
    return None


def check_k8s() -> int:
    kust = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    listed = set(kust.get("resources", []))
    present = {f.name for f in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    for missing in sorted(present - listed):
        fail(f"kustomization.yaml does not list {missing}")
    for extra in sorted(listed - present):
        fail(f"kustomization.yaml lists {extra}, which does not exist")

    objs = load_k8s()
    by_kind: dict[str, dict[str, dict]] = {}
    for fname, o in objs:
        kind, name = o["kind"], o["metadata"]["name"]
        if name in by_kind.setdefault(kind, {}):
            fail(f"{fname}: {kind}/{name} defined twice")
        by_kind[kind][name] = o
        if kind != "Namespace" and o["metadata"].get("namespace") != NAMESPACE:
            fail(f"{fname}: {kind}/{name} is not in namespace {NAMESPACE}")

    configmaps = {n: set((o.get("data") or {})) for n, o in by_kind.get("ConfigMap", {}).items()}
    secrets = {n: set((o.get("stringData") or {})) | set((o.get("data") or {}))
               for n, o in by_kind.get("Secret", {}).items()}
    workloads = {**by_kind.get("Deployment", {}), **by_kind.get("StatefulSet", {})}
    autoscaled = {h["spec"]["scaleTargetRef"]["name"] for h in by_kind.get("HorizontalPodAutoscaler", {}).values()}

    pods: list[tuple[str, dict, dict]] = []  # (workload, pod labels, pod spec)
    for name, w in workloads.items():
        where = f"{w['kind']}/{name}"
        tmpl = w["spec"]["template"]
        plabels = tmpl["metadata"].get("labels", {})
        if not matches(w["spec"]["selector"].get("matchLabels"), plabels):
            fail(f"{where}: selector does not match its pod labels")
        pods.append((name, plabels, tmpl["spec"]))
        if name in autoscaled and "replicas" in w["spec"]:
            fail(f"{where}: autoscaled, so it must not set replicas (each apply would reset them)")
        for c in tmpl["spec"]["containers"]:
            cwhere = f"{where} container {c['name']}"
            for src in c.get("envFrom", []) or []:
                ref = src.get("configMapRef") or src.get("secretRef") or {}
                pool = configmaps if "configMapRef" in src else secrets
                if ref.get("name") not in pool and not ref.get("optional"):
                    fail(f"{cwhere}: envFrom {ref.get('name')} does not exist")
            for e in c.get("env", []) or []:
                vf = e.get("valueFrom", {})
                for key, pool in (("configMapKeyRef", configmaps), ("secretKeyRef", secrets)):
                    ref = vf.get(key)
                    if ref and not ref.get("optional"):
                        if ref["name"] not in pool:
                            fail(f"{cwhere}: env {e['name']} refers to missing {ref['name']}")
                        elif ref["key"] not in pool[ref["name"]]:
                            fail(f"{cwhere}: env {e['name']} refers to missing key {ref['name']}/{ref['key']}")
            if not c.get("resources", {}).get("requests") or not c.get("resources", {}).get("limits"):
                fail(f"{cwhere}: needs resource requests and limits")
            if name not in PORTS:
                continue
            port = PORTS[name]
            image = c.get("image", "")
            if image.rsplit(":", 1)[0] != IMAGE:
                fail(f"{cwhere}: image {image} is not the {IMAGE} image")
            if c.get("command") != [name]:
                fail(f"{cwhere}: command {c.get('command')} should be [{name}]")
            declared = {p["containerPort"]: p.get("name") for p in c.get("ports", [])}
            if port not in declared:
                fail(f"{cwhere}: does not declare port {port}")
            if env_value(c, "LISTEN_ADDR") != f"0.0.0.0:{port}":
                fail(f"{cwhere}: LISTEN_ADDR should be 0.0.0.0:{port}")
            if not (env_value(c, "ADVERTISE_ADDR") or "").endswith(f":{port}"):
                fail(f"{cwhere}: ADVERTISE_ADDR should end with :{port}")
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                p = c.get(probe)
                if p is None:
                    if probe != "startupProbe":
                        fail(f"{cwhere}: no {probe}")
                    continue
                handler = p.get("grpc") or p.get("httpGet") or p.get("tcpSocket") or {}
                pport = handler.get("port")
                if pport not in (port, declared.get(port)):
                    fail(f"{cwhere}: {probe} probes port {pport}, not {port}")
                if name != "gateway" and "grpc" not in p:
                    fail(f"{cwhere}: {probe} should use the gRPC health service")
            ann = tmpl["metadata"].get("annotations", {})
            if ann.get("prometheus.io/scrape") != "true" or ann.get("prometheus.io/port") != str(port):
                fail(f"{where}: prometheus.io annotations should say scrape on port {port}")
            if "terminationGracePeriodSeconds" not in tmpl["spec"]:
                fail(f"{where}: no terminationGracePeriodSeconds")
    for name in PORTS:
        if name not in workloads:
            fail(f"no Deployment for {name}")

    for name, s in by_kind.get("Service", {}).items():
        sel = s["spec"].get("selector")
        targets = [(w, spec) for w, labels, spec in pods if matches(sel, labels)]
        if not targets:
            fail(f"Service/{name}: selects no pods")
            continue
        for sp in s["spec"]["ports"]:
            tp = sp.get("targetPort", sp["port"])
            for w, spec in targets:
                ports = [p for c in spec["containers"] for p in c.get("ports", [])]
                if not any(tp in (p["containerPort"], p.get("name")) for p in ports):
                    fail(f"Service/{name}: targetPort {tp} is not a port of {w}")
    for kind in ("HorizontalPodAutoscaler", "PodDisruptionBudget"):
        for name, o in by_kind.get(kind, {}).items():
            if kind == "HorizontalPodAutoscaler":
                target = o["spec"]["scaleTargetRef"]["name"]
                if target not in by_kind.get("Deployment", {}):
                    fail(f"{kind}/{name}: no Deployment {target}")
            else:
                sel = o["spec"]["selector"].get("matchLabels")
                if not any(matches(sel, labels) for _, labels, _ in pods):
                    fail(f"{kind}/{name}: selects no pods")
    return len(objs)


def check_compose() -> int:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    for name, port in PORTS.items():
        s = services.get(name)
        if s is None:
            fail(f"docker-compose.yml: no service {name}")
            continue
        where = f"docker-compose.yml {name}"
        env = s.get("environment", {})
        if s.get("command") != [name]:
            fail(f"{where}: command should be [{name}]")
        if s.get("image", "").rsplit(":", 1)[0] != IMAGE or "build" not in s:
            fail(f"{where}: should build and run the {IMAGE} image")
        if env.get("LISTEN_ADDR") != f"0.0.0.0:{port}":
            fail(f"{where}: LISTEN_ADDR should be 0.0.0.0:{port}")
        if env.get("ADVERTISE_ADDR") != f"{name}:{port}":
            fail(f"{where}: ADVERTISE_ADDR should be {name}:{port}")
        test = " ".join(s.get("healthcheck", {}).get("test", []))
        if f"127.0.0.1:{port}/healthz" not in test:
            fail(f"{where}: healthcheck should GET 127.0.0.1:{port}/healthz")
        for var in ("REDIS_URL", "CONSUL_HTTP_ADDR", "LOG_FORMAT", "OTEL_EXPORTER_OTLP_ENDPOINT"):
            if var not in env:
                fail(f"{where}: no {var}")
        if name != "gateway":
            db = f"foodmesh_{name.removesuffix('-svc')}"
            if not str(env.get("DATABASE_URL", "")).endswith(f"/{db}"):
                fail(f"{where}: DATABASE_URL should name its own database {db}")
    redis = " ".join(services.get("redis", {}).get("command", []))
    if "--appendonly yes" not in redis or "--appendfsync always" not in redis:
        fail("docker-compose.yml redis: the append-only file must be on (appendonly yes, appendfsync always)")
    if not any(str(v).endswith(":/data") for v in services.get("redis", {}).get("volumes", [])):
        fail("docker-compose.yml redis: /data must be a volume")
    return len(services)


def check_dockerfile() -> None:
    """Parses the Dockerfile with BuildKit's own parser (the `dockerfile` package)."""
    try:
        import dockerfile  # PyPI `dockerfile`: Go bindings of moby/buildkit's parser
    except ImportError:
        fail("Dockerfile: the `dockerfile` package is missing (pip install dockerfile)")
        return
    try:
        cmds = dockerfile.parse_file(str(ROOT / "Dockerfile"))
    except dockerfile.GoParseError as e:
        fail(f"Dockerfile: does not parse: {e}")
        return
    args = {}
    stages: list[list] = []
    for c in cmds:
        if c.cmd == "ARG" and not stages:
            name, _, default = c.value[0].partition("=")
            args[name] = default
        if c.cmd == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(c)

    def expand(text: str) -> str:
        return re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), text)

    if len(stages) < 2:
        fail("Dockerfile: expected a build stage and a runtime stage")
        return
    build, runtime = stages[0], stages[-1]
    build_from = expand(build[0].value[0])
    runtime_from = expand(runtime[0].value[0])
    if not re.fullmatch(r"rust:1\.9\d(\.\d+)?-bookworm", build_from):
        fail(f"Dockerfile: build stage starts FROM {build_from}, expected rust:1.9x-bookworm")
    if runtime_from != "debian:bookworm-slim":
        fail(f"Dockerfile: runtime stage starts FROM {runtime_from}, expected debian:bookworm-slim")
    build_runs = " ".join(v for c in build if c.cmd == "RUN" for v in c.value)
    if "cargo build --release --locked --workspace --bins" not in build_runs:
        fail("Dockerfile: the build stage must run `cargo build --release --locked --workspace --bins`")
    members = re.search(r"members\s*=\s*\[(.*?)\]", (ROOT / "Cargo.toml").read_text(encoding="utf-8"), re.S)
    members = set(re.findall(r'"([^"]+)"', members.group(1))) if members else set()
    for binary in [*PORTS, "foodmesh"]:
        if binary not in members:
            fail(f"Cargo.toml: {binary} is not a workspace member")
        if not re.search(rf"(?<![\w-]){re.escape(binary)}(?![\w-])", build_runs):
            fail(f"Dockerfile: does not copy the {binary} binary out of the build stage")
    if not any(c.cmd == "COPY" and "--from=build" in c.flags for c in runtime):
        fail("Dockerfile: the runtime stage must copy the binaries from the build stage")
    users = [c.value[0] for c in runtime if c.cmd == "USER"]
    uid = users[-1].split(":")[0] if users else ""
    if not uid.isdigit() or uid == "0":
        fail("Dockerfile: the runtime image must end with a numeric non-root USER")
    cmd = [c for c in runtime if c.cmd == "CMD"]
    if not cmd or not cmd[-1].json:
        fail("Dockerfile: CMD must be in exec (JSON) form, so the process gets SIGTERM")
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for entry in ("target/", ".git/"):
        if entry not in ignore:
            fail(f".dockerignore: should exclude {entry}")


def main() -> int:
    n_k8s = check_k8s()
    n_compose = check_compose()
    check_dockerfile()
    for p in problems:
        print(f"FAIL {p}")
    print(f"{n_k8s} Kubernetes objects, {n_compose} compose services and the Dockerfile cross-checked"
          + (f": {len(problems)} problem(s)" if problems else ": consistent"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
