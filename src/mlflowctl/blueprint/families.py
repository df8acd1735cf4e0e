"""The model part of an approach, and the closed sets of model families.

The families themselves (each one's ``*Params`` class, whose docstring is the exact
architecture, its layer table, sizes and template) live one module each in
``mlflowctl.families``; the names, template kinds and the discriminated ``FamilyParams`` union
here are derived from that registry, so adding a family edits nothing in this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import (
    Field,
    model_validator,
)

from mlflowctl.blueprint.types import (
    FamilyParamsBase,
    LayerSpec,
    ShortText,
    Strict,
)
from mlflowctl.families import REGISTRY

#: family name -> the folder under ``templates/`` holding its ``model.py.j2``
FAMILY_TEMPLATE_KIND: dict[str, str] = {name: s.template_kind for name, s in REGISTRY.items()}
_PARAMS: tuple[type[FamilyParamsBase], ...] = tuple(
    dict.fromkeys(s.params for s in REGISTRY.values())
)

if TYPE_CHECKING:
    Family = str
    TemplateKind = str
    FamilyParams = FamilyParamsBase
else:
    Family = Literal[tuple(REGISTRY)]
    #: one folder per template kind under ``templates/``
    TemplateKind = Literal[tuple(dict.fromkeys(FAMILY_TEMPLATE_KIND.values()))]
    FamilyParams = Annotated[Union[_PARAMS], Field(discriminator="family")]  # noqa: UP007

__all__ = [
    "FAMILY_TEMPLATE_KIND",
    "Family",
    "FamilyParams",
    "InputSpec",
    "LayerSpec",
    "ModelSpec",
    "OutputSpec",
    "TemplateKind",
    "params_class",
]


def params_class(name: str) -> type[Any]:
    """The ``*Params`` class of a registered family (ValueError naming the known ones)."""
    try:
        return REGISTRY[name].params
    except KeyError:
        raise ValueError(f"unknown family {name!r}; known: {', '.join(REGISTRY)}") from None


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
