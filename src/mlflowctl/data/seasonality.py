"""Is the calendar's season in the data? The seasonal period a series gets is the one its values
show, not the one its frequency suggests: a seasonally adjusted quarterly GDP has no period 4, and
a MASE scaled by a lag-4 naive forecast would flatter a model there.

The test looks at the training part (the first ``TRAIN_SHARE``) after one difference (so a trend
does not make every lag look seasonal). The candidate period ``m`` is kept when the difference's
autocorrelation at lag ``m``

- exceeds 1.645 times its standard error under no seasonality (Bartlett's formula over lags
  below ``m``: the 90 % one-sided test of the M4 competition's seasonality check), and
- is above the autocorrelation at half the period (a season peaks at its own lag; a persistent
  series such as CPI inflation decays through it instead);

otherwise the period is 1. A training part shorter than ``MIN_SEASONS`` seasons cannot be tested
and keeps the calendar's period, said in the note. numpy only.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mlflowctl.data.findings import TRAIN_SHARE

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

#: seasons the training part must hold for the test to run
MIN_SEASONS = 3
#: one-sided 90 % normal quantile
Z90 = 1.645


def _acf(x: npt.NDArray[np.float64], lags: int) -> list[float]:
    x = x - x.mean()
    denom = float(x @ x)
    if denom <= 0:
        return [1.0] + [0.0] * lags
    return [1.0] + [float(x[:-k] @ x[k:]) / denom for k in range(1, lags + 1)]


def check_period(series: npt.ArrayLike, period: int | None) -> tuple[int, str | None]:
    """The seasonal period the data supports for the calendar's ``period`` and a note saying
    what the test found (None when there was nothing to test: period 1 or unknown)."""
    import numpy as np

    if not period or period <= 1:
        return 1, None
    values = np.asarray(series, dtype=np.float64)
    train = values[: int(len(values) * TRAIN_SHARE)]
    train = train[np.isfinite(train)]
    if len(train) < MIN_SEASONS * period + 1:
        return period, (
            f"seasonal period {period} assumed, not tested: the training part holds fewer than "
            f"{MIN_SEASONS} seasons"
        )
    diff = np.diff(train)
    r = _acf(diff, period)
    limit = Z90 * math.sqrt((1 + 2 * sum(v * v for v in r[1:period])) / len(diff))
    half = r[(period + 1) // 2]
    found = f"lag-{period} autocorrelation of the differences {r[period]:.2f}"
    if r[period] > limit and r[period] > half:
        return period, f"seasonal period {period}: {found}, above {limit:.2f} and {half:.2f}"
    why = f"{limit:.2f}" if r[period] <= limit else f"the half-period's {half:.2f}"
    return 1, (
        f"no seasonality at the expected period {period} ({found}, not above {why}): seasonal "
        "period 1, MASE scaled by the one-step naive forecast"
    )
