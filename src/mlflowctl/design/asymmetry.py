"""Asymmetric error costs as a prompt states them: "under-forecasting costs us 3 times more than
over-forecasting", "we'd rather overstock than run out", "overestimates are worse than
underestimates", "avoid stockouts", "missing a fraud costs 10x more than a false alarm".

The reading is one number, the cost of predicting one unit too low relative to one unit too
high (``Constraints.under_cost_ratio``). Under linear costs the best point prediction is the
``r / (1 + r)`` quantile of the outcome (the newsvendor critical ratio), so the planner trains
with the pinball loss at that quantile and gates on it. For a binary classifier "too low" is a
missed positive and "too high" a false alarm: the decision threshold is tuned on validation for
the least ``r * FN + FP`` and the gate compares that expected cost per row.
"""

from __future__ import annotations

import re
from typing import Any

#: predicting too low: a shortfall of the forecast
_UNDER = (
    r"(?:under-?\s?(?:forecast|predict|estimat|pric|quot|bid|shoot|charg|guess)\w*|"
    r"(?:predict|pric|guess|estimat|quot|bid|forecast)\w* (?:\w+ )?too low|"
    r"(?:forecasts?|predictions?|estimates?) (?:that are |being |coming in )?too low|"
    r"too[- ]low (?:forecasts?|predictions?|estimates?)|running out(?: of stock)?|run out|"
    r"runs out|stock-?\s?outs?|out[- ]of[- ]stock|shortages?|short of stock|lost sales)"
)
#: predicting too high: a surplus
_OVER = (
    r"(?:over-?\s?(?:forecast|predict|estimat|pric|quot|bid|shoot|charg|guess)\w*|"
    r"(?:predict|pric|guess|estimat|quot|bid|forecast)\w* (?:\w+ )?too high|"
    r"(?:forecasts?|predictions?|estimates?) (?:that are |being |coming in )?too high|"
    r"too[- ]high (?:forecasts?|predictions?|estimates?)|over-?\s?stock\w*|"
    r"excess (?:stock|inventory)|(?:leftover|surplus|unsold) (?:stock|inventory|items|goods)|"
    r"too much stock|waste)"
)
#: a binary classifier's shortfall: a positive case predicted negative ("missing a fraud")
_MISS = (
    r"(?:false negatives?|miss(?:ing|es)? (?:a |an |the |one |any |real |true |actual )+\w+|"
    r"missed (?:\w+ )?(?:cases?|frauds?|positives?|detections?|diagnos[ie]s|churners?|"
    r"defaults?|defaulters?|patients?|attacks?|intrusions?|failures?|tumou?rs?)|"
    r"undetected \w+|(?:letting|lets?) (?:a |an |one )?\w+ (?:slip|through|go)|"
    r"los(?:e|ing|ses) (?:a |an |one )?(?:\w+ )?(?:customers?|churners?|clients?|subscribers?))"
)
#: its surplus: a negative case flagged ("a false alarm", "flagging a good customer")
_ALARM = (
    r"(?:false (?:positives?|alarms?|alerts?)|"
    r"(?:wrongly |needlessly |mistakenly )?flag(?:ging|ged|s)? (?:a |an |the )?(?:few )?"
    r"(?:good|legitimate|innocent|healthy|loyal|honest|genuine|normal|regular) \w+|"
    r"unnecessary (?:\w+ )?(?:calls?|checks?|reviews?|alerts?|investigations?|visits?|tests?)|"
    r"wasted (?:\w+ )?(?:calls?|reviews?|checks?|visits?)|"
    r"(?:declin|reject|refus|block|turn)\w* (?:away )?(?:a |an )?(?:good|genuine|legitimate|"
    r"honest|creditworthy|loyal) \w+|"
    r"(?:call|ring|contact|email|bother|visit)(?:ing|s)? (?:a few |some |a )?"
    r"(?:happy|satisfied|loyal|good|content) \w+)"
)
_UNDER = rf"(?:{_UNDER}|{_MISS})"
_OVER = rf"(?:{_OVER}|{_ALARM})"
#: the words that mark an error-cost wish (the reader's concept row)
COST_WORDS = rf"{_UNDER}|{_OVER}|\berr(?:ing)? on the \w+ side\b|\btoo (?:high|low) than\b"
_WORSE = (
    r"(?:costs?|costlier|costly|expensive|worse|bad|hurts?|painful|damaging|"
    r"bigger problem|more of a problem|serious)"
)
_WORDS = {"twice": 2.0, "double": 2.0, "two": 2.0, "three": 3.0, "four": 4.0, "five": 5.0,
          "ten": 10.0}  # fmt: skip
