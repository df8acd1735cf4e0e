"""User data files: CSV and Parquet tables, NPZ arrays.

Choices a user should know (README and ``profile`` notes repeat them):

- A table whose first column parses as dates (or is an integer ``year`` column) is a series: the
  value column is ``--target`` or, without it, the first numeric column. Gaps are filled by time
  interpolation and counted.
- Otherwise the table needs ``--target``. The target is a class label when it is not numeric, or
  when it holds at most 20 distinct integer values; anything else numeric is a regression target.
  Rows without a target value are dropped (and counted).
- Feature columns: numbers and booleans are kept; text/categorical columns with at most 50 distinct
  values are one-hot encoded (``col=value``); other non-numeric columns (ids, free text, dates) are
  dropped, each with a note. Missing feature values stay NaN and are counted: imputing belongs to
  the training split, or the test rows would leak into it.
- NPZ files (``npz.py``) hold ``X`` and ``y`` (``X`` 2-D tabular, 3-D ``[n, H, W]`` or 4-D
  ``[n, C, H, W]`` images) or one 1-D array (a series of unknown frequency); no pickles.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflowctl.data.file_checks import (
    _columns_line,
    _enough_rows,
    _finite_columns,
)
from mlflowctl.data.loaded import LoadedData
from mlflowctl.data.series_files import series_from_frame
from mlflowctl.errors import DataError

if TYPE_CHECKING:
    from mlflowctl.data.sources import DataSourceRef

MAX_FILE_BYTES = 2 * 1024**3
MAX_CLASSES_INTEGER_TARGET = 20
MAX_ONE_HOT_VALUES = 50


def load_file(ref: DataSourceRef, target: str | None, *, require_target: bool) -> LoadedData:
    path = Path(ref.path or ref.text)
    digest = checked_sha256(path, ref.text)
    frame = _read_table(path, ref.text, ref.suffix)
    data = _from_frame(frame, ref.text, target, require_target=require_target)
    data.sha256 = digest
    return data


def checked_sha256(path: Path, label: str) -> str:
    """Hash the file's bytes, turning every way of failing to read it into a named DataError."""
    try:
        if not path.is_file():
            what = (
                "is a folder, not a file"
                if path.is_dir()
                else "is not a regular file"
                if path.exists()
                else "not found"
            )
            raise DataError(f"data file {what}", hint="check the --data path", location=label)
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise DataError(
                f"data file is {size / 1024**3:.1f} GiB, over the 2 GiB limit",
                hint="sample it or convert it to a smaller Parquet file",
                location=label,
            )
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    except OSError as exc:
        raise DataError(
            f"data file cannot be read: {exc.strerror or exc}",
            hint="check the file's permissions",
            location=label,
        ) from exc


def _read_table(path: Path, label: str, suffix: str) -> Any:
    import pandas as pd

    try:
        frame = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"malformed CSV: not UTF-8 text (byte {exc.start})",
            hint="save the file as UTF-8",
            location=label,
        ) from exc
    except Exception as exc:  # pandas/pyarrow raise many types for one cause: a bad file
        kind = "CSV" if suffix == ".csv" else "Parquet file"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"malformed {kind}: {first[:200]}",
            hint=f"check that the file is a valid {kind}",
            location=label,
        ) from exc
    frame.columns = [str(c) for c in frame.columns]
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise DataError(
            "data file has no rows or no columns", hint="check the file", location=label
        )
    return frame


read_table = _read_table  # the raw table, for ``data.layout``


def _date_index(frame: Any) -> Any | None:
    """The first column as a DatetimeIndex when it holds dates (or integer years), else None."""
    import pandas as pd
    from pandas.api import types

    first = frame.iloc[:, 0]
    if types.is_integer_dtype(first) and str(first.name).lower() == "year":
        if first.between(1000, 3000).all():
            return pd.DatetimeIndex(pd.to_datetime(first.astype(str) + "-01-01"))
        return None
    if types.is_numeric_dtype(first) or types.is_bool_dtype(first) or first.isna().any():
        return None
    try:
        parsed = pd.to_datetime(first, errors="raise", format="mixed")
    except (ValueError, TypeError, OverflowError):
        return None
    return pd.DatetimeIndex(parsed)


def _from_frame(frame: Any, label: str, target: str | None, *, require_target: bool) -> LoadedData:
    dtypes = {str(c): str(t) for c, t in frame.dtypes.items()}
    if target is not None and target not in frame.columns:
        raise DataError(
            f"--target column {target!r} not found; columns: {_columns_line(list(frame.columns))}",
            hint="pass one of the listed columns to --target",
            location=label,
        )
    index = _date_index(frame)
    if index is not None:
        return series_from_frame(frame, index, label, target, dtypes)
    if target is None:
        if require_target:
            raise DataError(
                f"a table needs --target; columns: {_columns_line(list(frame.columns))}",
                hint="pass the column to predict with --target (or make the first column dates "
                "for a series)",
                location=label,
            )
        return _untargeted(frame, label, dtypes)
    return _tabular(frame, label, target, dtypes)


