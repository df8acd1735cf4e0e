"""Build overhead (T11): ``mlflowctl build`` against ``python train.py`` of the same project.

Designs an iris blueprint once (``mlflowctl design``), then runs paired, alternating rounds of

* **fresh**: ``mlflowctl build bp.yaml --force`` on a new SQLite store (schema created by it);
* **existing**: ``mlflowctl build bp.yaml --force`` on a store that already holds earlier builds;
* **standalone**: ``python train.py`` in the rendered project folder, as its README says. Without
  mlflowctl the project trains, evaluates and writes ``outputs/`` but tracks nothing (it has no
  MLflow code): the difference is what mlflowctl adds (tracking, the logged model, the registry
  and the gate).

All three train the same number of epochs (``--epochs``, default the blueprint's own budget) with
the same CPU threads. Each round runs the three in a rotated order so all see the same load; the
ratios are medians of the per-round ratios, with their min-max spread. Exit 8 (the gate kept the
new version as challenger) counts as a finished build.

    python benchmarks/build_overhead.py [--rounds 3] [--epochs N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_FRESH, TARGET_EXISTING = 1.25, 1.10
PROMPT, SOURCE = "classify iris species", "sklearn:iris"


def _env() -> dict[str, str]:
    """The caller's environment without MLflow settings and without PYTHONDONTWRITEBYTECODE:
    an installed package has its bytecode cached, and a sandbox that forbids the cache makes
    every ``mlflowctl`` start recompile its ~70 modules (0.2-0.4 s) that no user pays."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MLFLOW_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    return {**env, "PYTHONUNBUFFERED": "1"}


def _timed(cmd: list[str], cwd: Path, ok: tuple[int, ...] = (0,)) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode not in ok:
        tail = (proc.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        raise RuntimeError(f"{' '.join(cmd[:4])} exited {proc.returncode}: {tail}")
    return wall


def _build(work: Path, uri: str, epochs: list[str]) -> float:
    cmd = [sys.executable, "-m", "mlflowctl", "build", "bp.yaml", "--force", "--out", "proj"]
    return _timed([*cmd, "--tracking-uri", uri, *epochs], work, ok=(0, 8))


def _fresh(work: Path, epochs: list[str], n: int) -> float:
    store = work / f"fresh-{n}"
    shutil.rmtree(store, ignore_errors=True)
    store.mkdir()
    return _build(work, f"sqlite:///{store / 'mlflow.db'}", epochs)


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def measure(rounds: int, epochs: int | None) -> dict[str, Any]:
    load_start = os.getloadavg()[0]
    flag = ["--max-epochs", str(epochs)] if epochs else []
    with tempfile.TemporaryDirectory(prefix="mlflowctl-bench-build-") as tmp:
        work = Path(tmp)
        _timed([sys.executable, "-m", "mlflowctl", "design", PROMPT, "--data", SOURCE,
                "-o", "bp.yaml"], work)  # fmt: skip
        existing = f"sqlite:///{work / 'existing' / 'mlflow.db'}"
        (work / "existing").mkdir()
        _build(work, existing, flag)  # the store now exists and holds a version (warm-up)
        project = work / "proj"
        sides = {
            "fresh": lambda n: _fresh(work, flag, n),
            "existing": lambda n: _build(work, existing, flag),
            "standalone": lambda n: _timed([sys.executable, "train.py", *flag], project),
        }
        samples: dict[str, list[float]] = {k: [] for k in sides}
        order = list(sides)
        for n in range(rounds):
            rotated = order[n % len(order) :] + order[: n % len(order)]
            for side in rotated:
                samples[side].append(sides[side](n))
                print(f"round {n + 1}/{rounds} {side}: {samples[side][-1]:.1f} s", flush=True)
        cfg = (project / "config.yaml").read_text()
    ratio_fresh = [f / s for f, s in zip(samples["fresh"], samples["standalone"], strict=True)]
    ratio_existing = [
        e / s for e, s in zip(samples["existing"], samples["standalone"], strict=True)
    ]
    budget = next((ln.split(":")[1].strip() for ln in cfg.splitlines() if "max_epochs" in ln), "?")
    return {
        "rounds": rounds,
        "epochs": epochs or f"blueprint's ({budget})",
        "wall_s": {k: _spread(v) for k, v in samples.items()},
        "samples_s": {k: [round(x, 2) for x in v] for k, v in samples.items()},
        "ratio_fresh": _spread(ratio_fresh),
        "ratio_existing": _spread(ratio_existing),
        "target_fresh": TARGET_FRESH,
        "target_existing": TARGET_EXISTING,
        "load_avg_1m": {"start": round(load_start, 2), "end": round(os.getloadavg()[0], 2)},
        "standalone_note": "python train.py of the rendered project trains, evaluates and "
        "writes outputs/ but tracks nothing (the project has no MLflow code)",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None, help="default: the blueprint's")
    parser.add_argument("--json", action="store_true", help="print the result as JSON last")
    args = parser.parse_args(argv)
    result = measure(max(args.rounds, 1), args.epochs)
    w, rf, re_ = result["wall_s"], result["ratio_fresh"], result["ratio_existing"]
    print(
        f"standalone {w['standalone']['median']:.1f} s, build fresh {w['fresh']['median']:.1f} s, "
        f"existing {w['existing']['median']:.1f} s; ratio fresh {rf['median']:.2f} "
        f"({rf['min']:.2f}-{rf['max']:.2f}, target <= {TARGET_FRESH}), existing "
        f"{re_['median']:.2f} ({re_['min']:.2f}-{re_['max']:.2f}, target <= {TARGET_EXISTING}); "
        f"load {result['load_avg_1m']}"
    )
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