_TIMES = r"(\d+(?:\.\d+)?|twice|double|two|three|four|five|ten)\s*(?:x|×|times)?"
_STRONG = r"\b(?:much|far|a lot|way|significantly|considerably|substantially|many times)\b"
#: the cost ratio when the prompt says "more" without a number, and with "much more"
PLAIN, STRONG = 2.0, 4.0


def _times(text: str) -> float | None:
    # "3 times more", "3x worse"; at the end of the span: "costs 20 times (as much as)"
    m = re.search(rf"\b{_TIMES}(?:\s+(?:more|as|worse|costlier|the cost)\b|\s*$)", text)
    if m is None:
        m = re.search(r"\b(twice|double)\b", text)
    if m is None:
        return None
    word = m.group(1)
    return _WORDS.get(word) or float(word)


def _ratio(between: str) -> float:
    told = _times(between)
    if told is not None and told > 0:
        return told
    return STRONG if re.search(_STRONG, between) else PLAIN


#: the sentence forms of a preference, each with whether it states how much worse (a ``mid``
#: group holding "3x", "much"); ``{worse}``/``{better}``: the two sides' words
_FORMS: tuple[tuple[str, bool], ...] = (
    # "<worse> costs (3x | much) more than <better>", "<worse> is worse than <better>"
    (
        r"\b{worse}\b(?P<mid>[^.;]{{0,60}}?\b" + _WORSE + r"\b[^.;]{{0,30}}?)"
        r"\b(?:than|as|compared (?:to|with))\b[^.;]{{0,15}}?\b{better}",
        True,
    ),
    # "we'd rather <better> than <worse>", "better to <better> than to <worse>"
    (
        r"\b(?:rather|better to|prefer to)\b[^.;]{{0,20}}?\b{better}\b(?P<mid>[^.;]{{0,40}}?)"
        r"\bthan\b[^.;]{{0,15}}?\b{worse}",
        True,
    ),
    # "overestimating is fine (but underestimating costs us customers)"
    (
        r"\b{better}\b[^.;]{{0,40}}?\b(?:is|are)\s+(?:fine|ok|okay|acceptable|tolerable|"
        r"cheap|harmless|not a (?:big )?problem|less of a problem)\b",
        False,
    ),
    # "avoid stockouts", "we cannot afford to underestimate" (the other side not named at all)
    (
        r"^(?!.*\b{better}\b).*\b(?:avoid|minimi[sz]e|never|must not|cannot afford to|"
        r"can't afford to|can not afford to)\b\s+(?:\w+\s+)?{worse}\b",
        False,
    ),
)


def _side(ratio: float, under: bool) -> float:
    """The ratio as the cost of too low over too high (inverted when too high is the worse)."""
    return ratio if under else 1.0 / ratio


def read_under_cost(low: str) -> float | None:
    """The cost of predicting too low over the cost of predicting too high, or None when the
    prompt says neither is worse (``low``: the lower-cased, space-normalised prompt)."""
    # "err on the high side", "better too high than too low"
    m = re.search(
        r"\berr(?:ing)? on the (high|upper|low|lower) side\b|"
        r"\bbetter (?:to be |to guess |to predict )?too (high|low) than (?:too )?(?:high|low)\b",
        low,
    )
    if m is not None:
        return _side(PLAIN, (m.group(1) or m.group(2)) in ("high", "upper"))
    for worse, better, under in ((_UNDER, _OVER, True), (_OVER, _UNDER, False)):
        for form, counted in _FORMS:
            m = re.search(form.format(worse=worse, better=better), low)
            if m is not None:
                return _side(_ratio(m.group("mid")) if counted else PLAIN, under)
    return None


def quantile(under_cost_ratio: float) -> float:
    """The quantile that minimises the expected cost: ``r / (1 + r)``, two decimals."""
    return round(under_cost_ratio / (1.0 + under_cost_ratio), 2)


#: recall and precision named as such: "recall matters most", "catch every fraud"
_NAMED = {
    "recall": r"recall|sensitivity|true positive rate|\btpr\b|hit rate|catch (all|every|most)",
    "precision": r"precision|positive predictive value|\bppv\b",
}


def without_implied_recall(targets: list[Any], ratio: float | None, low: str) -> list[Any]:
    """The metric wishes less a valueless recall (or precision) wish that the cost sentence alone
    implied ("missing a fraud costs 10x a false alarm" reads as recall too): the ratio is the
    finer reading, and the cost it weighs is what the gate then compares."""
    if ratio is None:
        return targets
    implied = {m for m, words in _NAMED.items() if not re.search(words, low)}
    return [t for t in targets if not (t.metric in implied and t.value is None)]
