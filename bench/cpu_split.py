#!/usr/bin/env python3
"""Where the machine's CPU goes during a benchmark, by process.

Samples /proc twice, SECONDS apart, and prints the CPU each group of
processes used in between, in percent of one core: the mesh's processes
by name, Postgres backends by database (so order-svc's statements and
kitchen-svc's show apart), Redis, the load generator, the kernel's
workers. Run it while a scenario is in its measured window, e.g.:

    bench/run.sh --scenarios order_create -d 20 &
    sleep 15; python3 bench/cpu_split.py 10

Processes that start or end within the window are missed; the mesh's and
the pools' connections live through it.
"""

import collections
import os
import re
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")


def snapshot():
    used = collections.Counter()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        seconds = (int(fields[11]) + int(fields[12])) / TICKS
        comm = stat[stat.find("(") + 1:stat.rfind(")")]
        if cmd.startswith("postgres:"):
            m = re.match(r"postgres: (?:\S+: )?(\S+) (\S+)", cmd)
            key = f"postgres {m.group(2)}" if m else "postgres (server)"
        elif "foodmesh" in cmd:
            key = " ".join(os.path.basename(p) for p in cmd.split()[:3])
        elif "redis" in comm:
            key = "redis"
        else:
            key = comm
        used[key] += seconds
    return used


def main():
    window = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    before, start = snapshot(), time.monotonic()
    time.sleep(window)
    after, elapsed = snapshot(), time.monotonic() - start
    rows = sorted(((after[k] - before[k], k) for k in after), reverse=True)
    total = 0.0
    for used, key in rows:
        if used / elapsed >= 0.005:
            print(f"{used / elapsed * 100:6.1f} %  {key}")
            total += used
    print(f"{total / elapsed * 100:6.1f} %  in all, over {elapsed:.1f} s")


if __name__ == "__main__":
    main()
