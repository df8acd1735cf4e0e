"""Metric wishes in a prompt: which metric, and the threshold it must reach.

"at least 97 % accuracy" -> (accuracy, >=, 0.97), "MAE below 5" -> (mae, <=, 5), "optimise
recall" -> (recall, max). One regex of synonyms per metric; a row of ``phrases.CONCEPTS``.
"""

from __future__ import annotations

import re
from typing import Any

from mlflowctl.design.numbers import NUM, number

# an asymmetric cost ("missing one costs more than a false alarm", "we'd rather bother a loyal
# customer than lose one who walks"): its two sides, the verb, and the words of a cheap side
_MISSED = (
    r"(miss(ing|ed)?|misclassif\w*|overlook\w*|let(ting)? (\w+ ){0,2}(through|slip)|losing|lose|"
    r"fail(ing)? to (catch|flag|spot|detect|notice)|false negatives?)"
)
_FALSE_ALARM = (
    r"(false (alarms?|positives?)|wasted \w+( \w+)?|(unnecessary|needless|extra) \w+|"
    r"bother(ing)?|annoy(ing)?|disturb(ing)?|"
    # acting on a case that needed nothing: "flag a good one", "call a few happy ones"
    r"(flag(ging)?|call(ing)?|contact(ing)?|email(ing)?|check(ing)?|inspect(ing)?|block(ing)?) "
    r"(a |an |some |a few )?(good|innocent|honest|healthy|loyal|legit\w*|happy|satisfied|"
    r"genuine|normal))"
)
#: "<one side> costs more than <the other>", "... is far worse than ..."
_OUTWEIGHS = (
    r"((costs?|hurts?|is worse|matters?)\b[^,.;]{0,25}\bmore than|"
    r"(is|are) (much |far |a lot |way )?worse than)"
)
_CHEAP = r"(cheap|fine|ok(ay)?|acceptable|tolerable|no big deal|(don'?t|doesn'?t) matter)"
_DEAR = r"(worse|costly|expensive|bad|unacceptable|painful|a disaster)"
_RATHER = r"(rather|better to|prefer to)"


def _prefer(cheap: str, dear: str) -> str:
    """ "rather <cheap side> than <dear side>"."""
    return rf"{_RATHER}\b[^,.;]{{0,30}}\b{cheap}\b[^,.;]{{0,45}}\bthan\b[^,.;]{{0,20}}\b{dear}"


