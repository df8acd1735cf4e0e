"""Words of the prompt that name columns of the data ("given its mileage and age").

The matching rule, stated once:

- A column's name is cut into words at ``_``, ``-``, spaces, dots, brackets and camelCase
  (``age_years`` -> age, years; ``SalePrice`` -> sale, price; ``sepal length (cm)`` -> sepal,
  length, cm). The prompt names the column when those words appear in it consecutively, compared
  case-insensitively, each word also matching its plural (price/prices, category/categories).
- A trailing unit word (years, months, days, hours, usd, eur, km, kg, cm, mm, pct, percent, ...)
  may be left out: "age" names ``age_years``, "sepal length" names ``sepal length (cm)``. Nothing
  else is guessed: no synonyms, no prefixes ("mileage" does not name ``mileage_km_total``).
- Names of one or two letters (``x``, ``id``) and names that are common words of prompts are never
  matched; when two columns match the same words the longer name wins.
- A named column is the *target* the prompt asks for when it follows a verb of predicting within
  three words ("predict the price", "estimate their annual income"); every other named column is a
  *feature* the user cares about.
- "given / based on / using / from / knowing X, Y and Z": each listed item that names no column
  is reported ("the prompt names 'age' as an input, but the data has no such column").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

UNIT_WORDS = frozenset(
    [
        "years",
        "year",
        "yrs",
        "yr",
        "months",
        "month",
        "days",
        "day",
        "hours",
        "hour",
        "hrs",
        "minutes",
        "mins",
        "seconds",
        "secs",
        "usd",
        "eur",
        "gbp",
        "dollars",
        "euros",
        "cents",
        "km",
        "kg",
        "cm",
        "mm",
        "mi",
        "miles",
        "lbs",
        "pct",
        "percent",
        "perc",
    ]
)
_NEVER = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "and",
        "or",
        "is",
        "it",
        "its",
        "id",
        "no",
        "yes",
        "data",
        "target",
        "label",
        "value",
        "model",
        "class",
        "type",
        "set",
        "all",
        "any",
    ]
)
_PREDICT = (
    r"\b(predict|predicting|predicts|estimate|estimating|forecast|forecasting|guess|guessing|"
    r"classify|classifying|tell|model|modelling|modeling|project|projecting|infer|inferring)\b"
)
_GIVEN = r"\b(?:given|based on|using|from|knowing|out of)\s+"
_GENERIC = frozenset(
    [
        "data",
        "dataset",
        "file",
        "csv",
        "table",
        "history",
        "past",
        "features",
        "feature",
        "columns",
        "column",
        "inputs",
        "input",
        "information",
        "info",
        "variables",
        "measurements",
        "records",
        "rows",
        "values",
        "them",
        "it",
        "this",
        "that",
        "everything",
        "all",
        "scratch",
    ]
)


@dataclass
class ColumnReading:
    """Which columns the prompt names, as target or features, and items that name none."""

    target: str | None = None
    features: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    #: the prompt's own words for each understood item (regexes, for "not understood")
    phrases: list[str] = field(default_factory=list)


def words_of(name: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def _word(w: str) -> str:
    """A regex for ``w`` and its plural."""
    if w.endswith("y") and len(w) > 2:
        return re.escape(w[:-1]) + r"(?:y|ies)"
    return re.escape(w) + r"(?:e?s)?"


def column_pattern(name: str) -> str | None:
    """The regex that finds ``name`` in a prompt (see the module docstring), or None."""
    words = words_of(name)
    while len(words) > 1 and words[-1] in UNIT_WORDS:
        words = words[:-1]
    if not words or (len(words) == 1 and (len(words[0]) <= 2 or words[0] in _NEVER)):
        return None
    if all(w in _NEVER for w in words):
        return None
    return r"\b" + r"[\s_\-]+".join(_word(w) for w in words) + r"\b"


def read_columns(prompt: str, columns: Iterable[str], known: Iterable[str] = ()) -> ColumnReading:
    """The columns ``prompt`` names (see the module docstring); ``known``: the reader's own
    patterns, so "using an LSTM" is not taken for a missing column."""
    low = " ".join(prompt.lower().split())
    r = ColumnReading()
    spans: list[tuple[int, int]] = []
    found: list[tuple[int, str]] = []
    cols = sorted(dict.fromkeys(columns), key=lambda c: -len(words_of(c)))
    for col in cols:
        pattern = column_pattern(col)
        if pattern is None:
            continue
        for m in re.finditer(pattern, low):
            if any(s < m.end() and m.start() < e for s, e in spans):
                continue
            spans.append((m.start(), m.end()))
            r.phrases.append(re.escape(m.group(0)))
            before = low[: m.start()]
            verb = re.search(_PREDICT + r"((?:\s+[\w'-]+){0,3})\s+$", before)
            between = verb.group(2) if verb else ""
            asked = verb is not None and not re.search(
                r"\b(given|from|using|based|with|and|knowing|by)\b", between
            )
            if asked and r.target is None:
                r.target = col
            elif col != r.target:
                found.append((m.start(), col))
            break
    r.features = [col for _, col in sorted(found)]
    for m in re.finditer(_GIVEN + r"([^.;:!?()]+)", low):
        for item in re.split(r",|\band\b|\bor\b|\bplus\b", m.group(1)):
            item = re.sub(r"^\s*(?:its|the|their|his|her|a|an|our|my|each|every)\s+", "", item)
            item = item.strip()
            words = re.findall(r"[a-z][a-z'-]*", item)
            if not words or len(words) > 3 or " ".join(words) != item:
                continue  # digits, symbols or a whole sentence: not a column name
            if item in _GENERIC or any(w in _GENERIC for w in words):
                continue
            if any(re.search(p, item) for p in known):
                continue
            if any(re.search(column_pattern(c) or r"$^", item) for c in cols):
                continue
            r.missing.append(item)
            r.phrases.append(re.escape(item))
    return r
