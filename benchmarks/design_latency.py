"""Median wall time of ``mlflowctl design "<prompt>"`` (prompt only, offline), as a user runs it.

Target (performance-targets.md, issue 3): median <= 0.8 s on the 2-core CI machine. Each run is a
fresh process, so interpreter start-up and imports count, as they do for a user.

    python benchmarks/design_latency.py [--runs 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PROMPTS = [
    "Classify handwritten digits from 8x8 grayscale images",
    "Forecast yearly sunspot activity 11 years ahead with an LSTM trained with truncated BPTT",
    "Design distributed training architecture for a 14M parameter model",
    "Tell the three wine cultivars apart; the model must stay under 5,000 parameters",
]
TARGET_S = 0.8


def command() -> list[str]:
    exe = shutil.which("mlflowctl")
    return [exe] if exe else [sys.executable, "-m", "mlflowctl"]


#: CPU seconds (user + system) of every child run, beside wall time: on a machine shared with
#: other work, CPU time shows what the command costs when wall time is inflated by waiting
CPU: list[float] = []


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(prompt: str, runs: int, workdir: str) -> list[float]:
    times = []
    env = {**os.environ, "CI": "true"}
    for _ in range(runs):
        c0, t0 = _children_cpu(), time.perf_counter()
        subprocess.run(
            [*command(), "design", prompt, "-o", "bp.yaml"],
            cwd=workdir,
            env=env,
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - t0)
        CPU.append(_children_cpu() - c0)
    return times


def floor(runs: int, workdir: str) -> list[float]:
    """``mlflowctl --version``: start-up and CLI imports only, the floor design sits on."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([*command(), "--version"], cwd=workdir, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        measure(PROMPTS[0], 1, workdir)  # warm the file cache once
        CPU.clear()
        results = {p: measure(p, args.runs, workdir) for p in PROMPTS}
        base = statistics.median(floor(args.runs, workdir))
    rows = {
        p: {"median_s": round(statistics.median(t), 3), "min_s": round(min(t), 3)}
        for p, t in results.items()
    }
    overall = statistics.median([x for t in results.values() for x in t])
    if args.json:
        summary = {
            "median_s": round(overall, 3),
            "median_cpu_s": round(statistics.median(CPU), 3),
            "version_floor_s": round(base, 3),
        }
        print(json.dumps({"prompts": rows, **summary, "target_s": TARGET_S}))
    else:
        for p, r in rows.items():
            print(f"{r['median_s']:6.3f} s median  {r['min_s']:6.3f} s min  {p[:60]}")
        cpu = statistics.median(CPU)
        print(f"overall median {overall:.3f} s wall, {cpu:.3f} s CPU (target <= {TARGET_S} s)")
        print(f"`mlflowctl --version` median {base:.3f} s: design adds {overall - base:.3f} s")
    return 0 if overall <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
