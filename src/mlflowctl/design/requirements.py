"""Prompt -> Requirements: plain regexes and keyword tables, no heavy imports.

The prompt is read once into ``Hints`` (what the words say); ``read_requirements`` then lets the
data profile overrule the words where they disagree (the data is what will be trained on), and
``reading_notes.py`` says where it did, for the blueprint's uncertainty factors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mlflowctl.blueprint.model import Constraints, DataProfile, MetricTarget, Requirements
from mlflowctl.design import calendar_horizon, columns, phrases, triage, wishes
from mlflowctl.design.asymmetry import read_under_cost, without_implied_recall
from mlflowctl.design.imbalance import read_imbalance
from mlflowctl.design.phrases import NUM as _NUM
from mlflowctl.design.phrases import number as _number
from mlflowctl.errors import InvalidInputError
from mlflowctl.families import REGISTRY

#: length of one unit (or one step of a data frequency) in days
_UNIT_DAYS = {
    "minute": 1 / 1440, "hour": 1 / 24, "day": 1.0, "week": 7.0, "fortnight": 14.0,
    "month": 365.25 / 12,
    "quarter": 365.25 / 4, "year": 365.25,
}  # fmt: skip
_FREQ_UNIT = {"T": "minute", "MIN": "minute", "H": "hour", "D": "day", "B": "day", "W": "week",
              "M": "month", "MS": "month", "Q": "quarter", "QS": "quarter", "A": "year",
              "AS": "year", "Y": "year", "YS": "year"}  # fmt: skip

#: what a prompt calls each family (``FamilySpec.aliases``)
_ARCH = [(name, spec.aliases) for name, spec in REGISTRY.items() if spec.aliases]
_TASK = [
    ("forecasting", r"forecast|ahead\b|time[- ]series|trajector|horizon|future|next \d+|"
                    r"stock|prices? over time|predict the next"),
    ("classification", r"classif|\btell\b.*\bapart\b|distinguish|differentiat|\bwhether\b|"
                       r"\bdetect|recogni[sz]|identify|"
                       r"malignant|benign|categor|\bwhich (class|kind|type)|label|\bspam\b|"
                       r"\b(which|who|whether)\b[^.?;]{0,40}\b(will|going to|likely to|about to)\b|"
                       r"\bchurn|\battrition\b|\bflag(s|ging)?\b|\bfraud|"
                       r"\bspot (the|which|whether)\b|\bscreen (for|out)\b"),
    ("regression", r"regress|progression|estimate|how much|how many|\bamounts?\b|continuous|"
                   r"predict (the )?(\w+ ){0,2}(price|value|score|yield|demand|age|cost)|"
                   r"\b(house|home|car|rent|sale|property) prices?\b|a number for|\bworth\b|"
                   r"\b(go|goes|sell|sells) for\b"),
]  # fmt: skip
_MODALITY = [
    ("image", r"image|photo|picture|pixel|grayscale|greyscale|\brgb\b|handwritten|mnist|"
              r"imagenet|\d+\s*x\s*\d+\b|cifar|x-?ray|scan"),
    ("text", r"\btext|sentence|document|review|tweet|token|language model|\bnlp\b|sentiment"),
    ("sequence", r"time[- ]series|forecast|sequence|series|trajector|sensor|signal|stock|"
                 r"\b(hourly|daily|weekly|monthly|quarterly|yearly|annual)\b|ahead\b|"
                 r"\b(each|every|per) (hour|day|week|month|quarter|year)\b"),
    ("tabular", r"tabular|table|\bcsv\b|column|measurement|feature|spreadsheet|record"),
]  # fmt: skip


@dataclass
class Hints:
    """What the prompt's words say, before any data is looked at."""

    task: str | None = None
    modality: str | None = None
    horizon: tuple[float, str | None] | None = None  # (count, unit or None for "steps")
    #: "the rest of the year": the calendar period a horizon runs to the end of
    rest_of: str | None = None
    frequency_unit: str | None = None
    n_classes: int | None = None
    image_shape: tuple[int, int, int] | None = None
    n_features: int | None = None
    constraints: Constraints = field(default_factory=Constraints)


