"""A new model family is one module plus its template (issue 12 item 5), checked from outside.

A copy of the package gains ``families/toy.py`` (its params class, layer table, FLOPs, sizes,
words and ratings) and ``templates/toy/model.py.j2``; nothing else is edited. In that copy the
Blueprint accepts the family, the prompt reader hears its name, and ``mlflowctl build`` renders,
checks and trains it with the exact parameter count the catalog states.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]

TOY_MODULE = '''
"""A toy family: one hidden layer. ``ToyParams`` defines the architecture."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from mlflowctl.blueprint.types import FamilyParamsBase, LayerSpec
from mlflowctl.families._common import IO, FamilySpec, Hints, linear, row, widths


class ToyParams(FamilyParamsBase):
    """``Flatten``, ``Linear(n_in, width)``, ReLU, ``Linear(width, output_dim)``."""

    family: Literal["toy"] = "toy"
    width: int = 16


def layers(p: ToyParams, io: IO) -> list[LayerSpec]:
    return [
        row("hidden", "Linear", f"{io.flat} -> {p.width}", linear(io.flat, p.width)),
        row("head", "Linear", f"{p.width} -> {io.output_dim}", linear(p.width, io.output_dim)),
    ]


def flops(p: ToyParams, io: IO) -> int:
    return 2 * (io.flat * p.width + p.width * io.output_dim)


def candidates(io: IO) -> Iterator[ToyParams]:
    for w in widths(1, 4096):
        yield ToyParams.model_construct(family="toy", width=w)


def defaults(io: IO, h: Hints) -> tuple[ToyParams, dict[str, Any]]:
    return ToyParams(width=8 if h.small else 16), {}


FAMILIES = (
    FamilySpec(
        name="toy",
        params=ToyParams,
        template_kind="toy",
        layers=layers,
        flops=flops,
        candidates=candidates,
        defaults=defaults,
        modalities=("tabular",),
        activations=lambda p, io: io.flat + 2 * p.width + io.output_dim,
        order=70,
        aliases=r"\\btoy ?nets?\\b",
        title="Toy network",
        rationale="One hidden layer: the smallest network that is not linear.",
        traits={"accuracy": ("low", "one hidden layer"), "training_cost": ("low", "tiny")},
    ),
)
'''

TOY_TEMPLATE = '''"""The model: a toy network of one hidden layer, and its LightningModule."""

{% include "_common/model_header.py.j2" %}

def build_model(cfg: dict[str, Any]) -> nn.Module:
    spec = cfg["model"]
    width = spec["params"]["width"]
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(math.prod(spec["input_shape"]), width),
        nn.ReLU(),
        nn.Linear(width, spec["output_dim"]),
    )
{% include "_common/lightning_module.py.j2" %}
'''

CHECK = """
import json, sys
from typing import get_args
sys.path.insert(0, {tests!r})
from blueprints import approach, make_blueprint
from mlflowctl.blueprint.model import FAMILY_TEMPLATE_KIND, Blueprint, Family
from mlflowctl.design.requirements import prompt_hints
from mlflowctl.design.tradeoffs import rationale
from mlflowctl.families import REGISTRY

doc = make_blueprint("mlp", "iris").model_dump(mode="json")
toy = approach("a", "toy", "iris", params={{"family": "toy", "width": 12}})
doc["approaches"][0]["model"] = toy["model"]
bp = Blueprint.model_validate(doc)
print(json.dumps({{
    "families": list(get_args(Family)),
    "kind": FAMILY_TEMPLATE_KIND["toy"],
    "named": prompt_hints("classify iris flowers with a toy net").constraints.named_architectures,
    "rationale": rationale("toy"),
    "count": bp.approaches[0].model.parameter_count,
    "yaml": bp.to_yaml(),
}}))
"""


def _copy_package(tmp: Path) -> Path:
    root = tmp / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(REPO / "src" / "mlflowctl", root / "src" / "mlflowctl", ignore=ignore)
    shutil.copytree(REPO / "templates", root / "templates", ignore=ignore)
    shutil.copytree(REPO / "agents", root / "agents", ignore=ignore)
    return root


def test_a_family_is_one_module_plus_its_template(tmp_path: Path) -> None:
    root = _copy_package(tmp_path)
    (root / "src" / "mlflowctl" / "families" / "toy.py").write_text(TOY_MODULE.lstrip())
    (root / "templates" / "toy").mkdir()
    (root / "templates" / "toy" / "model.py.j2").write_text(TOY_TEMPLATE)
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    work = tmp_path / "work"
    work.mkdir()

    probe = subprocess.run(
        [sys.executable, "-c", CHECK.format(tests=str(REPO / "tests"))],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    seen = json.loads(probe.stdout)
    assert seen["families"][-1] == "toy" and "mlp" in seen["families"]
    assert seen["kind"] == "toy"
    assert seen["named"] == ["toy"]
    assert seen["rationale"].startswith("One hidden layer")
    assert seen["count"] == 4 * 12 + 12 + 12 * 3 + 3

    (work / "bp.yaml").write_text(seen["yaml"])
    args = ["build", "bp.yaml", "--out", "b", "--no-track", "--max-epochs", "2", "--json"]
    build = subprocess.run(
        [sys.executable, "-m", "mlflowctl", *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert build.returncode == 0, (build.stdout[-2000:], build.stderr[-3000:])
    model_py = (work / "b" / "model.py").read_text()
    assert "a toy network of one hidden layer" in model_py and "class MLP" not in model_py
    metrics = json.loads((work / "b" / "outputs" / "metrics.json").read_text())["metrics"]
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    # the trained weights hold exactly the count the catalog stated
    safetensors = pytest.importorskip("safetensors.numpy")
    weights = safetensors.load_file(str(work / "b" / "outputs" / "weights.safetensors"))
    assert sum(int(w.size) for w in weights.values()) == seen["count"]
