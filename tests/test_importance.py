"""An explainability wish is executed: a table's build reports each input column's permutation
importance on validation (issue 14: "interpretability" is read and acted on, not only recorded).

From outside: a churn CSV as people have it (an id column, a text column, blanks), the installed
CLI, the rendered project's outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli

pytestmark = pytest.mark.integration


def _customers(path: Path, n: int = 400) -> None:
    rng = np.random.default_rng(7)
    tenure = rng.integers(1, 72, n)
    plan = rng.choice(["basic", "plus", "pro"], n)
    noise = rng.normal(size=n)
    # churn is driven by tenure (strongly) and the plan (a little); `noise` is unrelated
    churn = (tenure < 20) ^ (rng.random(n) < 0.08)
    rows = ["customer_id,plan,tenure_months,noise,churned"]
    for i in range(n):
        months = "" if i % 17 == 0 else str(tenure[i])  # blanks, as exports have them
        rows.append(f"C{i:05d},{plan[i]},{months},{noise[i]:.3f},{'yes' if churn[i] else 'no'}")
    path.write_text("\n".join(rows) + "\n")


def test_an_explainable_build_reports_what_the_model_relies_on(tmp_path: Path) -> None:
    _customers(tmp_path / "customers.csv")
    proc = run_cli(
        tmp_path, "run", "which customers will leave? the team must be able to explain the model",
        "--data", "customers.csv", "--target", "churned", "--workdir", "w", "--max-epochs", "30",
    )  # fmt: skip
    assert proc.returncode in (0, 8), proc.stderr
    out = tmp_path / "w" / "build" / "outputs"
    importance = json.loads((out / "metrics.json").read_text())["feature_importance"]
    # one entry per raw input column (the id is dropped; a category's one-hot block and a number's
    # missing-value flag count as their column), largest first
    assert sorted(r["column"] for r in importance) == ["noise", "plan", "tenure_months"]
    assert [r["importance"] for r in importance] == sorted(
        (r["importance"] for r in importance), reverse=True
    )
    assert importance[0]["column"] == "tenure_months" and importance[0]["importance"] > 0.05
    noise = next(r for r in importance if r["column"] == "noise")
    assert noise["importance"] < importance[0]["importance"]
    report = (out / "report.md").read_text()
    assert "## Which inputs the model relies on" in report and "| tenure_months |" in report


@pytest.mark.heavy
def test_without_the_wish_no_importance_is_computed(tmp_path: Path) -> None:
    _customers(tmp_path / "customers.csv")
    proc = run_cli(
        tmp_path, "run", "which customers will leave?", "--data", "customers.csv",
        "--target", "churned", "--workdir", "w", "--max-epochs", "3",
    )  # fmt: skip
    assert proc.returncode in (0, 8), proc.stderr
    metrics = json.loads((tmp_path / "w" / "build" / "outputs" / "metrics.json").read_text())
    assert metrics["feature_importance"] is None
