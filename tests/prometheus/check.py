#!/usr/bin/env python3
"""Asks a real Prometheus what the Grafana dashboards would ask it.

    check.py targets URL COUNT      waits until job "foodmesh" has COUNT
                                    targets, every one scraped and up
    check.py queries URL DASHBOARD...
                                    runs every panel query of the dashboards
                                    (Grafana's variables given values that
                                    select everything) and fails, naming the
                                    panels, when a query returns no series

Standard library only. Queries that return nothing are asked again for up
to --wait seconds, since a scrape may not have happened yet.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.parse
import urllib.request

# What Grafana would put in place of its variables: everything selected,
# a range as long as the load ran, a rate window of a few scrapes.
VARIABLES = {
    "$__rate_interval": "30s",
    "$__interval": "5s",
    "$__range": "10m",
    "$service": ".*",
    "$instance": ".*",
    "$restaurant_id": ".*",
}


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


def targets(base: str, count: int, wait: float) -> int:
    deadline = time.monotonic() + wait
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            active = get(f"{base}/api/v1/targets?state=active")["data"]["activeTargets"]
            mesh = [t for t in active if t["labels"].get("job") == "foodmesh"]
            up = [t for t in mesh if t["health"] == "up"]
            last = ", ".join(
                f'{t["labels"].get("service")}={t["health"]}' for t in mesh
            ) or "no targets"
            if len(mesh) == count and len(up) == count:
                print(f"prometheus: {count} targets up: {last}")
                return 0
        except OSError as e:
            last = str(e)
        time.sleep(1)
    print(f"prometheus: not {count} targets up within {wait:.0f} s: {last}", file=sys.stderr)
    return 1


def expand(expr: str) -> str:
    # Longest first: $__rate_interval before $__range and $__interval.
    for name in sorted(VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, VARIABLES[name])
        expr = expr.replace("${" + name[1:] + "}", VARIABLES[name])
    return expr


def panels(dashboard: dict):
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panels(panel)


def queries(paths: list[str]):
    for path in paths:
        with open(path, encoding="utf-8") as f:
            dashboard = json.load(f)
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                expr = target.get("expr")
                if expr:
                    label = f'{dashboard.get("title", path)} / {panel.get("title")} [{target.get("refId")}]'
                    yield label, expand(expr)


def series(base: str, expr: str) -> int:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    answer = get(url)
    if answer.get("status") != "success":
        raise RuntimeError(answer.get("error", answer))
    return len(answer["data"]["result"])


def check_queries(base: str, paths: list[str], wait: float) -> int:
    pending = list(queries(paths))
    total = len(pending)
    deadline = time.monotonic() + wait
    while True:
        empty = []
        for label, expr in pending:
            try:
                if series(base, expr) == 0:
                    empty.append((label, expr))
            except (OSError, RuntimeError) as e:
                print(f"prometheus: {label}: the query failed: {e}\n  {expr}", file=sys.stderr)
                return 1
        pending = empty
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(2)
    if pending:
        print(f"prometheus: {len(pending)} of {total} dashboard queries return no series:", file=sys.stderr)
        for label, expr in pending:
            print(f"  {label}\n    {expr}", file=sys.stderr)
        return 1
    print(f"prometheus: all {total} dashboard queries return data")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("targets")
    t.add_argument("url")
    t.add_argument("count", type=int)
    t.add_argument("--wait", type=float, default=60)
    q = sub.add_parser("queries")
    q.add_argument("url")
    q.add_argument("dashboards", nargs="+")
    q.add_argument("--wait", type=float, default=30)
    args = parser.parse_args()
    if args.command == "targets":
        return targets(args.url.rstrip("/"), args.count, args.wait)
    return check_queries(args.url.rstrip("/"), args.dashboards, args.wait)


if __name__ == "__main__":
    sys.exit(main())
