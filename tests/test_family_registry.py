"""The families registry is the one list of model families (issue 12 item 5).

The Blueprint's closed sets (``Family``, ``TemplateKind``, ``FAMILY_TEMPLATE_KIND``, the
``FamilyParams`` union) are derived from it; the planner's default sizing, the renderer's template
folder and the catalog's counts read it. A toy family registered at run time is sized by the
planner and the catalog without touching either (``test_new_family_module.py`` adds one as a
module and builds it).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any, Literal, get_args

import pytest
from blueprints import make_blueprint

from mlflowctl import families as catalog
from mlflowctl.blueprint.families import FamilyParams, Strict
from mlflowctl.blueprint.model import FAMILY_TEMPLATE_KIND, Family, TemplateKind
from mlflowctl.build import render
from mlflowctl.design import planner
from mlflowctl.families import IO, REGISTRY, FamilySpec, Hints
from mlflowctl.families._common import linear, row
from mlflowctl.resources import templates_dir

pytestmark = pytest.mark.unit


def test_the_blueprint_closed_sets_equal_the_registry() -> None:
    assert list(get_args(Family)) == list(REGISTRY)  # same names, same order
    assert {n: s.template_kind for n, s in REGISTRY.items()} == FAMILY_TEMPLATE_KIND
    assert set(get_args(TemplateKind)) == {s.template_kind for s in REGISTRY.values()}
    union = get_args(get_args(FamilyParams)[0])
    assert set(union) == {s.params for s in REGISTRY.values()}
    for name, spec in REGISTRY.items():
        literal = spec.params.model_fields["family"].annotation
        assert name in get_args(literal), (name, spec.params)
        assert (templates_dir() / spec.template_kind / "model.py.j2").is_file(), name


def test_every_family_declares_its_defaults_and_the_planner_names_none() -> None:
    for name, spec in REGISTRY.items():
        io = IO((24, 1), 1) if spec.sequence else IO((1, 8, 8) if name == "cnn" else (8,), 3)
        assert spec.defaults is not None, name
        default, opts = spec.defaults(io, Hints())
        assert default.family == name
        assert catalog.count_params(default, io) > 0
        assert list(spec.candidates(io, **opts))  # the options fit the family's search
    source = inspect.getsource(planner._family_params) + inspect.getsource(render.context)
    named = [n for n in REGISTRY if f'"{n}"' in source]
    assert named == [], f"sizing/rendering names families instead of reading the registry: {named}"


class ToyParams(Strict):
    """A toy family: one hidden layer of ``width``."""

    family: Literal["toy"] = "toy"
    width: int


def _layers(p: ToyParams, io: IO) -> list[Any]:
    return [
        row("hidden", "Linear", f"{io.flat} -> {p.width}", linear(io.flat, p.width)),
        row("head", "Linear", f"{p.width} -> {io.output_dim}", linear(p.width, io.output_dim)),
    ]


def _candidates(io: IO) -> Iterator[ToyParams]:
    for width in range(1, 512):
        yield ToyParams.model_construct(family="toy", width=width)


TOY = FamilySpec(
    name="toy",
    params=ToyParams,
    template_kind="mlp",
    layers=_layers,
    flops=lambda p, io: 2 * (io.flat * p.width + p.width * io.output_dim),
    candidates=_candidates,
    defaults=lambda io, h: (ToyParams(width=8 if h.small else 32), {}),
    modalities=("tabular",),
    activations=lambda p, io: io.flat + p.width + io.output_dim,
)


def test_a_family_registered_as_one_spec_is_sized_by_the_catalog_and_the_planner() -> None:
    bp = make_blueprint("mlp", "iris")
    req = bp.requirements.model_copy(
        update={
            "constraints": bp.requirements.constraints.model_copy(
                update={"param_budget": 1000, "param_budget_kind": "max"}
            )
        }
    )
    catalog.register(TOY)
    try:
        assert "toy" in catalog.FAMILIES and "toy" in catalog.FAMILIES_FOR_MODALITY["tabular"]
        io = IO((4,), 3)
        assert catalog.count_params(ToyParams(width=32), io) == 4 * 32 + 32 + 32 * 3 + 3
        assert catalog.template_kind("toy") == "mlp"
        sized = planner._family_params("toy", io, req, 150, "base", 0.1)
        assert isinstance(sized, ToyParams) and sized.width == 32  # 259 params: under the cap
        capped = req.model_copy(
            update={"constraints": req.constraints.model_copy(update={"param_budget": 100})}
        )
        small = planner._family_params("toy", io, capped, 150, "base", 0.1)
        assert isinstance(small, ToyParams) and catalog.count_params(small, io) <= 100
    finally:
        catalog.unregister("toy")
    assert "toy" not in catalog.FAMILIES
