"""The one table of metrics: every metric name, the tasks that log it, its direction and how the
rendered project computes it. Pure data, no heavy imports.

The critic (what a blueprint may gate, monitor or stop on), the planner (gate directions), the
renderer (checkpoint/early-stopping modes, the metric functions a project carries) and the
``MetricName`` closed set in ``blueprint/model.py`` (checked by ``tests/test_metrics_table.py``)
all read this table; a new metric is one row here plus, if its ``compute`` is new, its line in
the task's metric function of ``templates/_common/lightning_module.py.j2`` (the rendered
``model.py``'s ``score()``, checked by ``tests/test_render_metrics.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Stage = Literal["train", "val", "test"]
MetricDirection = Literal["maximize", "minimize"]

CLASSIFICATION, REGRESSION, FORECASTING = "classification", "regression", "forecasting"
TASKS = (CLASSIFICATION, REGRESSION, FORECASTING)


@dataclass(frozen=True)
class Metric:
    """One logged metric.

    ``compute`` names what the rendered ``model.py``'s ``score()`` computes (the same function
    serves ``val_*`` while training and ``val_*``/``test_*`` of ``trainer.validate``/``test``,
    and the baselines, so each metric is defined once);
    ``loss`` is the training loss itself. ``binary_only``: logged only for two classes.
    """

    name: str
    stage: Stage
    tasks: tuple[str, ...]
    direction: MetricDirection
    compute: str
    binary_only: bool = False
    #: declared only: a name a prompt may ask for whose computation the templates do not carry
    #: yet; it is tracked (and may gate) only in a blueprint that asks for it
    declared: bool = False

    @property
    def mode(self) -> Literal["min", "max"]:
        """Lightning's ``mode`` for a monitor on this metric."""
        return "max" if self.direction == "maximize" else "min"


_ALL = TASKS
_CLS = (CLASSIFICATION,)
_REG = (REGRESSION,)
_NUM = (REGRESSION, FORECASTING)
_FC = (FORECASTING,)
_UP: MetricDirection = "maximize"
_DOWN: MetricDirection = "minimize"

#: in the order a blueprint lists them (per task: the rows whose ``tasks`` include it)
METRICS: tuple[Metric, ...] = (
    Metric("train_loss", "train", _ALL, _DOWN, "loss"),
    Metric("val_loss", "val", _ALL, _DOWN, "loss"),
    Metric("val_accuracy", "val", _CLS, _UP, "accuracy"),
    Metric("val_f1_macro", "val", _CLS, _UP, "f1_macro"),
    Metric("val_rmse", "val", _NUM, _DOWN, "rmse"),
    Metric("val_mae", "val", _NUM, _DOWN, "mae"),
    Metric("val_r2", "val", _REG, _UP, "r2"),
    Metric("val_mase", "val", _FC, _DOWN, "mase"),
    Metric("test_accuracy", "test", _CLS, _UP, "accuracy"),
    Metric("test_f1_macro", "test", _CLS, _UP, "f1_macro"),
    Metric("test_roc_auc", "test", _CLS, _UP, "roc_auc", binary_only=True),
    Metric("test_rmse", "test", _NUM, _DOWN, "rmse"),
    Metric("test_mae", "test", _NUM, _DOWN, "mae"),
    Metric("test_r2", "test", _REG, _UP, "r2"),
    Metric("test_mase", "test", _FC, _DOWN, "mase"),
    # symmetric percentage error: "within 5 % of the actual price" (regression), of forecasts
    Metric("test_smape", "test", _NUM, _DOWN, "smape"),
    # declarations (issue 14): asked for by prompts, computed once the templates carry them
    Metric("test_recall", "test", _CLS, _UP, "recall", binary_only=True, declared=True),
    Metric("test_precision", "test", _CLS, _UP, "precision", binary_only=True, declared=True),
    Metric("test_pr_auc", "test", _CLS, _UP, "pr_auc", binary_only=True, declared=True),
    Metric("test_f1", "test", _CLS, _UP, "f1", binary_only=True, declared=True),
    Metric("test_balanced_accuracy", "test", _CLS, _UP, "balanced_accuracy", declared=True),
    Metric("test_log_loss", "test", _CLS, _DOWN, "log_loss", declared=True),
    # the negative class's recall: 1 - the false-positive rate ("at most 2 % false positives")
    Metric("test_specificity", "test", _CLS, _UP, "specificity", binary_only=True, declared=True),
    # the pinball loss at the quantile the error costs ask for ("stockouts cost 3x more")
    Metric("test_pinball", "test", _NUM, _DOWN, "pinball", declared=True),
    # a binary classifier's expected cost per row, r * FN + FP over the rows, at the decision
    # threshold tuned for it ("missing a fraud costs 10x a false alarm": r = 10)
    Metric("test_cost", "test", _CLS, _DOWN, "cost", binary_only=True, declared=True),
)
BY_NAME: dict[str, Metric] = {m.name: m for m in METRICS}
#: every metric whose larger value is better
MAXIMIZE: frozenset[str] = frozenset(m.name for m in METRICS if m.direction == "maximize")


