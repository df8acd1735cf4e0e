"""The pattern table the requirement reader reads a prompt with: one entry per concept.

Each concept (a parameter budget, a horizon, a metric wish, the positive class, ...) is one
``Concept`` row: the synonyms that name it, as one regular expression, and a reader that turns a
match into a value. A clause of the prompt that no row (nor the task, modality and architecture
words of ``requirements``) recognises and that still carries content words is reported back as
``not understood: '...'``, so no wish is dropped in silence. Plain ``re``, no heavy imports.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlflowctl.design.asymmetry import COST_WORDS, read_under_cost
from mlflowctl.design.imbalance import POSITIVE_SHARE, TIMES_MORE, read_imbalance
from mlflowctl.design.numbers import NUM, NUM_SCALED, NUMBER_WORDS, number
from mlflowctl.design.resources import (
    INFERENCE_MEMORY_GB,
    TRAINING_WORDS,
    memory_budget,
    read_latency,
    read_memory,
    read_train_time,
    runs_in,
)
from mlflowctl.design.seasons import WORDS as SEASON_WORDS
from mlflowctl.design.seasons import read_season as read_season
from mlflowctl.design.wishes import METRIC_WORDS, MINIMIZED, RATE_WORDS, read_metrics

__all__ = [
    "CONCEPTS", "INFERENCE_MEMORY_GB", "METRIC_WORDS", "MINIMIZED", "NUM", "NUMBER_WORDS",
    "NUM_SCALED", "memory_budget", "number", "read_latency", "read_memory", "read_metrics",
    "read_train_time", "runs_in",
]  # fmt: skip

UNIT = (
    r"(minute|hour|day|week|fortnight|month|quarter|season|year|decade|step|period|point|value|"
    r"observation)s?"
)
#: units a horizon is counted in that are a multiple of another: (unit, factor)
_SCALED_UNITS = {"decade": ("year", 10.0), "season": ("quarter", 1.0)}
_STEP_UNITS = ("step", "period", "point", "value", "observation")


# --------------------------------------------------------------------------- readers


def read_budget(low: str) -> tuple[int, str] | None:
    """ "under 5,000 parameters", "no more than 2k weights", "a 14M-parameter model"."""
    scale = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "b": 1e9, "billion": 1e9}
    m = re.search(
        NUM_SCALED + r"\s*(k|m|b|thousand|million|billion)?\s*-?\s*(?:trainable\s+)?"
        r"(?:param|weight|coefficient)",
        low,
    )
    if not m:
        return None
    value = min(number(m.group(1)) * scale.get((m.group(2) or "").lower(), 1), 1e11)
    before = low[max(0, m.start() - 40) : m.start()]
    after = low[m.end() : m.end() + 25]
    cap = re.search(
        r"under|below|less than|fewer than|at most|no more than|not more than|max|up to|"
        r"within|smaller than|(no|not) (bigger|larger) than|not exceed|"
        r"\bcap(?:ped)?\b[^,.;]{0,20}\bat\b|limit(ed)? (of|to)|<|≤",
        before,
    ) or re.search(r"\bor (fewer|less)\b|\bat most\b|\bmax(imum)?\b|\btops\b", after)
    return max(1, round(value)), "max" if cap else "target"


def read_horizon(low: str) -> tuple[float, str | None] | None:
    """(count, unit) or (count, None) for steps: "63 days out", "the following year",
    "next step", "eight quarters ahead", "a quarter ahead"."""
    ahead = r"(ahead|out|forward|into the future|in advance|from now|later|horizon|trajector|" \
            r"forecast)"  # fmt: skip
    kind = r"(?:(?:business|working|trading|calendar|school|whole|full) )?"  # "10 business days"
    for pat in (
        # no digit between the count and "ahead": "every 15 minutes, 96 steps ahead" is 96
        NUM + r"[- ]" + kind + UNIT + r"\b[^.;\d]{0,20}?\b" + ahead,
        r"(?:next|following|coming|upcoming|horizon of|for the next|over the next)\s+"
        + NUM
        + r"\s+"
        + kind
        + UNIT,
        NUM + r"[- ]" + kind + UNIT + r"[- ](?:ahead|horizon|trajectory|forecast)",
    ):
        m = re.search(pat, low)
        if m:
            return _in_unit(number(m.group(1)), m.group(2))
    m = re.search(
        r"\b(?:next|following|coming|upcoming|subsequent)[\s-]+(minute|hour|day|week|fortnight|month|"
        r"quarter|season|year|decade|step|period|point|value|observation)\b",
        low,
    )
    if m:
        return _in_unit(1.0, m.group(1))
    m = re.search(r"\bone[- ]step\b|\bsingle[- ]step\b|\bstep[- ]ahead\b", low)
    if m:
        return 1.0, None
    m = re.search(r"\btomorrow\b", low)
    if m:
        return 1.0, "day"
    return None


def _in_unit(count: float, unit: str) -> tuple[float, str | None]:
    """A horizon in the units the reader converts from: "a decade" is 10 years, "a season" a
    quarter; steps, points and periods are the data's own steps (None)."""
    if unit in _STEP_UNITS:
        return count, None
    base, factor = _SCALED_UNITS.get(unit, (unit, 1.0))
    return count * factor, base


