"""Classic baselines on a given split, scored with the generated projects' metric definitions.

The metric functions below restate, independently, the definitions in
``templates/_common/evaluate.py.j2`` (what a rendered project writes to ``outputs/metrics.json``):

- classification: accuracy; macro-F1 with per-class ``F1 = 2 TP / (predicted + actual)`` (0 for a
  class neither predicted nor present); ROC-AUC (binary only) as the probability that a random
  positive outranks a random negative, ties counting half. Scores may be probabilities or any
  per-class scores whose arg-max is the prediction.
- regression: RMSE, MAE, ``R2 = 1 - SSE / SST`` (SST over the test targets).
- forecasting, on windows ``[n_windows, horizon]``: MAE, RMSE, sMAPE in percent
  (``200 |e| / (|pred| + |y|)`` averaged, 0 where both are 0) and MASE = MAE(model) / MAE(seasonal
  naive) over the same windows and horizon.

Series baselines are fitted once on everything before the test span, then forecast ``horizon``
steps from every rolling origin of the test span with their parameters fixed, updating their
state with the observations before each origin (what a deployed forecaster does; no refit, no
test value in any fit).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Array = np.ndarray

# --------------------------------------------------------------------------- metrics


def roc_auc(score: Array, y: Array) -> float:
    """Mann-Whitney AUC with average ranks for ties; NaN when one class is absent."""
    score = np.asarray(score, dtype=np.float64)
    y = np.asarray(y)
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    ranks[order] = np.arange(1, len(score) + 1)
    for value in np.unique(score):
        tied = score == value
        ranks[tied] = ranks[tied].mean()
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def classification_metrics(scores: Array, y: Array) -> dict[str, float]:
    """Scores ``[n, k]`` (probabilities or monotone scores), ``y`` class indices ``0..k-1``."""
    scores = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    k = scores.shape[1]
    guess = scores.argmax(axis=1)
    confusion = np.bincount(y * k + guess, minlength=k * k).reshape(k, k)
    tp = np.diag(confusion)
    f1 = 2 * tp / np.maximum(confusion.sum(0) + confusion.sum(1), 1)
    out = {"test_accuracy": float((guess == y).mean()), "test_f1_macro": float(f1.mean())}
    if k == 2:
        out["test_roc_auc"] = roc_auc(scores[:, 1], y)
    return out


def regression_metrics(pred: Array, y: Array) -> dict[str, float]:
    pred = np.asarray(pred, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    err = pred - y
    total = float(((y - y.mean()) ** 2).sum())
    return {
        "test_rmse": float(np.sqrt((err**2).mean())),
        "test_mae": float(np.abs(err).mean()),
        "test_r2": float(1 - (err**2).sum() / max(total, 1e-12)),
    }


def forecast_metrics(pred: Array, y: Array, naive: Array) -> dict[str, float]:
    """``pred``, ``y``, ``naive``: ``[n_windows, horizon]`` in the series' own units."""
    pred, y, naive = (np.asarray(a, dtype=np.float64) for a in (pred, y, naive))
    err = pred - y
    denom = np.abs(pred) + np.abs(y)
    smape = np.where(denom > 0, 2 * np.abs(err) / np.where(denom > 0, denom, 1), 0.0)
    mae = float(np.abs(err).mean())
    return {
        "test_mae": mae,
        "test_rmse": float(np.sqrt((err**2).mean())),
        "test_smape": float(100 * smape.mean()),
        "test_mase": mae / max(float(np.abs(naive - y).mean()), 1e-12),
    }


#: the headline metric per task and whether larger is better
HEADLINE: dict[str, tuple[str, bool]] = {
    "classification": ("test_accuracy", True),
    "regression": ("test_r2", True),
    "forecasting": ("test_mase", False),
}

# --------------------------------------------------------------------------- results


@dataclass
class BaselineResult:
    name: str
    metrics: dict[str, float]
    wall_time_s: float
    details: dict[str, Any] = field(default_factory=dict)


#: threads each baseline may use. One: on a shared 2-core machine OpenMP's spinning workers made
#: gradient boosting on digits 7x slower with 2 threads (21 s) than with 1 (3 s).
BASELINE_THREADS = 1


def _timed(name: str, fn: Callable[[], tuple[dict[str, float], dict[str, Any]]]) -> BaselineResult:
    from threadpoolctl import threadpool_limits

    start = time.perf_counter()
    with warnings.catch_warnings(), threadpool_limits(limits=BASELINE_THREADS):
        warnings.simplefilter("ignore")  # convergence chatter from statsmodels/sklearn
        metrics, details = fn()
    return BaselineResult(name, metrics, time.perf_counter() - start, details)


# --------------------------------------------------------------------------- tabular / image


def _flat(x: Array) -> Array:
    return np.asarray(x, dtype=np.float64).reshape(len(x), -1)


