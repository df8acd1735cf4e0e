"""NPZ data files: ``X`` and ``y`` arrays (tabular or images), or one 1-D array (a series).

Arrays are read with ``allow_pickle=False``: an NPZ holding object arrays could run code on load.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflowctl.data.files import checked_sha256, target_of
from mlflowctl.data.loaded import LoadedData
from mlflowctl.data.timeseries import fill_series
from mlflowctl.errors import DataError

if TYPE_CHECKING:
    from mlflowctl.data.sources import DataKind, DataSourceRef


def load_npz_source(ref: DataSourceRef, target: str | None) -> LoadedData:
    """An NPZ ``--data`` file, with the sha256 of its bytes (checked like any data file)."""
    path = Path(ref.path or ref.text)
    digest = checked_sha256(path, ref.text)
    data = load_npz(path, ref.text, target)
    data.sha256 = digest
    return data


def load_npz(path: Path, label: str, target: str | None) -> LoadedData:
    import numpy as np

    if target not in (None, "y"):
        raise DataError(
            f"--target {target!r} does not apply to NPZ files (they hold arrays X and y)",
            hint="leave out --target",
            location="--target",
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        reason = "pickled object arrays are refused" if "pickle" in str(exc) else str(exc)[:200]
        raise DataError(
            f"malformed NPZ: {reason}",
            hint="save with numpy.savez(path, X=..., y=...) or a single 1-D array",
            location=label,
        ) from exc
    if set(arrays) >= {"X", "y"}:
        return _npz_supervised(arrays["X"], arrays["y"], label)
    if len(arrays) == 1:
        ((key, values),) = arrays.items()
        if values.ndim == 1 and values.size >= 2 and np.issubdtype(values.dtype, np.number):
            series, missing = fill_series(values, None)
            return LoadedData.file_series(
                label,
                key,
                series,
                dtype=str(values.dtype),
                missing=missing,
                notes=["NPZ series has no dates: frequency unknown, seasonal period 1"]
                + ([f"{missing} missing values filled by interpolation"] if missing else []),
            )
    raise DataError(
        f"NPZ must hold arrays X and y, or one 1-D numeric array; found {sorted(arrays)}",
        hint="save with numpy.savez(path, X=..., y=...)",
        location=label,
    )


def _npz_supervised(X: Any, y: Any, label: str) -> LoadedData:
    import numpy as np
    import pandas as pd

    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool) or X.ndim not in (2, 3, 4):
        raise DataError(
            f"NPZ X must be a numeric 2-D, 3-D or 4-D array, got {X.dtype} with shape {X.shape}",
            hint="tabular X is [n, features]; images are [n, H, W] or [n, C, H, W]",
            location=label,
        )
    if y.ndim != 1 or len(y) != len(X):
        raise DataError(
            f"NPZ y must be 1-D, one value per row of X: X has {len(X)} rows, y shape {y.shape}",
            hint="save matching X and y",
            location=label,
        )
    Xf = np.asarray(X, dtype=np.float32)
    if np.isinf(Xf).any():
        raise DataError("NPZ X holds infinite values", hint="clean the array", location=label)
    if Xf.ndim == 3:
        Xf = Xf[:, None, :, :]
    kind: DataKind = "tabular" if Xf.ndim == 2 else "image"
    yy, class_names, task = target_of(pd.Series(y, name="y"), label)
    missing = int(np.isnan(Xf).sum())
    n_feat = int(np.prod(Xf.shape[1:]))
    return LoadedData(
        source=label,
        source_kind="file",
        kind=kind,
        X=Xf,
        y=yy,
        task_hint=task,  # type: ignore[arg-type]
        feature_names=[f"x{i}" for i in range(n_feat)] if kind == "tabular" else [],
        class_names=class_names,
        target="y",
        dtypes={"X": str(X.dtype), "y": str(y.dtype)},
        target_dtype=str(y.dtype),
        missing_values=missing,
        notes=[f"{missing} missing values in X left as NaN"] if missing else [],
    )
