"""What a designer proposes before the critic checks it: the ``DesignDraft``.

Both the offline planner and the LLM backends produce a ``DesignDraft``; one function,
``mlflowctl.design.critic.assemble()``, turns it into a ``Blueprint``: it recomputes parameter
counts, FLOPs and layer tables with the catalog's formulas, derives input and output specs from
the requirements and the data profile, fills the registry name and aliases from the requirements
and the mlops policy (never from the draft: B14), checks budgets and consistency, and raises one
error listing every problem (fed back to an LLM as its re-ask).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from mlflowctl.blueprint.infra import BaselineName
from mlflowctl.blueprint.model import (
    CheckpointSpec,
    FamilyParams,
    FiniteFloat,
    Identifier,
    MonitoringSpec,
    PromotionGate,
    ShortText,
    Strict,
    TagKey,
    Text,
    TradeOff,
    TrainingSpec,
)


class ModelDraft(Strict):
    """The family and its hyper-parameters; everything derived is the critic's job."""

    params: FamilyParams
    #: forecasting: past steps one sample sees (the critic picks one when absent)
    lookback: Annotated[int, Field(ge=1, le=100_000)] | None = None


class InfrastructureDraft(Strict):
    """Tracking, checkpointing, gate and monitoring; names and aliases are not the designer's."""

    tags: dict[TagKey, ShortText] = Field(default_factory=dict, max_length=50)
    checkpointing: CheckpointSpec = Field(default_factory=CheckpointSpec)
    gate: PromotionGate
    monitoring: MonitoringSpec
    #: classical baselines for the task (the critic fills the task's defaults when empty)
    baselines: list[BaselineName] = Field(default_factory=list, max_length=8)


class ApproachDraft(Strict):
    name: Identifier
    title: ShortText
    overview: Text
    model: ModelDraft
    training: TrainingSpec
    infrastructure: InfrastructureDraft
    tradeoffs: list[TradeOff] = Field(min_length=1, max_length=12)
    rationale: Text


class DesignDraft(Strict):
    approaches: list[ApproachDraft] = Field(min_length=2, max_length=3)
    recommended: Identifier
    reason: Text
    confidence: Annotated[FiniteFloat, Field(ge=0, le=1)] = 0.7
    uncertainty_factors: list[ShortText] = Field(default_factory=list, max_length=30)
