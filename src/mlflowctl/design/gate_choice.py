"""Which metric gates a design, and at what threshold: the prompt's wish, the data's imbalance,
or the mlops policy's default (the planner's choice, stated in the blueprint)."""

from __future__ import annotations

import math
from typing import Any

from mlflowctl.blueprint import metrics as metrics_table
from mlflowctl.blueprint.model import MetricTarget, Requirements
from mlflowctl.design.asymmetry import quantile
from mlflowctl.specs.policy import MlopsPolicy

#: largest/smallest class count from which binary data gates on the positive class's PR-AUC
GATE_IMBALANCE = 3.0


def gate_of(
    req: Requirements, n_outputs: int, mlops: MlopsPolicy, imbalance_ratio: float | None = None
) -> tuple[str, float | None, list[str]]:
    """The gate metric and threshold: the prompt's first metric wish the table can log for this
    task, else an imbalance-aware or the policy's default; notes for wishes not honoured.

    Binary recall, precision and PR-AUC are the positive class's (``constraints.positive_class``);
    binary data imbalanced ``GATE_IMBALANCE``:1 or more (or a prompt saying so) with no metric
    wish gates on the positive class's PR-AUC, multi-class imbalance on macro F1."""
    default = {
        "classification": mlops.classification_metric,
        "regression": mlops.regression_metric,
        "forecasting": mlops.forecasting_metric,
    }[req.task]
    c = req.constraints
    notes: list[str] = []
    if c.under_cost_ratio is not None and req.task != "classification":
        q = quantile(c.under_cost_ratio)
        notes.append(
            f"a unit too low costs {c.under_cost_ratio:.3g}x a unit too high: trained on the "
            f"pinball loss at quantile {q:g} (r / (1 + r)), gated on it; baselines aim at it too"
        )
        notes += [_unlogged(w, req, n_outputs) for w in c.metric_targets
                  if metrics_table.for_wish(w.metric, req.task, n_outputs) is None]  # fmt: skip
        return "test_pinball", None, notes
    asked = [w for w in c.metric_targets if metrics_table.for_wish(w.metric, req.task, n_outputs)]
    if c.under_cost_ratio is not None and n_outputs == 2 and asked:
        notes.append(
            f"a missed positive costs {c.under_cost_ratio:.3g}x a false alarm; the gate and the "
            f"decision threshold follow the metric asked for ({asked[0].metric})"
        )
    elif c.under_cost_ratio is not None and n_outputs == 2:
        which = f" ('{c.positive_class}')" if c.positive_class else ""
        notes.append(
            f"a missed positive{which} costs {c.under_cost_ratio:.3g}x a false alarm: the "
            f"decision threshold is tuned on validation for the least {c.under_cost_ratio:.3g}"
            "*FN + FP; gated on that cost per row (test_cost), baselines tuned the same way"
        )
        notes += [_unlogged(w, req, n_outputs) for w in c.metric_targets]
        return "test_cost", None, notes
    elif c.under_cost_ratio is not None:
        notes.append(
            f"error costs are read for numbers and for two classes; with {n_outputs} classes "
            "the decision is not tuned for them: name the class and the recall wanted"
        )
    for wish in c.metric_targets:
        row = metrics_table.for_wish(wish.metric, req.task, n_outputs)
        if row is None:
            notes.append(_unlogged(wish, req, n_outputs))
            continue
        threshold = _bound(wish, row)
        if wish.value is not None and threshold is None:
            notes.append(f"{wish.metric} {wish.op} {wish.value:g} runs against its direction")
        if wish.metric == "specificity" and threshold is not None:
            recall = metrics_table.for_wish("recall", req.task, n_outputs)
            if recall is not None:  # a false-positive budget: the best recall within it
                notes.append(
                    f"gate: recall of the positive class on validation at the decision threshold "
                    f"tuned for specificity >= {threshold:g} (false-positive rate <= "
                    f"{1 - threshold:.3g}), which is a gate requirement"
                )
                return recall.name, None, notes
        if row.binary_only and c.positive_class:
            notes.append(
                f"gate: {wish.metric} of the positive class '{c.positive_class}' on validation"
                + (
                    f"; its decision threshold is tuned on validation for {wish.metric}"
                    if wish.metric in ("recall", "precision", "f1", "specificity")
                    else ""
                )
            )
        elif wish.metric == "f1" and n_outputs == 2:
            notes.append(
                "gate: F1 of the positive class (the minority class); the decision threshold "
                "is tuned on validation for F1"
            )
        return row.name, threshold, notes
    imbalanced = c.imbalance is not None or (imbalance_ratio or 0) >= GATE_IMBALANCE
    if imbalanced and req.task == "classification" and n_outputs == 2:
        which = f" '{c.positive_class}'" if c.positive_class else ""
        notes.append(f"imbalanced data: gate on the PR-AUC of the positive class{which}")
        return "test_pr_auc", None, notes
    if imbalanced and req.task == "classification":
        return "test_f1_macro", None, notes
    return default, None, notes


def _unlogged(wish: MetricTarget, req: Requirements, n_outputs: int) -> str:
    return (
        f"{wish.metric} was asked for but is not logged for {req.task}"
        + (f" with {n_outputs} classes" if req.task == "classification" else "")
        + "; recorded in requirements, gate on another metric"
    )


def requirements_of(req: Requirements, n_outputs: int, gate_metric: str) -> list[dict[str, Any]]:
    """Every threshold of the prompt the gate metric does not carry, as a gate requirement
    (``{"metric", "op", "value"}`` on a logged test metric, checked on its validation variant):
    "recall at least 0.9 and precision at least 0.8" gates on recall and requires precision."""
    out: list[dict[str, Any]] = []
    for wish in req.constraints.metric_targets:
        row = metrics_table.for_wish(wish.metric, req.task, n_outputs)
        if row is None or row.name == gate_metric:
            continue
        value = _bound(wish, row)  # None: no value, or against the direction (noted by gate_of)
        if value is not None and all(r["metric"] != row.name for r in out):
            out.append({"metric": row.name, "op": wish.op, "value": value})
    return out


def _bound(wish: MetricTarget, row: metrics_table.Metric) -> float | None:
    """The wish's value on the logged metric (an MSE wish is gated as RMSE), or None when it
    has none or asks against the metric's direction ("accuracy below 0.9")."""
    if wish.value is None or (wish.op == ">=") != (row.direction == "maximize"):
        return None
    return math.sqrt(wish.value) if wish.metric == "mse" else wish.value