def classification_baselines(
    x_train: Array,
    y_train: Array,
    x_test: Array,
    y_test: Array,
    *,
    seed: int = 42,
    quick: bool = False,
) -> list[BaselineResult]:
    """SVC (RBF, scaled), logistic regression (scaled) and histogram gradient boosting.

    ``quick`` caps gradient boosting at 50 iterations (sklearn's default is 100).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    xtr, xte = _flat(x_train), _flat(x_test)
    k = int(max(y_train.max(), y_test.max())) + 1

    def scores_of(model: Any) -> Array:
        if hasattr(model, "predict_proba"):
            return np.asarray(model.predict_proba(xte))
        d = np.asarray(model.decision_function(xte))
        return np.stack([-d, d], axis=1) if d.ndim == 1 else d

    def fit_score(model: Any) -> Callable[[], tuple[dict[str, float], dict[str, Any]]]:
        def run() -> tuple[dict[str, float], dict[str, Any]]:
            model.fit(xtr, y_train)
            scores = scores_of(model)
            if scores.shape[1] < k:  # a class absent from training: pad its column
                full = np.full((len(xte), k), -np.inf)
                full[:, model.classes_] = scores
                scores = full
            return classification_metrics(scores, y_test), {}

        return run

    svc = make_pipeline(StandardScaler(), SVC(kernel="rbf", C=10.0, gamma="scale", break_ties=True))
    logreg = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, C=1.0))
    hgb = HistGradientBoostingClassifier(random_state=seed, max_iter=50 if quick else 100)
    return [
        _timed("svc", fit_score(svc)),
        _timed("logistic_regression", fit_score(logreg)),
        _timed("hist_gradient_boosting", fit_score(hgb)),
    ]


def regression_baselines(
    x_train: Array,
    y_train: Array,
    x_test: Array,
    y_test: Array,
    *,
    seed: int = 42,
    quick: bool = False,
) -> list[BaselineResult]:
    """Ridge (scaled, alpha by CV on the training split) and histogram gradient boosting."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    xtr, xte = _flat(x_train), _flat(x_test)

    def fit_score(model: Any) -> Callable[[], tuple[dict[str, float], dict[str, Any]]]:
        def run() -> tuple[dict[str, float], dict[str, Any]]:
            model.fit(xtr, np.asarray(y_train, dtype=np.float64))
            return regression_metrics(model.predict(xte), y_test), {}

        return run

    ridge = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    hgb = HistGradientBoostingRegressor(random_state=seed, max_iter=50 if quick else 100)
    return [_timed("ridge", fit_score(ridge)), _timed("hist_gradient_boosting", fit_score(hgb))]


# --------------------------------------------------------------------------- forecasting