# a metric wish: name -> synonyms
METRIC_WORDS: dict[str, str] = {
    "recall": r"recall|sensitivity|true positive rate|\btpr\b|hit rate|"
    r"catch (all|every|most|as many)|(don'?t|never|not) miss|miss(ing)? (as )?few|"
    rf"{_MISSED} (a|an|any|one)\b[^,.;]{{0,30}}\b{_DEAR}|"
    r"false negatives?\b[^,.;]{0,25}\b(worse|costly|expensive|bad|unacceptable|avoid)|"
    r"(minimi[sz]e|avoid|reduce) false negatives|"
    rf"{_MISSED}\b[^,.;]{{0,40}}\b{_OUTWEIGHS}\b[^,.;]{{0,15}}\b{_FALSE_ALARM}|"
    rf"{_prefer(_FALSE_ALARM, _MISSED)}|"
    rf"{_FALSE_ALARM}\b[^,.;]{{0,20}}\b(are|is)\b[^,.;]{{0,10}}\b{_CHEAP}",
    # "at most 2 % false positives", "a false-positive rate under 1 %", "flag at most 2 % of
    # legitimate transactions": a share of the negatives, read as specificity >= 1 - share
    "false_positive_rate": r"false[- ]positive rate|\bfpr\b|false[- ]alarm rate|"
    r"(?:%|percent|pct)\s+(?:of\s+)?false (?:positives|alarms)\b|"
    r"(?:%|percent|pct)\s+of\s+(?:the\s+|all\s+)?(?:legit\w*|good|honest|genuine|normal|healthy|"
    r"innocent|negative)\b",
    "specificity": r"specificity|true negative rate|\btnr\b",
    "precision": r"precision|positive predictive value|\bppv\b|"
    r"false (alarms?|positives?)\b[^,.;]{0,25}\b(worse|costly|expensive|bad|unacceptable)|"
    r"(minimi[sz]e|avoid|reduce|few) false (alarms|positives)|"
    rf"{_FALSE_ALARM}\b[^,.;]{{0,25}}\b{_OUTWEIGHS}\b[^,.;]{{0,25}}\b{_MISSED}|"
    rf"{_prefer(_MISSED, _FALSE_ALARM)}|"
    rf"{_MISSED} (a|an|any|one|some|a few)\b[^,.;]{{0,25}}\b(is|are)\b[^,.;]{{0,10}}\b{_CHEAP}",
    "f1": r"\bf-?1\b|f1[- ]score|\bf[- ]score|f[- ]measure|balance (of |between )?precision and "
    r"recall",
    "pr_auc": r"\bpr[- ]?auc\b|\bauprc\b|average precision|area under the precision",
    "roc_auc": r"(?<!pr )(?<!pr-)\b(roc[- ]?)?auc\b|\bauroc\b|area under the (roc )?curve",
    "balanced_accuracy": r"balanced[- ]accuracy|\bbalanced[- ]acc\b|mean (per-class|class) "
    r"recall|macro[- ]recall",
    "log_loss": r"\blog[- ]?loss\b|\blogloss\b|negative log[- ]likelihood|\bnll\b|"
    r"calibrated probabilit",
    "accuracy": r"accuracy|accurate|correct(ly)? (classif|predict|label)|error rate",
    "mase": r"\bmase\b|mean absolute scaled error",
    "smape": r"\bs-?mape\b|symmetric mean absolute percentage|"
    # "the error should stay within 5 percent": a relative error, in percent like sMAPE
    r"\b(errors?|mistakes?|misses)\b(?=[^,.;]{0,25}\b(within|under|below|less than|at most|"
    r"no more than)\s+\d+(\.\d+)?\s*(%|percent|per ?cent))|"
    r"\bwithin(?=\s+\d+(\.\d+)?\s*(%|percent|per ?cent)\s+of the (true|actual|real)\b)",
    "mape": r"\bmape\b|mean absolute percentage error|percentage error",
    "mae": r"\bmae\b|mean absolute error|absolute error|off by (no more than|at most|less than)|"
    # "be within 3 years on average", "within $20,000 of the true price": the mean error's bound
    r"\bwithin(?=\s+[$€£]?\s?\d[\d,.]*\s*[a-z]*\s+(on average|of the (true|actual|real) \w+))|"
    # "being off by more than 200 euros is useless": the bound it must stay under
    r"off by more than(?=\s+[$€£]?\s?\d[^,.;]{0,40}\b(useless|unacceptable|too much|no good|"
    r"worthless|not ok|a problem|bad)\b)|"
    # "errors within 10k dollars", "mistakes under $500": a bound on the typical error
    r"\b(errors?|mistakes?|misses)\b(?=\s+(of\s+)?(within|under|below|less than|at most|"
    r"no more than|smaller than|no bigger than)\s+[$€£]?\s?\.?\d)",
    # "big misses hurt more than small ones": a squared error weighs large errors more
    "rmse": r"\brmse\b|root[- ]mean[- ]squared?[- ]error|"
    r"\b(big|large|huge) (misses|errors|mistakes)\b",
    "mse": r"\bmse\b|mean squared error",
    "r2": r"\br2\b|\br²|\br-squared\b|r squared|coefficient of determination|"
    r"explained variance",
}
#: metrics whose values lie in [0, 1] ("97 %" means 0.97)
UNIT_INTERVAL = {
    "accuracy", "balanced_accuracy", "recall", "precision", "f1", "roc_auc", "pr_auc", "r2",
    "specificity", "false_positive_rate",
}  # fmt: skip
#: error metrics of numbers (a prompt wishing only these asks for a regression)
MINIMIZED = {"mae", "rmse", "mse", "mase", "smape", "mape"}
#: lower is better, of class probabilities (the false-positive rate is read as specificity)
MINIMIZED_CLASS = {"log_loss", "false_positive_rate"}
_GE = (
    r"at least|no less than|not less than|minimum(?: of)?|above|over|more than|exceeds?|"
    r"exceeding|better than|reach(?:es|ing)?|hit(?:s|ting)?|>=|≥|>|of at least"
)
_LE = (
    r"at most|no more than|not more than|below|under|less than|lower than|within|"
    r"max(?:imum)?(?: of)?|<=|≤|<|beneath"
)
_VAL = (
    r"(?:[$€£]\s?)?(?P<val>\d[\d,]*(?:\.\d+)?|\.\d+)(?P<scale>k\b|\s*thousand\b|\s*million\b)?"
    r"\s*(?P<pct>%|percent|pct|per ?cent)?"
)
_SCALE = {"k": 1e3, "thousand": 1e3, "million": 1e6}


