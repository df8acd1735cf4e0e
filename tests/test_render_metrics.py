"""The rendered model.py defines every metric once (``score``): its numbers equal the plain numpy
definitions evaluate.py used before it moved to ``trainer.test`` (ties, one-class splits, binary
and multi-class, regression, forecasts with MASE), and the metric names are the table's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from blueprints import make_blueprint
from rendered import import_rendered

from mlflowctl.blueprint import metrics as table
from mlflowctl.blueprint.model import Blueprint
from mlflowctl.build import render

pytestmark = pytest.mark.unit


def _model(tmp_path: Path, family: str, dataset: str) -> Any:
    name = f"model_{dataset}.py"
    files = render.render(make_blueprint(family, dataset))
    return import_rendered(tmp_path, {name: files["model.py"]}, name)


# the numpy definitions of the first release's evaluate.py, kept here as the reference
def np_roc_auc(score: np.ndarray, y: np.ndarray) -> float:
    """scikit-learn's ROC-AUC (average ranks for ties, as the first release defined it)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score)) if 0 < y.sum() < len(y) else float("nan")


def np_pr_auc(score: np.ndarray, y: np.ndarray) -> float:
    n_pos = int(y.sum())
    if n_pos == 0:
        return float("nan")
    hits = y[np.argsort(-score, kind="mergesort")]
    precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision_at * hits).sum() / n_pos)


def np_classification(proba: np.ndarray, y: np.ndarray, positive: int) -> dict[str, float]:
    k = proba.shape[1]
    guess = proba.argmax(axis=1)
    confusion = np.bincount(y * k + guess, minlength=k * k).reshape(k, k)
    tp = np.diag(confusion)
    f1 = 2 * tp / np.maximum(confusion.sum(0) + confusion.sum(1), 1)
    recall = tp / np.maximum(confusion.sum(1), 1)
    precision = tp / np.maximum(confusion.sum(0), 1)
    out = {"test_accuracy": float((guess == y).mean()), "test_f1_macro": float(f1.mean())}
    # added with issue 14 item 3: scikit-learn's own definitions
    from sklearn.metrics import balanced_accuracy_score, f1_score, log_loss

    out["test_balanced_accuracy"] = float(balanced_accuracy_score(y, guess))
    out["test_log_loss"] = float(log_loss(y, proba, labels=list(range(k))))
    if k == 2:
        hit = (y == positive).astype(int)
        out["test_roc_auc"] = np_roc_auc(proba[:, positive], hit)
        out["test_recall"] = float(recall[positive])
        out["test_precision"] = float(precision[positive])
        out["test_f1"] = float(f1_score(y, guess, pos_label=positive, zero_division=0))
        out["test_pr_auc"] = np_pr_auc(proba[:, positive], hit)
        # specificity: scikit-learn's recall of the other class (1 - the false-positive rate)
        from sklearn.metrics import recall_score

        out["test_specificity"] = float(recall_score(y, guess, pos_label=1 - positive))
    else:
        out["test_recall"] = float(recall.mean())
        out["test_precision"] = float(precision.mean())
    return out


def _same(found: dict[str, Any], expected: dict[str, float]) -> None:
    assert list(found) == list(expected)
    for key, value in expected.items():
        got = float(found[key])
        assert (np.isnan(got) and np.isnan(value)) or got == pytest.approx(value, rel=1e-12), key


@pytest.mark.parametrize("positive", [0, 1])
def test_binary_metrics_equal_the_numpy_definitions_with_ties(
    tmp_path: Path, positive: int
) -> None:
    import torch

    model = _model(tmp_path, "mlp", "breast_cancer")
    rng = np.random.default_rng(positive)
    p1 = np.round(rng.random(200), 1)  # one decimal: many tied scores
    proba = np.stack([1 - p1, p1], axis=1)
    y = rng.integers(0, 2, 200)
    found = model.score(torch.as_tensor(proba), torch.as_tensor(y), "test", positive=positive)
    _same(found, np_classification(proba, y, positive))
    one_class = model.score(
        torch.as_tensor(proba[:5]), torch.zeros(5, dtype=torch.long), "test", positive=1
    )
    assert np.isnan(float(one_class["test_roc_auc"])) and np.isnan(float(one_class["test_pr_auc"]))
    every = [m.name for m in table.METRICS if m.name != "test_cost"]  # only with a cost ratio
    assert set(found) == set(table.names("classification", n_outputs=2, stage="test", wanted=every))


