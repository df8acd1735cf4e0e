"""The Blueprint: the typed design every phase reads or writes.

One pydantic v2 model tree, ``extra="forbid"`` everywhere, bounds on every number, finite floats
only, and identifiers from closed sets or strict ASCII patterns. A blueprint may come from an LLM:
nothing in it is trusted until it validates here, and templates only ever see checked literals or
identifiers from this module's closed sets.

Model families and their exact architectures are documented on the ``*Params`` classes, one
module per family in ``mlflowctl.families``; the catalog computes parameter counts from these
definitions and the templates implement them.

The parts live in ``types.py`` (closed sets, checked scalars), ``inputs.py`` (provenance,
requirements, data profile), ``families.py`` (model), ``training.py`` and ``infra.py``; every
name is re-exported here, so ``from mlflowctl.blueprint.model import X``
keeps working.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from mlflowctl.blueprint.families import (
    FAMILY_TEMPLATE_KIND,
    Family,
    FamilyParams,
    InputSpec,
    LayerSpec,
    ModelSpec,
    OutputSpec,
    TemplateKind,
)
from mlflowctl.blueprint.infra import (
    CheckpointSpec,
    GateRequirement,
    InfrastructureSpec,
    MonitoringSpec,
    PromotionGate,
    RegistrySpec,
    TrackingSpec,
)
from mlflowctl.blueprint.inputs import (
    AgentRef,
    ClassCount,
    Constraints,
    DataProfile,
    LeakingColumn,
    LevelShift,
    MetricTarget,
    Provenance,
    Requirements,
    SeriesTrend,
)
from mlflowctl.blueprint.training import (
    DistributedSpec,
    EarlyStoppingSpec,
    LossSpec,
    OptimizerSpec,
    ScheduleSpec,
    SearchParam,
    SearchSpace,
    TBPTTSpec,
    TrainingSpec,
)
from mlflowctl.blueprint.types import (
    SCHEMA_VERSION,
    Activation,
    AgentName,
    AliasName,
    ClassWeighting,
    ColumnName,
    DataKind,
    DataSource,
    Direction,
    DistributedStrategy,
    DriftMetric,
    ExperimentName,
    FiniteFloat,
    Hardware,
    Identifier,
    LossName,
    MetricMode,
    MetricName,
    Modality,
    ModelName,
    Norm,
    OptimizerName,
    PlanOwner,
    PosInt,
    Precision,
    Rating,
    RelPath,
    ScheduleName,
    SearchKind,
    SearchMethod,
    SearchParamName,
    Sha256,
    ShortText,
    SourceKind,
    Strict,
    TagKey,
    Task,
    Text,
    TradeOffAspect,
)

__all__ = [
    "FAMILY_TEMPLATE_KIND",
    "SCHEMA_VERSION",
    "Activation",
    "AgentName",
    "AgentRef",
    "AliasName",
    "Approach",
    "Blueprint",
    "CheckpointSpec",
    "ClassCount",
    "ClassWeighting",
    "ColumnName",
    "Constraints",
    "DataKind",
    "DataProfile",
    "DataSource",
    "Direction",
    "DistributedSpec",
    "DistributedStrategy",
    "DriftMetric",
    "EarlyStoppingSpec",
    "ExperimentName",
    "Family",
    "FamilyParams",
    "FiniteFloat",
    "GateRequirement",
    "Hardware",
    "Identifier",
    "ImplementationPlan",
    "InfrastructureSpec",
    "InputSpec",
    "LayerSpec",
    "LeakingColumn",
    "LevelShift",
    "LossName",
    "LossSpec",
    "MetricMode",
    "MetricName",
    "MetricTarget",
    "Modality",
    "ModelName",
    "ModelSpec",
    "MonitoringSpec",
    "Norm",
    "OptimizerName",
    "OptimizerSpec",
    "OutputEnvelope",
    "OutputSpec",
    "PlanOwner",
    "PlanStep",
    "PosInt",
    "Precision",
    "PromotionGate",
    "Provenance",
    "Rating",
    "Recommendation",
    "RegistrySpec",
    "RelPath",
    "Requirements",
    "ScheduleName",
    "ScheduleSpec",
    "SearchKind",
    "SearchMethod",
    "SearchParam",
    "SearchParamName",
    "SearchSpace",
    "SeriesTrend",
    "Sha256",
    "ShortText",
    "SourceKind",
    "Strict",
    "TBPTTSpec",
    "TagKey",
    "Task",
    "TemplateKind",
    "Text",
    "TrackingSpec",
    "TradeOff",
    "TradeOffAspect",
    "TrainingSpec",
    "blueprint_json_schema",
    "validation_errors",
]


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
        from mlflowctl.blueprint.loading import check_size, parse_yaml
        from mlflowctl.errors import BlueprintError

        check_size(len(text.encode("utf-8", "surrogatepass")), source)
        data = parse_yaml(text, source)
        if not isinstance(data, dict):
            raise BlueprintError(
                "a blueprint must be a mapping",
                hint="see `mlflowctl schema blueprint`",
                location=source,
            )
        return cls.from_dict(data, source=source)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "<blueprint>") -> Blueprint:
        """Validate plain data as read from a file: no strings where numbers belong."""
        from pydantic import ValidationError

        from mlflowctl.blueprint.loading import refuse_strings_for_numbers
        from mlflowctl.errors import BlueprintError

        try:
            bp = cls.model_validate(data)
        except ValidationError as exc:
            raise BlueprintError.from_validation(exc, source=source) from None
        refuse_strings_for_numbers(data, bp.model_dump(), source)
        return bp

    @classmethod
    def load(cls, path: str | Path) -> Blueprint:
        from mlflowctl.blueprint.loading import check_size, parse_json
        from mlflowctl.errors import BlueprintError

        p = Path(path)
        try:
            check_size(p.stat().st_size, str(p))
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
            data = parse_json(text, str(p))
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
