"""One table of metrics and one registry of model families, and the consumers that read them."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Literal, get_args

import pytest
from pydantic import BaseModel

from mlflowctl import families as catalog
from mlflowctl.blueprint import metrics
from mlflowctl.blueprint.model import FAMILY_TEMPLATE_KIND, Family, LayerSpec, MetricName
from mlflowctl.families import IO, FamilySpec

pytestmark = pytest.mark.unit

SRC = Path(__file__).resolve().parent.parent / "src" / "mlflowctl"
#: modules that decide something per family or per metric: they must ask the registry/table
#: the modules that once kept their own metric direction lists
METRIC_CONSUMERS = [
    SRC / "build" / "render.py",
    SRC / "build" / "codecheck.py",
    SRC / "design" / "critic.py",
    SRC / "design" / "planner.py",
    SRC / "design" / "strategy.py",
]
#: every module outside ``families/``: none may keep its own list of families
CONSUMERS = sorted(p for p in SRC.rglob("*.py") if "families" not in p.relative_to(SRC).parts[:1])


def test_the_blueprint_closed_sets_are_the_table_and_the_registry() -> None:
    assert set(get_args(MetricName)) == set(metrics.BY_NAME)
    assert tuple(get_args(Family)) == catalog.FAMILIES
    assert {f: catalog.template_kind(f) for f in catalog.FAMILIES} == FAMILY_TEMPLATE_KIND


def test_metric_names_and_directions_are_unchanged() -> None:
    from mlflowctl.build.config import VAL_METRICS
    from mlflowctl.design.critic import MAXIMIZE, tracked_metrics

    assert {
        "val_accuracy", "val_f1_macro", "val_r2", "test_accuracy", "test_f1_macro",
        "test_roc_auc", "test_r2", "test_recall", "test_precision", "test_pr_auc", "test_f1",
        "test_balanced_accuracy", "test_specificity",
    } == MAXIMIZE  # fmt: skip
    assert tracked_metrics("classification", 3) == [
        "train_loss", "val_loss", "val_accuracy", "val_f1_macro", "test_accuracy", "test_f1_macro",
    ]  # fmt: skip
    assert tracked_metrics("classification", 2)[-1] == "test_roc_auc"
    assert tracked_metrics("regression", 1) == [
        "train_loss", "val_loss", "val_rmse", "val_mae", "val_r2", "test_rmse", "test_mae",
        "test_r2", "test_smape",
    ]  # fmt: skip
    assert set(VAL_METRICS["forecasting"]) == {"val_loss", "val_mae", "val_rmse", "val_mase"}
    assert metrics.mode("val_accuracy") == "max" and metrics.mode("val_mase") == "min"
    # val_X and test_X share one computation: each metric is defined once
    for m in metrics.METRICS:
        if m.stage == "test" and f"val_{m.name[5:]}" in metrics.BY_NAME:
            assert metrics.metric(f"val_{m.name[5:]}").compute == m.compute


def _family_literals(tree: ast.AST) -> list[tuple[int, list[str]]]:
    """Tuples/lists/sets/dict keys naming two or more families, and comparisons with one."""
    names = set(get_args(Family))
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            found = [
                e.value
                for e in [node.left, *node.comparators]
                if isinstance(e, ast.Constant) and isinstance(e.value, str) and e.value in names
            ]
            if found:
                hits.append((node.lineno, found))
        if isinstance(node, ast.Dict):
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant) and k.value in names]
            if len(keys) >= 2:
                hits.append((node.lineno, keys))
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            found = [
                e.value
                for e in node.elts
                if isinstance(e, ast.Constant) and isinstance(e.value, str) and e.value in names
            ]
            if len(found) >= 2:
                hits.append((node.lineno, found))
    return hits


def _allowed(path: Path, tree: ast.AST, lineno: int) -> bool:
    """The planner's ``_choices`` (which family to offer first) is a design preference, not a
    property of the families: its orderings may name families."""
    if path.name != "planner.py":
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "_choices":
            return node.lineno <= lineno <= (node.end_lineno or node.lineno)
    return False


@pytest.mark.parametrize("path", CONSUMERS, ids=lambda p: p.name)
def test_consumers_hold_no_hard_coded_family_tuples(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    hits = [
        (line, found) for line, found in _family_literals(tree) if not _allowed(path, tree, line)
    ]
    assert hits == [], f"{path.name} names families itself; ask the mlflowctl.families registry"


def test_consumers_hold_no_metric_direction_lists() -> None:
    maximize = set(metrics.MAXIMIZE)
    for path in METRIC_CONSUMERS:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                found = {
                    e.value
                    for e in node.elts
                    if isinstance(e, ast.Constant) and e.value in maximize
                }
                assert len(found) < 2, f"{path.name}:{node.lineno} lists metric directions"


class FakeParams(BaseModel):
    family: Literal["fakenet"] = "fakenet"
    width: int = 4


def _fake_layers(p: FakeParams, io: IO) -> list[LayerSpec]:
    n = io.flat * p.width + p.width * io.output_dim
    return [LayerSpec.model_construct(name="fake", kind="Linear", shape="x", params=n)]


def test_a_family_added_through_the_registry_reaches_every_consumer() -> None:
    from mlflowctl.design import critic, planner, strategy

    fake = FamilySpec(
        name="fakenet",
        params=FakeParams,
        template_kind="mlp",
        layers=_fake_layers,
        flops=lambda p, io: 2 * io.flat * p.width,
        candidates=lambda io, **_: (FakeParams(width=w) for w in (2, 4, 8, 16)),
        modalities=("sequence",),
        activations=lambda p, io: p.width,
        sequence=True,
        recurrent=True,
    )
    io = IO((10, 1), 3)
    catalog.register(fake)
    try:
        assert "fakenet" in catalog.FAMILIES_FOR_MODALITY["sequence"]
        assert catalog.count_params(FakeParams(), io) == 10 * 4 + 4 * 3
        assert catalog.flops_per_sample(FakeParams(), io) == 80
        found = catalog.size_for_budget("fakenet", io, 100, "target")
        assert isinstance(found, FakeParams) and found.width == 8
        assert catalog.template_kind("fakenet") == "mlp"
        assert catalog.family("fakenet").recurrent
        # the renderer, critic and strategy ask the registry for the same facts
        from mlflowctl.build import render

        assert render.family_spec("fakenet").sequence
        assert critic.family("fakenet").recurrent
        assert strategy.catalog_family("fakenet").sequence
        assert "fakenet" in catalog.families(recurrent=True)
        assert planner.families is catalog.families
    finally:
        catalog.unregister("fakenet")
    assert "fakenet" not in catalog.FAMILIES_FOR_MODALITY["sequence"]
    assert tuple(get_args(Family)) == catalog.FAMILIES
