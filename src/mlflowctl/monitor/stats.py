"""Two-sample statistics against a stored profile: PSI, Kolmogorov-Smirnov, chi-squared."""

from __future__ import annotations

from typing import Any

import numpy as np

EPS = 1e-4
OTHER = "<other>"


def _psi(ref: np.ndarray, new: np.ndarray) -> float:
    p = np.clip(ref, EPS, None)
    q = np.clip(new, EPS, None)
    return float(np.sum((q - p) * np.log(q / p)))


def psi_numeric(bins: list[float], fractions: list[float], values: np.ndarray) -> float:
    """Population stability index of ``values`` over the reference decile bins."""
    if not fractions or len(values) == 0:
        return 0.0
    edges = np.asarray(bins, dtype=np.float64)
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return _psi(np.asarray(fractions, dtype=np.float64), counts / len(values))


def ks_sketch(quantiles: list[float], n_ref: int, values: np.ndarray) -> tuple[float, float]:
    """KS statistic and p-value of ``values`` against the reference quantile sketch.

    The reference sample is rebuilt from its 101 quantiles (``min(n_ref, 2000)`` points at the
    mid-ranks, linearly interpolated), so the test's power matches the training split's size.
    """
    from scipy import stats

    if not quantiles or len(values) == 0:
        return 0.0, 1.0
    m = max(2, min(int(n_ref), 2000))
    grid = np.linspace(0.0, 1.0, len(quantiles))
    ref = np.interp((np.arange(m) + 0.5) / m, grid, np.asarray(quantiles, dtype=np.float64))
    found: Any = stats.ks_2samp(values, ref)
    return float(found.statistic), float(found.pvalue)


def categorical_counts(
    frequencies: dict[str, float], values: list[str]
) -> tuple[list[str], np.ndarray]:
    """Categories (reference ones, then new values) and the count of each among ``values``;
    a value the reference does not know goes to ``<other>`` when the reference has one."""
    cats = list(frequencies)
    index = {c: i for i, c in enumerate(cats)}
    counts: list[int] = [0] * len(cats)
    for v in values:
        key = v if v in index else (OTHER if OTHER in index else v)
        if key not in index:
            index[key] = len(cats)
            cats.append(key)
            counts.append(0)
        counts[index[key]] += 1
    return cats, np.asarray(counts, dtype=np.float64)


def categorical_drift(
    frequencies: dict[str, float], n_ref: int, values: list[str]
) -> tuple[float, float, float]:
    """PSI, chi-squared statistic and p-value of the new values' categories vs the reference."""
    from scipy import stats

    if not values:
        return 0.0, 0.0, 1.0
    cats, counts = categorical_counts(frequencies, values)
    ref = np.asarray([frequencies.get(c, 0.0) for c in cats], dtype=np.float64)
    psi = _psi(ref / max(ref.sum(), EPS), counts / counts.sum())
    ref_counts = np.maximum(ref * max(n_ref, 1), 0.0)
    table = np.vstack([counts, ref_counts])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return psi, 0.0, 1.0
    found: Any = stats.chi2_contingency(table + 0.5)
    return psi, float(found[0]), float(found[1])
