"""The infrastructure part of an approach: tracking, checkpointing, registry, monitoring."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from mlflowctl.blueprint.types import (
    AliasName,
    Direction,
    DriftMetric,
    ExperimentName,
    FiniteFloat,
    MetricMode,
    MetricName,
    ModelName,
    ShortText,
    Strict,
    TagKey,
)

# --------------------------------------------------------------------------- infrastructure


#: the only ``mlflowctl.*`` tags a blueprint may carry: descriptive ones the architect writes
#: (mlflowctl writes the run-state and audit tags itself, after the blueprint's, X5)
DESCRIPTIVE_TAGS = frozenset({"mlflowctl.task", "mlflowctl.family"})
_RESERVED_TAG_PREFIXES = ("mlflow.", "mlflowctl.")


def reserved_tag(key: str) -> bool:
    """True for a tag key a blueprint may not set: ``mlflow.*`` and mlflowctl's own tags."""
    low = key.lower()
    return low.startswith(_RESERVED_TAG_PREFIXES) and low not in DESCRIPTIVE_TAGS


class TrackingSpec(Strict):
    experiment_name: ExperimentName
    tags: dict[TagKey, ShortText] = Field(default_factory=dict, max_length=50)
    metrics: list[MetricName] = Field(min_length=1, max_length=32)
    #: metrics are logged in one batch per epoch, never per step
    log_every: Literal["epoch"] = "epoch"

    @field_validator("tags")
    @classmethod
    def _no_system_tags(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if reserved_tag(key):
                raise ValueError(
                    f"tag {key!r} is reserved: mlflow.* and mlflowctl's run-state and audit tags "
                    f"are written by mlflowctl (allowed mlflowctl tags: "
                    f"{', '.join(sorted(DESCRIPTIVE_TAGS))})"
                )
        return v


class CheckpointSpec(Strict):
    monitor: MetricName = "val_loss"
    mode: MetricMode = "min"
    save_top_k: Annotated[int, Field(ge=1, le=100)] = 1
    save_last: bool = True


class GateRequirement(Strict):
    """A threshold of the prompt besides the gate metric's: "precision at least 0.8" next to a
    recall gate; checked on the metric's validation variant, like the gate metric."""

    metric: MetricName
    op: Literal[">=", "<="]
    value: FiniteFloat


class PromotionGate(Strict):
    metric: MetricName
    direction: Direction
    #: the challenger must beat the champion by at least this much (absolute)
    min_improvement: Annotated[FiniteFloat, Field(ge=0, le=1e9)] = 0.0
    #: optional absolute bar the challenger must reach even with no champion
    threshold: FiniteFloat | None = None
    #: the prompt's other thresholds: each must hold too (on validation)
    requires: list[GateRequirement] = Field(default_factory=list, max_length=20)


_RESERVED_ALIAS = re.compile(r"^(latest|v\d+)$", re.IGNORECASE)


class RegistrySpec(Strict):
    model_name: ModelName
    challenger_alias: AliasName = "challenger"
    champion_alias: AliasName = "champion"
    gate: PromotionGate

    @field_validator("challenger_alias", "champion_alias")
    @classmethod
    def _not_reserved(cls, v: str) -> str:
        if _RESERVED_ALIAS.match(v):
            raise ValueError(f"alias {v!r} is reserved by MLflow (latest, v<number>)")
        return v

    @field_validator("model_name")
    @classmethod
    def _no_dotdot(cls, v: str) -> str:
        if ".." in v:
            raise ValueError("model name must not contain '..'")
        return v

    @model_validator(mode="after")
    def _distinct(self) -> RegistrySpec:
        if self.challenger_alias == self.champion_alias:
            raise ValueError("challenger and champion aliases must differ")
        return self


class MonitoringSpec(Strict):
    features: list[Annotated[str, StringConstraints(max_length=200)]] = Field(
        default_factory=list, max_length=200
    )
    drift_metric: DriftMetric = "psi"
    drift_threshold: Annotated[FiniteFloat, Field(gt=0, le=100)] = 0.2
    performance_metric: MetricName
    performance_threshold: FiniteFloat | None = None


BaselineName = Literal[
    "logistic_regression",
    "hist_gradient_boosting",
    "ridge",
    "gradient_boosting",
    "seasonal_naive",
    "naive_drift",
    "climatology",
    "autoreg",
]

#: the classical baselines that fit each task (the build trains them on the identical split)
BASELINES_FOR_TASK: dict[str, tuple[str, ...]] = {
    "classification": ("logistic_regression", "hist_gradient_boosting"),
    "regression": ("ridge", "gradient_boosting"),
    "forecasting": ("seasonal_naive", "naive_drift", "climatology", "autoreg"),
}


def default_baselines(task: str) -> list[str]:
    """The baselines the planner names for ``task``."""
    return list(BASELINES_FOR_TASK.get(task, ()))


class InfrastructureSpec(Strict):
    tracking: TrackingSpec
    checkpointing: CheckpointSpec = Field(default_factory=CheckpointSpec)
    registry: RegistrySpec
    monitoring: MonitoringSpec
    #: classical baselines trained and scored on the identical split; the gate needs the model
    #: to beat the best of them on the validation split
    baselines: list[BaselineName] = Field(default_factory=list, max_length=8)
