"""Class imbalance as a prompt states it: "severe class imbalance", "fraud is rare: about 1 in
1000 transactions", "positives are about 10 percent", "about 2% of sensors are faulty", "30x
more good loans". ``"severe"`` (a positive share of 5 % or less, a ratio of 10 or more, or the
words for it), ``"mild"``, or None (no imbalance said, or a share above 40 %)."""

from __future__ import annotations

import re

#: "positives are about 10 percent", "frauds make up 0.5 % of the rows"
POSITIVE_SHARE = (
    r"\b(?:positives|positive cases|frauds?|defaults?|defaulters|churners|failures|the positive "
    r"class|the minority class)\s+(?:are|is|make up|account for|represent)\s+"
    r"(?:only |about |around |roughly |just |approximately |some |under |below )?"
    r"(\d+(?:\.\d+)?) ?(?:%|percent)|"
    # "about 2% of sensors are faulty", "only 3 % of the loans default"
    r"(\d+(?:\.\d+)?) ?(?:%|percent) of (?:the |all |our )?(?:\w+ ){0,2}?"
    r"(?:are|is|were|turn out|go)\s+"
    r"(?:\w+ )?(?:faulty|fraud\w*|positive|defective|malignant|anomal\w*|bad|broken|spam|late|"
    r"sick|ill|churn\w*|default\w*|failing|failed|abnormal|fake|rare)\b|"
    r"(\d+(?:\.\d+)?) ?(?:%|percent) of (?:the |all |our )?(?:\w+ ){0,2}?"
    r"(?:default|churn|fail)\w*\b"
)


#: "30x more good loans", "ten times as many negatives": a class ratio said as a multiple
TIMES_MORE = (
    r"\b(\d+(?:\.\d+)?)\s*(?:x|times)\s+(?:more|as many)\b"
    # "10 times more data", "4x more GPUs": a quantity, not a class
    r"(?!\s+(?:data|rows|samples|records|examples|time|memory|compute|parameters|weights|"
    r"epochs|gpus?|cpus?|money|budget|features|columns|than|costly|expensive|often)\b)"
)


def read_imbalance(low: str) -> str | None:
    m = (
        re.search(POSITIVE_SHARE, low)
        or re.search(TIMES_MORE, low)
        or re.search(
            r"imbalanc|unbalanc|skewed (classes|labels|data)|rare (class|event|positive|case)s?|"
            r"minority class|few positives|(?<!miss )(?<!misses )(?<!catch )(?<!than )"
            r"(\d+|one) in (a |every )?(\d[\d,]*|hundred|thousand)\b|"
            r"(very |highly |extremely )?(uneven|lopsided) (classes|labels)|"
            r"(classes|labels) are (very |highly |extremely )?(uneven|lopsided)|"
            r"class ratio|\b(positives|frauds?|defaults?|failures|cases|events) (are|is) rare\b|"
            r"only (\d+(\.\d+)?) ?(%|percent) (of|are)\b",
            low,
        )
    )
    if not m:
        return None
    times = re.search(TIMES_MORE, low)
    if times:  # "there are 30x more good loans": the ratio itself
        return "severe" if float(times.group(1)) >= 10 else "mild"
    share = re.search(r"only (\d+(?:\.\d+)?) ?(?:%|percent) (?:of|are)\b", low) or re.search(
        POSITIVE_SHARE, low
    )
    value = float(next(g for g in share.groups() if g)) if share else None
    if value is not None and value > 40:
        return None  # "only 45 % of them are ..." is no imbalance
    if value is not None and value <= 5:
        return "severe"
    severe = re.search(
        r"(severe|severely|highly|extreme|extremely|heavy|heavily|very|strong|strongly|massive)"
        r"(ly)?\s+(class\s+)?(imbalanc|unbalanc|skewed|uneven|lopsided)|rare|"
        r"one in (a |every )?thousand|\b1 in (\d{3,}|[\d,]{4,})",
        low,
    )
    return "severe" if severe else "mild"
