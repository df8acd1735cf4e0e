"""``mlflowctl monitor`` (issue 17 items 1-3), driven like a user: the real CLI in a subprocess,
one tiny iris training (``--max-epochs 3``) in a real SQLite store shared by the module, new
rows written as CSV files. The first iris version may stay ``@challenger`` (the gate wants it
to beat logistic regression), so the tests name it ``iris-classifier/1``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

MODEL = "iris-classifier/1"
SHIFTED = ["petal length (cm)", "sepal width (cm)"]


def _cli(cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI",)}
    env.pop("MLFLOWCTL_AGENTS_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "mlflowctl", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained, registered iris model; test.csv (its own test split), shifted*.csv."""
    from sklearn.datasets import load_iris

    root = tmp_path_factory.mktemp("iris")
    proc = _cli(root, "run", "classify iris flowers", "--data", "sklearn:iris",
                "--max-epochs", "3", "--workdir", "wd", "--json")  # fmt: skip
    assert proc.returncode in (0, 8), proc.stderr[-3000:]  # 8: stays @challenger
    prep = json.loads(next(root.glob("wd/**/outputs/preprocessing.json")).read_text())
    frame = load_iris(as_frame=True).frame
    test = frame.iloc[prep["split"]["test_index"]]
    test.to_csv(root / "test.csv", index=False)
    shifted = frame.copy()
    for name in SHIFTED:
        shifted[name] = shifted[name] + 2 * frame[name].std()
    shifted.iloc[prep["split"]["test_index"]].to_csv(root / "shifted.csv", index=False)
    rows = shifted.iloc[prep["split"]["test_index"]].drop(columns=["target"])
    rows.to_csv(root / "shifted_no_target.csv", index=False)  # feature drift only
    shifted.to_csv(root / "shifted_all.csv", index=False)
    return root


def _report(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def test_reference_profile_is_logged_with_the_model(iris: Path) -> None:
    profile = json.loads(next(iris.glob("wd/**/outputs/reference_profile.json")).read_text())
    assert profile["format"] == "project-reference-profile"
    assert set(profile["features"]) == {
        "sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"
    }  # fmt: skip
    one = profile["features"]["sepal width (cm)"]
    assert one["type"] == "numeric" and len(one["quantiles"]) == 101 and one["missing_rate"] == 0
    assert profile["predictions"]["type"] == "categorical"
    assert "val_accuracy" in profile["validation_metrics"]


def test_own_test_split_reports_no_drift(iris: Path) -> None:
    proc = _cli(iris, "monitor", MODEL, "--data", "test.csv", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = _report(proc)
    assert doc["drift_found"] is False and doc["drifted_features"] == []
    assert doc["performance"]["metric"] == "accuracy"
    assert doc["prediction"]["name"] == "prediction"  # the predicted class's drift is measured


def test_two_shifted_features_exit_9_with_html_and_a_linked_run(iris: Path) -> None:
    proc = _cli(iris, "monitor", MODEL, "--data", "shifted.csv", "--json", "--report", "rep")
    assert proc.returncode == 9, proc.stderr[-2000:]
    doc = _report(proc)
    assert sorted(doc["drifted_features"]) == sorted(SHIFTED)
    html = (iris / "rep" / "index.html").read_text()
    assert "drift found" in html and len(list((iris / "rep" / "plots").glob("*.png"))) >= 4
    import mlflow

    runs = mlflow.MlflowClient(f"sqlite:///{iris / 'mlflow.db'}").get_run(doc["monitoring_run_id"])
    assert runs.data.tags["mlflowctl.monitor.model_name"] == "iris-classifier"
    assert runs.data.tags["mlflowctl.monitor.model_version"] == "1"
    assert runs.data.tags["mlflowctl.monitor.verdict"] == "drift"
    assert runs.data.metrics["drifted_features"] == 2.0


@pytest.mark.heavy
def test_policy_drift_pvalue_changes_the_verdict(iris: Path) -> None:
    spec = Path(__file__).parents[1] / "agents" / "mlops-architect.md"
    agents = iris / "agents-strict"
    agents.mkdir(exist_ok=True)
    text = spec.read_text().replace("drift_pvalue: 0.01", "drift_pvalue: 1.0e-300")
    (agents / "mlops-architect.md").write_text(text)
    args = ("monitor", MODEL, "--data", "shifted_no_target.csv", "--json")
    assert _cli(iris, *args).returncode == 9
    proc = _cli(iris, "--agents", str(agents), *args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _report(proc)["thresholds"]["pvalue"] == 1e-300


def test_bad_inputs_exit_2_naming_the_problem(iris: Path) -> None:
    import pandas as pd

    pd.read_csv(iris / "test.csv").drop(columns=["petal width (cm)"]).to_csv(
        iris / "short.csv", index=False
    )
    (iris / "empty.csv").write_text("")
    proc = _cli(iris, "monitor", MODEL, "--data", "short.csv")
    assert proc.returncode == 2 and "petal width (cm)" in proc.stderr
    assert proc.stderr.count("error:") == 1
    proc = _cli(iris, "monitor", MODEL, "--data", "empty.csv", "--json")
    assert proc.returncode == 2 and "no rows" in proc.stderr
    assert json.loads(proc.stdout)["error"] == "invalid_data"
    proc = _cli(iris, "monitor", "iris-classifier/99", "--data", "test.csv")
    assert proc.returncode == 2 and "iris-classifier/99" in proc.stderr


@pytest.mark.slow  # a second training (~25 s): pytest -m slow tests/test_monitor.py
def test_retrain_on_shifted_data_registers_a_challenger_and_records_the_gate(iris: Path) -> None:
    proc = _cli(iris, "monitor", MODEL, "--data", "shifted_all.csv", "--retrain",
                "--max-epochs", "2", "--json")  # fmt: skip
    assert proc.returncode == 9, proc.stderr[-3000:]
    retrain = _report(proc)["retrain"]
    assert retrain["started"] and retrain["version"] == 2 and retrain["gate_reason"]
    import mlflow

    c = mlflow.MlflowClient(f"sqlite:///{iris / 'mlflow.db'}")
    tags = c.get_run(retrain["monitoring_run_id"]).data.tags
    assert tags["mlflowctl.monitor.retrain_version"] == "2"
    assert tags["mlflowctl.monitor.gate"] in ("promoted", "stays challenger")
    assert c.get_model_version("iris-classifier", "2").run_id == retrain["run_id"]
