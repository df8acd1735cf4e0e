"""New rows vs the reference profile: per-feature drift, prediction drift, schema, performance.

A feature drifts when **both** its population stability index exceeds ``Thresholds.psi`` (the
size of the change) **and** its two-sample test (Kolmogorov-Smirnov for numbers against the
stored quantile sketch, chi-squared for categories) rejects at ``Thresholds.pvalue`` (the change
is not sampling noise): a few hundred rows of unchanged data pass, a shifted feature fails.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlflowctl.monitor import stats

FORMAT = "project-reference-profile"
ALL_FEATURES = ("all_input_features", "all", "all features", "*")
#: a missing rate that moves by more than this (absolute) is a change worth failing on
MISSING_RATE_DELTA = 0.1
#: live metric worse than the validation metric by more than this share -> degraded
DEGRADATION = 0.1
MAXIMIZE = {"accuracy", "f1_macro", "recall", "precision", "r2", "roc_auc", "pr_auc"}


@dataclass(frozen=True)
class Thresholds:
    psi: float = 0.2
    pvalue: float = 0.01
    missing_rate: float = MISSING_RATE_DELTA
    degradation: float = DEGRADATION


@dataclass
class FeatureDrift:
    name: str
    type: str
    psi: float
    test: str
    statistic: float
    pvalue: float
    missing_ref: float
    missing_new: float
    drifted: bool
    reason: str = ""
    ref_mean: float | None = None
    new_mean: float | None = None


@dataclass
class MonitorReport:
    n_rows: int
    thresholds: Thresholds
    features: list[FeatureDrift] = field(default_factory=list)
    prediction: FeatureDrift | None = None
    schema: dict[str, list[str]] = field(default_factory=dict)
    performance: dict[str, Any] | None = None

    @property
    def drifted_features(self) -> list[str]:
        return [f.name for f in self.features if f.drifted]

    @property
    def degraded(self) -> bool:
        return bool(self.performance and self.performance.get("degraded"))

    @property
    def drift_found(self) -> bool:
        pred = self.prediction is not None and self.prediction.drifted
        return bool(self.drifted_features) or pred or self.degraded

    def to_dict(self) -> dict[str, Any]:
        return {
            "drift_found": self.drift_found,
            "drifted_features": self.drifted_features,
            "prediction_drift": self.prediction is not None and self.prediction.drifted,
            "degraded": self.degraded,
            "n_rows": self.n_rows,
            "thresholds": asdict(self.thresholds),
            "features": [_clean(asdict(f)) for f in self.features],
            "prediction": _clean(asdict(self.prediction)) if self.prediction else None,
            "schema": self.schema,
            "performance": self.performance,
        }


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def profile_problem(profile: Any) -> str | None:
    """Why a document is not a usable reference profile (None when it is)."""
    if not isinstance(profile, dict) or profile.get("format") != FORMAT:
        return "not a mlflowctl reference profile"
    if profile.get("version") != 1:
        return f"reference profile version {profile.get('version')!r} is not supported"
    return None


def watched_features(profile: dict[str, Any], requested: list[str]) -> list[str]:
    """The blueprint's monitoring features that are real columns; all of them otherwise."""
    names = list(profile.get("features", {}))
    if not requested or any(r.strip().lower() in ALL_FEATURES for r in requested):
        return names
    real = [r for r in requested if r in names]
    return real or names


def _feature(
    name: str, ref: dict[str, Any], col: pd.Series, n_ref: int, t: Thresholds
) -> FeatureDrift:
    missing_new = float(col.isna().mean()) if len(col) else 0.0
    missing_ref = float(ref.get("missing_rate", 0.0))
    if ref["type"] == "numeric":
        values = pd.to_numeric(col, errors="coerce").dropna().to_numpy(dtype=np.float64)
        psi = stats.psi_numeric(ref.get("bins", []), ref.get("fractions", []), values)
        stat, p = stats.ks_sketch(ref.get("quantiles", []), n_ref, values)
        test = "ks"
        ref_mean = ref.get("mean")
        new_mean = float(values.mean()) if len(values) else None
    else:
        texts = [str(v) for v in col.dropna().tolist()]
        psi, stat, p = stats.categorical_drift(ref.get("frequencies", {}), n_ref, texts)
        test, ref_mean, new_mean = "chi2", None, None
    reasons = []
    if psi > t.psi and p < t.pvalue:
        reasons.append(f"psi {psi:.3f} > {t.psi:g} and {test} p {p:.2g} < {t.pvalue:g}")
    if abs(missing_new - missing_ref) > t.missing_rate:
        reasons.append(f"missing rate {missing_ref:.2f} -> {missing_new:.2f}")
    return FeatureDrift(
        name=name, type=ref["type"], psi=round(psi, 6), test=test, statistic=round(stat, 6),
        pvalue=float(f"{p:.6g}"), missing_ref=missing_ref, missing_new=round(missing_new, 6),
        drifted=bool(reasons), reason="; ".join(reasons), ref_mean=ref_mean, new_mean=new_mean,
    )  # fmt: skip


def feature_frame(profile: dict[str, Any], frame: pd.DataFrame) -> pd.DataFrame:
    """The columns the profile describes (image rows become their mean pixel)."""
    if profile.get("kind") == "image":
        pixels = frame.drop(columns=[c for c in [profile.get("target")] if c in frame.columns])
        return pd.DataFrame({"pixel_mean": pixels.to_numpy(dtype=np.float64).mean(axis=1)})
    return frame


