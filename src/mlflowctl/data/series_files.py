"""A series file (a time or date column and values, maybe covariates) read into ``LoadedData``."""

from __future__ import annotations

from typing import Any

from mlflowctl.data.file_checks import _columns_line, _enough_rows
from mlflowctl.data.loaded import LoadedData
from mlflowctl.data.seasonality import check_period
from mlflowctl.data.timeseries import SEASONAL_PERIOD, fill_series, frequency_of
from mlflowctl.errors import DataError


def series_from_frame(
    frame: Any, index: Any, label: str, target: str | None, dtypes: dict[str, str]
) -> LoadedData:
    from pandas.api import types

    date_col = str(frame.columns[0])
    if target == date_col:
        raise DataError(
            f"--target {target!r} is the date column", hint="pick a value column", location=label
        )
    numeric = [
        c for c in frame.columns[1:] if types.is_numeric_dtype(frame[c]) and frame[c].dtype != bool
    ]
    column = target if target is not None else (numeric[0] if numeric else None)
    if column is None or column not in numeric:
        raise DataError(
            f"series column {column!r} is not numeric"
            if column
            else "dated table has no numeric value column",
            hint=f"numeric columns: {_columns_line(numeric) or 'none'}",
            location=label,
        )
    order = index.argsort()
    index = index[order]
    values = frame[column].to_numpy()[order]
    if index.has_duplicates:
        raise DataError(
            f"date column {date_col!r} has repeated dates",
            hint="aggregate to one row per date first",
            location=label,
        )
    _enough_rows(len(values), label, "series values")
    import numpy as np

    if np.isinf(values.astype(np.float64)).any():
        raise DataError(
            f"series column {column!r} holds infinite values (+inf/-inf) in "
            f"{int(np.isinf(values.astype(np.float64)).sum())} rows",
            hint="replace them with finite numbers or leave the cells empty (gaps are filled)",
            location=label,
        )
    series, missing = fill_series(values, index)
    freq = frequency_of(index)
    notes = [f"series {column!r} indexed by {date_col!r}"]
    others = [str(c) for c in numeric if c != column]
    if target is None and others:
        notes.append(f"took the first numeric column; others: {_columns_line(others)}")
    covariates, unused = _covariates(frame, others, order, index)
    if covariates:
        names = [name for name, _ in covariates]
        notes.append(
            f"covariates: {_columns_line(names)} (extra input channels: their past values enter "
            f"each window beside {column!r}, scaled on the training split; a forecast needs them "
            "in its history)"
        )
    if unused:
        notes.append(f"covariates not used: {_columns_line(unused)} (constant or infinite)")
    if missing:
        notes.append(f"{missing} missing values filled by time interpolation")
    if freq is None:
        notes.append("irregular dates: frequency unknown, seasonal period 1")
    period, said = check_period(series, SEASONAL_PERIOD.get(freq or "", 1))
    if said:
        notes.append(said)
    data = LoadedData.file_series(
        label,
        column,
        series,
        dtype=dtypes[column],
        missing=missing,
        notes=notes,
        frequency=freq,
        seasonal_period=period,
        index=[d.isoformat() for d in index.date],
        dtypes=dtypes,
    )
    if covariates:
        data.X = np.column_stack([series, *(values for _, values in covariates)]).astype(np.float32)
        data.feature_names = [column, *(name for name, _ in covariates)]
    return data


def _covariates(
    frame: Any, others: list[str], order: Any, index: Any
) -> tuple[list[tuple[str, Any]], list[str]]:
    """Extra numeric columns of a series file: (name, gap-filled values in time order) of each
    usable one, and the names of those left out (constant or holding infinite values)."""
    import numpy as np

    used: list[tuple[str, Any]] = []
    unused: list[str] = []
    for name in others:
        values = frame[name].to_numpy(dtype=np.float64)[order]
        if np.isinf(values).any() or frame[name].nunique(dropna=True) <= 1:
            unused.append(name)
            continue
        filled, _ = fill_series(values, index)
        used.append((name, filled))
    return used, unused
