"""Issue 14 item 3: the positive class is used, not only recorded.

An imbalanced CSV (10 % positives) and "catch as many fraud cases as possible (recall)": the
blueprint gates on the recall of the positive class, the loss weights the classes, the build
tunes a decision threshold on validation, writes it to metrics.json, config.yaml and
preprocessing.json, and `mlflowctl predict` and the rendered predict.py apply it.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from cli_helpers import run_cli
from fraud_data import fraud_csv

pytestmark = pytest.mark.integration

PROMPT = "catch as many fraud cases as possible (recall)"


def _design(tmp_path: Path, prompt: str) -> dict[str, Any]:
    fraud_csv(tmp_path / "tx.csv")
    proc = run_cli(
        tmp_path, "design", prompt, "--data", "tx.csv", "--target", "label", "-o", "bp.json"
    )
    assert proc.returncode == 0, proc.stderr
    bp: dict[str, Any] = json.loads((tmp_path / "bp.json").read_text())
    return bp


def test_the_blueprint_gates_on_recall_of_the_named_positive_class(tmp_path: Path) -> None:
    bp = _design(tmp_path, PROMPT)
    assert bp["requirements"]["constraints"]["positive_class"] == "fraud"
    rec = next(a for a in bp["approaches"] if a["name"] == bp["recommended"]["approach"])
    assert rec["infrastructure"]["registry"]["gate"]["metric"] == "test_recall"
    assert rec["training"]["loss"]["class_weighting"] == "balanced"  # 9:1 >= 3:1 (policy)
    notes = bp["envelope"]["uncertainty_factors"]
    assert any("positive class 'fraud': a class the prompt names" in n for n in notes), notes
    assert any("gate: recall of the positive class 'fraud'" in n for n in notes), notes


def test_without_a_wish_imbalanced_binary_data_gates_on_pr_auc_of_the_minority(
    tmp_path: Path,
) -> None:
    bp = _design(tmp_path, "predict the label of each transaction")
    assert bp["requirements"]["constraints"]["positive_class"] == "fraud"
    assert any(
        "the minority class (40 of 400 rows)" in n for n in bp["envelope"]["uncertainty_factors"]
    )
    rec = next(a for a in bp["approaches"] if a["name"] == bp["recommended"]["approach"])
    assert rec["infrastructure"]["registry"]["gate"]["metric"] == "test_pr_auc"


def test_the_threshold_rule_reaches_the_rendered_config(tmp_path: Path) -> None:
    _design(tmp_path, "flag fraud with a recall of at least 0.9 on the fraud class")
    proc = run_cli(tmp_path, "build", "bp.json", "--data", "tx.csv", "--out", "b", "--no-train")
    assert proc.returncode == 0, proc.stderr
    cfg = yaml.safe_load((tmp_path / "b" / "config.yaml").read_text())
    assert cfg["evaluation"]["decision_threshold"] == {"tune_for": "recall", "target": 0.9}
    assert cfg["evaluation"]["positive_class"] == "fraud"


@pytest.mark.slow
def test_build_tunes_the_threshold_and_predict_applies_it(tmp_path: Path) -> None:
    _design(tmp_path, PROMPT)
    proc = run_cli(
        tmp_path, "build", "bp.json", "--data", "tx.csv", "--out", "b", "--max-epochs", "2"
    )
    assert proc.returncode in (0, 8), proc.stderr  # 8: a 2-epoch net may lose the gate
    metrics = json.loads((tmp_path / "b" / "outputs" / "metrics.json").read_text())
    decision = metrics["decision_threshold"]
    assert decision["positive_class"] == "fraud" and decision["tune_for"] == "recall"
    assert "val_recall" in metrics["metrics"] and "test_recall" in metrics["metrics"]
    prep = json.loads((tmp_path / "b" / "outputs" / "preprocessing.json").read_text())
    assert prep["decision"] == decision
    t = decision["threshold"]
    proc = run_cli(tmp_path, "predict", "tx-classifier/1", "-i", "tx.csv", "-o", "p.csv")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert rows and all(
        (r["prediction"] == "fraud") == (float(r["proba_fraud"]) >= t) for r in rows
    )
    rendered = subprocess.run(
        [sys.executable, "predict.py", str(tmp_path / "tx.csv")],
        cwd=tmp_path / "b", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    rows = list(csv.DictReader(rendered.stdout.splitlines()))
    assert all((r["prediction"] == "fraud") == (float(r["proba_fraud"]) >= t) for r in rows)


@pytest.mark.parametrize(
    ("prompt", "metric", "direction", "threshold"),
    [
        ("flag fraud; an F1 of at least 0.6", "test_f1", "maximize", 0.6),
        ("flag fraud, judged by balanced accuracy", "test_balanced_accuracy", "maximize", None),
        ("flag fraud with well calibrated probabilities", "test_log_loss", "minimize", None),
        ("flag fraud, log loss below 0.4", "test_log_loss", "minimize", 0.4),
    ],
)
def test_f1_balanced_accuracy_and_log_loss_wishes_gate(
    tmp_path: Path, prompt: str, metric: str, direction: str, threshold: float | None
) -> None:
    """Issue 14 item 3: the metrics a prompt may ask for include the positive class's F1,
    balanced accuracy and log loss, each gating in its own direction."""
    bp = _design(tmp_path, prompt)
    rec = next(a for a in bp["approaches"] if a["name"] == bp["recommended"]["approach"])
    gate = rec["infrastructure"]["registry"]["gate"]
    assert (gate["metric"], gate["direction"], gate["threshold"]) == (metric, direction, threshold)
    assert metric in rec["infrastructure"]["tracking"]["metrics"]


def test_a_build_reports_and_gates_on_log_loss(tmp_path: Path) -> None:
    """From outside: the build logs balanced accuracy, log loss and the positive class's F1 for
    the network and every baseline, and the gate decides on the validation log loss."""
    _design(tmp_path, "flag fraud, log loss below 0.9")
    proc = run_cli(
        tmp_path, "build", "bp.json", "--data", "tx.csv", "--out", "b", "--max-epochs", "3",
        "--json",
    )  # fmt: skip
    assert proc.returncode in (0, 8), proc.stderr
    found = json.loads((tmp_path / "b" / "outputs" / "metrics.json").read_text())
    m = found["metrics"]
    for key in ("balanced_accuracy", "log_loss", "f1"):
        assert m[f"test_{key}"] >= 0 and m[f"val_{key}"] >= 0, key
        for baseline in found["baselines"].values():
            assert f"test_{key}" in baseline and f"val_{key}" in baseline, (key, baseline)
    # the data are nearly linearly separable: logistic regression beats a coin's log(2)
    assert 0 < found["baselines"]["logistic_regression"]["test_log_loss"] < np.log(2)
    reason = json.loads(proc.stdout)["promotion_reason"]
    assert "val_log_loss" in reason and ("<" in reason or ">" in reason or "first" in reason)