def compare(
    profile: dict[str, Any],
    frame: pd.DataFrame,
    predictions: pd.DataFrame | None,
    thresholds: Thresholds,
    *,
    features: list[str] | None = None,
    expected_columns: list[str] | None = None,
    performance_metric: str | None = None,
    performance_threshold: float | None = None,
) -> MonitorReport:
    """Compare ``frame`` (new raw rows) and the model's ``predictions`` on them with ``profile``."""
    report = MonitorReport(n_rows=len(frame), thresholds=thresholds)
    n_ref = int(profile.get("n_train", 1000))
    data = feature_frame(profile, frame)
    refs: dict[str, Any] = profile.get("features", {})
    for name in watched_features(profile, features or []):
        if name in data.columns:
            report.features.append(_feature(name, refs[name], data[name], n_ref, thresholds))
    target = profile.get("target")
    known = set(expected_columns or refs) | ({target} if target else set())
    report.schema = {
        "extra_columns": [str(c) for c in frame.columns if c not in known],
        "type_changes": _type_changes(refs, data),
    }
    pred_ref = profile.get("predictions")
    if predictions is not None and pred_ref and pred_ref.get("column") in predictions.columns:
        col = predictions[pred_ref["column"]]
        n_val = int(profile.get("n_validation", n_ref))
        report.prediction = _feature("prediction", pred_ref, col, n_val, thresholds)
    if target and target in frame.columns and predictions is not None:
        report.performance = performance(
            profile, frame[target], predictions, performance_metric, performance_threshold,
            thresholds.degradation,
        )  # fmt: skip
    return report


def _type_changes(refs: dict[str, Any], data: pd.DataFrame) -> list[str]:
    out = []
    for name, ref in refs.items():
        if name in data.columns and ref["type"] == "numeric":
            col = data[name]
            if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
                out.append(f"{name}: numeric at training, {col.dtype} now")
    return out


def _labels(truth: pd.Series, classes: list[str]) -> Any:
    """Targets as class names; integer codes 0..k-1 map to the k classes when the names differ."""
    texts = truth.astype(str).to_numpy()
    if set(texts) <= set(classes):
        return texts
    numeric = pd.to_numeric(truth, errors="coerce")
    if numeric.notna().all() and set(numeric.astype(int)) <= set(range(len(classes))):
        return np.asarray(classes, dtype=object)[numeric.astype(int).to_numpy()].astype(str)
    return texts


def live_metrics(profile: dict[str, Any], truth: pd.Series, pred: pd.DataFrame) -> dict[str, float]:
    # models logged before 2026-12-02 name the predicted class ``label``
    name = "prediction" if "prediction" in pred.columns else "label"
    if profile["task"] == "classification" and name in pred.columns:
        classes = sorted(profile["predictions"].get("frequencies", {}))
        guess = pred[name].astype(str).to_numpy()
        y = _labels(truth, [c for c in classes if c != stats.OTHER] or list(set(guess)))
        f1, rec, prec = [], [], []
        for c in sorted(set(y) | set(guess)):
            tp = float(((guess == c) & (y == c)).sum())
            p_n, t_n = float((guess == c).sum()), float((y == c).sum())
            f1.append(2 * tp / max(p_n + t_n, 1.0))
            rec.append(tp / max(t_n, 1.0))
            prec.append(tp / max(p_n, 1.0))
        live = {
            "accuracy": float((guess == y).mean()),
            "f1_macro": float(np.mean(f1)),
            "recall": float(np.mean(rec)),
            "precision": float(np.mean(prec)),
        }
        if profile.get("miss_cost") is not None:  # the cost per row the model was gated on
            hit, flagged = y == profile["positive_class"], guess == profile["positive_class"]
            missed, alarms = float((hit & ~flagged).sum()), float((~hit & flagged).sum())
            live["cost"] = (profile["miss_cost"] * missed + alarms) / max(len(y), 1)
        return live
    if profile["task"] == "regression" and "prediction" in pred.columns:
        y = pd.to_numeric(truth, errors="coerce").to_numpy(dtype=np.float64)
        err = pred["prediction"].to_numpy(dtype=np.float64) - y
        total = float(((y - y.mean()) ** 2).sum())
        denom = np.abs(y) + np.abs(err + y)
        ratio = np.divide(2 * np.abs(err), denom, out=np.zeros_like(err), where=denom > 0)
        live = {
            "rmse": float(np.sqrt((err**2).mean())),
            "mae": float(np.abs(err).mean()),
            "r2": float(1 - (err**2).sum() / max(total, 1e-12)),
            "smape": float(100 * ratio.mean()),
        }
        q = profile.get("quantile")
        if q is not None:  # the pinball loss the model was trained and gated on
            live["pinball"] = float(np.maximum(-q * err, (1 - q) * err).mean())
        return live
    return {}


def performance(
    profile: dict[str, Any],
    truth: pd.Series,
    pred: pd.DataFrame,
    metric: str | None,
    threshold: float | None,
    tolerance: float,
) -> dict[str, Any] | None:
    """The live metric against the validation metric (and the blueprint's floor, if any)."""
    live = live_metrics(profile, truth, pred)
    if not live:
        return None
    base = (metric or "").split("_", 1)[-1] if metric else ""
    if base not in live:  # not measurable on raw rows: the blueprint's floor is not this metric's
        base, threshold = next(iter(live)), None
    value = live[base]
    val = profile.get("validation_metrics", {}).get(f"val_{base}")
    up = base in MAXIMIZE
    reasons = []
    if val is not None:
        limit = val - tolerance * abs(val) if up else val + tolerance * abs(val)
        if (value < limit) if up else (value > limit):
            reasons.append(f"live {base} {value:.4g} vs validation {val:.4g}")
    if threshold is not None and ((value < threshold) if up else (value > threshold)):
        reasons.append(f"live {base} {value:.4g} beyond the blueprint's {threshold:g}")
    return {
        "metric": base,
        "live": value,
        "validation": val,
        "all_live": live,
        "degraded": bool(reasons),
        "reason": "; ".join(reasons),
    }
