#!/usr/bin/env python3
"""Checks the Grafana dashboards against what FoodMesh actually exports.

For every dashboard JSON file given (or found under a directory given):

* it parses as JSON, has a uid and a title, and its panel ids are unique;
* every data source it names by uid is one that Grafana provisioning
  defines (deploy/grafana/provisioning/datasources/*.yaml);
* every metric name a query uses is listed in deploy/exported-metrics.txt
  (histograms count with their _bucket, _sum and _count series), and every
  label a query matches or groups by is a label of those metrics or a target
  label Prometheus adds (job, instance, service);
* with --promtool, every query (Grafana variables replaced by sample values)
  also parses as PromQL, by `promtool check rules` on a generated rule file.

Exit status 0 when all holds, 1 otherwise, with one line per problem.

    python3 deploy/check_dashboard_metrics.py --promtool promtool deploy/grafana/dashboards
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET_LABELS = {"job", "instance", "service"}

# PromQL words that are not metric names.
KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
    "group_right", "bool", "offset", "atan2", "inf", "nan",
    # aggregation operators (may be followed by `by (...)` instead of `(`)
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
    "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio",
}
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)?\s*\{([^{}]*)\}")
MATCHER = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*\"\"\s*")
IDENT = re.compile(r"(?<![A-Za-z0-9_:.$])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?")
LABEL_VALUES = re.compile(r"^\s*label_values\s*\((.*)\)\s*$", re.S)
QUERY_RESULT = re.compile(r"^\s*query_result\s*\((.*)\)\s*$", re.S)
GRAFANA_INTERVAL = re.compile(r"\$(?:__rate_interval|__interval|__range)\b|\$\{(?:__rate_interval|__interval|__range)\}")
GRAFANA_VAR = re.compile(r"\$\{[^}]+\}|\$[A-Za-z_][A-Za-z0-9_]*|\[\[[^\]]+\]\]")


@dataclass
class Metric:
    name: str
    kind: str
    labels: set[str]


@dataclass
class Query:
    where: str
    expr: str
    label_arg: str | None = None  # the label of label_values(selector, label)


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    queries: int = 0

    def add(self, msg: str) -> None:
        self.problems.append(msg)


def load_metrics(path: Path) -> dict[str, Metric]:
    """Reads exported-metrics.txt and expands histograms into their series."""
    series: dict[str, Metric] = {}
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) < 3:
            raise SystemExit(f"{path}:{n}: expected `name type labels [exported-by]`")
        name, kind, labels = parts[0], parts[1], parts[2]
        label_set = set() if labels == "-" else set(labels.split(","))
        if kind == "histogram":
            series[f"{name}_bucket"] = Metric(f"{name}_bucket", kind, label_set | {"le"})
            series[f"{name}_sum"] = Metric(f"{name}_sum", kind, set(label_set))
            series[f"{name}_count"] = Metric(f"{name}_count", kind, set(label_set))
        elif kind == "summary":
            series[name] = Metric(name, kind, label_set | {"quantile"})
            series[f"{name}_sum"] = Metric(f"{name}_sum", kind, set(label_set))
            series[f"{name}_count"] = Metric(f"{name}_count", kind, set(label_set))
        elif kind in {"counter", "gauge", "untyped"}:
            series[name] = Metric(name, kind, label_set)
        else:
            raise SystemExit(f"{path}:{n}: unknown metric type `{kind}`")
    return series


def provisioned_uids(provisioning: Path) -> dict[str, str]:
    """uid -> type of every data source Grafana provisioning defines."""
    import yaml  # PyYAML, installed with kubernetes-validate

    uids: dict[str, str] = {}
    for f in sorted((provisioning / "datasources").glob("*.y*ml")):
        doc = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
        for ds in doc.get("datasources", []) or []:
            if "uid" in ds:
                uids[ds["uid"]] = ds.get("type", "")
    # Grafana's built-in sources, used by the default annotation.
    uids.setdefault("-- Grafana --", "grafana")
    uids.setdefault("grafana", "grafana")
    return uids


def walk_panels(panels: list, trail: str):
    for p in panels or []:
        title = p.get("title") or f"panel {p.get('id')}"
        yield p, f"{trail} / {title}"
        yield from walk_panels(p.get("panels", []), f"{trail} / {title}")


def collect_queries(dash: dict, name: str, report: Report, uids: dict[str, str]) -> list[Query]:
    queries: list[Query] = []

    def check_ds(ds, where: str) -> None:
        if isinstance(ds, dict) and "uid" in ds:
            uid = ds["uid"]
            if isinstance(uid, str) and uid.startswith("$"):
                report.add(f"{where}: data source `{uid}` is a variable; refer to a provisioned uid")
            elif uid not in uids:
                report.add(f"{where}: data source uid `{uid}` is not provisioned (known: {sorted(uids)})")
        elif isinstance(ds, str):
            report.add(f"{where}: data source given by name `{ds}`; use {{\"type\", \"uid\"}}")

    ids: dict[int, str] = {}
    for panel, where in walk_panels(dash.get("panels", []), name):
        pid = panel.get("id")
        if pid in ids:
            report.add(f"{where}: panel id {pid} also used by {ids[pid]}")
        ids[pid] = where
        if "gridPos" not in panel:
            report.add(f"{where}: no gridPos")
        check_ds(panel.get("datasource"), where)
        for t in panel.get("targets", []) or []:
            twhere = f"{where} [{t.get('refId', '?')}]"
            check_ds(t.get("datasource"), twhere)
            if "expr" in t:
                queries.append(Query(twhere, t["expr"]))

    for var in dash.get("templating", {}).get("list", []):
        where = f"{name} / variable ${var.get('name')}"
        if var.get("type") != "query":
            continue
        check_ds(var.get("datasource"), where)
        q = var.get("query")
        text = q.get("query", "") if isinstance(q, dict) else (q or "")
        m = LABEL_VALUES.match(text)
        if m:
            args = split_args(m.group(1))
            if len(args) == 2:
                queries.append(Query(where, args[0], label_arg=args[1].strip()))
            elif len(args) == 1:
                queries.append(Query(where, "", label_arg=args[0].strip()))
            else:
                report.add(f"{where}: cannot read `{text}`")
            continue
        m = QUERY_RESULT.match(text)
        if m:
            queries.append(Query(where, m.group(1)))
            continue
        if text.strip():
            report.add(f"{where}: unsupported variable query `{text}`")

    for ann in dash.get("annotations", {}).get("list", []):
        where = f"{name} / annotation {ann.get('name')}"
        check_ds(ann.get("datasource"), where)
        if ann.get("expr"):
            queries.append(Query(where, ann["expr"]))
    return queries


def split_args(s: str) -> list[str]:
    """Splits a function's argument list on top-level commas."""
    args, depth, cur, i = [], 0, "", 0
    while i < len(s):
        c = s[i]
        if c in "\"'`":
            end = s.index(c, i + 1) if c in s[i + 1:] else len(s) - 1
            cur += s[i:end + 1]
            i = end + 1
            continue
        if c in "({[":
            depth += 1
        elif c in ")}]":
            depth -= 1
        if c == "," and depth == 0:
            args.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    if cur.strip():
        args.append(cur)
    return args


