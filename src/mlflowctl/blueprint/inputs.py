"""The inputs of a design: provenance, what the prompt asked for, what the data looks like."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from mlflowctl.blueprint.families import Family
from mlflowctl.blueprint.types import (
    AgentName,
    ColumnName,
    DataKind,
    DataSource,
    FiniteFloat,
    Hardware,
    Modality,
    PosInt,
    Sha256,
    ShortText,
    SourceKind,
    Strict,
    Task,
)

# --------------------------------------------------------------------------- provenance


class AgentRef(Strict):
    """The agent spec that produced a part of the blueprint."""

    name: AgentName
    sha256: Sha256


class Provenance(Strict):
    blueprint_id: Annotated[str, StringConstraints(pattern=r"^bp-[0-9a-f]{12}$")]
    prompt: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
    created_at: datetime
    tool_version: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z.+\-]{1,40}$")]
    agent: AgentRef
    #: ``offline`` or ``openai:MODEL`` / ``anthropic:MODEL``
    backend: Annotated[str, StringConstraints(pattern=r"^[a-z]+(:[A-Za-z0-9_.:\-/]{1,100})?$")]


# --------------------------------------------------------------------------- requirements


#: a metric wish by the name people use; ``blueprint.metrics.WISHES`` maps it to a logged metric
WishMetric = Literal[
    "accuracy", "recall", "precision", "f1", "balanced_accuracy", "log_loss", "roc_auc",
    "pr_auc", "mae", "rmse", "mse", "r2", "mase", "smape", "mape", "specificity",
]  # fmt: skip


class MetricTarget(Strict):
    """ "at least 97 % accuracy" -> (accuracy, >=, 0.97); "optimise recall" -> (recall, max)."""

    metric: WishMetric
    #: ``>=``/``<=`` with a value; ``max``/``min`` when only the direction was asked for
    op: Literal[">=", "<=", "max", "min"]
    value: FiniteFloat | None = None


class Constraints(Strict):
    """What the prompt asked for, read by the architect."""

    param_budget: Annotated[int, Field(ge=1, le=100_000_000_000)] | None = None
    #: ``max``: "under 5,000 parameters"; ``target``: "a 14M parameter model"
    param_budget_kind: Literal["max", "target"] | None = None
    latency_ms: Annotated[FiniteFloat, Field(gt=0, le=3_600_000)] | None = None
    latency_device: Literal["cpu", "gpu"] | None = None
    horizon: Annotated[int, Field(ge=1, le=100_000)] | None = None
    memory_gb: Annotated[FiniteFloat, Field(gt=0, le=100_000)] | None = None
    #: "training must finish in under 10 minutes": the fit's wall-clock limit in seconds
    train_time_s: Annotated[FiniteFloat, Field(gt=0, le=2_592_000)] | None = None
    hardware: Hardware | None = None
    tbptt: bool = False
    distributed: bool = False
    hyperparameter_search: bool = False
    memory_based: bool = False
    named_architectures: list[Family] = Field(default_factory=list, max_length=6)
    #: metric wishes in the order the prompt states them (the first the table logs gates)
    metric_targets: list[MetricTarget] = Field(default_factory=list, max_length=8)
    #: the class recall/precision are computed for ("recall on the malignant class")
    positive_class: Annotated[str, StringConstraints(max_length=60)] | None = None
    #: "tiny"/"small"/"lightweight" or "large"/"big": which size is recommended
    size_preference: Literal["tiny", "small", "large"] | None = None
    #: "fast on CPU", "real-time", "quick inference": the fastest approach is recommended
    prefer_fast: bool = False
    #: "edge device", "microcontroller", "phone": deployed on a small CPU
    edge: bool = False
    #: GPUs named in the prompt ("8 GPUs")
    devices: Annotated[int, Field(ge=1, le=4096)] | None = None
    #: a unit predicted too low costs this many times a unit predicted too high ("stockouts
    #: cost 3x more than leftover stock" -> 3; "overestimates are worse" -> 0.5)
    under_cost_ratio: Annotated[FiniteFloat, Field(gt=0, le=1000)] | None = None
    #: a season the prompt says matters ("weekends behave differently" -> week, "sales peak
    #: every summer" -> year): a series' seasonal period at the data's step (design.seasons)
    season: Literal["week", "year"] | None = None
    #: "imbalanced" / "severe class imbalance"
    imbalance: Literal["mild", "severe"] | None = None
    #: "explainable", "interpretable": the smallest approach is recommended, and a table's build
    #: reports each input column's permutation importance on validation
    interpretability: bool = False
    #: the data's column the prompt asks to predict ("predict the price" -> ``price``)
    target_named: Annotated[str, StringConstraints(max_length=200)] | None = None
    #: data columns the prompt names as inputs it cares about ("given its mileage and age")
    features_named: list[Annotated[str, StringConstraints(max_length=200)]] = Field(
        default_factory=list, max_length=50
    )


class Requirements(Strict):
    task: Task
    modality: Modality
    data_source: DataSource | None = None
    target: ColumnName | None = None
    constraints: Constraints = Field(default_factory=Constraints)
    summary: ShortText = ""


# --------------------------------------------------------------------------- data profile


class ClassCount(Strict):
    label: Annotated[str, StringConstraints(max_length=200)]
    count: Annotated[int, Field(ge=0)]


class LevelShift(Strict):
    """A level shift in the training part of a series (``data.findings.level_shift``)."""

    #: the first point of the new level, counted from the start of the series
    index: Annotated[int, Field(ge=0)]
    #: its date, when the series has a time index
    date: ShortText | None = None
    before: FiniteFloat
    after: FiniteFloat
    #: the shift in residual standard deviations
    sigmas: FiniteFloat
    #: two-window t statistic, deflated for autocorrelation
    t_stat: FiniteFloat


class SeriesTrend(Strict):
    """Slope and stationarity of the training part of a series (``data.findings.trend``)."""

    #: change per step (least squares)
    slope: FiniteFloat
    #: the slope's t statistic, deflated for autocorrelation
    t_stat: FiniteFloat
    significant: bool
    #: Dickey-Fuller t statistic (constant, one lagged difference); below -2.86 rejects a unit root
    df_stat: FiniteFloat | None = None
    stationary: bool | None = None
    #: points of the training part the tests read
    points: Annotated[int, Field(ge=0)]


class LeakingColumn(Strict):
    """A feature that alone predicts the target almost perfectly (``data.findings``)."""

    column: Annotated[str, StringConstraints(max_length=200)]
    #: ``accuracy``: held-out accuracy of a one-feature lookup; ``abs_corr``: |Pearson r|
    measure: Literal["accuracy", "abs_corr"]
    value: FiniteFloat


class DataProfile(Strict):
    """What the read-only inspection of the data found."""

    source: DataSource
    source_kind: SourceKind
    kind: DataKind
    sha256: Sha256 | None = None
    n_rows: Annotated[int, Field(ge=0, le=10**12)]
    n_features: Annotated[int, Field(ge=0, le=10**7)]
    feature_names: list[Annotated[str, StringConstraints(max_length=200)]] = Field(
        default_factory=list, max_length=10_000
    )
    dtypes: dict[Annotated[str, StringConstraints(max_length=200)], ShortText] = Field(
        default_factory=dict
    )
    target: ColumnName | None = None
    target_dtype: ShortText | None = None
    n_classes: Annotated[int, Field(ge=2, le=100_000)] | None = None
    class_counts: list[ClassCount] = Field(default_factory=list, max_length=100_000)
    #: largest class count over smallest
    imbalance_ratio: Annotated[FiniteFloat, Field(ge=1)] | None = None
    missing_values: Annotated[int, Field(ge=0)] = 0
    #: (channels, height, width) for image data
    image_shape: tuple[PosInt, PosInt, PosInt] | None = None
    series_length: Annotated[int, Field(ge=1)] | None = None
    #: pandas-style frequency string: A, Q, M, W, D, H ...
    frequency: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9\-]{1,12}$")] | None = None
    seasonal_period: Annotated[int, Field(ge=1, le=10_000)] | None = None
    #: series: the date of the last point (ISO), when the data has a time index
    last_time: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")] | None = None
    notes: list[ShortText] = Field(default_factory=list, max_length=50)
    #: series: a level shift in the training part, if one was found
    level_shift: LevelShift | None = None
    #: series: the training part's trend and stationarity
    trend: SeriesTrend | None = None
    #: tables: features that alone predict the target almost perfectly (flagged, not dropped)
    leaking_columns: list[LeakingColumn] = Field(default_factory=list, max_length=100)
