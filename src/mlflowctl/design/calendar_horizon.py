"""A horizon that runs to the end of a calendar period: "the rest of the year", "until the end
of the quarter", "through month-end". Its length depends on where the series stops, so it is
counted from the profile's ``last_time`` in the data's own steps (monthly data ending in
September: 3 steps to the end of the year). Standard library only.
"""

from __future__ import annotations

import calendar
import re
from datetime import date

#: the data's step as the prompt says it: "daily sales", "the number of bikes rented each hour"
_ADVERB_UNIT = {"hourly": "hour", "daily": "day", "weekly": "week", "monthly": "month",
                "quarterly": "quarter", "yearly": "year", "annual": "year",
                "annually": "year"}  # fmt: skip


def frequency_unit(low: str) -> str | None:
    """The unit of the data's steps the prompt names ("daily", "each hour"), or None."""
    for word, unit in _ADVERB_UNIT.items():
        if re.search(rf"\b{word}\b", low):
            return unit
    m = re.search(r"\b(?:each|every|per) (hour|day|week|month|quarter|year)\b", low)
    return m.group(1) if m else None


#: the calendar periods a horizon can run to the end of, longest first
PERIODS = ("year", "quarter", "month", "week")
_MONTHS = {"year": 12, "quarter": 3, "month": 1}
_DAYS = {"week": 7, "day": 1}
#: steps of each length in one period (the whole next period, when the data ends at a period's end)
_STEPS_IN = {
    ("year", "quarter"): 4, ("year", "month"): 12, ("year", "week"): 52, ("year", "day"): 365,
    ("quarter", "month"): 3, ("quarter", "week"): 13, ("quarter", "day"): 91,
    ("month", "week"): 4, ("month", "day"): 30, ("week", "day"): 7,
}  # fmt: skip

REST_OF = re.compile(
    r"\b(?:(?:the\s+)?rest\s+of|(?:the\s+)?remainder\s+of|(?:until|till|through|to|by)\s+the\s+"
    r"end\s+of|(?:until|till|through)\s+end\s+of)\s+(?:the\s+|this\s+)?(year|quarter|month|week)\b|"
    r"\b(?:until|till|through|to|by)\s+(year|quarter|month)[- ]end\b"
)


def rest_of(low: str) -> str | None:
    """The period a "rest of the ..." phrase runs to the end of, or None."""
    m = REST_OF.search(low)
    return (m.group(1) or m.group(2)) if m else None


def _period_end(last: date, period: str) -> date:
    if period == "week":  # a week ends on Sunday
        return date.fromordinal(last.toordinal() + 6 - last.weekday())
    months = _MONTHS[period]
    month = (last.month - 1) // months * months + months
    return date(last.year, month, calendar.monthrange(last.year, month)[1])


def steps_to_end(last: date, period: str, step: str) -> tuple[int, bool] | None:
    """(steps, whole next period): the steps of ``step`` after ``last`` up to the end of the
    ``period`` that holds it, or the whole next period when ``last`` is already its last step.
    None when the step is not shorter than the period or is not counted in whole days or months
    (hours: the profile keeps dates only)."""
    if (period, step) not in _STEPS_IN:
        return None
    end = _period_end(last, period)
    if step in _MONTHS:
        steps = ((end.year - last.year) * 12 + end.month - last.month) // _MONTHS[step]
    else:
        steps = (end - last).days // _DAYS[step]
    return (steps, False) if steps > 0 else (_STEPS_IN[(period, step)], True)


_ADVERB = {"quarter": "quarterly", "month": "monthly", "week": "weekly", "day": "daily"}


def calendar_horizon(
    period: str | None, last_time: str | None, step: str | None
) -> tuple[int | None, str]:
    """(steps, what the reader says about it) for a "rest of the <period>" phrase."""
    if period is None:
        return None, ""
    phrase = f"'the rest of the {period}'"
    if last_time is None:
        return None, f"{phrase} is counted from the series' last date, which the data lacks"
    if step is None:
        return None, f"{phrase} needs the data's frequency, which is unknown"
    last = date.fromisoformat(last_time[:10])
    counted = steps_to_end(last, period, step)
    if counted is None:
        return None, f"{phrase} cannot be counted in {step} steps"
    steps, whole = counted
    if whole:
        return steps, (
            f"{phrase}: the data ends at the {period}'s end ({last.isoformat()}), so the next "
            f"{period}: {steps} {_ADVERB[step]} steps"
        )
    return steps, f"{phrase}: {steps} {_ADVERB[step]} steps after the data's last date {last}"
