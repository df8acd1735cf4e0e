"""The promotion gate: whether a challenger's validation metric earns it ``@champion``.

``gate_decision`` compares the challenger's value of the gate metric (always the validation
variant, ``val_metric``: the gate never decides on the test split) with the best baseline the
build recorded (``best_baseline``, plus the gate's margin), the gate's threshold and the current
champion's value (by at least ``min_improvement``), and returns the verdict with its reason.
``metric_of`` and ``baseline_of`` read those values off a registered version's tags (``metric.*``,
``baseline_best``), falling back to its run's metrics. No mlflow import: the client is passed in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from mlflowctl.blueprint.model import MetricTarget, PromotionGate

TAG_BASELINE = "baseline_best"
TAG_SHA = "weights_sha256"
#: a binary classifier's decision threshold tuned on validation: part of what a version answers
TAG_DECISION = "decision_threshold"


#: metric wishes a decision threshold is tuned for on validation (binary classification)
THRESHOLD_WISHES = ("recall", "precision", "f1", "specificity")


def threshold_rule(
    task: str,
    n_classes: int,
    metric_targets: Sequence[MetricTarget],
    miss_cost: float | None = None,
) -> dict[str, Any] | None:
    """What the rendered evaluate.py tunes the positive class's decision threshold for: the
    prompt's first metric wish when it is recall, precision, F1 or specificity of a binary
    classifier (``target``: its ``>=`` value, which the threshold must reach on validation),
    else None. Recall asked without a value next to a bound on false alarms ("catch as many as
    you can, but no more than one false alarm in four") is tuned to that bound: the lowest
    threshold meeting it is the most recall it allows. ``miss_cost`` (a gate on ``test_cost``:
    a missed positive costs this many false alarms) comes first: the threshold of the least
    ``miss_cost * FN + FP`` on validation."""
    if task != "classification" or n_classes != 2:
        return None
    if miss_cost is not None:
        return {"tune_for": "cost", "target": None, "miss_cost": float(miss_cost)}
    if not metric_targets:
        return None
    wish = metric_targets[0]
    if wish.metric not in THRESHOLD_WISHES:
        return None
    if wish.metric == "recall" and wish.value is None:
        bounds = [
            w for w in metric_targets[1:]
            if w.metric in ("precision", "specificity") and w.op == ">=" and w.value is not None
        ]  # fmt: skip
        wish = bounds[0] if bounds else wish
    target = wish.value if wish.op == ">=" and wish.value is not None else None
    return {"tune_for": wish.metric, "target": target}


def metric_tag(metric: str) -> str:
    return f"metric.{metric}"


def val_metric(metric: str) -> str:
    """The validation variant of a gate metric: the gate decides on it, never on the test split."""
    return "val_" + metric[len("test_") :] if metric.startswith("test_") else metric


#: breaks a tie on the gate metric: the lower validation log loss (classifiers log it), a finer
#: and proper score; the rendered evaluate.py picks its best baseline by the same rule
FINER = "val_log_loss"


def _finer(metrics: Mapping[str, float], name: str) -> float:
    value = metrics.get(f"baseline.{name}.{FINER}")
    return float(value) if value is not None and value == value else math.inf


def best_baseline(
    metrics: Mapping[str, float], metric: str, direction: str
) -> tuple[str, float] | None:
    """The best ``baseline.<name>.<metric>`` in ``metrics`` (NaN ignored), or None; a tie goes
    to the lower validation log loss, then to the name (what evaluate.py saved)."""
    sign = 1.0 if direction == "maximize" else -1.0
    found = [
        (key.split(".", 2)[1], float(v))
        for key, v in metrics.items()
        if key.startswith("baseline.") and key.endswith("." + metric) and v == v
    ]
    if not found:
        return None
    return max(found, key=lambda item: (sign * item[1], -_finer(metrics, item[0]), item[0]))


def finer_scores(
    metrics: Mapping[str, float], baseline: tuple[str, float]
) -> tuple[float, float] | None:
    """The network's and the baseline's validation log loss in a run's metrics, or None."""
    mine, theirs = metrics.get(FINER), _finer(metrics, baseline[0])
    if mine is None or mine != mine or theirs == math.inf:
        return None
    return float(mine), theirs


def tie_scores(
    c: Any, mv: Any, baseline: tuple[str, float] | None, value: float | None
) -> tuple[float, float] | None:
    """``finer_scores`` of a registered version's run, read only on an exact tie with
    ``baseline`` on the gate metric (the only case ``gate_decision`` uses them); else None."""
    if baseline is None or value != baseline[1] or not mv.run_id:
        return None
    return finer_scores(c.get_run(mv.run_id).data.metrics, baseline)


def gate_decision(
    gate: PromotionGate,
    value: float | None,
    champion: float | None,
    baseline: tuple[str, float] | None = None,
    finer: tuple[float, float] | None = None,
    measure: Callable[[str], float | None] | None = None,
) -> tuple[bool, str]:
    """``finer``: the network's and the baseline's validation log loss; given, a network that
    only ties the baseline on the gate metric fails when its log loss is the higher.
    ``measure``: the challenger's value of a metric, for the gate's ``requires``."""
    metric = val_metric(gate.metric)
    if value is None:
        return False, f"challenger has no {metric} metric"
    held, missed = "", []  # every reason a version fails is said, not only the first
    for need in gate.requires:
        name, asked = val_metric(need.metric), f"{need.op} {need.value:g}"
        got = measure(name) if measure is not None else None
        if got is None:
            missed.append(f"challenger has no {name} metric (the prompt asks {asked})")
        elif (got < need.value) if need.op == ">=" else (got > need.value):
            missed.append(f"{name} {got:.4g} misses the prompt's requirement {asked}")
        else:
            held += f", {name} {got:.4g} {asked}"
    sign = 1.0 if gate.direction == "maximize" else -1.0
    if baseline is not None:
        name, base = baseline
        bar = base + sign * gate.min_improvement
        if sign * (value - bar) < 0:
            op, pm = ("<", "+") if sign > 0 else (">", "-")
            missed.append(
                f"{metric} {value:.4g} {op} baseline {name} {base:.4g} {pm} margin "
                f"{gate.min_improvement:g}"
            )
        elif finer is not None and value == base and finer[0] > finer[1]:
            missed.append(
                f"{metric} {value:.4g} ties baseline {name} {base:.4g} and the baseline's "
                f"{FINER} {finer[1]:.4g} is below the network's {finer[0]:.4g}"
            )
    if gate.threshold is not None and sign * (value - gate.threshold) < 0:
        missed.append(f"{metric} {value:.4g} misses the threshold {gate.threshold:.4g}")
    if missed:
        return False, "; ".join(missed)
    beats = ""
    if baseline is not None:  # a tie passes when the margin is 0: say so, not "beats"
        verb = "ties" if value == baseline[1] else "beats"
        beats = f", {verb} baseline {baseline[0]} {baseline[1]:.4g}"
    beats += held
    if champion is None:
        return True, f"first version to pass the gate ({metric} {value:.4g}{beats})"
    gain = value - champion if gate.direction == "maximize" else champion - value
    if gain <= 0 or gain < gate.min_improvement:
        return False, (
            f"{metric} {value:.4g} does not beat the champion's {champion:.4g} "
            f"by {gate.min_improvement:g} ({gate.direction})"
        )
    return True, f"{metric} {value:.4g} beats the champion's {champion:.4g}{beats}"


def version_decision(
    c: Any,
    mv: Any,
    gate: PromotionGate,
    champion: float | None,
    baseline: tuple[str, float] | None,
    finer: tuple[float, float] | None = None,
) -> tuple[bool, str]:
    """``gate_decision`` for a registered version: its gate metric and the metrics of the
    gate's ``requires`` read off it (its tags, else its run)."""
    value = metric_of(c, mv, val_metric(gate.metric))
    return gate_decision(gate, value, champion, baseline, finer, partial(metric_of, c, mv))


def baseline_tag(metrics: Mapping[str, float], gate: PromotionGate) -> dict[str, str]:
    """The run's ``baseline_best`` tag: its best baseline on the gate's validation metric."""
    best = best_baseline(metrics, val_metric(gate.metric), gate.direction)
    return {TAG_BASELINE: best[0]} if best is not None else {}


def decision_tag(rule: Mapping[str, Any] | None) -> dict[str, str]:
    """The version tag of a tuned decision threshold (``metrics.json`` ``decision_threshold``)."""
    if not rule or rule.get("threshold") is None:
        return {}
    return {TAG_DECISION: repr(float(rule["threshold"]))}


def identical(a: Any, b: Any) -> str | None:
    """The weights sha256 two versions share when they answer alike: the same weights and the
    same tuned decision threshold (or neither has one); else None. The same weights with another
    threshold (the prompt now asks for specificity, not recall) answer differently: a new model
    for the gate, not "already champion"."""
    sha = b.tags.get(TAG_SHA)
    if sha and a.tags.get(TAG_SHA) == sha and a.tags.get(TAG_DECISION) == b.tags.get(TAG_DECISION):
        return str(sha)
    return None


def baseline_of(mv: Any) -> tuple[str, float] | None:
    name, value = mv.tags.get(TAG_BASELINE), mv.tags.get(metric_tag(TAG_BASELINE))
    return None if not name or value is None else (str(name), float(value))


def metric_of(c: Any, mv: Any, metric: str) -> float | None:
    tag = mv.tags.get(metric_tag(metric))
    if tag is not None:
        return float(tag)
    if mv.run_id:
        value = c.get_run(mv.run_id).data.metrics.get(metric)
        return None if value is None else float(value)
    return None
