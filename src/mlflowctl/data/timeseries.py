"""Series helpers shared by built-ins and files: gap filling and frequency from a time index.

Frequency is inferred from the median spacing of the index rather than ``pandas.infer_freq``:
real files have a missing day or week here and there, which makes ``infer_freq`` give up, while the
median spacing still says "weekly".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

#: the seasonal period a forecaster should assume for a frequency (one cycle of the calendar)
SEASONAL_PERIOD: dict[str, int] = {"A": 1, "Q": 4, "M": 12, "W": 52, "D": 7, "B": 5, "H": 24}

#: (frequency, smallest, largest spacing in days)
_SPACINGS: tuple[tuple[str, float, float], ...] = (
    ("H", 1 / 24 - 1e-6, 1 / 24 + 1e-6),
    ("D", 1.0, 1.0),
    ("W", 7.0, 7.0),
    ("M", 28.0, 31.0),
    ("Q", 89.0, 92.0),
    ("A", 365.0, 366.0),
)


def frequency_of(index: Any) -> str | None:
    """``A``/``Q``/``M``/``W``/``D``/``H`` from a DatetimeIndex's median spacing, or None."""
    if len(index) < 3:
        return None
    days = _days(index)
    for name, low, high in _SPACINGS:
        if low <= days <= high:
            if name == "D" and _weekdays_only(index):
                return "B"
            return name
    return None


def _days(index: Any) -> float:
    import numpy as np

    deltas = np.diff(index.values).astype("timedelta64[s]").astype(np.float64)
    return float(np.median(deltas)) / 86_400.0


def _weekdays_only(index: Any) -> bool:
    return bool((index.dayofweek < 5).all()) and len(index) >= 10


def fill_series(values: Any, index: Any | None) -> tuple[npt.NDArray[np.float32], int]:
    """Fill NaNs by time interpolation (linear in position without an index); count them.

    Leading or trailing gaps take the nearest observed value, so the series has no NaN left.
    """
    import numpy as np
    import pandas as pd

    s = pd.Series(np.asarray(values, dtype=np.float64))
    missing = int(s.isna().sum())
    if missing:
        if index is not None:
            s.index = index
            s = s.interpolate(method="time", limit_direction="both")
        else:
            s = s.interpolate(method="linear", limit_direction="both")
    return s.to_numpy(dtype=np.float32), missing
