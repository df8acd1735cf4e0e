"""The forecast window the architect chooses, from outside (issue 14 item 7).

A stationary series with a calendar season gets a window of many seasons, so the mean of one
month's values in it settles near climatology's; a trending series or a non-calendar cycle keeps
the short window. Driven through ``mlflowctl design --json`` on bundled data and a user's CSV.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.integration


def _design(cli: Callable[..., object], prompt: str, data: str, cwd: Path) -> dict[str, Any]:
    proc = cli("design", prompt, "--data", data, "--json", cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-2000:]  # type: ignore[attr-defined]
    doc: dict[str, Any] = json.loads(proc.stdout)  # type: ignore[attr-defined]
    return doc


def _windows(cli: Callable[..., object], prompt: str, data: str, cwd: Path) -> set[int]:
    doc = _design(cli, prompt, data, cwd)
    return {a["model"]["input"]["lookback"] for a in doc["approaches"]}


@pytest.mark.parametrize(
    ("prompt", "data", "window", "why"),
    [
        # monthly, stationary, a calendar year: 12 seasons of 12 (a fifth of 732 months)
        (
            "what will the Pacific sea temperature do next year",
            "statsmodels:elnino",
            144,
            "12 seasons of 12: stationary, calendar season",
        ),
        # a solar cycle of 11 years is not the calendar's: three horizons of 11
        (
            "predict yearly sunspot numbers for the next 11 years",
            "statsmodels:sunspots",
            33,
            "three horizons of 11",
        ),
        # weekly with a strong upward trend: recent weeks say more, two horizons + 24
        ("forecast weekly CO2 a year out", "statsmodels:co2", 128, "two horizons of 52 + 24"),
    ],
)
def test_window_by_season_and_trend(
    cli: Callable[..., object], tmp_path: Path, prompt: str, data: str, window: int, why: str
) -> None:
    doc = _design(cli, prompt, data, tmp_path)
    for a in doc["approaches"]:
        assert a["model"]["input"]["lookback"] == window
        # the input says which rule chose its window
        assert a["model"]["input"]["description"] == f"{window} past steps x 1 series ({why})"


def test_a_users_monthly_csv_gets_whole_seasons_up_to_a_fifth_of_it(
    cli: Callable[..., object], tmp_path: Path
) -> None:
    rng = np.random.default_rng(1)
    rows = ["date,visitors"]
    for t in range(300):  # 25 years of a stationary monthly season
        level = 100 + 20 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 5)
        rows.append(f"{2000 + t // 12}-{t % 12 + 1:02d}-01,{level:.2f}")
    (tmp_path / "visits.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    prompt = "how many visitors will we get each month over the next half year"
    # 12 seasons would be 144 steps; a fifth of (300 - 6) is 58, which holds 4 whole seasons
    assert _windows(cli, prompt, "visits.csv", tmp_path) == {48}
    # the same months with a steady climb: a trend, so the short window stays
    climbing = ["date,visitors"] + [
        f"{r.split(',')[0]},{float(r.split(',')[1]) + 0.8 * i:.2f}" for i, r in enumerate(rows[1:])
    ]
    (tmp_path / "visits.csv").write_text("\n".join(climbing) + "\n", encoding="utf-8")
    assert _windows(cli, prompt, "visits.csv", tmp_path) == {24}