def read_hardware(low: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    gpus = re.search(
        NUM + r"\s*(?:x\s*)?(?:(?:\w+\s)?gpus|(?:nvidia\s)?(?:[ahvl]\d{2,3}|rtx\s?\d{4})s)\b", low
    )  # "8 GPUs", "4 A100s", "2 RTX 4090s"
    if re.search(r"multi[- ]?gpu|multiple gpus|several gpus", low) or (
        gpus and number(gpus.group(1)) >= 2
    ):
        out["hardware"] = "multi_gpu"
        if gpus and number(gpus.group(1)) >= 2:
            out["devices"] = min(4096, int(number(gpus.group(1))))
    elif re.search(r"\bgpus?\b|\bcuda\b|\bh100|\ba100", low) and not re.search(
        r"\b(no|without( a)?) gpus?\b", low
    ):
        out["hardware"] = "gpu"
    elif re.search(
        r"\bon (a |the |one |my )?(cpu|laptop)s?\b|cpu[- ](only|bound)|\b(no|without( a)?) gpus?\b",
        low,
    ):
        out["hardware"] = "cpu"
    if re.search(
        r"\bedge\b|micro-?controller|\bmcu\b|embedded|raspberry pi|\bphone\b|mobile|"
        r"on[- ]device|arduino|\biot\b|wearable",
        low,
    ):
        out["edge"] = True
        out.setdefault("hardware", "cpu")
    return out


def read_speed(low: str) -> bool:
    return bool(
        re.search(
            r"\b(fast|faster|fastest|quick|quickly|speedy|snappy|real[- ]?time|low[- ]latency|"
            r"responsive|cheap to run|lightning[- ]fast)\b",
            low,
        )
    )


_MODEL_NOUN = (
    r"(model|network|net|nn|classifier|regressor|forecaster|predictor|mlp|cnn|lstm|gru|tcn|"
    r"transformer|architecture|footprint|one|version)"
)


def read_size(low: str) -> str | None:
    """ "a tiny model", "keep it small", "lightweight", "as small as possible", "a big network"."""
    sizes = (
        ("tiny", r"tiny|minuscule|very small|extremely small|micro|smallest( possible)?"),
        ("small", r"small|compact|light-?weight|light|lean|little|slim|minimal|modest|"
                  r"low[- ]footprint|simple"),
        ("large", r"large|big|huge|heavy|high[- ]capacity|massive|beefy|largest"),
    )  # fmt: skip
    for name, words in sizes:
        near = rf"\b({words})\b(?:[\w-]+\s+){{0,2}}?\s*{_MODEL_NOUN}\b"
        keep = (
            rf"\b(keep|make)s?\s+(it|them|the \w+|this)\s+(\w+\s+)?({words})\b|"
            rf"\b(it|model|network|net|size|footprint)\s+(\w+\s+){{0,2}}(be|stay|remain|is|are)"
            rf"\s+(\w+\s+)?({words})\b|\bas ({words}) as (possible|it gets|we can)\b"
        )
        if re.search(near, low) or re.search(keep, low):
            return name
    if re.search(
        r"\bfew(er)? (parameters|weights)\b|\blightweight\b|\bnothing (fancy|too big|heavy)\b|"
        r"\bno need for (anything )?(fancy|big|deep|heavy)\b",
        low,
    ):
        return "small"
    return None


def read_positive_class(low: str) -> str | None:
    """ "recall on the malignant class", "fraud is the positive class", "treat churners as
    positive", "positive class: spam"."""
    word = r"([a-z][\w-]{1,40})"
    for pat in (
        r"(?:recall|precision|sensitivity|f1|f-score|detection rate)\s+(?:on|for|of)\s+"
        r"(?:the\s+)?" + word + r"(?:\s+(?:class|cases|label|category|ones|samples))",
        r"positive class\s*(?:is|=|:|being|should be)?\s*(?:the\s+)?[\"']?" + word,
        word + r"\s+(?:is|as|being)\s+(?:the\s+)?positive(?:\s+class)?\b",
        r"treat(?:ing)?\s+(?:the\s+)?" + word + r"\s+(?:\w+\s+)?as\s+(?:the\s+)?positive",
        r"(?:recall|precision|sensitivity)\s+(?:on|for|of)\s+(?:the\s+)?" + word,
    ):
        m = re.search(pat, low)
        if m and m.group(1) not in (
            "the", "a", "an", "class", "test", "validation", "model", "at", "least", "most",
            "above", "over", "below", "under", "around", "about", "roughly", "no", "more",
            "less", "no-less", "minimum", "maximum",
        ):  # fmt: skip
            return m.group(1)
    return None


#: "has to be able to say why", "the reasons behind each decision", "which factors drove it"
_SAY_WHY = (
    r"\b(say|tell(?: \w+)?|show|know|see|give) why\b|"
    r"\breasons? (for|behind) (each|every|the|its|a|any)\b|"
    r"\bwhich (factors|features|inputs|columns|variables) (drove|drive|matter|mattered|influence)"
)


def read_interpretability(low: str) -> bool:
    return bool(
        re.search(
            r"explainab|explainable|interpretab|explain (it|them|its|the|why|how)\b|transparent|"
            r"understandable|feature importance|\bshap\b|white[- ]box|auditable|"
            r"justify (its|the) (decisions|predictions)|understand (why|how) (it|the model)|"
            r"why (it|the model) (decides|decided|predicts|predicted)|" + _SAY_WHY,
            low,
        )
    )


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Concept:
    """One row: the concept's name, its synonyms (one regex) and what reads its value."""

    name: str
    words: str
    read: Callable[[str], Any] = field(compare=False)


CONCEPTS: tuple[Concept, ...] = (
    Concept("budget", r"(param|weight|coefficient)", read_budget),
    Concept(
        "horizon",
        r"\b(ahead|out|forward|next|following|coming|upcoming|horizon|tomorrow|one[- ]step|"
        r"in advance|from now)\b",
        read_horizon,
    ),
    Concept(
        "hardware",
        r"\bcpus?\b|\bgpus?\b|cuda|laptop|\bedge\b|micro-?controller|\bmcu\b|embedded|"
        r"raspberry|\bphone\b|mobile|on[- ]device|arduino|\biot\b|wearable|h100|a100",
        read_hardware,
    ),
    Concept(
        "speed",
        r"\b(fast|faster|fastest|quick|quickly|speedy|snappy|real[- ]?time|low[- ]latency|"
        r"responsive)\b",
        read_speed,
    ),
    Concept(
        "size",
        r"\b(tiny|small|smallest|compact|light-?weight|lean|little|slim|minimal|simple|large|big|"
        r"huge|heavy|massive|few(er)? (parameters|weights)|nothing fancy|fancy)\b",
        read_size,
    ),
    Concept(
        "metric", "|".join(f"(?:{w})" for w in (*METRIC_WORDS.values(), *RATE_WORDS)), read_metrics
    ),
    Concept("positive_class", r"positive|\b(on|for) the \w+ class\b", read_positive_class),
    Concept(
        "imbalance",
        r"imbalanc|unbalanc|skewed|uneven|lopsided|rare (class|event|positive|case)|minority|"
        r"few positives|"
        r"\d+ in (a |every )?[\d,]+|class ratio|\b(are|is) rare\b|negatives|"
        r"only \d+(\.\d+)? ?(%|percent) (of|are)\b|" + POSITIVE_SHARE + "|" + TIMES_MORE,
        read_imbalance,
    ),
    Concept(
        "interpretability",
        r"explain|interpretab|transparent|understandable|feature importance|\bshap\b|"
        r"white[- ]box|auditable|justify|understand (why|how)|"
        r"why (it|the model) (decides|predicts)|" + _SAY_WHY,
        read_interpretability,
    ),
    Concept(
        "training_time",
        TRAINING_WORDS + r"[^.;]*\b(seconds?|secs?|minutes?|mins?|hours?|hrs?)\b|"
        r"\b(seconds?|minutes?|hours?) (of |for )?(training|to train)\b",
        read_train_time,
    ),
    Concept("error_cost", COST_WORDS, read_under_cost),
    Concept("season", SEASON_WORDS, read_season),
    Concept("memory", r"\d\s*(kb|kib|mb|mib|gb|gib)\b|\bram\b|\bmemory\b", read_memory),
    Concept(
        "latency",
        r"latency|\d+\s*(ms|milliseconds?|s|sec|seconds?)\b|inference|respond|per prediction",
        read_latency,
    ),
)

#: words of ML work in general: a clause that uses them is part of the request, not a wish the
#: reader missed (the requirement reader adds its task, modality and architecture words)
_ML_WORDS = (
    r"\b(design|build|create|make|train|training|trained|fit|learn|model|models|network|net|"
    r"system|pipeline|experiment|tracking|track|mlflow|registry|register|checkpoint|monitor|"
    r"drift|deploy|deployed|deployment|production|ship|ships|serve|serving|search|tune|tuning|"
    r"hyper-?param\w*|optimi[sz]\w*|distributed|ddp|fsdp|deepspeed|baseline|data|dataset|"
    r"features?|target|labels?|predict\w*|classif\w*|regress\w*|forecast\w*|estimate|"
    r"tbptt|bptt|backprop\w*|memory|epochs?|batch|loss|metric|evaluate|evaluation|test|"
    r"validation|split|infrastructure|architecture|strategy|plan|end-to-end|complete|full|"
    r"recognis\w*|recogniz\w*|detect\w*|spot|sort|separate|tell|flag|score|rank|series|"
    r"sequence|signal|image|images|table|tabular|column|rows?|samples?|measurements?)\b"
)

#: a stated preference between two outcomes: a wish even when every word is an ML word
_COMPARED = (
    r"\bpenali[sz]\w*|\b(worse|costlier|more costly|more expensive|more harmful) than\b|"
    r"\bcosts? (us )?(\w+ )?more than\b|\brather\b[^.;]*\bthan\b"
)
_STOP = frozenset(
    re.findall(
        r"\S+",
        """a an the and or of for to with from in on by at as is be are was it its this that these
        those my our your their we i you they me us please thanks thank also just so very really
        some any all each every can could should would must will shall may might need needs want
        wants like use using get make it's that's there here what which who whom how when where
        why than then into onto about over under not no yes only more most less few much many
        good better best well way ok okay""",
    )
)


def clauses(text: str) -> list[str]:
    """The prompt cut at punctuation and joining words, each part as written ("$5,000" and
    "1,500 rows" stay whole)."""
    parts = re.split(
        r"[.;:!?()\[\]]+(?=\s|$)|[()\[\]]|,(?!\d{3}\b)|\s+(?:and|but|so|while|whereas|because|although|though|plus|also|"
        r"with|without|then)\s+",
        text,
    )
    return [" ".join(p.split()) for p in parts if p and p.strip()]


def _inert(clause: str) -> str:
    """The clause as reported: URLs and paths left out, so a prompt cannot plant them."""
    clause = re.sub(r"\S*://\S*", "<url>", clause)
    clause = re.sub(r"\S*[/\\]\S*", "<path>", clause)
    return clause.replace("'", "")


def not_understood(text: str, known: tuple[str, ...] = ()) -> list[str]:
    """Clauses no concept reads a value from, no ``known`` pattern and no ML word recognises,
    that still carry content words: the wishes the reader would otherwise drop. A concept's
    synonym alone does not claim a clause ("big misses" names no model size)."""
    patterns = [*known, _ML_WORDS]
    out = []
    for clause in clauses(text):
        low = clause.lower()
        read = any(re.search(c.words, low) and c.read(low) for c in CONCEPTS)
        if re.search(_COMPARED, low) and not read:
            # a stated preference no concept read: ML words ("predictions") do not claim it
            out.append(_inert(clause)[:120])
            continue
        if read or any(re.search(p, low) for p in patterns):
            continue
        # a concept's synonym claims only itself: "(compared with) negatives" is the tail of a
        # wish read before, while "big misses" leaves "misses" for nobody
        rest = low
        for c in CONCEPTS:
            rest = re.sub(c.words, " ", rest)
        content = [w for w in re.findall(r"[a-z][a-z'-]{2,}", rest) if w not in _STOP]
        if content:
            out.append(_inert(clause)[:120])
    return out
