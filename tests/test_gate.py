"""The gate decides on the validation split against the best classical baseline (issue 14)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlflowctl", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_run_does_not_promote_a_model_that_loses_to_the_baseline(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    proc = _run(
        tmp_path,
        "run",
        "classify tumours as malignant or benign",
        "--data",
        "sklearn:breast_cancer",
        "--max-epochs",
        "1",
        "--tracking-uri",
        uri,
        "--workdir",
        "wd",
        "--json",
    )
    assert proc.returncode == 8, proc.stderr[-2000:]
    summary = json.loads(proc.stdout)
    reason = json.dumps(summary)
    assert "< baseline logistic_regression" in reason and "val_accuracy" in reason
    metrics = json.loads(next((tmp_path / "wd").rglob("outputs/metrics.json")).read_text())
    assert metrics["baseline_best"]
    assert any(k.startswith("baseline.logistic_regression.val_") for k in metrics["metrics"])
    assert "test_recall" in metrics["metrics"] and "val_pr_auc" in metrics["metrics"]
    resumed = _run(tmp_path, "run", "--resume", "wd", "--tracking-uri", uri)
    assert resumed.returncode == 8, resumed.stderr[-2000:]
