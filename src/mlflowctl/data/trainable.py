"""Can this data file be split and trained on as the blueprint says? Checked at ``build`` (X17).

Loading already refuses infinite values and tables under ``MIN_ROWS`` rows (so ``design`` does
too); here the split the rendered ``data.py`` makes is replayed on the labels with the same
fractions and seed, so a data set too small for a stratified train/validation/test split fails
with exit 2 naming the counts, not later as a training failure.
"""

from __future__ import annotations

import math
from typing import Any

from mlflowctl.data.loaded import LoadedData
from mlflowctl.data.loaders import load_ref
from mlflowctl.data.sources import DataSourceRef
from mlflowctl.errors import DataError


def check_trainable(
    ref: DataSourceRef,
    target: str | None,
    *,
    task: str,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    lookback: int,
    horizon: int,
) -> LoadedData:
    """Load the data and refuse what cannot be split and learned; the loaded data."""
    data = load_ref(ref, target, require_target=task != "forecasting")
    label = data.source
    if data.series is not None:
        _check_series(len(data.series), label, val_fraction, test_fraction, lookback, horizon)
        return data
    if data.y is not None:
        _check_splits(data.y, task, label, val_fraction, test_fraction, seed)
    return data


def _check_series(
    n: int, label: str, val_fraction: float, test_fraction: float, lookback: int, horizon: int
) -> None:
    n_test = max(horizon, round(n * test_fraction))
    n_val = max(horizon, round(n * val_fraction))
    train_end = n - n_test - n_val - horizon
    if train_end < lookback + 1:
        need = lookback + 1 + horizon + n_test + n_val
        raise DataError(
            f"series has {n} values; lookback {lookback} and horizon {horizon} with "
            f"{n_val} validation and {n_test} test values need at least about {need}",
            hint="use a longer series, or a smaller lookback (model.input.lookback) or horizon",
            location=label,
        )


def _check_splits(
    y: Any, task: str, label: str, val_fraction: float, test_fraction: float, seed: int
) -> None:
    """Replay the rendered project's two ``train_test_split`` calls on the labels."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    classify = task == "classification"
    n = len(y)
    idx = np.arange(n)
    try:
        rest, _ = train_test_split(
            idx, test_size=test_fraction, random_state=seed, stratify=y if classify else None
        )
        train_test_split(
            rest,
            test_size=val_fraction / (1.0 - test_fraction),
            random_state=seed,
            stratify=y[rest] if classify else None,
        )
    except ValueError as exc:
        detail = str(exc).splitlines()[0]
        if classify:
            counts = np.bincount(np.asarray(y, dtype=np.int64))
            counts = counts[counts > 0]
            k = len(counts)
            need = max(
                3 * k,
                math.ceil(k / min(val_fraction, test_fraction)),
            )
            what = (
                f"data has {n} rows in {k} classes (smallest class: {int(counts.min())} rows); "
                f"a stratified train/validation/test split needs every class in each split: "
                f"at least 3 rows per class and about {need} rows ({detail})"
            )
        else:
            what = f"data has {n} rows; the train/validation/test split cannot be made ({detail})"
        raise DataError(
            what,
            hint="use more rows, or raise training.val_fraction / training.test_fraction",
            location=label,
        ) from None
