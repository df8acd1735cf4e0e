"""Smoke tests of the benchmark scripts: each runs in a tiny mode and reports measured numbers.

"Measured, not typed in" is checked through relations a constant could not satisfy by accident:
rates agree with the step counts and wall times they were computed from, min <= median <= max,
a wall time measured outside a command is at least the sum of the phases measured inside it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))

import all as bench_all  # noqa: E402


def _json(script: str, *args: str, timeout: float = 300) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode in (0, 1), proc.stderr[-2000:]  # 1 = a target missed, still a result
    start = [i for i, ln in enumerate(proc.stdout.splitlines()) if ln.startswith("{")][-1]
    value: dict[str, Any] = json.loads("\n".join(proc.stdout.splitlines()[start:]))
    return value


@pytest.mark.unit
def test_verdict_states_how_far_a_target_is_missed() -> None:
    assert bench_all.verdict(0.45, 0.6, higher=False) == "met"
    assert bench_all.verdict(0.95, 0.9, higher=True) == "met"
    missed = bench_all.verdict(1.042, 0.6, higher=False, unit=" s")
    assert missed.startswith("**missed by 0.442 s**") and "74 %" in missed
    assert "missed by 0.2" in bench_all.verdict(0.7, 0.9, higher=True)
    assert bench_all.verdict(None, 0.9, higher=True) == "**not measured**"


@pytest.mark.slow  # over ~20 s on 2 cores: make test-slow
@pytest.mark.integration
def test_training_overhead_measures_both_loops() -> None:
    r = _json(
        "training_overhead.py", "--json", "--approach", "mlp", "--epochs", "3", "--rounds", "2"
    )
    assert r["epochs"] == 3 and r["total_steps"] == 3 * r["steps_per_epoch"] > 0
    for side in ("lightning", "raw"):
        rows = r["samples"][side]
        assert len(rows) == 2
        for s in rows:
            assert s["wall_s"] > 0 and s["steady_steps_per_s"] > 0
            # the rate is the step count over the measured wall time, not a stored figure
            assert s["fit_steps_per_s"] == pytest.approx(r["total_steps"] / s["wall_s"])
        assert rows[0]["wall_s"] != rows[1]["wall_s"]  # two runs never take the same time
    ratio = r["lightning"]["steady_steps_per_s"] / r["raw"]["steady_steps_per_s"]
    assert r["ratio_steady"] == pytest.approx(ratio, rel=0.01)
    assert 0.05 < r["ratio_steady"] < 5
    # both loops really trained the same model: better than chance on digits after 3 epochs
    assert r["val_accuracy"]["lightning"] > 0.3 and r["val_accuracy"]["raw"] > 0.3


@pytest.mark.integration
def test_cli_latency_and_results_md(tmp_path: Path) -> None:
    md, js = tmp_path / "RESULTS.md", tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "all.py"), "--quick", "--only", "cli,gpu",
         "--results", str(md), "--json-out", str(js)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(js.read_text())
    info = doc["machine"]
    assert info["cores"] >= 1 and info["python"] and info["torch"] and info["mlflow"]
    assert info["lightning"] and info["cpu"] and info["date"].startswith("20")
    cli = doc["results"]["cli"]
    for name, r in cli["results"].items():
        assert 0 < r["min_s"] <= r["median_s"] <= r["max_s"], name
    assert set(cli["heavy_imports"]) == {"--help", "agents list", "design classify digits"}
    text = md.read_text()
    help_median = cli["results"]["--help"]["median_s"]
    assert f"| `mlflowctl --help` | {help_median:.3f} |" in text
    assert "## 6. GPU" in text
    gpu = doc["results"]["gpu"]
    if not gpu.get("gpu"):
        assert "not measured: no GPU on this machine" in text
    assert "Not run (left out with `--only`)." in text  # the parts left out say so


@pytest.mark.integration
@pytest.mark.slow
def test_end_to_end_registers_a_champion() -> None:
    r = _json("end_to_end.py", "--json", "--max-epochs", "1", timeout=600)
    assert r["mode"] == "mlflowctl run", r["notes"]
    assert r["champion"] and 0 < r["test_accuracy"] <= 1
    assert r["wall_s"] >= sum(v for v in r["phases_s"].values() if v)


@pytest.mark.integration
@pytest.mark.slow
def test_design_and_tracking_benchmarks_report_numbers() -> None:
    d = _json("design_latency.py", "--runs", "1", "--json")
    assert d["version_floor_s"] > 0 and d["median_s"] > 0 and d["median_cpu_s"] > 0
    t = _json("tracking_overhead.py", "--json", "--seconds", "1")
    assert t["epochs"] >= 1 and t["untracked_s"] > 0 and t["tracked_s"] > 0
    assert t["loop_overhead_pct"] == pytest.approx(
        100 * (t["tracked_s"] - t["untracked_s"]) / t["untracked_s"], abs=0.1
    )


@pytest.mark.integration
@pytest.mark.slow
def test_quality_run_compares_with_baselines(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--datasets", "iris", "--quick",
         "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = json.loads((tmp_path / "quality.json").read_text())["rows"][0]
    assert row["ours"] is not None and row["ours_wall_s"] > 0
    assert row["ours_metrics"]["test_accuracy"] == row["ours"]
    assert row["ratio"] == pytest.approx(row["ours"] / row["best_value"])
    assert all(b["wall_time_s"] > 0 for b in row["baselines"])