@pytest.mark.parametrize("positive", [0, 1])
def test_the_cost_per_row_counts_a_miss_as_miss_cost_false_alarms(
    tmp_path: Path, positive: int
) -> None:
    """A gate on ``test_cost`` renders MISS_COST from the blueprint's cost ratio; the metric is
    scikit-learn's confusion matrix weighted 7 per missed positive and 1 per false alarm."""
    import torch
    from sklearn.metrics import confusion_matrix

    doc = make_blueprint("mlp", "breast_cancer").model_dump(mode="json")
    doc["requirements"]["constraints"]["under_cost_ratio"] = 7.0
    for approach in doc["approaches"]:
        approach["infrastructure"]["registry"]["gate"].update(
            metric="test_cost", direction="minimize"
        )
    files = render.render(Blueprint.model_validate(doc))
    assert "MISS_COST = 7.0" in files["model.py"]
    model = import_rendered(tmp_path, {"model_cost.py": files["model.py"]}, "model_cost.py")
    rng = np.random.default_rng(5 + positive)
    proba = rng.dirichlet(np.ones(2), 300)
    y = rng.integers(0, 2, 300)
    found = model.score(
        torch.as_tensor(proba), torch.as_tensor(y), "test", positive=positive, threshold=0.3
    )
    guess = np.where(proba[:, positive] >= 0.3, positive, 1 - positive)
    cm = confusion_matrix(y, guess, labels=[positive, 1 - positive])  # rows: truth
    assert float(found["test_cost"]) == pytest.approx((7 * cm[0, 1] + cm[1, 0]) / 300)


def test_multiclass_regression_and_forecast_metrics_equal_the_numpy_definitions(
    tmp_path: Path,
) -> None:
    import torch

    rng = np.random.default_rng(3)
    iris = _model(tmp_path, "mlp", "iris")
    proba = rng.dirichlet(np.ones(3), 90)
    y = rng.integers(0, 3, 90)
    _same(
        iris.score(torch.as_tensor(proba), torch.as_tensor(y), "test"),
        np_classification(proba, y, 1),
    )

    diabetes = _model(tmp_path, "mlp", "diabetes")
    pred, true = rng.normal(size=50) * 30 + 150, rng.normal(size=50) * 30 + 150
    err = pred - true
    _same(
        diabetes.score(torch.as_tensor(pred), torch.as_tensor(true), "test"),
        {
            "test_rmse": float(np.sqrt((err**2).mean())),
            "test_mae": float(np.abs(err).mean()),
            "test_r2": float(1 - (err**2).sum() / ((true - true.mean()) ** 2).sum()),
            "test_smape": float(100 * (2 * np.abs(err) / (np.abs(pred) + np.abs(true))).mean()),
        },
    )

    sunspots = _model(tmp_path, "lstm", "sunspots")
    pred, true = rng.random((40, 3)) * 100, rng.random((40, 3)) * 100
    pred[0, 0] = true[0, 0] = 0.0  # a zero denominator counts 0 in sMAPE
    naive = rng.random((40, 3)) * 100
    splits = {"naive_test": naive, "y_test": true}
    naive_mae = sunspots.naive_mae(splits, "test")
    err = pred - true
    denom = np.abs(pred) + np.abs(true)
    smape = np.where(denom > 0, 2 * np.abs(err) / np.where(denom > 0, denom, 1), 0.0)
    _same(
        sunspots.score(torch.as_tensor(pred), torch.as_tensor(true), "test", naive_mae=naive_mae),
        {
            "test_mae": float(np.abs(err).mean()),
            "test_rmse": float(np.sqrt((err**2).mean())),
            "test_smape": float(100 * smape.mean()),
            "test_mase": float(np.abs(err).mean()) / float(np.abs(naive - true).mean()),
        },
    )
    # while training only the table's per-epoch validation metrics are computed
    epoch = sunspots.score(torch.as_tensor(pred), torch.as_tensor(true), "val", full=False)
    assert list(epoch) == ["val_mae", "val_rmse", "val_mase"]
    assert set(epoch) == set(table.names("forecasting", stage="val")) - {"val_loss"}
