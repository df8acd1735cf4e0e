"""What the data itself says could go wrong: level shifts and trends in a series, leaking columns
in a table. numpy only, linear in the data's size (100k rows profile in well under a second).

Every test looks at the *training part* only (the first ``TRAIN_SHARE`` of a series: the rendered
project splits series in time order; a table's seeded ``TRAIN_SHARE`` sample), so what it finds
is what the model will learn from. The rules, with their thresholds, are:

- **level shift**: the best single split of the training part into two means (the CUSUM
  change-point estimate, found through cumulative sums). Reported when the step explains at
  least ``SHIFT_SHARE`` of the variance, fits better than a straight line, moves the mean by at
  least ``SHIFT_SIGMAS`` residual standard deviations, and its two-window t statistic, deflated
  for the residuals' lag-1 autocorrelation, is at least ``SHIFT_T``.
- **trend**: the least-squares slope over the training part, its t statistic deflated the same
  way, significant at ``|t| >= TREND_T`` (about p < 0.01); stationarity from a Dickey-Fuller
  regression with a constant and one lagged difference (t below ``DF_CRITICAL``, the 5 % value,
  rejects a unit root).
- **leaking column**: a feature that alone predicts the target almost perfectly. Classification:
  a one-feature lookup (its values, or ``LEAK_BINS`` quantile bins of them, to the majority class)
  learned on the training sample scores ``LEAK_ACCURACY`` or more on the held-out rest, and cuts
  the majority-class error by 90 %. Regression: ``|corr| >= LEAK_CORR`` on the training sample.
  Held out rather than in-sample, so an identifier's one-row-per-value lookup is not a "leak".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

#: the share of a series (or a table's sample) a test looks at: the train split's share
TRAIN_SHARE = 0.7
SHIFT_SHARE = 0.3
SHIFT_SIGMAS = 1.5
SHIFT_T = 4.0
TREND_T = 2.58
DF_CRITICAL = -2.86
LEAK_ACCURACY = 0.99
LEAK_CORR = 0.99
LEAK_BINS = 64
#: at most this many rows and columns are looked at for leaks (a seeded sample of the rows)
LEAK_MAX_ROWS = 50_000
LEAK_MAX_COLUMNS = 500
_MIN_POINTS = 20


@dataclass(frozen=True)
class Shift:
    index: int
    before: float
    after: float
    sigmas: float
    t_stat: float


@dataclass(frozen=True)
class TrendFit:
    slope: float
    t_stat: float
    significant: bool
    df_stat: float | None
    stationary: bool | None
    n: int


@dataclass(frozen=True)
class LeakFound:
    column: str
    measure: str  # "accuracy" | "abs_corr"
    value: float


def _lag1(res: FloatArray) -> float:
    import numpy as np

    if res.size < 3:
        return 0.0
    a, b = res[:-1], res[1:]
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return 0.0 if den == 0 else max(-0.99, min(0.99, float((a * b).sum()) / den))


def _deflate(n: int, r1: float) -> float:
    """sqrt(n_eff / n) for residuals with lag-1 autocorrelation ``r1`` (never above 1)."""
    if r1 <= 0:
        return 1.0
    return float(((1 - r1) / (1 + r1)) ** 0.5)


def training_part(series: Any) -> FloatArray:
    import numpy as np

    values = np.asarray(series, dtype=np.float64).reshape(-1)
    values = values[np.isfinite(values)]
    return values[: max(1, int(len(values) * TRAIN_SHARE))]


def level_shift(series: Any) -> Shift | None:
    """The training part's one clear level shift, or None (see the module docstring)."""
    import numpy as np

    y = training_part(series)
    n = int(y.size)
    if n < _MIN_POINTS:
        return None
    sst = float(((y - y.mean()) ** 2).sum())
    if sst <= 0:
        return None
    m = max(5, n // 10)
    csum = np.cumsum(y)
    k = np.arange(m, n - m + 1)
    if k.size == 0:
        return None
    mean1 = csum[k - 1] / k
    mean2 = (csum[-1] - csum[k - 1]) / (n - k)
    gain = k * (n - k) / n * (mean1 - mean2) ** 2
    best = int(np.argmax(gain))
    at, reduction = int(k[best]), float(gain[best])
    before, after = float(mean1[best]), float(mean2[best])
    res = np.concatenate([y[:at] - before, y[at:] - after])
    sse_step = float((res**2).sum())
    tc = np.arange(n, dtype=np.float64) - (n - 1) / 2
    slope = float((tc * (y - y.mean())).sum() / (tc * tc).sum())
    sse_line = float(((y - y.mean() - slope * tc) ** 2).sum())
    sigma = (sse_step / max(n - 2, 1)) ** 0.5
    delta = abs(after - before)
    if sigma == 0:
        return Shift(at, before, after, float("inf"), float("inf"))
    t_stat = delta / (sigma * (1 / at + 1 / (n - at)) ** 0.5) * _deflate(n, _lag1(res))
    if (
        reduction / sst >= SHIFT_SHARE
        and sse_step < 0.9 * sse_line
        and delta >= SHIFT_SIGMAS * sigma
        and t_stat >= SHIFT_T
    ):
        return Shift(at, before, after, delta / sigma, t_stat)
    return None


def trend(series: Any) -> TrendFit | None:
    """Slope and stationarity of the training part (see the module docstring)."""
    import numpy as np

    y = training_part(series)
    n = int(y.size)
    if n < _MIN_POINTS:
        return None
    t = np.arange(n, dtype=np.float64)
    tc = t - t.mean()
    sxx = float((tc * tc).sum())
    slope = float((tc * (y - y.mean())).sum() / sxx)
    res = y - y.mean() - slope * tc
    sigma = (float((res**2).sum()) / max(n - 2, 1)) ** 0.5
    if sigma == 0:
        t_stat = 0.0 if slope == 0 else float("inf")
    else:
        t_stat = slope / (sigma / sxx**0.5) * _deflate(n, _lag1(res))
    df = _dickey_fuller(y)
    return TrendFit(
        slope=slope,
        t_stat=t_stat,
        significant=abs(t_stat) >= TREND_T,
        df_stat=df,
        stationary=None if df is None else df < DF_CRITICAL,
        n=n,
    )


def _dickey_fuller(y: FloatArray) -> float | None:
    """t statistic of gamma in dy_t = a + gamma*y_{t-1} + d*dy_{t-1} + e (None when singular)."""
    import numpy as np

    dy = np.diff(y)
    if dy.size < 10:
        return None
    target = dy[1:]
    design = np.column_stack([np.ones(target.size), y[1:-1], dy[:-1]])
    try:
        beta, *_ = np.linalg.lstsq(design, target, rcond=None)
        res = target - design @ beta
        dof = max(target.size - design.shape[1], 1)
        s2 = float((res**2).sum()) / dof
        cov = s2 * np.linalg.inv(design.T @ design)
    except np.linalg.LinAlgError:
        return None
    se = float(cov[1, 1]) ** 0.5 if cov[1, 1] > 0 else 0.0
    return None if se == 0 else float(beta[1]) / se


def leaking_columns(
    X: Any, y: Any, names: list[str], task: str | None, *, seed: int = 0
) -> list[LeakFound]:
    """Features that alone predict ``y`` almost perfectly (see the module docstring)."""
    import numpy as np

    if y is None or task not in ("classification", "regression") or X.ndim != 2:
        return []
    n = int(X.shape[0])
    if n < _MIN_POINTS:
        return []
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)[:LEAK_MAX_ROWS]
    cut = max(1, int(order.size * TRAIN_SHARE))
    train, held = order[:cut], order[cut:]
    yt = np.asarray(y)
    found: list[LeakFound] = []
    for j in range(min(int(X.shape[1]), LEAK_MAX_COLUMNS)):
        col = np.asarray(X[:, j], dtype=np.float64)
        if task == "regression":
            value = _abs_corr(col[train], yt[train].astype(np.float64))
            if value is not None and value >= LEAK_CORR:
                found.append(LeakFound(names[j], "abs_corr", value))
        elif held.size:
            acc = _lookup_accuracy(col, yt, train, held)
            if acc is not None:
                found.append(LeakFound(names[j], "accuracy", acc))
    return found


