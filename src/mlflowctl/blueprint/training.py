"""The training part of an approach: loss, optimizer, schedule, TBPTT, distribution, search."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    model_validator,
)

from mlflowctl.blueprint.types import (
    ClassWeighting,
    Direction,
    DistributedStrategy,
    FiniteFloat,
    LossName,
    MetricMode,
    MetricName,
    OptimizerName,
    Precision,
    ScheduleName,
    SearchKind,
    SearchMethod,
    SearchParamName,
    ShortText,
    Strict,
)

# --------------------------------------------------------------------------- training


class LossSpec(Strict):
    name: LossName
    class_weighting: ClassWeighting = "none"
    focal_gamma: Annotated[FiniteFloat, Field(ge=0, le=10)] | None = None
    label_smoothing: Annotated[FiniteFloat, Field(ge=0, le=0.5)] = 0.0
    huber_delta: Annotated[FiniteFloat, Field(gt=0, le=1000)] | None = None
    #: ``pinball``: the quantile aimed at ("under-forecasting costs 3x more" -> 0.75)
    quantile: Annotated[FiniteFloat, Field(gt=0, lt=1)] | None = None


class OptimizerSpec(Strict):
    name: OptimizerName
    lr: Annotated[FiniteFloat, Field(gt=0, le=10)]
    weight_decay: Annotated[FiniteFloat, Field(ge=0, le=1)] = 0.0
    betas: tuple[
        Annotated[FiniteFloat, Field(ge=0, lt=1)], Annotated[FiniteFloat, Field(ge=0, lt=1)]
    ] = (0.9, 0.999)
    momentum: Annotated[FiniteFloat, Field(ge=0, lt=1)] = 0.9


class ScheduleSpec(Strict):
    name: ScheduleName
    #: fraction of all optimizer steps spent warming up
    warmup_fraction: Annotated[FiniteFloat, Field(ge=0, le=0.5)] = 0.0
    #: final lr = lr * min_lr_ratio
    min_lr_ratio: Annotated[FiniteFloat, Field(ge=0, le=1)] = 0.0
    step_size_epochs: Annotated[int, Field(ge=1, le=10_000)] | None = None
    gamma: Annotated[FiniteFloat, Field(gt=0, le=1)] | None = None


class EarlyStoppingSpec(Strict):
    enabled: bool = True
    monitor: MetricName = "val_loss"
    mode: MetricMode = "min"
    patience: Annotated[int, Field(ge=1, le=10_000)] = 10
    min_delta: Annotated[FiniteFloat, Field(ge=0, le=1e6)] = 0.0


class TBPTTSpec(Strict):
    """Truncated backpropagation through time (Lightning 2: done by hand in the training step)."""

    enabled: bool = False
    #: time steps per chunk; the hidden state is detached at every chunk boundary
    chunk_length: Annotated[int, Field(ge=1, le=100_000)] | None = None
    #: where the graph is cut, in words a person reads (e.g. "hidden state at each chunk boundary")
    detach_points: list[ShortText] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _chunk_when_enabled(self) -> TBPTTSpec:
        if self.enabled and (self.chunk_length is None or not self.detach_points):
            raise ValueError("tbptt.enabled needs chunk_length and at least one detach point")
        return self


class DistributedSpec(Strict):
    strategy: DistributedStrategy = "none"
    devices: Annotated[int, Field(ge=1, le=4096)] = 1
    num_nodes: Annotated[int, Field(ge=1, le=1024)] = 1
    gradient_accumulation: Annotated[int, Field(ge=1, le=1024)] = 1
    reason: ShortText = ""


class SearchParam(Strict):
    name: SearchParamName
    kind: SearchKind
    low: FiniteFloat | None = None
    high: FiniteFloat | None = None
    choices: list[FiniteFloat] = Field(default_factory=list, max_length=32)

    @model_validator(mode="after")
    def _range(self) -> SearchParam:
        if self.kind == "choice":
            if not self.choices:
                raise ValueError("a choice parameter needs choices")
        elif self.low is None or self.high is None or not self.low < self.high:
            raise ValueError("a range parameter needs low < high")
        elif self.kind == "log_uniform" and self.low <= 0:
            raise ValueError("log_uniform needs low > 0")
        return self


def lookback_bounds(
    lookback: int,
    horizon: int,
    *,
    series_length: int | None = None,
    max_len: int | None = None,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    min_windows: int = 10,
) -> tuple[int, int] | None:
    """The range a search may move a forecaster's window (``lookback``) in: from the horizon
    (or half the designed window) to twice the designed window, capped by what the training
    split of a ``series_length`` series allows (``min_windows`` training windows left, as the
    critic asks) and by a transformer's ``max_len``; None when no range is left."""
    low = max(horizon, lookback // 2, 2)
    high = 2 * lookback
    if series_length is not None:
        n_test = max(horizon, round(series_length * test_fraction))
        n_val = max(horizon, round(series_length * val_fraction))
        train_end = series_length - n_test - n_val
        high = min(high, train_end - horizon - min_windows + 1)
    if max_len is not None:
        high = min(high, max_len)
    return (low, high) if low < high else None


class SearchSpace(Strict):
    enabled: bool = False
    method: SearchMethod = "random"
    n_trials: Annotated[int, Field(ge=1, le=10_000)] = 20
    metric: MetricName = "val_loss"
    direction: Direction = "minimize"
    params: list[SearchParam] = Field(default_factory=list, max_length=16)


class TrainingSpec(Strict):
    loss: LossSpec
    optimizer: OptimizerSpec
    schedule: ScheduleSpec
    batch_size: Annotated[int, Field(ge=1, le=65_536)]
    max_epochs: Annotated[int, Field(ge=1, le=10_000)]
    #: wall-clock limit of the fit (Lightning ``max_time``): the best checkpoint so far is tested
    max_time_s: Annotated[int, Field(ge=1, le=2_592_000)] | None = None
    early_stopping: EarlyStoppingSpec = Field(default_factory=EarlyStoppingSpec)
    #: ``auto``: bf16-mixed where the GPU supports it, else 32-true
    precision: Precision = "auto"
    gradient_clip_val: Annotated[FiniteFloat, Field(gt=0, le=1000)] | None = None
    gradient_clip_algorithm: Literal["norm", "value"] = "norm"
    tbptt: TBPTTSpec = Field(default_factory=TBPTTSpec)
    distributed: DistributedSpec = Field(default_factory=DistributedSpec)
    search_space: SearchSpace = Field(default_factory=SearchSpace)
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 42
    #: share of the data held out for validation and test
    val_fraction: Annotated[FiniteFloat, Field(gt=0, lt=0.5)] = 0.15
    test_fraction: Annotated[FiniteFloat, Field(gt=0, lt=0.5)] = 0.15
    compile: bool = False
