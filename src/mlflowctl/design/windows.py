"""The forecast window the architect gives a series (``lookback``), and why.

Three horizons of history, capped for long horizons and by the series' length; at least two
seasonal periods when the data has one, so the window holds the same season twice (co2's weekly
year: 104 steps, not 36). A stationary series whose season is the calendar's (12 months, 4
quarters, 52 weeks, 7 days, 24 hours) gets up to ``CALENDAR_SEASONS`` whole seasons, at most a
fifth of the series (El Nino's monthly temperatures: 144 steps), so the mean of one season's
values in the window settles near its long-run mean, what climatology forecasts; a trending
series, or a cycle that is not the calendar's (the solar cycle of sunspots), keeps the short
window, where recent values say more than old ones.
"""

from __future__ import annotations

from typing import NamedTuple

from mlflowctl.blueprint.model import DataProfile, Requirements

#: seasons the window of a stationary series with a calendar season holds, when the series is
#: long enough (three seasons are too few for a season's mean to settle)
CALENDAR_SEASONS = 12


class Window(NamedTuple):
    steps: int
    #: which rule set it, in a few words (the input's description carries it)
    why: str


def default_window(req: Requirements, profile: DataProfile | None) -> Window:
    h = req.constraints.horizon or 12
    steps = max(16, min(3 * h, 2 * h + 24))
    if steps == 3 * h:
        why = f"three horizons of {h}"
    else:
        why = f"two horizons of {h} + 24" if steps == 2 * h + 24 else "16 steps at least"
    if profile is not None and profile.seasonal_period and profile.seasonal_period > 1:
        period = profile.seasonal_period
        if 2 * period > steps:
            steps, why = 2 * period, f"two seasons of {period}"
        if calendar_season(profile) and profile.series_length:
            # whole seasons, so each season of the year weighs the same in the window
            seasons = min(CALENDAR_SEASONS, (profile.series_length - h) // 5 // period)
            if seasons * period > steps:
                steps = seasons * period
                why = f"{seasons} seasons of {period}: stationary, calendar season"
    if profile is not None and profile.series_length:
        cap = max(4, (profile.series_length - h) // 3)
        if cap < steps:
            steps, why = cap, "a third of the series"
    return Window(max(1, steps), why)


def default_lookback(req: Requirements, profile: DataProfile | None) -> int:
    return default_window(req, profile).steps


def calendar_season(profile: DataProfile) -> bool:
    """The period is the calendar's for the data's frequency, and the training part has no trend
    (Dickey-Fuller stationary, no significant slope)."""
    from mlflowctl.data.timeseries import SEASONAL_PERIOD

    trend = profile.trend
    calendar = SEASONAL_PERIOD.get(profile.frequency or "") == profile.seasonal_period
    return bool(calendar and trend is not None and trend.stationary and not trend.significant)