def _abs_corr(x: FloatArray, y: FloatArray) -> float | None:
    import numpy as np

    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < _MIN_POINTS:
        return None
    x, y = x[ok] - x[ok].mean(), y[ok] - y[ok].mean()
    den = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return None if den == 0 else abs(float((x * y).sum()) / den)


def _lookup_accuracy(col: FloatArray, y: Any, train: Any, held: Any) -> float | None:
    """Held-out accuracy of value-or-bin -> majority class, when it is a leak; else None."""
    import numpy as np

    ok = np.isfinite(col)
    train, held = train[ok[train]], held[ok[held]]
    if train.size < _MIN_POINTS or held.size == 0:
        return None
    values = np.unique(col[train])
    if values.size <= LEAK_BINS:
        edges = (values[:-1] + values[1:]) / 2
    else:
        bins = max(2, min(LEAK_BINS, train.size // 20))
        edges = np.unique(np.quantile(col[train], np.linspace(0, 1, bins + 1)[1:-1]))
    k = int(y.max()) + 1
    cell_train = np.searchsorted(edges, col[train])
    table = np.zeros((edges.size + 1, k), dtype=np.int64)
    np.add.at(table, (cell_train, y[train]), 1)
    overall = int(np.bincount(y[train], minlength=k).argmax())
    guess = np.where(table.sum(axis=1) > 0, table.argmax(axis=1), overall)
    hit = guess[np.searchsorted(edges, col[held])] == y[held]
    acc = float(hit.mean())
    base_err = 1.0 - float((y[held] == overall).mean())
    if acc >= LEAK_ACCURACY and (1.0 - acc) <= 0.1 * base_err:
        return acc
    return None
