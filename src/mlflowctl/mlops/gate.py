"""The promotion gate: whether a challenger's validation metric earns it ``@champion``.

``gate_decision`` compares the challenger's value of the gate metric (always the validation
variant, ``val_metric``: the gate never decides on the test split) with the best baseline the
build recorded (``best_baseline``, plus the gate's margin), the gate's threshold and the current
champion's value (by at least ``min_improvement``), and returns the verdict with its reason.
``metric_of`` and ``baseline_of`` read those values off a registered version's tags (``metric.*``,
``baseline_best``), falling back to its run's metrics. No mlflow import: the client is passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlflowctl.blueprint.model import MetricTarget, PromotionGate

TAG_BASELINE = "baseline_best"


#: metric wishes a decision threshold is tuned for on validation (binary classification)
THRESHOLD_WISHES = ("recall", "precision", "f1")


def threshold_rule(
    task: str, n_classes: int, metric_targets: Sequence[MetricTarget]
) -> dict[str, Any] | None:
    """What the rendered evaluate.py tunes the positive class's decision threshold for: the
    prompt's first metric wish when it is recall, precision or F1 of a binary classifier
    (``target``: its ``>=`` value, which the threshold must reach on validation), else None."""
    if task != "classification" or n_classes != 2 or not metric_targets:
        return None
    wish = metric_targets[0]
    if wish.metric not in THRESHOLD_WISHES:
        return None
    target = wish.value if wish.op == ">=" and wish.value is not None else None
    return {"tune_for": wish.metric, "target": target}


def metric_tag(metric: str) -> str:
    return f"metric.{metric}"


def val_metric(metric: str) -> str:
    """The validation variant of a gate metric: the gate decides on it, never on the test split."""
    return "val_" + metric[len("test_") :] if metric.startswith("test_") else metric


def best_baseline(
    metrics: dict[str, float], metric: str, direction: str
) -> tuple[str, float] | None:
    """The best ``baseline.<name>.<metric>`` in ``metrics`` (NaN ignored), or None."""
    found = [
        (key.split(".", 2)[1], float(v))
        for key, v in metrics.items()
        if key.startswith("baseline.") and key.endswith("." + metric) and v == v
    ]
    if not found:
        return None
    pick = max if direction == "maximize" else min
    return pick(found, key=lambda item: item[1])


def gate_decision(
    gate: PromotionGate,
    value: float | None,
    champion: float | None,
    baseline: tuple[str, float] | None = None,
) -> tuple[bool, str]:
    metric = val_metric(gate.metric)
    if value is None:
        return False, f"challenger has no {metric} metric"
    sign = 1.0 if gate.direction == "maximize" else -1.0
    if baseline is not None:
        name, base = baseline
        bar = base + sign * gate.min_improvement
        if sign * (value - bar) < 0:
            op, pm = ("<", "+") if sign > 0 else (">", "-")
            return False, (
                f"{metric} {value:.4g} {op} baseline {name} {base:.4g} {pm} margin "
                f"{gate.min_improvement:g}"
            )
    if gate.threshold is not None and sign * (value - gate.threshold) < 0:
        return False, f"{metric} {value:.4g} misses the threshold {gate.threshold:.4g}"
    beats = ""
    if baseline is not None:  # a tie passes when the margin is 0: say so, not "beats"
        verb = "ties" if value == baseline[1] else "beats"
        beats = f", {verb} baseline {baseline[0]} {baseline[1]:.4g}"
    if champion is None:
        return True, f"first version to pass the gate ({metric} {value:.4g}{beats})"
    gain = value - champion if gate.direction == "maximize" else champion - value
    if gain <= 0 or gain < gate.min_improvement:
        return False, (
            f"{metric} {value:.4g} does not beat the champion's {champion:.4g} "
            f"by {gate.min_improvement:g} ({gate.direction})"
        )
    return True, f"{metric} {value:.4g} beats the champion's {champion:.4g}{beats}"


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
