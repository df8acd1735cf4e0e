"""A season the prompt knows about: "weekends behave differently", "Mondays are busier", "sales
peak every summer". The data's own test (``data.seasonality``) keeps a calendar period only when
the training part shows it; a user who says the week (or the year) matters is taken at their
word, at the data's step: a daily series gets period 7, hourly 168, a monthly one 12.

The period reaches the window (two seasons or more), the seasonal naive and climatology
baselines, the linear path's seasonal AR orders and its seasonal mean, and MASE. No calendar
features (day-of-week inputs) are built: the note says so.
"""

from __future__ import annotations

import re

from mlflowctl.blueprint.model import DataProfile

_DAYS = r"(?:mon|tues|wednes|thurs|fri|satur|sun)days?"
#: the words of each season, as one regex each
WEEK = (
    rf"\bweek-?ends?\b|\bweekdays?\b|\bworking days\b|\bday of (?:the )?week\b|\b{_DAYS}\b|"
    r"\bweekly (?:pattern|cycle|rhythm|seasonality|season|effect|swing)s?\b"
)
YEAR = (
    r"\b(?:summers?|winters?|spring|autumn|christmas|holiday season)\b|"
    r"\b(?:yearly|annual) (?:pattern|cycle|rhythm|seasonality|season|effect|swing|peak)s?\b|"
    r"\bseasonal(?:ity)?\b|\bevery year\b"
)
WORDS = rf"{WEEK}|{YEAR}"

#: a season's period at each step of the data (pandas frequency letters); absent: not servable
PERIODS: dict[str, dict[str, int]] = {
    "week": {"D": 7, "B": 5, "H": 168},
    "year": {"M": 12, "Q": 4, "W": 52},
}


def read_season(low: str) -> str | None:
    """``week`` or ``year`` when the prompt says that season matters (the week first)."""
    if re.search(WEEK, low):
        return "week"
    if re.search(YEAR, low):
        return "year"
    return None


def with_season(profile: DataProfile, season: str) -> tuple[DataProfile, str]:
    """The profile with the season's period at the data's step, and the note saying what was
    done (the profile unchanged when the data's step cannot carry that season)."""
    period = PERIODS[season].get(profile.frequency or "")
    step = profile.frequency or "unknown"
    if period is None:
        return profile, (
            f"a {season}ly pattern was named, but a series at step '{step}' cannot carry it as "
            f"a season; seasonal period kept at {profile.seasonal_period or 1}"
        )
    if profile.seasonal_period == period:
        return profile, f"a {season}ly pattern was named and the data shows it: period {period}"
    found = profile.seasonal_period or 1
    note = (
        f"a {season}ly pattern was named: seasonal period {period} (window, seasonal baselines, "
        f"MASE), the data's own test gave {found}; no calendar inputs are built"
    )
    return profile.model_copy(update={"seasonal_period": period}), note