def _metric_value(metric: str, raw: str, pct: str | None, scale: str | None = None) -> float:
    """ "97 %" -> 0.97 for a unit-interval metric; "MAE below 10k" -> 10,000; "1,500" -> 1500."""
    value = float(raw.replace(",", "")) * _SCALE.get((scale or "").strip(), 1.0)
    if metric in UNIT_INTERVAL and (pct or 1 < value <= 100):
        value /= 100
    return value


#: a recall stated as a rate of misses or catches: "must not miss more than 1 in 20 cancers"
#: (recall >= 0.95), "miss at most 2 % of the frauds" (0.98), "catch 9 out of 10" (0.9)
_RATE = re.compile(
    r"(?:(?P<miss>\bmiss(?:es|ing)?|\blet(?:ting)? (?:\w+ )?(?:through|slip)|\boverlook\w*)"
    r"\s+(?:no |not )?(?:more than|at most|fewer than|less than|no more than|under)?"
    r"|(?P<catch>\bcatch(?:es|ing)?|\bdetect(?:s|ing)?|\bfind(?:s|ing)?|\bflag(?:s|ging)?)"
    r"\s+(?:at least |no less than |no fewer than )?)\s*"
    r"(?P<a>\d+(?:\.\d+)?)\s*(?:(?P<pct>%|percent|per ?cent)|(?:in|out of)\s+(?:every\s+)?"
    r"(?P<b>\d[\d,]*))"
)


#: a precision stated as a rate of false alarms among the flagged: "no more than one false alarm
#: in ten flagged invoices" (precision >= 0.9)
_FALSE_RATE = re.compile(
    rf"(?:no more than|at most|fewer than|less than|under)\s+(?P<a>{NUM})\s+false "
    rf"(?:alarms?|positives?)\s+(?:in|out of|per|for)\s+(?:every\s+)?(?P<b>{NUM})"
)


#: the rate patterns, for the reader's check that a clause was understood
RATE_WORDS = tuple(re.sub(r"\(\?P<\w+>", "(?:", r.pattern) for r in (_RATE, _FALSE_RATE))


def _rates(low: str) -> list[tuple[int, int, dict[str, Any]]]:
    """Recall (and precision) wishes stated as a rate: (start, end, wish)."""
    out = []
    for m in _FALSE_RATE.finditer(low):
        a, b = number(m.group("a")), number(m.group("b"))
        if 0 <= a <= b and b > 0:
            wish = {"metric": "precision", "op": ">=", "value": 1.0 - a / b}
            out.append((m.start(), m.end(), wish))
    for m in _RATE.finditer(low):
        whole = 100.0 if m.group("pct") else float(m.group("b").replace(",", ""))
        share = float(m.group("a")) / whole if whole else 2.0
        if not 0 <= share <= 1:
            continue
        value = 1.0 - share if m.group("miss") else share
        out.append((m.start(), m.end(), {"metric": "recall", "op": ">=", "value": value}))
    return out


def read_metrics(low: str) -> list[dict[str, Any]]:
    """Metric wishes in prompt order: ``{"metric", "op", "value"}``; an error metric in a
    threshold the other way round ("accuracy below") keeps only the direction."""
    rates = _rates(low)
    found: list[tuple[int, dict[str, Any]]] = [(s, w) for s, _, w in rates]
    taken: list[tuple[int, int]] = [(s, e) for s, e, _ in rates]
    for name, words in METRIC_WORDS.items():
        for m in re.finditer(words, low):
            if any(s <= m.start() < e for s, e in taken):
                continue
            # "an accurate model" asks for quality, not for this metric by name
            if m.group(0) == "accurate" and not re.search(
                _VAL, low[max(0, m.start() - 25) : m.end() + 25]
            ):
                continue
            taken.append((m.start(), m.end()))
            # "at most 0.5 percent of false alarms": the match starts at the percent sign
            percent = name == "false_positive_rate" and m.group(0).startswith(("%", "p"))
            wish = _threshold(name, low, m.start(), m.end(), percent=percent)
            first = next((w for _, w in found if w["metric"] == name), None)
            if first is None:
                found.append((m.start(), wish))
            elif first["value"] is None and wish["value"] is not None:
                first.update(wish)  # a later mention states the threshold
    found.sort(key=lambda t: t[0])
    return [_as_specificity(wish) for _, wish in found]