def _constraints(low: str) -> Constraints:
    c = Constraints()
    budget = phrases.read_budget(low)
    if budget:
        c.param_budget, c.param_budget_kind = budget[0], budget[1]  # type: ignore[assignment]
    c.latency_ms = phrases.read_latency(low)
    if c.latency_ms is not None:
        c.latency_device = "gpu" if re.search(r"on (a|the) gpu", low) else "cpu"
    c.memory_gb = phrases.read_memory(low)
    for key, value in phrases.read_hardware(low).items():
        setattr(c, key, value)
    if c.memory_gb and phrases.runs_in(c.memory_gb, c.edge, c.hardware) and not budget:
        c.param_budget, c.param_budget_kind = phrases.memory_budget(c.memory_gb), "max"
    c.prefer_fast = phrases.read_speed(low)
    c.train_time_s = phrases.read_train_time(low)
    c.size_preference = phrases.read_size(low)  # type: ignore[assignment]
    c.metric_targets = [MetricTarget.model_validate(t) for t in phrases.read_metrics(low)]
    c.positive_class = phrases.read_positive_class(low)
    c.imbalance = read_imbalance(low)  # type: ignore[assignment]
    c.interpretability = phrases.read_interpretability(low)
    c.under_cost_ratio = read_under_cost(low)
    c.season = phrases.read_season(low)  # type: ignore[assignment]
    c.metric_targets = without_implied_recall(c.metric_targets, c.under_cost_ratio, low)
    c.tbptt = bool(re.search(r"tbptt|truncated (bptt|back[- ]?prop)", low))
    c.distributed = bool(
        re.search(
            r"distributed|multi[- ]?gpu|multiple gpus|\bddp\b|\bfsdp\b|deepspeed|"
            r"data[- ]parallel|multi[- ]node",
            low,
        )
    )
    c.hyperparameter_search = bool(
        re.search(
            r"hyper[- ]?param\w*\s+(search|optimi[sz]\w*|tuning|sweep)|\bhpo\b|optuna|"
            r"(grid|random|bayesian) search|tune (the )?hyper",
            low,
        )
    )
    c.memory_based = bool(re.search(r"memory[- ](based|augmented|tokens?)|with memory", low))
    at = {f: m.start() for f, pat in _ARCH if (m := re.search(pat, low))}
    c.named_architectures = sorted(at, key=at.__getitem__)  # in the order the prompt names them
    return c


def prompt_hints(prompt: str) -> Hints:
    low = " ".join(prompt.lower().split())
    h = Hints(constraints=_constraints(low))
    h.task = next((t for t, pat in _TASK if re.search(pat, low)), None)
    h.modality = next((m for m, pat in _MODALITY if re.search(pat, low)), None)
    h.horizon = phrases.read_horizon(low)
    h.rest_of = None if h.horizon else calendar_horizon.rest_of(low)
    h.frequency_unit = calendar_horizon.frequency_unit(low)
    if h.horizon and (
        h.task is None or (h.task == "regression" and h.modality in (None, "sequence"))
    ):
        h.task = "forecasting"  # "how much will this series be next quarter": a forecast
    wishes = {t.metric for t in h.constraints.metric_targets}
    if h.task is None and wishes:
        h.task = "regression" if wishes <= phrases.MINIMIZED | {"r2"} else "classification"
    size = re.search(r"\b(\d{1,4})\s*x\s*(\d{1,4})\b", low)
    if size or h.modality == "image":
        side_h, side_w = (int(size.group(1)), int(size.group(2))) if size else (28, 28)
        if "imagenet" in low and not size:
            side_h = side_w = 224
        rgb = re.search(r"\brgb\b|colou?r|imagenet|photo|cifar", low) and "grayscale" not in low
        h.image_shape = (3 if rgb else 1, side_h, side_w)
    classes = re.search(_NUM + r"\s+(?:\w+\s+)?(classes|categories|cultivars|species|types|kinds|"
                        r"labels|digits)", low)  # fmt: skip
    if classes:
        h.n_classes = int(_number(classes.group(1)))
    elif "imagenet" in low:
        h.n_classes = 1000
    elif "digit" in low:
        h.n_classes = 10
    elif re.search(r"\bwhether\b|\bor not\b|malignant or benign|binary|yes or no|churn|fraud", low):
        h.n_classes = 2
    feats = re.search(r"(\d+)\s+(?:\w+\s+)?(features|measurements|columns|variables|inputs)", low)
    if feats:
        h.n_features = int(feats.group(1))
    if h.modality is None and h.task == "forecasting":
        h.modality = "sequence"
    return h


def bare_goal(prompt: str, task: str, targets: list[MetricTarget]) -> MetricTarget | None:
    """A classifier's goal given as a bare percentage ("must hit 98 percent or better"): the
    threshold of the one wish stated without a value, else accuracy when nothing is named; None
    when a wish already carries a value, for other tasks, or when there is no such goal."""
    if task != "classification" or any(t.value is not None for t in targets):
        return None
    value = wishes.read_bare_goal(" ".join(prompt.lower().split()))
    if value is None:
        return None
    open_ = [t for t in targets if t.metric in wishes.UNIT_INTERVAL]
    if len(open_) > 1 or len(open_) != len(targets):
        return None  # several metrics named, or one the percentage cannot be: do not guess
    metric = open_[0].metric if open_ else "accuracy"
    return MetricTarget(metric=metric, op=">=", value=value)


