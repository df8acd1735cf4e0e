"""The benchmark's metric definitions (hand-computed cases) and its classic baselines."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import baselines as bl

pytestmark = pytest.mark.unit


# --------------------------------------------------------------------------- metrics by hand


def test_binary_classification_metrics_by_hand() -> None:
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.8, 0.2]])
    m = bl.classification_metrics(proba, y)
    # guesses 0,1,1,0: one right per class; F1 = 2*1/(2+2) for both classes
    assert m["test_accuracy"] == 0.5
    assert m["test_f1_macro"] == 0.5
    # positives score .7, .2; negatives .1, .6: 3 of 4 pairs ordered right
    assert m["test_roc_auc"] == 0.75


def test_auc_counts_ties_as_half_and_is_nan_without_both_classes() -> None:
    assert bl.roc_auc(np.array([0.5, 0.5, 0.5, 0.5]), np.array([0, 1, 0, 1])) == 0.5
    assert bl.roc_auc(np.array([0.2, 0.8, 0.8]), np.array([0, 1, 0])) == 0.75
    assert math.isnan(bl.roc_auc(np.array([0.1, 0.2]), np.array([1, 1])))


def test_multiclass_macro_f1_by_hand_and_no_auc() -> None:
    y = np.array([0, 1, 2, 2])
    scores = np.eye(3)[[0, 1, 1, 2]]  # guesses 0, 1, 1, 2
    m = bl.classification_metrics(scores, y)
    assert m["test_accuracy"] == 0.75
    # class 0: 2*1/(1+1) = 1; class 1: 2*1/(2+1); class 2: 2*1/(1+2)
    assert m["test_f1_macro"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    assert "test_roc_auc" not in m


def test_regression_metrics_by_hand() -> None:
    m = bl.regression_metrics(np.array([2.0, 2.0, 2.0]), np.array([1.0, 2.0, 3.0]))
    assert m["test_mae"] == pytest.approx(2 / 3)
    assert m["test_rmse"] == pytest.approx(math.sqrt(2 / 3))
    assert m["test_r2"] == pytest.approx(0.0)  # predicting the mean
    perfect = bl.regression_metrics(np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    assert perfect["test_r2"] == 1.0 and perfect["test_rmse"] == 0.0


def test_forecast_metrics_by_hand() -> None:
    y = np.array([[1.0, 2.0], [3.0, 4.0]])
    pred = np.array([[1.0, 3.0], [3.0, 2.0]])
    naive = np.array([[0.0, 2.0], [4.0, 4.0]])
    m = bl.forecast_metrics(pred, y, naive)
    assert m["test_mae"] == 0.75  # errors 0, 1, 0, 2
    assert m["test_rmse"] == pytest.approx(math.sqrt(5 / 4))
    # sMAPE terms: 0, 2/5, 0, 4/6
    assert m["test_smape"] == pytest.approx(100 * (0.4 + 4 / 6) / 4)
    assert m["test_mase"] == pytest.approx(0.75 / 0.5)  # naive errors 1, 0, 1, 0
    zero = bl.forecast_metrics(np.zeros((1, 2)), np.zeros((1, 2)), np.ones((1, 2)))
    assert zero["test_smape"] == 0.0 and zero["test_mase"] == 0.0


def test_seasonal_naive_repeats_the_last_full_season() -> None:
    series = np.arange(10.0)
    assert bl.seasonal_naive(series, t=6, horizon=5, period=3).tolist() == [3, 4, 5, 3, 4]
    assert bl.seasonal_naive(series, t=6, horizon=2, period=1).tolist() == [5, 5]


# --------------------------------------------------------------------------- series baselines


def _sunspots() -> np.ndarray:
    from mlflowctl.data import load

    s = load("statsmodels:sunspots").series
    assert s is not None
    return s.astype(np.float64)


def test_ar_recursion_by_hand_and_against_statsmodels() -> None:
    out = bl.ar_forecasts(np.array([0.0, 4.0]), np.array([2]), 2, const=1.0, phi=np.array([0.5]))
    assert out.tolist() == [[3.0, 2.5]]
    from statsmodels.tsa.ar_model import AutoReg

    s = _sunspots()
    res = AutoReg(s[:250], lags=9, trend="c").fit()
    params = np.asarray(res.params)
    ours = bl.ar_forecasts(s, np.array([250]), 12, float(params[0]), params[1:])
    assert np.allclose(ours[0], res.forecast(12), atol=1e-8)


@pytest.mark.parametrize("period", [11, 1])
def test_holt_winters_rolling_state_matches_statsmodels(period: int) -> None:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    s = _sunspots()
    n_train, later, h = 240, 270, 15
    hw = bl.hw_fit(s[:n_train], period)
    ours = bl.hw_forecasts(s, np.array([n_train, later]), h, hw)
    # a model with the same parameters and initial state, run by statsmodels up to each origin
    for row, t in zip(ours, (n_train, later), strict=True):
        seasonal = "add" if hw.period else None
        model = ExponentialSmoothing(
            s[:t],
            trend="add",
            damped_trend=hw.phi < 1,
            seasonal=seasonal,
            seasonal_periods=hw.period or None,
            initialization_method="known",
            initial_level=hw.level,
            initial_trend=hw.trend,
            initial_seasonal=list(hw.seasons) if seasonal else None,
        )
        fixed = model.fit(
            smoothing_level=hw.alpha,
            smoothing_trend=hw.beta,
            smoothing_seasonal=hw.gamma if seasonal else None,
            damping_trend=hw.phi if hw.phi < 1 else None,
            optimized=False,
        )
        assert np.allclose(row, fixed.forecast(h), atol=1e-6)


def test_forecast_baselines_on_a_clean_seasonal_series() -> None:
    t = np.arange(240.0)
    rng = np.random.default_rng(0)
    series = 50 + 0.5 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.1, t.size)
    origins = np.arange(200, 240 - 6 + 1)
    results = {r.name: r for r in bl.forecast_baselines(series, origins, horizon=6, period=12)}
    assert results["seasonal_naive"].metrics["test_mase"] == 1.0
    # the naive forecast misses one season of trend (6 units); the smoothers see the trend
    assert results["holt_winters"].metrics["test_mase"] < 0.2
    assert results["autoreg"].metrics["test_mase"] < 0.5
    assert bl.best_baseline(list(results.values()), "forecasting").name != "seasonal_naive"
    assert all(r.wall_time_s > 0 for r in results.values())


# --------------------------------------------------------------------------- sklearn baselines


def test_classification_and_regression_baselines_on_builtins() -> None:
    from sklearn.model_selection import train_test_split

    from mlflowctl.data import load

    iris = load("sklearn:iris")
    assert iris.y is not None
    xtr, xte, ytr, yte = train_test_split(
        iris.X, iris.y, test_size=0.3, random_state=0, stratify=iris.y
    )
    results = bl.classification_baselines(xtr, ytr, xte, yte, quick=True)
    assert [r.name for r in results] == ["svc", "logistic_regression", "hist_gradient_boosting"]
    assert all(r.metrics["test_accuracy"] > 0.85 for r in results)
    assert bl.best_baseline(results, "classification").metrics["test_accuracy"] == max(
        r.metrics["test_accuracy"] for r in results
    )

    cancer = load("sklearn:breast_cancer")
    assert cancer.y is not None
    xtr, xte, ytr, yte = train_test_split(
        cancer.X, cancer.y, test_size=0.3, random_state=0, stratify=cancer.y
    )
    svc = bl.classification_baselines(xtr, ytr, xte, yte, quick=True)[0]
    assert svc.metrics["test_roc_auc"] > 0.95  # binary: AUC from the decision function

    diabetes = load("sklearn:diabetes")
    assert diabetes.y is not None
    xtr, xte, ytr, yte = train_test_split(diabetes.X, diabetes.y, test_size=0.3, random_state=0)
    reg = {r.name: r for r in bl.regression_baselines(xtr, ytr, xte, yte, quick=True)}
    assert 0.3 < reg["ridge"].metrics["test_r2"] < 0.7
    assert reg["ridge"].metrics["test_rmse"] > 0


# --------------------------------------------------------------------------- the runner's split


import run as bench_run  # noqa: E402

_PROJECT_DATA = """
import numpy as np