def for_promql(expr: str) -> str:
    """The query as Prometheus would receive it, with sample variable values."""
    expr = GRAFANA_INTERVAL.sub("5m", expr)
    return GRAFANA_VAR.sub(".*", expr)


def analyse(query: Query, metrics: dict[str, Metric], report: Report) -> None:
    report.queries += 1
    expr = STRING.sub('""', query.expr)
    used_here: list[Metric] = []

    def use(name: str) -> Metric | None:
        m = metrics.get(name)
        if m is None:
            report.add(f"{query.where}: metric `{name}` is not exported (see deploy/exported-metrics.txt)")
            return None
        report.used.add(name)
        used_here.append(m)
        return m

    # Selectors: the metric before `{`, and the label names inside it.
    selector_labels: list[tuple[Metric | None, str]] = []
    named: set[str] = set()
    for sel in SELECTOR.finditer(expr):
        metric = None
        if sel.group(1) and sel.group(1) not in KEYWORDS:
            named.add(sel.group(1))
            metric = use(sel.group(1))
        body = sel.group(2).strip().rstrip(",")
        if not body:
            continue
        for part in body.split(","):
            mm = MATCHER.fullmatch(part)
            if not mm:
                report.add(f"{query.where}: cannot read matcher `{part.strip()}`")
                continue
            if mm.group(1) == "__name__":
                report.add(f"{query.where}: __name__ matchers hide metric names; name the metric")
            selector_labels.append((metric, mm.group(1)))
    rest = SELECTOR.sub(lambda s: " " if not s.group(1) or s.group(1) in KEYWORDS else f" {s.group(1)} ", expr)
    rest = re.sub(r"\[[^\]]*\]", " ", rest)

    grouping: list[str] = []
    for g in GROUPING.finditer(rest):
        grouping += [x.strip() for x in g.group(2).split(",") if x.strip()]
    rest = GROUPING.sub(" ", rest)

    for ident in IDENT.finditer(rest):
        word, call = ident.group(1), ident.group(2)
        if call or word in KEYWORDS:
            continue
        if re.fullmatch(r"\d.*", word):
            continue
        # already counted when it carried a selector
        if word in named:
            continue
        use(word)

    known = set(TARGET_LABELS)
    for m in used_here:
        known |= m.labels
    for metric, label in selector_labels:
        allowed = (metric.labels | TARGET_LABELS) if metric else known
        if label not in allowed:
            owner = f"`{metric.name}`" if metric else "the metrics of this query"
            report.add(f"{query.where}: label `{label}` is not a label of {owner}")
    for label in grouping:
        if label not in known:
            report.add(f"{query.where}: grouping label `{label}` is not a label of the metrics of this query")
    if query.label_arg is not None and query.label_arg not in known | {
            lab for m in metrics.values() for lab in m.labels}:
        report.add(f"{query.where}: label_values label `{query.label_arg}` is not exported")


