"""A season the prompt says matters ("weekends behave differently") is honoured or said not to
apply (issue 14 item 1: every clause understood or reported): a daily series gets seasonal
period 7 even where the data's own test did not find it; a table or a monthly series is told why
not. From outside: daily CSVs as people have them and ``mlflowctl design --json``."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest
from cli_helpers import run_cli

from mlflowctl.blueprint.model import DataProfile
from mlflowctl.design.phrases import not_understood
from mlflowctl.design.requirements import KNOWN_PATTERNS
from mlflowctl.design.seasons import read_season, with_season


@pytest.mark.unit
@pytest.mark.parametrize(
    ("prompt", "season"),
    [
        ("weekends behave differently", "week"),
        ("mondays are always busier", "week"),
        ("there is a strong weekly pattern", "week"),
        ("traffic differs by day of the week", "week"),
        ("sales peak every summer", "year"),
        ("the data has strong seasonality", "year"),
        ("forecast the next 7 days", None),
        ("a week ahead, please", None),
        ("daily sales for the coming month", None),
    ],
)
def test_season_wordings(prompt: str, season: str | None) -> None:
    assert read_season(prompt.lower()) == season


@pytest.mark.unit
def test_a_named_season_is_no_longer_reported_as_not_understood() -> None:
    prompt = "forecast daily visitors for the next week; weekends behave differently"
    assert not_understood(prompt, KNOWN_PATTERNS) == []


def _profile(frequency: str, period: int) -> DataProfile:
    return DataProfile(
        source="visits.csv", source_kind="file", kind="series", n_rows=400, n_features=1,
        series_length=400, frequency=frequency, seasonal_period=period,
    )  # fmt: skip


@pytest.mark.unit
def test_the_season_is_set_at_the_datas_step_or_said_not_to_fit() -> None:
    weekly, said = with_season(_profile("D", 1), "week")
    assert weekly.seasonal_period == 7 and "the data's own test gave 1" in said
    hourly, _ = with_season(_profile("H", 24), "week")
    assert hourly.seasonal_period == 168
    shown, said = with_season(_profile("D", 7), "week")
    assert shown.seasonal_period == 7 and "the data shows it" in said
    monthly, said = with_season(_profile("M", 12), "week")
    assert monthly.seasonal_period == 12 and "cannot carry it" in said
    yearly, _ = with_season(_profile("M", 1), "year")
    assert yearly.seasonal_period == 12


def _daily_csv(path: Path, weekend_lift: float) -> None:
    rng = random.Random(1)
    day, level = dt.date(2024, 1, 1), 200.0
    rows = ["date,visitors"]
    for _ in range(420):
        level += rng.gauss(0, 4)
        lift = weekend_lift if day.weekday() >= 5 else 0.0
        rows.append(f"{day.isoformat()},{level + lift + rng.gauss(0, 10):.1f}")
        day += dt.timedelta(days=1)
    path.write_text("\n".join(rows) + "\n")


@pytest.mark.integration
def test_weekends_set_the_period_of_a_daily_series_the_test_did_not_find(tmp_path: Path) -> None:
    _daily_csv(tmp_path / "visits.csv", weekend_lift=0.0)
    plain = "forecast daily visitors for the next week"
    found = {}
    for prompt in (plain, plain + "; weekends behave differently"):
        proc = run_cli(tmp_path, "design", prompt, "--data", "visits.csv", "--json")
        assert proc.returncode == 0, proc.stderr[-2000:]
        found[prompt] = json.loads(proc.stdout)
    assert found[plain]["data_profile"]["seasonal_period"] == 1
    asked = found[plain + "; weekends behave differently"]
    assert asked["requirements"]["constraints"]["season"] == "week"
    assert asked["data_profile"]["seasonal_period"] == 7
    said = asked["envelope"]["uncertainty_factors"]
    assert any(u.startswith("a weekly pattern was named: seasonal period 7") for u in said), said
    assert not [u for u in said if u.startswith("not understood")], said


@pytest.mark.integration
def test_weekends_on_a_table_are_said_to_need_a_column(tmp_path: Path) -> None:
    rows = ["store,size,sales"] + [f"S{i},{i % 7 + 1},{100 + 3 * (i % 7)}" for i in range(60)]
    (tmp_path / "stores.csv").write_text("\n".join(rows) + "\n")
    proc = run_cli(
        tmp_path, "design", "predict sales per store; weekends behave differently",
        "--data", "stores.csv", "--target", "sales", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    said = json.loads(proc.stdout)["envelope"]["uncertainty_factors"]
    assert any("this data is a table: give the model a column for it" in u for u in said), said
