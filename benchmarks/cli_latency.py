"""Median wall time of cheap mlflowctl commands, each in a fresh process.

Usage: ``python benchmarks/cli_latency.py [-n RUNS]``. Prints a table, then one JSON line.
Target (docs/performance-targets.md): median ``mlflowctl --help`` <= 0.5 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

COMMANDS = (["--help"], ["--version"], ["agents", "list"])


def _base() -> list[str]:
    exe = shutil.which("mlflowctl")
    return [exe] if exe else [sys.executable, "-m", "mlflowctl"]


def measure(argv: list[str], runs: int) -> dict[str, float]:
    env = {**os.environ, "CI": "true"}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([*_base(), *argv], check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - start)
    return {
        "median_s": round(statistics.median(times), 4),
        "min_s": round(min(times), 4),
        "max_s": round(max(times), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--runs", type=int, default=15)
    args = parser.parse_args()
    subprocess.run([*_base(), "--version"], check=True, capture_output=True)  # warm the caches
    results = {" ".join(argv): measure(list(argv), args.runs) for argv in COMMANDS}
    print(f"{'command':<28}{'median s':>10}{'min s':>10}{'max s':>10}   ({args.runs} runs)")
    for name, r in results.items():
        print(f"mlflowctl {name:<18}{r['median_s']:>10.3f}{r['min_s']:>10.3f}{r['max_s']:>10.3f}")
    print(json.dumps({"runs": args.runs, "cpus": os.cpu_count(), "results": results}))


if __name__ == "__main__":
    main()
