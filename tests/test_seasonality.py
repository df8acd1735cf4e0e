"""The seasonal period is the one the data shows (issue 14 item 3): a seasonally adjusted series
gets period 1 and a MASE scaled by the one-step naive forecast, a series with a weekly pattern
keeps 7, and the blueprint says which and why."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mlflowctl.data.seasonality import check_period

Cli = Callable[..., subprocess.CompletedProcess[str]]


def _weekly(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    week = np.array([0, 0, 0, 0, 0, -6.0, -8.0])  # weekends behave differently
    return 100 + 0.05 * np.arange(n) + week[np.arange(n) % 7] + rng.normal(0, 1, n)


def _walk(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 1000 + np.cumsum(2.0 + rng.normal(0, 5, n))  # a trend, no season


def test_a_weekly_pattern_keeps_its_period() -> None:
    period, note = check_period(_weekly(400), 7)
    assert period == 7 and note is not None and "seasonal period 7" in note


@pytest.mark.parametrize("seed", range(5))
def test_a_random_walk_with_drift_has_no_season(seed: int) -> None:
    period, note = check_period(_walk(200, seed), 4)
    assert period == 1 and note is not None and "no seasonality" in note


def test_persistence_is_not_a_season() -> None:
    """An AR(1) with strong persistence (inflation-like): high autocorrelation at every lag,
    highest at the shortest, so no peak at the calendar's lag."""
    rng = np.random.default_rng(3)
    x = np.zeros(300)
    for t in range(1, 300):
        x[t] = 0.95 * x[t - 1] + rng.normal()
    assert check_period(np.cumsum(x), 4)[0] == 1


def test_too_short_to_test_keeps_the_expected_period() -> None:
    period, note = check_period(_weekly(20), 7)
    assert period == 7 and note is not None and "not tested" in note
    assert check_period(_weekly(50), 1) == (1, None)


def _csv(path: Path, values: np.ndarray, freq: str) -> Path:
    import pandas as pd

    dates = pd.date_range("2020-01-06", periods=len(values), freq=freq)
    lines = ["date,sales"] + [f"{d.date()},{v:.3f}" for d, v in zip(dates, values, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_design_states_the_period_the_data_shows(cli: Cli, tmp_path: Path) -> None:
    _csv(tmp_path / "daily.csv", _weekly(400), "D")
    _csv(tmp_path / "quarterly.csv", _walk(160), "QS")
    r = cli("design", "forecast daily sales for 14 days", "--data", "daily.csv", "--json")
    assert r.returncode == 0, r.stderr
    profile = json.loads(r.stdout)["data_profile"]
    assert profile["seasonal_period"] == 7
    assert any(n.startswith("seasonal period 7") for n in profile["notes"])
    r = cli("design", "forecast the next 8 quarters", "--data", "quarterly.csv", "--json")
    assert r.returncode == 0, r.stderr
    profile = json.loads(r.stdout)["data_profile"]
    assert profile["seasonal_period"] == 1
    assert any("no seasonality at the expected period 4" in n for n in profile["notes"])


def test_seasonally_adjusted_gdp_gets_period_one(cli: Cli) -> None:
    """The finding: real GDP's MASE used a lag-4 naive forecast on a seasonally adjusted series."""
    r = cli("design", "forecast real GDP 8 quarters ahead", "--data", "statsmodels:macrodata")
    assert r.returncode == 0, r.stderr
    assert "seasonal_period: 1" in r.stdout
    assert "no seasonality at the expected period 4" in r.stdout
