"""Machine-readable ``policy`` blocks of the four agent specs.

Each agent spec's frontmatter carries a ``policy:`` mapping that the code reads; these models
validate it fail-closed (unknown keys are errors, numbers are bounded). Changing a value in
``agents/<name>.md`` changes what mlflowctl does.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from mlflowctl.blueprint.model import (
    AliasName,
    FiniteFloat,
    MetricName,
    OptimizerName,
    Precision,
    ScheduleName,
)


class _Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class ArchitectPolicy(_Policy):
    """ml-architect: the planner's defaults."""

    default_optimizer: OptimizerName = "adamw"
    default_schedule: ScheduleName = "warmup_cosine"
    warmup_fraction: Annotated[FiniteFloat, Field(ge=0, le=0.5)] = 0.05
    weight_decay: Annotated[FiniteFloat, Field(ge=0, le=1)] = 0.01
    #: a "target" parameter budget counts as met within this relative tolerance
    param_budget_tolerance: Annotated[FiniteFloat, Field(gt=0, le=1)] = 0.1
    max_approaches: Annotated[int, Field(ge=2, le=3)] = 3
    #: prefer an approach that worked on the same data before (orchestrator history)
    prefer_history: bool = True
    #: LLM backends: re-asks after a validation failure
    max_retries: Annotated[int, Field(ge=0, le=10)] = 2
    #: imbalance ratio (largest/smallest class) above which the loss is class-weighted
    imbalance_ratio_for_weighting: Annotated[FiniteFloat, Field(ge=1, le=1000)] = 3.0
    #: imbalance ratio above which focal loss is proposed
    imbalance_ratio_for_focal: Annotated[FiniteFloat, Field(ge=1, le=1000)] = 10.0


class EngineerPolicy(_Policy):
    """ml-engineer: how builds are rendered and trained."""

    #: the rendered config's seed (split and training) when the blueprint keeps the default 42
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 42
    #: Trainer precision on a GPU when the blueprint says ``auto`` (bf16 falls back to 16-mixed)
    precision_gpu: Precision = "bf16-mixed"
    #: Trainer precision on the CPU (``auto``: 32-true)
    precision_cpu: Precision = "32-true"
    #: gradient clipping (max norm) for recurrent and transformer families; null disables
    gradient_clip_sequence: Annotated[FiniteFloat, Field(gt=0, le=1000)] | None = 1.0
    #: gradient clipping for the other families; null disables
    gradient_clip_default: Annotated[FiniteFloat, Field(gt=0, le=1000)] | None = None
    #: early-stopping patience when the blueprint keeps the default 10
    early_stopping_patience: Annotated[int, Field(ge=1, le=10_000)] = 10
    #: keep in-memory data sets as tensors on the device (else batches move there one by one)
    device_resident_data: bool = True
    deterministic: bool = True
    #: allowed imports in generated code (top-level package names)
    import_allowlist: tuple[str, ...] = (
        "__future__",
        "argparse",
        "gc",
        "json",
        "math",
        "os",
        "pathlib",
        "sys",
        "time",
        "typing",
        "hashlib",
        "signal",
        "datetime",
        "traceback",
        "logging",
        "warnings",
        "numpy",
        "torch",
        "lightning",
        "yaml",
        "sklearn",
        "statsmodels",
        "pandas",
        "matplotlib",
        "safetensors",
        "skops",
    )


class MlopsPolicy(_Policy):
    """mlops-architect: tracking and registry defaults."""

    tracking_uri: Annotated[str, Field(min_length=1, max_length=500)] = "sqlite:///mlflow.db"
    challenger_alias: AliasName = "challenger"
    champion_alias: AliasName = "champion"
    classification_metric: MetricName = "test_accuracy"
    regression_metric: MetricName = "test_r2"
    forecasting_metric: MetricName = "test_mase"
    min_improvement: Annotated[FiniteFloat, Field(ge=0, le=1e9)] = 0.0
    #: a running run's heartbeat tag is refreshed this often
    heartbeat_seconds: Annotated[int, Field(ge=1, le=3600)] = 30
    #: ``doctor --reap`` and every new Tracker mark RUNNING runs silent this long KILLED
    stale_after_seconds: Annotated[int, Field(ge=10, le=86_400)] = 300
    #: params, tags and metrics are logged in batches of at most this many
    log_batch_size: Annotated[int, Field(ge=1, le=100)] = 100
    #: ``monitor``: a feature drifts when its PSI exceeds this (written into the blueprint's
    #: ``monitoring.drift_threshold`` by the planner; used when no blueprint is found) ...
    drift_psi_threshold: Annotated[FiniteFloat, Field(gt=0, le=100)] = 0.2
    #: ... and its two-sample test (KS / chi-squared) p-value is below this
    drift_pvalue: Annotated[FiniteFloat, Field(gt=0, lt=1)] = 0.01


Phase = Literal["design", "build", "train", "evaluate", "register", "promote"]


class OrchestratorPolicy(_Policy):
    """ml-orchestrator: the pipeline's phases and memory."""

    #: what ``mlflowctl run`` does without ``--phases``
    phases: tuple[Phase, ...] = ("design", "build", "train", "evaluate", "register", "promote")
    history_file: Annotated[str, Field(min_length=1, max_length=200)] = (
        ".claude/memory/history.jsonl"
    )
    #: how many past pipelines the architect reads
    history_window: Annotated[int, Field(ge=0, le=10_000)] = 50
    fail_on_gate: bool = True


POLICY_MODELS: dict[str, type[_Policy]] = {
    "ml-architect": ArchitectPolicy,
    "ml-engineer": EngineerPolicy,
    "mlops-architect": MlopsPolicy,
    "ml-orchestrator": OrchestratorPolicy,
}
