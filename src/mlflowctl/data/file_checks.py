"""Checks every data-file reader shares: enough rows, finite values, a readable column list."""

from __future__ import annotations

from typing import Any

from mlflowctl.errors import DataError

_MAX_LISTED = 30


def _columns_line(columns: list[str]) -> str:
    shown = ", ".join(columns[:_MAX_LISTED])
    more = f" (and {len(columns) - _MAX_LISTED} more)" if len(columns) > _MAX_LISTED else ""
    return shown + more


columns_line = _columns_line  # "a, b, c (and N more)", for messages naming columns


#: the fewest rows (or series values) a train / validation / test split can be made from (X17)
MIN_ROWS = 10


def _enough_rows(n: int, label: str, what: str) -> None:
    if n < MIN_ROWS:
        raise DataError(
            f"data has {n} {what}; training needs at least {MIN_ROWS} "
            "(train, validation and test splits each need rows)",
            hint="use a larger data file",
            location=label,
        )


def _finite_columns(X: Any, names: list[str], label: str) -> None:
    """+inf/-inf in a feature is an error naming the column (NaN is a missing value, imputed)."""
    import numpy as np

    bad = np.isinf(X).any(axis=0)
    if bad.any():
        columns = [names[i] for i in np.flatnonzero(bad)]
        rows = int(np.isinf(X).any(axis=1).sum())
        raise DataError(
            f"feature column(s) {_columns_line(columns)} hold infinite values (+inf/-inf) in "
            f"{rows} rows",
            hint="replace them with finite numbers or leave the cells empty (NaN is imputed)",
            location=label,
        )
