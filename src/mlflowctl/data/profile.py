"""The architect's read-only look at a data source, as the Blueprint's ``DataProfile``.

Profiling loads the data (it is small: built-ins and user files under a data root) and reports
what a designer needs: size, shapes, classes and their balance, missing values, series frequency
and season. It writes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlflowctl.data.loaders import load_ref

if TYPE_CHECKING:
    from mlflowctl.blueprint.model import DataProfile
    from mlflowctl.data.loaded import LoadedData
    from mlflowctl.data.sources import DataSourceRef

_MAX_NAMES = 10_000
_MAX_NOTES = 50


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def profile(source: str | DataSourceRef, target: str | None = None) -> DataProfile:
    """Profile ``source``; a table may be profiled without ``target`` (its task is then unknown)."""
    import numpy as np

    from mlflowctl.blueprint.model import ClassCount, DataProfile

    data = load_ref(source, target, require_target=False)
    class_counts: list[ClassCount] = []
    imbalance: float | None = None
    if data.task_hint == "classification" and data.y is not None:
        counts = np.bincount(data.y, minlength=len(data.class_names))
        class_counts = [
            ClassCount(label=_short(name), count=int(n))
            for name, n in zip(data.class_names, counts, strict=True)
        ]
        imbalance = float(counts.max() / max(int(counts.min()), 1))
    n_features = int(np.prod(data.X.shape[1:])) if data.X.ndim > 1 else 1
    found = findings_of(data)
    notes = list(data.notes)
    if found.get("trend") is not None and found["trend"].stationary is not None:
        notes.append(anchoring_note(found["trend"]))
    return DataProfile(
        source=data.source,
        source_kind=data.source_kind,
        kind=data.kind,
        sha256=data.sha256 or None,
        n_rows=data.n_rows,
        n_features=n_features,
        feature_names=[_short(n) for n in data.feature_names[:_MAX_NAMES]],
        dtypes={_short(k): _short(v) for k, v in list(data.dtypes.items())[:_MAX_NAMES]},
        target=_short(data.target) if data.target else None,
        target_dtype=data.target_dtype,
        n_classes=len(data.class_names) if data.class_names else None,
        class_counts=class_counts,
        imbalance_ratio=imbalance,
        missing_values=data.missing_values,
        image_shape=data.image_shape,
        series_length=len(data.series) if data.series is not None else None,
        frequency=data.frequency,
        seasonal_period=data.seasonal_period,
        last_time=data.index[-1][:10] if data.series is not None and data.index else None,
        notes=[_short(n) for n in notes[:_MAX_NOTES]],
        **found,
    )


def anchoring_note(trend: Any) -> str:
    """What the profile's stationarity check (``findings.trend``) means for a forecaster's linear
    path; the rendered project repeats the check on its own training split and records its choice
    in ``outputs/preprocessing.json`` (``series.linear_path``)."""
    if trend.stationary:
        return (
            f"trend check: stationary (Dickey-Fuller t {trend.df_stat:.2f}): the linear path "
            "reads the raw window and may revert to the mean"
        )
    return (
        f"trend check: trend or unit root (Dickey-Fuller t {trend.df_stat:.2f}): the linear "
        "path reads the window minus its last value (anchored)"
    )


def _finite(value: float) -> float:
    return max(-1e12, min(1e12, value)) if value == value else 0.0


def findings_of(data: LoadedData) -> dict[str, Any]:
    """The profile's level shift, trend and leaking columns (``data.findings``)."""
    from mlflowctl.blueprint.model import LeakingColumn, LevelShift, SeriesTrend
    from mlflowctl.data import findings

    out: dict[str, Any] = {}
    if data.kind == "series" and data.series is not None:
        shift = findings.level_shift(data.series)
        if shift is not None:
            date = data.index[shift.index] if data.index and shift.index < len(data.index) else None
            out["level_shift"] = LevelShift(
                index=shift.index,
                date=date,
                before=_finite(shift.before),
                after=_finite(shift.after),
                sigmas=_finite(shift.sigmas),
                t_stat=_finite(shift.t_stat),
            )
        fit = findings.trend(data.series)
        if fit is not None:
            out["trend"] = SeriesTrend(
                slope=_finite(fit.slope),
                t_stat=_finite(fit.t_stat),
                significant=fit.significant,
                df_stat=None if fit.df_stat is None else _finite(fit.df_stat),
                stationary=fit.stationary,
                points=fit.n,
            )
    elif data.kind == "tabular" and data.y is not None:
        leaks = findings.leaking_columns(data.X, data.y, data.feature_names, data.task_hint)
        best: dict[str, findings.LeakFound] = {}
        for leak in leaks:  # a one-hot column "col=value" is reported as its source column
            name, _, _ = leak.column.partition("=")
            name = name if name != leak.column and name in data.dtypes else leak.column
            if name not in best or leak.value > best[name].value:
                best[name] = leak
        out["leaking_columns"] = [
            LeakingColumn(column=_short(name), measure=leak.measure, value=leak.value)
            for name, leak in list(best.items())[:100]
        ]
    return out