#: what the catalog and the Blueprint's bounds can hold
LIMITS = {"horizon": 10_000, "n_classes": 100_000, "n_features": 1_000_000, "image_side": 4096}


def _check_limits(hints: Hints) -> None:
    """Numbers in the prompt beyond what a blueprint can hold: one clear error, not a crash."""
    found = {
        # "half a year" is a horizon of at least one step, whatever the step
        "horizon": max(1, round(hints.horizon[0])) if hints.horizon else None,
        "n_classes": hints.n_classes,
        "n_features": hints.n_features,
        "image_side": max(hints.image_shape[1:]) if hints.image_shape else None,
    }
    for key, value in found.items():
        if value is not None and not 1 <= value <= LIMITS[key]:
            raise InvalidInputError(
                f"the prompt asks for {key.replace('_', ' ')} {value:,}; "
                f"mlflowctl designs for 1 to {LIMITS[key]:,}",
                hint="restate the requirement with a size in that range",
                location="PROMPT",
            )


def frequency_unit(profile: DataProfile | None, hints: Hints) -> str | None:
    """The length of one step: the data's frequency when known, else the prompt's adverb."""
    if profile is not None and profile.frequency:
        code = re.match(r"[A-Za-z]+", profile.frequency)
        letters = code.group(0).upper() if code else ""
        for key in (letters, letters[:1]):
            if key in _FREQ_UNIT:
                return _FREQ_UNIT[key]
    return hints.frequency_unit


def horizon_steps(hints: Hints, unit_of_step: str | None) -> int | None:
    if hints.horizon is None:
        return None
    count, unit = hints.horizon
    if unit is None or unit_of_step is None or unit == unit_of_step:
        return max(1, round(count))
    return max(1, round(count * _UNIT_DAYS[unit] / _UNIT_DAYS[unit_of_step]))


def rest_of_steps(
    hints: Hints, profile: DataProfile | None, unit: str | None
) -> tuple[int | None, str]:
    """The rest of a calendar period counted from the series' last date: (steps or None, note)."""
    last = profile.last_time if profile is not None else None
    return calendar_horizon.calendar_horizon(hints.rest_of, last, unit)


_DEFAULT_HORIZON = {"hour": 24, "day": 30, "week": 13, "month": 12, "quarter": 4, "year": 5}


def _task_modality(hints: Hints, profile: DataProfile | None) -> tuple[str, str]:
    task, modality = hints.task, hints.modality
    c = hints.constraints
    named = set(c.named_architectures)
    if modality is None:
        # a named family says what it reads (its first modality; an MLP reads anything)
        reads = {REGISTRY[f].modalities[0] for f in named if f in REGISTRY} - {"tabular"}
        if "sequence" in reads or c.tbptt or c.memory_based:
            modality = "sequence"
        elif "image" in reads:
            modality = "image"
        elif c.param_budget and c.param_budget >= 1_000_000:
            modality = "sequence"  # a model of millions of parameters: a sequence transformer
    if profile is not None:
        modality = {"tabular": "tabular", "image": "image", "series": "sequence"}[profile.kind]
        if profile.kind == "series":
            task = "forecasting"
        elif profile.n_classes is not None:
            task = "classification"
        elif profile.target_dtype and profile.kind == "tabular":
            task = "regression"
    modality = modality or "tabular"
    if task is None or (task == "forecasting" and modality in ("tabular", "image")):
        task = {"sequence": "forecasting", "image": "classification"}.get(
            modality, "classification"
        )
    return task, modality


