"""'The rest of the year': a horizon counted from the series' last date in the data's steps
(issue 14 item 1, horizons in words). The calendar arithmetic, the reader with a profile, and
``mlflowctl design --json`` on a user's monthly CSV and a bundled weekly series."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from mlflowctl.blueprint.model import DataProfile
from mlflowctl.design.calendar_horizon import rest_of, steps_to_end
from mlflowctl.design.reading_notes import reading_notes
from mlflowctl.design.requirements import read_requirements


@pytest.mark.unit
@pytest.mark.parametrize(
    ("last", "period", "step", "expected"),
    [
        (date(1997, 9, 1), "year", "month", (3, False)),  # Oct, Nov, Dec (month-start dates)
        (date(1997, 9, 30), "year", "month", (3, False)),  # the same with month-end dates
        (date(1997, 12, 1), "year", "month", (12, True)),  # the data ends in December
        (date(2009, 7, 1), "year", "quarter", (1, False)),  # Q3 is last: Q4 remains
        (date(2009, 8, 1), "quarter", "month", (1, False)),  # August: September remains
        (date(2001, 6, 2), "year", "week", (30, False)),  # 212 days to 31 December
        (date(2001, 12, 29), "year", "week", (52, True)),  # co2's last week
        (date(2020, 6, 15), "month", "day", (15, False)),
        (date(2020, 6, 17), "week", "day", (4, False)),  # a Wednesday: Thursday to Sunday
    ],
)
def test_steps_to_the_end_of_the_period(
    last: date, period: str, step: str, expected: tuple[int, bool]
) -> None:
    assert steps_to_end(last, period, step) == expected


@pytest.mark.unit
def test_a_step_as_long_as_the_period_cannot_count_it() -> None:
    assert steps_to_end(date(1970, 1, 1), "year", "year") is None
    assert steps_to_end(date(1970, 1, 1), "month", "quarter") is None


@pytest.mark.unit
@pytest.mark.parametrize(
    ("prompt", "period"),
    [
        ("forecast sales for the rest of the year", "year"),
        ("what will demand be until the end of the quarter?", "quarter"),
        ("project revenue through year-end", "year"),
        ("predict the remainder of this month", "month"),
        ("forecast the load to the end of the week", "week"),
        ("forecast sales for the next year", None),
    ],
)
def test_phrases_for_the_rest_of_a_period(prompt: str, period: str | None) -> None:
    assert rest_of(prompt) == period


def _monthly(last_time: str | None) -> DataProfile:
    return DataProfile(
        source="sales.csv",
        source_kind="file",
        kind="series",
        n_rows=120,
        n_features=1,
        series_length=120,
        frequency="MS",
        last_time=last_time,
    )


@pytest.mark.unit
def test_the_reader_counts_from_the_last_date_and_says_so() -> None:
    prompt = "forecast monthly sales for the rest of the year"
    req = read_requirements(prompt, _monthly("2023-09-01"))
    assert req.constraints.horizon == 3
    notes = reading_notes(prompt, req, _monthly("2023-09-01"))
    assert "'the rest of the year': 3 monthly steps after the data's last date 2023-09-01" in notes
    assert not any(n.startswith(("not understood", "no forecast horizon")) for n in notes)

    undated = read_requirements(prompt, _monthly(None))
    assert undated.constraints.horizon == 12
    said = reading_notes(prompt, undated, _monthly(None))
    assert (
        "'the rest of the year' is counted from the series' last date, which the data lacks; "
        "assumed 12 steps"
    ) in said


@pytest.mark.integration
def test_design_reads_the_rest_of_the_year_from_a_users_csv(
    cli: Callable[..., object], tmp_path: Path
) -> None:
    months = [f"{2014 + i // 12}-{i % 12 + 1:02d}-01" for i in range(117)]  # to 2023-09
    rows = [f"{m},{100 + (i % 12) * 3 + i * 0.1:.1f}" for i, m in enumerate(months)]
    (tmp_path / "sales.csv").write_text("month,units\n" + "\n".join(rows) + "\n")
    proc = cli(
        "design", "how many units will we sell for the rest of the year?",
        "--data", "sales.csv", "--json", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]  # type: ignore[attr-defined]
    doc = json.loads(proc.stdout)  # type: ignore[attr-defined]
    assert doc["data_profile"]["last_time"] == "2023-09-01"
    assert doc["requirements"]["constraints"]["horizon"] == 3
    said = doc["envelope"]["uncertainty_factors"]
    assert any("3 monthly steps after the data's last date 2023-09-01" in u for u in said), said

    weekly = cli(
        "design", "forecast weekly CO2 for the rest of the year",
        "--data", "statsmodels:co2", "--json", cwd=tmp_path,
    )  # fmt: skip
    assert weekly.returncode == 0, weekly.stderr[-2000:]  # type: ignore[attr-defined]
    doc = json.loads(weekly.stdout)  # type: ignore[attr-defined]
    assert doc["requirements"]["constraints"]["horizon"] == 52  # the series ends 2001-12-29
    said = doc["envelope"]["uncertainty_factors"]
    assert any("so the next year: 52 weekly steps" in u for u in said), said