def _features(frame: Any) -> tuple[Any, list[str], list[str]]:
    """Numeric matrix (float32, NaN kept), its column names, notes on encoded/dropped columns."""
    import numpy as np
    import pandas as pd
    from pandas.api import types

    from mlflowctl.data.shared import shared_preprocessing

    rules = shared_preprocessing()
    parts: list[Any] = []
    notes: list[str] = []
    encoded: list[str] = []
    dropped: list[str] = []
    identifiers: list[str] = []
    constant: list[str] = []
    for name in frame.columns:
        col = frame[name]
        if col.nunique(dropna=False) <= 1:
            constant.append(name)
        elif rules.is_identifier(str(name), col):
            identifiers.append(name)
        elif types.is_bool_dtype(col) or types.is_numeric_dtype(col):
            parts.append(col.astype(np.float32).rename(name))
        elif col.nunique(dropna=True) <= MAX_ONE_HOT_VALUES and not types.is_datetime64_any_dtype(
            col
        ):
            dummies = pd.get_dummies(col.astype("string"), prefix=name, prefix_sep="=")
            parts.append(dummies.astype(np.float32))
            encoded.append(name)
        else:
            dropped.append(name)
    if encoded:
        notes.append(f"one-hot encoded: {_columns_line(encoded)}")
    if dropped:
        notes.append(f"dropped non-numeric columns: {_columns_line(dropped)}")
    if identifiers:
        notes.append(f"dropped identifier-like columns: {_columns_line(identifiers)}")
    if constant:
        notes.append(f"dropped constant columns: {_columns_line(constant)}")
    if not parts:
        return np.zeros((len(frame), 0), dtype=np.float32), [], notes
    matrix = pd.concat(parts, axis=1)
    return matrix.to_numpy(dtype=np.float32), [str(c) for c in matrix.columns], notes


def target_of(col: Any, label: str) -> tuple[Any, list[str], str]:
    """(y, class_names, task): class indices into sorted labels, or float32 regression values."""
    import numpy as np
    from pandas.api import types

    numeric = types.is_numeric_dtype(col) and not types.is_bool_dtype(col)
    if numeric:
        values = col.to_numpy(dtype=np.float64)
        distinct = np.unique(values)
        if distinct.size > MAX_CLASSES_INTEGER_TARGET or not np.all(distinct == np.round(distinct)):
            return values.astype(np.float32), [], "regression"
        labels = [str(int(v)) for v in distinct]
        y = np.searchsorted(distinct, values).astype(np.int64)
    else:
        as_text = col.astype(str)
        distinct_text = sorted(as_text.unique())
        labels = distinct_text
        y = np.searchsorted(np.asarray(distinct_text, dtype=object), as_text.to_numpy()).astype(
            np.int64
        )
    if len(labels) < 2:
        raise DataError(
            f"target {col.name!r} has a single value ({labels[0]!r}); nothing to learn",
            hint="pick another --target column",
            location=label,
        )
    return y, labels, "classification"


def _tabular(frame: Any, label: str, target: str, dtypes: dict[str, str]) -> LoadedData:
    notes: list[str] = []
    unlabeled = int(frame[target].isna().sum())
    if unlabeled:
        frame = frame[frame[target].notna()]
        notes.append(f"dropped {unlabeled} rows with no {target!r} value")
    if len(frame) == 0:
        raise DataError(f"target {target!r} is empty", hint="check the file", location=label)
    y, class_names, task = target_of(frame[target], label)
    X, names, feature_notes = _features(frame.drop(columns=[target]))
    if X.shape[1] == 0:
        raise DataError(
            "no usable feature columns besides the target",
            hint="features must be numeric, boolean or low-cardinality text",
            location=label,
        )
    _enough_rows(len(frame), label, f"labelled rows (non-empty {target!r})")
    import numpy as np

    _finite_columns(X, names, label)
    if task == "regression" and np.isinf(y).any():
        raise DataError(
            f"target column {target!r} holds infinite values (+inf/-inf) in "
            f"{int(np.isinf(y).sum())} rows",
            hint="drop or fix those rows; only finite numbers (or empty cells) can be learned",
            location=label,
        )

    missing = int(np.isnan(X).sum())
    if missing:
        notes.append(f"{missing} missing feature values left as NaN (impute on the train split)")
    return LoadedData(
        source=label,
        source_kind="file",
        kind="tabular",
        X=X,
        y=y,
        task_hint=task,  # type: ignore[arg-type]
        feature_names=names,
        class_names=class_names,
        target=target,
        dtypes=dtypes,
        target_dtype=dtypes[target],
        missing_values=missing,
        notes=notes + feature_notes,
    )


def _untargeted(frame: Any, label: str, dtypes: dict[str, str]) -> LoadedData:
    import numpy as np

    X, names, notes = _features(frame)
    _enough_rows(len(frame), label, "rows")
    _finite_columns(X, names, label)
    return LoadedData(
        source=label,
        source_kind="file",
        kind="tabular",
        X=X,
        y=None,
        task_hint=None,
        feature_names=names,
        dtypes=dtypes,
        missing_values=int(np.isnan(X).sum()),
        notes=["no --target given: the task is not known yet", *notes],
    )