def read_requirements(
    prompt: str,
    profile: DataProfile | None = None,
    *,
    data: str | None = None,
    target: str | None = None,
) -> Requirements:
    """What the user asked for; where the data says otherwise the data wins."""
    text = prompt.strip()
    if not text:
        raise InvalidInputError(
            "the prompt is empty",
            hint='describe the task, e.g. mlflowctl design "classify handwritten digits"',
            location="PROMPT",
        )
    if len(text) > 4000:
        raise InvalidInputError(
            f"the prompt is {len(text)} characters long; the limit is 4000",
            hint="shorten the requirement to its essentials",
            location="PROMPT",
        )
    hints = prompt_hints(text)
    _check_limits(hints)
    task, modality = _task_modality(hints, profile)
    c = hints.constraints.model_copy()
    if task == "forecasting":
        unit = frequency_unit(profile, hints)
        c.horizon = (
            horizon_steps(hints, unit)
            or rest_of_steps(hints, profile, unit)[0]
            or _DEFAULT_HORIZON.get(unit or "", 12)
        )
    else:
        c.horizon = None
        c.tbptt = c.tbptt and modality == "sequence"
    goal = bare_goal(text, task, c.metric_targets)
    if goal is not None:
        rest = [t for t in c.metric_targets if t.metric != goal.metric]
        c.metric_targets = [goal, *rest]
    if profile is not None:
        named = read_columns_of(text, profile)
        c.target_named, c.features_named = named.target, named.features[:50]
        if task == "classification" and c.positive_class is None:
            c.positive_class = positive_of_data(text, profile)[0]
    first = text.splitlines()[0]
    return Requirements(
        task=task,
        modality=modality,
        data_source=profile.source if profile is not None else data,
        target=(profile.target if profile is not None else None) or target,
        constraints=c,
        summary=first[:197] + "..." if len(first) > 200 else first,
    )


_INFRA_ASK = (
    r"track|registry|register|checkpoint|monitor|drift|pipeline|experiment|mlflow|deploy|"
    r"hyper-?param|search|distributed|training (infrastructure|plan|setup)"
)


def _recognised(hints: Hints, low: str) -> bool:
    """Does the prompt name anything a design can start from?"""
    c = hints.constraints
    return bool(
        hints.task
        or hints.modality
        or hints.horizon
        or c.named_architectures
        or c.param_budget
        or c.tbptt
        or c.distributed
        or c.hyperparameter_search
        or c.memory_based
        or c.metric_targets
        or c.size_preference
        or c.prefer_fast
        or c.edge
        or c.interpretability
        or c.imbalance
        or c.under_cost_ratio
        or re.search(_INFRA_ASK, low)
        or re.search(r"\b(predict|estimat|classif|forecast|detect|recogni[sz]|regress)", low)
    )


def triage_prompt(prompt: str, *, has_data: bool, hints: Hints | None = None) -> triage.Reading:
    """needs_info / unsupported / ok for ``prompt`` (see ``design.triage``)."""
    hints = hints or prompt_hints(prompt)
    low = " ".join(prompt.lower().split())
    side = max(hints.image_shape[1:]) if hints.image_shape else None
    return triage.read(prompt, recognised=_recognised(hints, low), has_data=has_data,
                       image_side=side)  # fmt: skip


def check_prompt(prompt: str, *, has_data: bool, assume: bool = False) -> triage.Reading:
    """Raise ``needs_info``/``unsupported`` before any side effect, unless ``assume``."""
    reading = triage_prompt(prompt, has_data=has_data)
    if not assume:
        triage.enforce(reading)
    return reading


#: the reader's own words: a clause using one of them is understood
KNOWN_PATTERNS = (
    *(p for _, p in _ARCH + _TASK + _MODALITY),
    calendar_horizon.REST_OF.pattern,
    r"tbptt|truncated|distributed|multi[- ]?node|hyper|optuna|\bhpo\b|memory|stock|price|"
    r"\d+\s*x\s*\d+|\d+\s+(classes|categories|species|types|kinds|labels|digits|cultivars)|"
    r"(hourly|daily|weekly|monthly|quarterly|yearly|annual)",
)


def data_columns(profile: DataProfile) -> list[str]:
    """The data's columns as a user names them: the file's own, else the feature names."""
    builtin = profile.source_kind == "builtin"
    cols = list(profile.feature_names) if builtin else list(profile.dtypes or profile.feature_names)
    return cols + ([profile.target] if profile.target and profile.target not in cols else [])


def read_columns_of(prompt: str, profile: DataProfile) -> columns.ColumnReading:
    """Which of the data's columns the prompt names (``design.columns``)."""
    known = (*KNOWN_PATTERNS, *(c.words for c in phrases.CONCEPTS))
    return columns.read_columns(prompt, data_columns(profile), known)


def positive_of_data(prompt: str, profile: DataProfile) -> tuple[str | None, str]:
    """The positive class of binary data the prompt did not state: a class label the prompt
    names ("catch the fraud cases" -> ``fraud``), else the minority class; and why."""
    counts = profile.class_counts
    if profile.n_classes != 2 or len(counts) != 2:
        return None, ""
    low = " ".join(prompt.lower().split())
    named = [
        k.label
        for k in counts
        if (p := columns.column_pattern(k.label)) is not None and re.search(p, low)
    ]
    if len(named) == 1:
        return named[0], "a class the prompt names"
    small = min(counts, key=lambda k: (k.count, k.label))
    total = sum(k.count for k in counts)
    return small.label, f"the minority class ({small.count} of {total} rows)"