def _as_specificity(wish: dict[str, Any]) -> dict[str, Any]:
    """A false-positive-rate wish as the specificity it means: "FPR <= 0.02" -> ">= 0.98"."""
    if wish["metric"] != "false_positive_rate":
        return wish
    value = wish["value"]
    op = {"<=": ">=", ">=": "<=", "min": "max", "max": "min"}[wish["op"]]
    return {"metric": "specificity", "op": op, "value": None if value is None else 1.0 - value}


def _threshold(
    name: str, low: str, start: int, end: int, *, percent: bool = False
) -> dict[str, Any]:
    default_op = "min" if name in MINIMIZED | MINIMIZED_CLASS else "max"
    before = low[max(0, start - 40) : start]
    after = low[end : end + 45]
    # "at least 98% accuracy", "a 0.9 F1", "97 % test accuracy"
    m = re.search(
        rf"(?:(?P<ge>{_GE})|(?P<le>{_LE}))?\s*(?:an?\s+|the\s+)?{_VAL}\s*"
        rf"(?:(?:test|validation|val|overall|macro|mean|top-1|classification|model)\s+)?"
        rf"(?:of\s+)?$",
        before,
    )
    tail = ""
    if m is None:
        # "accuracy of at least 0.97", "MAE below 5", "recall >= 0.95", "F1 of 0.9 or more"
        m = re.search(
            rf"^\s*(?:score\s+|rate\s+)?(?:(?:of|is|=|:|must be|should be|needs to be|"
            rf"(?:must|should|has to|needs to) (?:reach|hit|exceed|get to)|"
            rf"has to be|stays?|kept|to be|reaching|needed|required|target|above|over|"
            rf"must|should|has to|have to|needs to)\s+)*?"
            rf"(?:(?P<ge>{_GE})|(?P<le>{_LE}))?\s*{_VAL}"
            rf"(?:\s+or\s+(?P<tail>more|higher|better|above|less|lower|below|fewer))?",
            after,
        )
        if m is None:
            return {"metric": name, "op": default_op, "value": None}
        tail = m.group("tail") or ""
    ge, le = m.group("ge"), m.group("le")
    if not (ge or le) and tail:
        ge = tail if tail in ("more", "higher", "better", "above") else None
        le = tail if ge is None else None
    pct = m.group("pct") or ("%" if percent else None)
    value = _metric_value(name, m.group("val"), pct, m.group("scale"))
    op = ">=" if ge else "<=" if le else (">=" if default_op == "max" else "<=")
    return {"metric": name, "op": op, "value": value}


#: a goal stated as a bare percentage, no metric named: "must hit 98 percent or better",
#: "at least 95 %", "right 97 % of the time", "95 % correct"


def _pct(name: str) -> str:
    return rf"(?P<{name}>\d{{1,3}}(?:\.\d+)?)\s*(?:%|percent|per ?cent|pct)"


BARE_GOAL = re.compile(
    rf"(?:(?:hit|hits|reach|reaches|get|gets|score|scores|achieve|achieves|attain|be|is)\s+"
    rf"(?:at least\s+|above\s+|over\s+)?{_pct('v1')}(?:\s+or\s+(?:better|more|higher|above))?"
    rf"|(?:at least|no less than|not less than|minimum of|better than)\s+{_pct('v2')}"
    rf"|(?:right|correct)\s+{_pct('v3')}\s+of the time"
    rf"|{_pct('v4')}\s+(?:right|correct)\b"
    rf"|{_pct('v5')}\s+or\s+(?:better|more|higher|above))"
    rf"(?!\s+of\s+(?:the\s+)?(?!time\b)\w)"
    # "right at least 9 times out of 10"
    rf"|(?:right|correct)\s+(?:at least\s+)?(?P<n7>\d+)\s+times?\s+(?:out of|in)\s+(?P<d7>\d+)"
    # "80 percent of the cases right", "90 % of them correctly"
    rf"|{_pct('v6')}\s+of\s+(?:the\s+|all\s+|our\s+)?(?:\w+\s+){{0,2}}?(?:right|correct(?:ly)?)\b"
)


def read_bare_goal(low: str) -> float | None:
    """The value of a goal given as a bare percentage with no metric named (0.98 for "must hit
    98 percent or better"), or None. For a classifier it reads as accuracy; "only 5 % of the
    rows are fraud" (a share of the data, not a goal) is not read."""
    for m in BARE_GOAL.finditer(low):
        if m.group("n7"):
            share = float(m.group("n7")) / max(float(m.group("d7")), 1.0)
            if 0 < share <= 1:
                return share
            continue
        raw = next(v for v in m.groupdict().values() if v)
        value = float(raw)
        if 0 < value <= 100:
            return value / 100
    return None
