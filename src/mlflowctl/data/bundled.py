"""Loaders for the built-in data sets that ship inside scikit-learn and statsmodels.

Only bundled files are read (``sklearn.datasets.load_*``, ``statsmodels.datasets.<name>``):
nothing is downloaded, so design and build work offline. statsmodels' data modules are imported
one by one rather than through ``statsmodels.api``, which would pull in most of the library.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mlflowctl.data.loaded import LoadedData, arrays_sha256
from mlflowctl.data.seasonality import check_period
from mlflowctl.data.timeseries import fill_series
from mlflowctl.errors import DataError

if TYPE_CHECKING:
    from mlflowctl.data.sources import DataSourceRef

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def load_builtin(ref: DataSourceRef, target: str | None) -> LoadedData:
    spec = ref.builtin
    if spec.package == "sklearn":
        if target not in (None, "target"):
            raise DataError(
                f"{ref.text} has a fixed target; --target {target!r} does not apply",
                hint="leave out --target for built-in sklearn data sets",
                location="--target",
            )
        return _load_sklearn(ref)
    column = ref.column
    if target is not None and target != column:
        if ref.text.count(":") == 2:
            raise DataError(
                f"--target {target!r} contradicts the column in {ref.text!r}",
                hint="give the column once, either way",
                location="--target",
            )
        if target not in spec.columns:
            raise DataError(
                f"{spec.package}:{spec.name} has no column {target!r}; "
                f"columns: {', '.join(spec.columns)}",
                hint=f"use --target {spec.columns[0]} (the default) or another listed column",
                location="--target",
            )
        column = target
    return _load_statsmodels(ref, column or spec.columns[0])


def _load_sklearn(ref: DataSourceRef) -> LoadedData:
    import numpy as np
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{ref.name}")()
    spec = ref.builtin
    if ref.name == "digits":
        X = np.asarray(bunch.images, dtype=np.float32)[:, None, :, :]
        feature_names = [f"pixel_{r}_{c}" for r in range(8) for c in range(8)]
        notes = ["8x8 grey images, pixel values 0-16 (not scaled)"]
    else:
        X = np.asarray(bunch.data, dtype=np.float32)
        feature_names = [str(n) for n in bunch.feature_names]
        notes = []
    if spec.task_hint == "classification":
        y = np.asarray(bunch.target, dtype=np.int64)
        class_names = [str(n) for n in bunch.target_names]
        target_dtype = "int64"
    else:
        y = np.asarray(bunch.target, dtype=np.float32)
        class_names = []
        target_dtype = "float32"
    return LoadedData(
        source=ref.text,
        source_kind="builtin",
        kind=spec.kind,
        X=X,
        y=y,
        task_hint=spec.task_hint,
        feature_names=feature_names,
        class_names=class_names,
        target="target",
        dtypes={"X": "float32", "target": target_dtype},
        target_dtype=target_dtype,
        sha256=arrays_sha256(X, y),
        notes=notes,
    )


def _load_statsmodels(ref: DataSourceRef, column: str) -> LoadedData:
    import numpy as np
    import pandas as pd

    spec = ref.builtin
    module = importlib.import_module(f"statsmodels.datasets.{ref.name}")
    frame: Any = module.load_pandas().data
    index: Any
    if ref.name == "elnino":
        # one row per year, one column per month: read row by row into one monthly series
        values = frame[list(_MONTHS)].to_numpy(dtype=np.float64).reshape(-1)
        first = int(frame["YEAR"].iloc[0])
        index = pd.date_range(f"{first}-01-01", periods=values.size, freq="MS")
    elif ref.name == "co2":
        values = frame[column].to_numpy(dtype=np.float64)
        index = pd.DatetimeIndex(frame.index)
    elif ref.name == "macrodata":
        values = frame[column].to_numpy(dtype=np.float64)
        index = pd.DatetimeIndex(
            [
                f"{int(y)}-{3 * (int(q) - 1) + 1:02d}-01"
                for y, q in zip(frame.year, frame.quarter, strict=True)
            ]
        )
    else:  # sunspots, nile: a year column and values
        year_col = "YEAR" if "YEAR" in frame.columns else "year"
        values = frame[column].to_numpy(dtype=np.float64)
        index = pd.DatetimeIndex([f"{int(y)}-01-01" for y in frame[year_col]])
    series, missing = fill_series(values, index)
    notes = [spec.description]
    if missing:
        notes.append(f"{missing} missing values filled by time interpolation")
    if ref.name == "elnino":
        notes.append("YEAR x 12-month table read as one monthly series")
    period, said = check_period(series, spec.seasonal_period)
    if said:
        notes.append(said)
    name = "sst" if ref.name == "elnino" else column
    return LoadedData(
        source=ref.text,
        source_kind="builtin",
        kind="series",
        X=series.reshape(-1, 1),
        y=None,
        task_hint="forecasting",
        feature_names=[name],
        series=series,
        target=name,
        frequency=spec.frequency,
        seasonal_period=period,
        index=[d.date().isoformat() for d in index],
        dtypes={name: "float64"},
        target_dtype="float64",
        missing_values=missing,
        sha256=arrays_sha256(series),
        notes=notes,
    )