def metric(name: str) -> Metric:
    """The row of ``name``; ``KeyError`` for a name outside the table."""
    return BY_NAME[name]


def direction(name: str) -> MetricDirection:
    return BY_NAME[name].direction


def mode(name: str) -> Literal["min", "max"]:
    return BY_NAME[name].mode


def for_task(
    task: str,
    *,
    n_outputs: int | None = None,
    stage: Stage | None = None,
    wanted: Iterable[str] = (),
) -> tuple[Metric, ...]:
    """The metrics a project of ``task`` logs (``n_outputs``: classes; binary-only ones need 2).

    Declared-only metrics are included when named in ``wanted`` (what the blueprint asks for).
    """
    asked = set(wanted)
    return tuple(
        m
        for m in METRICS
        if task in m.tasks
        and (stage is None or m.stage == stage)
        and (not m.binary_only or n_outputs == 2)
        and (not m.declared or m.name in asked)
    )


def names(
    task: str,
    *,
    n_outputs: int | None = None,
    stage: Stage | None = None,
    wanted: Iterable[str] = (),
) -> list[str]:
    return [m.name for m in for_task(task, n_outputs=n_outputs, stage=stage, wanted=wanted)]


#: a metric wish by the name people use -> the test metric that measures it
#: a wish's metrics, the first one a project can log wins: "f1" of a binary classifier is the
#: positive class's F1, of more classes the macro F1
WISHES: dict[str, tuple[str, ...]] = {
    "accuracy": ("test_accuracy",), "recall": ("test_recall",),
    "precision": ("test_precision",), "f1": ("test_f1", "test_f1_macro"),
    "balanced_accuracy": ("test_balanced_accuracy",), "log_loss": ("test_log_loss",),
    "roc_auc": ("test_roc_auc",), "pr_auc": ("test_pr_auc",), "mae": ("test_mae",),
    "rmse": ("test_rmse",), "mse": ("test_rmse",), "r2": ("test_r2",), "mase": ("test_mase",),
    "smape": ("test_smape",), "specificity": ("test_specificity",),
}  # fmt: skip


def for_wish(wish: str, task: str, n_outputs: int | None) -> Metric | None:
    """The test metric a wish maps to when a project of ``task`` can log it, else None."""
    for name in WISHES.get(wish, ()):
        row = BY_NAME[name]
        if task in row.tasks and (not row.binary_only or n_outputs == 2):
            return row
    return None


def computations(task: str, *, n_outputs: int | None = None) -> list[str]:
    """The ``compute`` functions (besides the loss) a project of ``task`` needs, once each."""
    out: list[str] = []
    for m in for_task(task, n_outputs=n_outputs):
        if m.compute != "loss" and m.compute not in out:
            out.append(m.compute)
    return out
