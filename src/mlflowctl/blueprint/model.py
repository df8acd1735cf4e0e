"""The Blueprint: the typed design every phase reads or writes.

One pydantic v2 model tree, ``extra="forbid"`` everywhere, bounds on every number, finite floats
only, and identifiers from closed sets or strict ASCII patterns. A blueprint may come from an LLM:
nothing in it is trusted until it validates here, and templates only ever see checked literals or
identifiers from this module's closed sets.

Model families and their exact architectures are documented on the ``*Params`` classes below; the
catalog computes parameter counts from these definitions and the templates implement them.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

SCHEMA_VERSION = 1

# --------------------------------------------------------------------------- closed sets

Task = Literal["classification", "regression", "forecasting"]
Modality = Literal["tabular", "image", "sequence", "text"]
Family = Literal["mlp", "cnn", "lstm", "gru", "tcn", "transformer"]
#: one folder per template kind under ``templates/``
TemplateKind = Literal["mlp", "cnn", "rnn", "tcn", "transformer"]
FAMILY_TEMPLATE_KIND: dict[str, str] = {
    "mlp": "mlp",
    "cnn": "cnn",
    "lstm": "rnn",
    "gru": "rnn",
    "tcn": "tcn",
    "transformer": "transformer",
}
Activation = Literal["relu", "gelu", "silu", "tanh"]
Norm = Literal["none", "batchnorm", "layernorm"]
LossName = Literal["cross_entropy", "focal", "mse", "huber", "mae"]
ClassWeighting = Literal["none", "balanced"]
OptimizerName = Literal["adamw", "adam", "sgd"]
ScheduleName = Literal["warmup_cosine", "cosine", "constant", "step", "onecycle"]
Precision = Literal["auto", "32-true", "bf16-mixed", "16-mixed"]
DistributedStrategy = Literal["none", "ddp", "fsdp", "deepspeed"]
#: every metric name a blueprint may mention (what the templates compute and log)
MetricName = Literal[
    "val_loss",
    "val_accuracy",
    "val_f1_macro",
    "val_rmse",
    "val_mae",
    "val_r2",
    "val_mase",
    "test_accuracy",
    "test_f1_macro",
    "test_roc_auc",
    "test_rmse",
    "test_mae",
    "test_r2",
    "test_mase",
    "test_smape",
    "train_loss",
]
Direction = Literal["maximize", "minimize"]
MetricMode = Literal["min", "max"]
SearchMethod = Literal["grid", "random", "tpe"]
#: hyper-parameters a search space may vary (paths into an approach)
SearchParamName = Literal[
    "lr", "weight_decay", "batch_size", "dropout", "hidden", "layers", "d_model", "chunk_length"
]
SearchKind = Literal["log_uniform", "uniform", "int", "choice"]
PlanOwner = Literal["ml-engineer", "mlops-engineer"]
DriftMetric = Literal["psi", "ks"]
SourceKind = Literal["builtin", "file"]
DataKind = Literal["tabular", "image", "series"]
Hardware = Literal["cpu", "gpu", "multi_gpu"]
Rating = Literal["low", "medium", "high"]
TradeOffAspect = Literal[
    "accuracy", "training_cost", "inference_latency", "memory", "interpretability", "robustness"
]

# --------------------------------------------------------------------------- checked scalars


def _finite(v: float) -> float:
    if not math.isfinite(v):
        raise ValueError("must be a finite number (NaN and infinity are not allowed)")
    return v


FiniteFloat = Annotated[float, AfterValidator(_finite)]
#: a lowercase ASCII identifier usable as a Python name and a file stem
Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
#: kebab-case agent name
AgentName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,63}$")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
#: short free text: shown to people, rendered only as inert literals
ShortText = Annotated[str, StringConstraints(max_length=200)]
Text = Annotated[str, StringConstraints(max_length=4000)]
#: MLflow tag/param keys: letters, digits, _ - . / and space are MLflow's rule; we keep it stricter
TagKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-/]{1,250}$")]
#: experiment names: printable, no control characters
ExperimentName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-/ ]{1,200}$")]
#: registered model names: MLflow forbids '/', ':', '%', '..' and control chars; a safe set
ModelName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")]
#: alias names: MLflow rejects ``latest`` and ``v<digits>``; checked in RegistrySpec
AliasName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_\-]{0,62}$")]
#: relative POSIX path inside a build folder
RelPath = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")]
#: data source string: ``sklearn:digits``, ``statsmodels:co2``, ``statsmodels:macrodata:realgdp``
#: or a file path (validated by the data module, not here)
DataSource = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
ColumnName = Annotated[str, StringConstraints(min_length=1, max_length=200)]

PosInt = Annotated[int, Field(ge=1)]


class Strict(BaseModel):
    """Base of every blueprint part: unknown keys are errors, assignments validate."""

    model_config = ConfigDict(
        extra="forbid",
        validate_assignment=True,
        allow_inf_nan=False,
        str_strip_whitespace=False,
        frozen=False,
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


class Constraints(Strict):
    """What the prompt asked for, read by the architect."""

    param_budget: Annotated[int, Field(ge=1, le=100_000_000_000)] | None = None
    #: ``max``: "under 5,000 parameters"; ``target``: "a 14M parameter model"
    param_budget_kind: Literal["max", "target"] | None = None
    latency_ms: Annotated[FiniteFloat, Field(gt=0, le=3_600_000)] | None = None
    latency_device: Literal["cpu", "gpu"] | None = None
    horizon: Annotated[int, Field(ge=1, le=100_000)] | None = None
    memory_gb: Annotated[FiniteFloat, Field(gt=0, le=100_000)] | None = None
    hardware: Hardware | None = None
    tbptt: bool = False
    distributed: bool = False
    hyperparameter_search: bool = False
    memory_based: bool = False
    named_architectures: list[Family] = Field(default_factory=list, max_length=6)


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
    notes: list[ShortText] = Field(default_factory=list, max_length=50)


# --------------------------------------------------------------------------- model families


class MLPParams(Strict):
    """Tabular (or flattened-window) MLP, template kind ``mlp``.

    For each width ``h`` in ``hidden``: ``Linear(prev, h)``, then ``BatchNorm1d(h)`` or
    ``LayerNorm(h)`` when ``norm`` says so, the activation, ``Dropout(dropout)``.
    Head: ``Linear(prev, output_dim)``. Parameters: ``sum(prev*h + h) + 2*h per norm +
    prev*out + out``.
    """

    family: Literal["mlp"] = "mlp"
    hidden: list[Annotated[int, Field(ge=1, le=65_536)]] = Field(min_length=1, max_length=8)
    activation: Activation = "gelu"
    norm: Norm = "none"
    dropout: Annotated[FiniteFloat, Field(ge=0, le=0.9)] = 0.1


class CNNParams(Strict):
    """Small residual CNN for images, template kind ``cnn``.

    Stem: ``Conv2d(C, channels[0], 3, padding=1, bias=False)``, ``BatchNorm2d``, ReLU.
    Stage ``i`` with width ``c = channels[i]`` holds ``blocks_per_stage`` basic residual blocks;
    the first block of every stage after the first has stride 2. A block is
    ``conv3x3(cin, c, stride, bias=False)``, BN, ReLU, ``conv3x3(c, c, bias=False)``, BN, plus the
    shortcut (``Conv2d(cin, c, 1, stride, bias=False)`` + BN when stride != 1 or cin != c, else
    identity), then ReLU. Head: global average pool, ``Dropout(dropout)``,
    ``Linear(channels[-1], output_dim)``.
    """

    family: Literal["cnn"] = "cnn"
    channels: list[Annotated[int, Field(ge=1, le=2048)]] = Field(min_length=1, max_length=6)
    blocks_per_stage: Annotated[int, Field(ge=1, le=8)] = 1
    dropout: Annotated[FiniteFloat, Field(ge=0, le=0.9)] = 0.1


class RNNParams(Strict):
    """LSTM or GRU forecaster, template kind ``rnn``.

    ``nn.LSTM``/``nn.GRU(input_size=n_features, hidden_size=hidden, num_layers=layers,
    batch_first=True, dropout=dropout if layers > 1 else 0)``; head ``Linear(hidden, output_dim)``
    applied at every time step (sequence-to-sequence training, so truncated BPTT has a loss in
    every chunk); the forecast is the head's output at the last step.
    """

    family: Literal["lstm", "gru"]
    hidden: Annotated[int, Field(ge=1, le=16_384)]
    layers: Annotated[int, Field(ge=1, le=8)] = 1
    dropout: Annotated[FiniteFloat, Field(ge=0, le=0.9)] = 0.0


class TCNParams(Strict):
    """Temporal convolutional network, template kind ``tcn``.

    Block ``i`` (dilation ``2**i``, width ``c = channels[i]``): causal ``Conv1d(cin, c,
    kernel_size, dilation)``, ReLU, Dropout, causal ``Conv1d(c, c, kernel_size, dilation)``,
    ReLU, Dropout, plus a ``Conv1d(cin, c, 1)`` shortcut when cin != c. No weight norm. Head:
    ``Linear(channels[-1], output_dim)`` on the last time step.
    """

    family: Literal["tcn"] = "tcn"
    channels: list[Annotated[int, Field(ge=1, le=4096)]] = Field(min_length=1, max_length=12)
    kernel_size: Annotated[int, Field(ge=2, le=15)] = 3
    dropout: Annotated[FiniteFloat, Field(ge=0, le=0.9)] = 0.1


class TransformerParams(Strict):
    """Transformer encoder for sequences, template kind ``transformer``.

    ``Linear(n_features, d_model)`` input projection; a learned positional embedding of shape
    ``(max_len + memory_tokens, d_model)``; ``memory_tokens`` learned memory slots prepended to
    the sequence (the memory-augmented variant; 0 disables it; with TBPTT the memory output of one
    chunk is the memory input of the next, detached at chunk boundaries); ``layers`` pre-norm
    ``nn.TransformerEncoderLayer(d_model, heads, ff_dim, dropout, batch_first=True,
    norm_first=True)``; a final ``LayerNorm(d_model)``; head ``Linear(d_model, output_dim)`` on the
    last position.
    """

    family: Literal["transformer"] = "transformer"
    d_model: Annotated[int, Field(ge=8, le=16_384)]
    heads: Annotated[int, Field(ge=1, le=128)]
    layers: Annotated[int, Field(ge=1, le=96)]
    ff_dim: Annotated[int, Field(ge=8, le=65_536)]
    dropout: Annotated[FiniteFloat, Field(ge=0, le=0.9)] = 0.1
    max_len: Annotated[int, Field(ge=1, le=65_536)]
    memory_tokens: Annotated[int, Field(ge=0, le=1024)] = 0

    @model_validator(mode="after")
    def _heads_divide(self) -> TransformerParams:
        if self.d_model % self.heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by heads ({self.heads})")
        return self


FamilyParams = Annotated[
    MLPParams | CNNParams | RNNParams | TCNParams | TransformerParams,
    Field(discriminator="family"),
]


class InputSpec(Strict):
    """What one sample looks like going in."""

    #: tabular: [n_features]; image: [C, H, W]; sequence: [lookback, n_features]
    shape: list[Annotated[int, Field(ge=1, le=10**7)]] = Field(min_length=1, max_length=4)
    #: forecasting only: how many past steps one sample sees
    lookback: Annotated[int, Field(ge=1, le=100_000)] | None = None
    description: ShortText = ""


class OutputSpec(Strict):
    kind: Literal["class_logits", "regression", "forecast"]
    #: number of classes, 1 for regression, horizon for a univariate forecast
    dim: Annotated[int, Field(ge=1, le=100_000)]
    description: ShortText = ""


class LayerSpec(Strict):
    """One row of the layer table (for people; the code follows the family definition)."""

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\[\]]{1,80}$")]
    kind: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,40}$")]
    shape: ShortText
    params: Annotated[int, Field(ge=0)]


class ModelSpec(Strict):
    family: Family
    template_kind: TemplateKind
    input: InputSpec
    output: OutputSpec
    params: FamilyParams
    layers: list[LayerSpec] = Field(min_length=1, max_length=200)
    #: exact, from the catalog's formula
    parameter_count: Annotated[int, Field(ge=1, le=100_000_000_000)]
    flops_per_sample: Annotated[int, Field(ge=1)]

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        if self.params.family != self.family:
            raise ValueError(
                f"params.family ({self.params.family}) differs from family ({self.family})"
            )
        if FAMILY_TEMPLATE_KIND[self.family] != self.template_kind:
            raise ValueError(
                f"template_kind for family {self.family} must be "
                f"{FAMILY_TEMPLATE_KIND[self.family]}, got {self.template_kind}"
            )
        return self


# --------------------------------------------------------------------------- training


class LossSpec(Strict):
    name: LossName
    class_weighting: ClassWeighting = "none"
    focal_gamma: Annotated[FiniteFloat, Field(ge=0, le=10)] | None = None
    label_smoothing: Annotated[FiniteFloat, Field(ge=0, le=0.5)] = 0.0
    huber_delta: Annotated[FiniteFloat, Field(gt=0, le=1000)] | None = None


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


# --------------------------------------------------------------------------- infrastructure


class TrackingSpec(Strict):
    experiment_name: ExperimentName
    tags: dict[TagKey, ShortText] = Field(default_factory=dict, max_length=50)
    metrics: list[MetricName] = Field(min_length=1, max_length=32)
    #: metrics are logged in one batch per epoch, never per step
    log_every: Literal["epoch"] = "epoch"


class CheckpointSpec(Strict):
    monitor: MetricName = "val_loss"
    mode: MetricMode = "min"
    save_top_k: Annotated[int, Field(ge=1, le=100)] = 1
    save_last: bool = True


class PromotionGate(Strict):
    metric: MetricName
    direction: Direction
    #: the challenger must beat the champion by at least this much (absolute)
    min_improvement: Annotated[FiniteFloat, Field(ge=0, le=1e9)] = 0.0
    #: optional absolute bar the challenger must reach even with no champion
    threshold: FiniteFloat | None = None


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


class InfrastructureSpec(Strict):
    tracking: TrackingSpec
    checkpointing: CheckpointSpec = Field(default_factory=CheckpointSpec)
    registry: RegistrySpec
    monitoring: MonitoringSpec


# --------------------------------------------------------------------------- approaches


class TradeOff(Strict):
    aspect: TradeOffAspect
    rating: Rating
    note: ShortText = ""


class Approach(Strict):
    name: Identifier
    title: ShortText
    overview: Text
    model: ModelSpec
    training: TrainingSpec
    infrastructure: InfrastructureSpec
    tradeoffs: list[TradeOff] = Field(min_length=1, max_length=12)
    rationale: Text


class Recommendation(Strict):
    approach: Identifier
    reason: Text


class PlanStep(Strict):
    order: Annotated[int, Field(ge=1, le=100)]
    owner: PlanOwner
    action: ShortText
    files: list[RelPath] = Field(default_factory=list, max_length=50)


class ImplementationPlan(Strict):
    steps: list[PlanStep] = Field(min_length=1, max_length=50)
    files: list[RelPath] = Field(min_length=1, max_length=100)


class OutputEnvelope(Strict):
    confidence: Annotated[FiniteFloat, Field(ge=0, le=1)]
    uncertainty_factors: list[ShortText] = Field(default_factory=list, max_length=30)
    verification: list[ShortText] = Field(min_length=1, max_length=30)


class Blueprint(Strict):
    schema_version: Literal[1] = 1
    provenance: Provenance
    requirements: Requirements
    data_profile: DataProfile | None = None
    approaches: list[Approach] = Field(min_length=2, max_length=3)
    recommended: Recommendation
    plan: ImplementationPlan
    envelope: OutputEnvelope
    #: set when the orchestrator's history changed the architect's choice
    history_note: ShortText | None = None

    @model_validator(mode="after")
    def _recommended_exists(self) -> Blueprint:
        names = [a.name for a in self.approaches]
        if len(set(names)) != len(names):
            raise ValueError(f"approach names must be unique, got {names}")
        if self.recommended.approach not in names:
            raise ValueError(
                f"recommended approach {self.recommended.approach!r} is not one of {names}"
            )
        return self

    def approach(self, name: str | None = None) -> Approach:
        """The named approach, or the recommended one."""
        wanted = name or self.recommended.approach
        for a in self.approaches:
            if a.name == wanted:
                return a
        from mlflowctl.errors import BlueprintError

        raise BlueprintError(
            f"no approach named {wanted!r}",
            hint=f"choose one of: {', '.join(a.name for a in self.approaches)}",
            location="--approach",
        )

    # ----------------------------------------------------------------- YAML / JSON on disk

    def to_yaml(self) -> str:
        import yaml

        data = self.model_dump(mode="json")
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # same output, ~50 ms faster
        return yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True, width=100)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def from_yaml(cls, text: str, *, source: str = "<blueprint>") -> Blueprint:
        """Parse and validate; every problem becomes one ``BlueprintError`` naming the field."""
        import yaml

        from mlflowctl.errors import BlueprintError

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            data = yaml.load(text, Loader=loader)  # a safe loader (C if available)
        except yaml.YAMLError as exc:
            raise BlueprintError(
                f"not valid YAML: {str(exc).splitlines()[0]}",
                hint="blueprints are written by `mlflowctl design -o FILE`",
                location=source,
            ) from None
        if not isinstance(data, dict):
            raise BlueprintError(
                "a blueprint must be a mapping",
                hint="see `mlflowctl schema blueprint`",
                location=source,
            )
        return cls.from_dict(data, source=source)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "<blueprint>") -> Blueprint:
        from pydantic import ValidationError

        from mlflowctl.errors import BlueprintError

        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise BlueprintError.from_validation(exc, source=source) from None

    @classmethod
    def load(cls, path: str | Path) -> Blueprint:
        from mlflowctl.errors import BlueprintError

        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BlueprintError(
                "blueprint file not found",
                hint="create one with `mlflowctl design ... -o FILE`",
                location=str(p),
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise BlueprintError(f"cannot read blueprint: {exc}", location=str(p)) from None
        if p.suffix.lower() == ".json":
            import json

            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise BlueprintError(f"not valid JSON: {exc}", location=str(p)) from None
            if not isinstance(data, dict):
                raise BlueprintError("a blueprint must be a JSON object", location=str(p))
            return cls.from_dict(data, source=str(p))
        return cls.from_yaml(text, source=str(p))


def validation_errors(exc: Any) -> list[str]:
    """pydantic errors as ``field.path: message`` lines."""
    lines = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "<root>"
        lines.append(f"{loc}: {e['msg']}")
    return lines


def blueprint_json_schema() -> dict[str, Any]:
    return Blueprint.model_json_schema()