def promtool_rules(promtool: str, queries: list[Query]) -> subprocess.CompletedProcess:
    """`promtool check rules` on one recording rule per query."""
    groups = {"groups": [{"name": "dashboard-queries", "rules": [
        {"record": f"dashboard:query:{i}", "expr": for_promql(q.expr)} for i, q in enumerate(queries)]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".rules.json", delete=False) as f:
        json.dump(groups, f)  # JSON is YAML
        path = f.name
    try:
        return subprocess.run([promtool, "check", "rules", path], capture_output=True, text=True)
    finally:
        Path(path).unlink(missing_ok=True)


def promtool_check(queries: list[Query], promtool: str, report: Report) -> None:
    rules = [q for q in queries if q.expr.strip()]
    if promtool_rules(promtool, rules).returncode == 0:
        return
    # promtool stops at the first bad rule: check one by one to name them all.
    for q in rules:
        run = promtool_rules(promtool, [q])
        if run.returncode != 0:
            out = (run.stdout + run.stderr).strip().splitlines()
            detail = next((line.split("could not parse expression: ", 1)[-1]
                           for line in out if "parse" in line or "error" in line.lower()), out[-1] if out else "")
            report.add(f"{q.where}: not valid PromQL ({detail.strip()}): {for_promql(q.expr)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", type=Path, default=[HERE / "grafana" / "dashboards"],
                    help="dashboard JSON files or directories holding them")
    ap.add_argument("--metrics", type=Path, default=HERE / "exported-metrics.txt")
    ap.add_argument("--provisioning", type=Path, default=HERE / "grafana" / "provisioning")
    ap.add_argument("--promtool", help="promtool binary: also check every query parses as PromQL")
    args = ap.parse_args()

    metrics = load_metrics(args.metrics)
    uids = provisioned_uids(args.provisioning)
    files: list[Path] = []
    for p in args.paths:
        files += sorted(p.rglob("*.json")) if p.is_dir() else [p]
    if not files:
        print("no dashboards found", file=sys.stderr)
        return 1

    report = Report()
    all_queries: list[Query] = []
    seen_uids: dict[str, Path] = {}
    for f in files:
        try:
            dash = json.loads(f.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            report.add(f"{f}: invalid JSON: {e}")
            continue
        name = f.name
        for key in ("uid", "title"):
            if not dash.get(key):
                report.add(f"{name}: no {key}")
        uid = dash.get("uid")
        if uid in seen_uids:
            report.add(f"{name}: uid `{uid}` also used by {seen_uids[uid].name}")
        seen_uids[uid] = f
        queries = collect_queries(dash, name, report, uids)
        for q in queries:
            analyse(q, metrics, report)
        all_queries += queries

    if args.promtool:
        promtool_check(all_queries, args.promtool, report)

    for p in report.problems:
        print(f"FAIL {p}")
    unused = sorted({m.name.removesuffix("_bucket") for m in metrics.values()
                     if m.name.endswith("_bucket") or m.kind != "histogram"}
                    - {u.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count")
                       if metrics[u].kind in {"histogram", "summary"} else u for u in report.used})
    print(f"{len(files)} dashboard(s), {report.queries} queries, "
          f"{len(report.used)} exported series used"
          + (", PromQL parsed by promtool" if args.promtool else "")
          + (f"; not shown on any dashboard: {', '.join(unused)}" if unused else ""))
    if report.problems:
        print(f"{len(report.problems)} problem(s)")
        return 1
    print("dashboards query only exported metrics")
    return 0


if __name__ == "__main__":
    sys.exit(main())