def seasonal_naive(series: Array, t: int, horizon: int, period: int) -> Array:
    """Steps ``t .. t+horizon-1`` repeating the last full season observed before ``t``."""
    steps = np.arange(horizon)
    return np.asarray(series)[t + steps - period * (steps // period + 1)]


def windows(series: Array, origins: Array, horizon: int) -> Array:
    """The actual values ``[n_origins, horizon]`` each forecast is scored against."""
    return np.stack([np.asarray(series)[t : t + horizon] for t in origins])


def ar_fit(train: Array, period: int) -> tuple[float, Array]:
    """AR(p) with a constant, p chosen by AIC up to ``max(2 * period, 12)`` lags (OLS fit)."""
    from statsmodels.tsa.ar_model import AutoReg, ar_select_order

    maxlag = max(1, min(max(2 * period, 12), len(train) // 4))
    sel = ar_select_order(train, maxlag=maxlag, ic="aic", trend="c")
    p = max(sel.ar_lags) if sel.ar_lags else 1
    res = AutoReg(train, lags=p, trend="c").fit()
    params = np.asarray(res.params, dtype=np.float64)
    return float(params[0]), params[1:]


def ar_forecasts(series: Array, origins: Array, horizon: int, const: float, phi: Array) -> Array:
    """Recursive ``horizon``-step AR forecasts from every origin, parameters fixed."""
    series = np.asarray(series, dtype=np.float64)
    p = len(phi)
    lags = np.stack([series[t - p : t] for t in origins])  # oldest .. newest
    out = np.empty((len(origins), horizon))
    for h in range(horizon):
        nxt = const + lags[:, ::-1] @ phi
        out[:, h] = nxt
        lags = np.concatenate([lags[:, 1:], nxt[:, None]], axis=1)
    return out


@dataclass(frozen=True)
class HoltWinters:
    """Fitted additive Holt-Winters (damped trend, optional season): parameters + initial state."""

    alpha: float
    beta: float
    gamma: float
    phi: float
    level: float
    trend: float
    seasons: tuple[float, ...]  # the m initial seasonal terms, oldest first; () without season

    @property
    def period(self) -> int:
        return len(self.seasons)


def hw_fit(train: Array, period: int) -> HoltWinters:
    """statsmodels ExponentialSmoothing, damped or not (lower AIC), seasonal when it can be."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    seasonal = "add" if period > 1 and len(train) >= 2 * period + 2 else None
    fits = [
        ExponentialSmoothing(
            train,
            trend="add",
            damped_trend=damped,
            seasonal=seasonal,
            seasonal_periods=period if seasonal else None,
            initialization_method="estimated",
        ).fit()
        for damped in (True, False)
    ]
    best = min(fits, key=lambda f: f.aic)
    p = best.params

    def num(key: str, default: float) -> float:
        v = p.get(key)
        return default if v is None or not np.isfinite(v) else float(v)

    return HoltWinters(
        alpha=num("smoothing_level", 0.0),
        beta=num("smoothing_trend", 0.0),
        gamma=num("smoothing_seasonal", 0.0),
        phi=num("damping_trend", 1.0),
        level=num("initial_level", 0.0),
        trend=num("initial_trend", 0.0),
        seasons=tuple(float(s) for s in p["initial_seasons"]) if seasonal else (),
    )


def hw_forecasts(series: Array, origins: Array, horizon: int, hw: HoltWinters) -> Array:
    """Run the smoothing recursion over the series once; forecast from each origin's state."""
    y = np.asarray(series, dtype=np.float64)
    m = hw.period
    wanted = {int(t): i for i, t in enumerate(origins)}
    out = np.empty((len(origins), horizon))
    damp = np.cumsum(hw.phi ** np.arange(1, horizon + 1))
    level, trend = hw.level, hw.trend
    season = list(hw.seasons)
    for t in range(int(max(origins)) + 1):
        if t in wanted:
            row = out[wanted[t]]
            for h in range(horizon):
                s = season[len(season) - m + (h % m)] if m else 0.0
                row[h] = level + damp[h] * trend + s
        if t == len(y):
            break
        s_m = season[-m] if m else 0.0
        new_level = hw.alpha * (y[t] - s_m) + (1 - hw.alpha) * (level + hw.phi * trend)
        new_trend = hw.beta * (new_level - level) + (1 - hw.beta) * hw.phi * trend
        if m:
            season.append(hw.gamma * (y[t] - level - hw.phi * trend) + (1 - hw.gamma) * s_m)
        level, trend = new_level, new_trend
    return out


def forecast_baselines(
    series: Array, origins: Array, horizon: int, period: int
) -> list[BaselineResult]:
    """Seasonal naive, naive with drift, climatology (per-season mean), AR(p) and Holt-Winters,
    from every origin in ``origins``.

    Fitted on ``series[:min(origins)]``; scored on ``windows(series, origins, horizon)``.
    """
    series = np.asarray(series, dtype=np.float64)
    origins = np.asarray(origins, dtype=np.int64)
    period = max(1, int(period))
    train = series[: int(origins.min())]
    actual = windows(series, origins, horizon)
    naive = np.stack([seasonal_naive(series, int(t), horizon, period) for t in origins])

    def run_naive() -> tuple[dict[str, float], dict[str, Any]]:
        return forecast_metrics(naive, actual, naive), {"period": period}

    def run_ar() -> tuple[dict[str, float], dict[str, Any]]:
        const, phi = ar_fit(train, period)
        pred = ar_forecasts(series, origins, horizon, const, phi)
        return forecast_metrics(pred, actual, naive), {"p": len(phi)}

    def run_drift() -> tuple[dict[str, float], dict[str, Any]]:
        steps = np.arange(1, horizon + 1)
        pred = np.stack(
            [series[t - 1] + (series[t - 1] - series[0]) / max(t - 1, 1) * steps for t in origins]
        )
        return forecast_metrics(pred, actual, naive), {}

    def run_climatology() -> tuple[dict[str, float], dict[str, Any]]:
        seasons = np.arange(len(train)) % period
        means = np.array([train[seasons == s].mean() for s in range(period)])
        pred = np.stack([means[(int(t) + np.arange(horizon)) % period] for t in origins])
        return forecast_metrics(pred, actual, naive), {"period": period}

    def run_hw() -> tuple[dict[str, float], dict[str, Any]]:
        hw = hw_fit(train, period)
        pred = hw_forecasts(series, origins, horizon, hw)
        return forecast_metrics(pred, actual, naive), {"damped": hw.phi < 1, "period": hw.period}

    return [
        _timed("seasonal_naive", run_naive),
        _timed("naive_drift", run_drift),
        _timed("climatology", run_climatology),
        _timed("autoreg", run_ar),
        _timed("holt_winters", run_hw),
    ]


def best_baseline(results: list[BaselineResult], task: str) -> BaselineResult:
    metric, larger = HEADLINE[task]
    scored = [r for r in results if np.isfinite(r.metrics.get(metric, np.nan))]
    return (max if larger else min)(scored, key=lambda r: r.metrics[metric])
