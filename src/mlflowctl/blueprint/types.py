"""Closed sets, checked scalars and the strict base model every blueprint part uses.

A blueprint may come from an LLM: identifiers come from these closed sets or strict ASCII
patterns, and numbers are bounded and finite.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

SCHEMA_VERSION = 1

# --------------------------------------------------------------------------- closed sets

Task = Literal["classification", "regression", "forecasting"]
Modality = Literal["tabular", "image", "sequence", "text"]
Activation = Literal["relu", "gelu", "silu", "tanh"]
Norm = Literal["none", "batchnorm", "layernorm"]
LossName = Literal["cross_entropy", "focal", "mse", "huber", "mae", "pinball"]
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
    "test_recall",
    "test_precision",
    "test_pr_auc",
    "test_f1",
    "test_balanced_accuracy",
    "test_log_loss",
    "test_specificity",
    "test_pinball",
    "test_cost",
]
Direction = Literal["maximize", "minimize"]
MetricMode = Literal["min", "max"]
SearchMethod = Literal["grid", "random", "tpe"]
#: hyper-parameters a search space may vary (paths into an approach)
SearchParamName = Literal[
    "lr",
    "weight_decay",
    "batch_size",
    "dropout",
    "hidden",
    "layers",
    "d_model",
    "chunk_length",
    "lookback",
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


def _not_a_path_step(v: str) -> str:
    if v in (".", ".."):
        raise ValueError(f"experiment name {v!r} is a path step; use letters, digits, - _ .")
    return v


#: experiment names: one safe path component (MLflow derives the artifact folder from it, X6):
#: letters, digits, ``-``, ``_``, ``.``; no ``/``, no space, not ``.`` or ``..``
ExperimentName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,128}$"),
    AfterValidator(_not_a_path_step),
]
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


class LayerSpec(Strict):
    """One row of the layer table (for people; the code follows the family definition)."""

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\[\]]{1,80}$")]
    kind: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,40}$")]
    shape: ShortText
    params: Annotated[int, Field(ge=0)]


class FamilyParamsBase(Strict):
    """Base of every family's ``*Params`` class (declared in ``mlflowctl/families/<name>.py``).

    ``family`` is the discriminator: each subclass narrows it to its own name(s).
    """

    family: str