def load_splits(cfg):
    series = np.arange(40.0) % 5 + np.arange(40.0)
    period, horizon, starts = cfg["data"]["seasonal_period"], 3, np.arange(30, 38)
    steps = np.arange(horizon)
    naive = np.stack([series[t + steps - period * (steps // period + 1)] for t in starts])
    if cfg["data"].get("break_naive"):
        naive = naive + 1.0
    return {
        "series": series,
        "t_test": starts,
        "x_test": np.zeros((len(starts), 4, 1)),
        "y_test": np.stack([series[t : t + horizon] for t in starts]),
        "naive_test": naive,
    }
"""


def _project(root: Path, data_py: str, **data: object) -> Path:
    import yaml

    root.mkdir()
    (root / "data.py").write_text(data_py)
    cfg = {"task": "forecasting", "training": {"seed": 7}, "data": {"seasonal_period": 5, **data}}
    (root / "config.yaml").write_text(yaml.safe_dump(cfg))
    return root


def test_split_from_project_imports_the_rendered_data_module(tmp_path: Path) -> None:
    split = bench_run.split_from_project(_project(tmp_path / "p", _PROJECT_DATA))
    assert (split.task, split.origin, split.horizon, split.period, split.seed) == (
        "forecasting",
        "project",
        3,
        5,
        7,
    )
    assert split.origins.tolist() == list(range(30, 38)) and len(split.series) == 40
    # a project whose naive forecast differs from ours would make MASE incomparable: refused
    with pytest.raises(AssertionError):
        bench_run.split_from_project(_project(tmp_path / "q", _PROJECT_DATA, break_naive=True))
    with pytest.raises(NotImplementedError, match="TODO"):
        bench_run.split_from_project(_project(tmp_path / "r", "X = 1\n"))


def test_standalone_split_follows_the_blueprint_numbers() -> None:
    iris = bench_run.split_standalone("iris", None)
    assert iris.task == "classification" and len(iris.x_test) == 23  # 15 % of 150, stratified
    assert sorted(np.bincount(iris.y_test).tolist()) == [7, 8, 8]
    sun = bench_run.split_standalone("sunspots", None)
    assert sun.horizon == 11 and sun.period == 11  # no blueprint: horizon = one season
    assert sun.origins[0] == 309 - 46 and sun.origins[-1] == 309 - 11


@pytest.mark.integration
@pytest.mark.slow
def test_benchmark_reads_the_same_split_as_a_real_rendered_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """design + build --no-train for real, then the runner's split must be the project's own."""
    import subprocess

    monkeypatch.chdir(tmp_path)
    for source, prompt in (
        ("sklearn:iris", "classify iris species"),
        ("statsmodels:sunspots", "forecast yearly sunspots 11 years ahead"),
    ):
        name = source.split(":")[1]
        for args in (
            ["design", prompt, "--data", source, "-o", f"{name}.yaml"],
            ["build", f"{name}.yaml", "--no-train", "--out", name],
        ):
            subprocess.run([sys.executable, "-m", "mlflowctl", *args], check=True)
        split = bench_run.split_from_project(tmp_path / name)
        if name == "iris":
            assert split.task == "classification" and len(split.x_train) + len(split.x_test) == 150
        else:
            assert split.task == "forecasting" and split.horizon == 11
            assert split.origins.max() == 309 - 11


@pytest.mark.integration
@pytest.mark.slow  # a real design + 3-epoch build of the Nile series: about half a minute
def test_quick_benchmark_on_one_set_reports_who_is_ahead_and_the_champion(tmp_path: Path) -> None:
    """``benchmarks/run.py --quick`` on one of the nine bundled sets, as a developer runs it."""
    import json
    import subprocess

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--datasets", "nile", "--quick", "--out", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    [row] = json.loads((tmp_path / "quality.json").read_text())["rows"]
    assert row["dataset"] == "nile" and row["metric"] == "test_mase" and row["split"] == "project"
    assert row["ours"] is not None and row["best_value"] is not None
    assert row["ahead"] is (row["ours"] < row["best_value"])
    assert row["champion"] == "model" or row["champion"].startswith("baseline ")
    # what build --allow-baseline-champion registered agrees with the validation-side choice
    assert row["registered"] == row["champion"], row["notes"]
    table = (tmp_path / "quality.md").read_text()
    assert "| model ahead | registered @champion | its test value |" in table
    assert "| nile | test_mase |" in table
