"""Rendering: template kinds and folders stay paired, templates only use the safe filters, every
family renders to code that compiles, lints and builds the exact architecture the blueprint
counted."""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from blueprints import make_blueprint

from mlflowctl.blueprint.model import FAMILY_TEMPLATE_KIND, TemplateKind
from mlflowctl.build import codecheck, render
from mlflowctl.errors import BlueprintError, CodegenError
from mlflowctl.resources import templates_dir
from mlflowctl.specs.policy import EngineerPolicy

pytestmark = pytest.mark.unit

FAMILIES = sorted(FAMILY_TEMPLATE_KIND)
EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.S)


def test_template_kinds_and_folders_are_paired() -> None:
    folders = {p.name for p in templates_dir().iterdir() if p.is_dir() and p.name != "_common"}
    assert folders == set(FAMILY_TEMPLATE_KIND.values()) == set(get_args(TemplateKind))
    for kind in folders:
        assert (templates_dir() / kind / "model.py.j2").is_file()


def test_every_python_template_expression_uses_a_safe_filter() -> None:
    offenders = []
    for path in templates_dir().rglob("*.py.j2"):
        for expr in EXPRESSION.findall(path.read_text()):
            if not re.search(r"\|\s*(pylit|pyident)\s*$", expr.strip()):
                offenders.append(f"{path.name}: {{{{{expr}}}}}")
    assert offenders == []
    # the lint is not vacuous: the train and evaluate templates do hold expressions
    assert EXPRESSION.search((templates_dir() / "_common" / "train.py.j2").read_text())


def test_filters_reject_what_is_not_a_checked_scalar_or_identifier() -> None:
    for text in ("a'b\n\"c", "plain", 'q"uote', "\\'", "ｌ\u202e"):
        assert ast.literal_eval(render.pylit(text)) == text  # the literal round-trips
        assert render.pylit(text).isascii()
    assert render.pylit(-3) == "-3" and render.pylit(None) == "None"
    for bad in (float("nan"), float("inf"), [1], {"a": 1}, b"x", object()):
        with pytest.raises(CodegenError):
            render.pylit(bad)
    assert render.pyident("lstm") == "lstm"
    for bad in ("import os", "a-b", "class", "x" * 81, "ｌｓｔｍ", "", 3):
        with pytest.raises(CodegenError):
            render.pyident(bad)


@pytest.mark.integration
@pytest.mark.parametrize("family", FAMILIES)
def test_family_renders_compiles_and_lints(family: str) -> None:
    bp = make_blueprint(family)
    ctx = render.context(bp)
    files = render.render_files(ctx)
    assert {"model.py", "data.py", "train.py", "config.yaml", "README.md", "requirements.txt"} <= (
        set(files)
    )
    assert ".claude/tasks/ml-engineer-tasks.md" in files
    reference = render.render_files(render.placeholder_context(ctx))
    notes = codecheck.check_project(files, reference, EngineerPolicy().import_allowlist)
    assert notes == []  # ruff ran (it is installed in the dev environment) and passed
    cfg = yaml.safe_load(files["config.yaml"])
    assert cfg["model"]["family"] == family
    assert cfg["model"]["parameter_count"] == bp.approach().model.parameter_count
    assert "mlflowctl" not in "".join(v for k, v in files.items() if k.endswith(".py"))


def _import_model(files: dict[str, str], tmp_path: Path, name: str) -> Any:
    path = tmp_path / f"{name}.py"
    path.write_text(files["model.py"])
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


PARAM_CASES: list[tuple[str, str | None, dict[str, Any] | None]] = [
    ("mlp", "digits_image", {"family": "mlp", "hidden": [16, 8], "norm": "batchnorm"}),
    ("mlp", "iris", {"family": "mlp", "hidden": [8], "norm": "layernorm"}),
    ("cnn", None, {"family": "cnn", "channels": [4, 8, 8], "blocks_per_stage": 2}),
    ("lstm", None, {"family": "lstm", "hidden": 12, "layers": 2, "dropout": 0.1}),
    ("gru", None, None),
    ("tcn", None, {"family": "tcn", "channels": [4, 8], "kernel_size": 2}),
    ("transformer", None, None),
    (
        "transformer",
        None,
        {
            "family": "transformer",
            "d_model": 16,
            "heads": 4,
            "layers": 2,
            "ff_dim": 24,
            "max_len": 24,
            "memory_tokens": 4,
        },
    ),
]


@pytest.mark.parametrize(("family", "dataset", "params"), PARAM_CASES)
def test_rendered_model_has_the_blueprint_parameter_count(
    family: str, dataset: str | None, params: dict[str, Any] | None, tmp_path: Path
) -> None:
    import torch

    bp = make_blueprint(family, dataset, params=params)
    files = render.render(bp)
    module = _import_model(files, tmp_path, f"model_{family}")
    cfg = yaml.safe_load(files["config.yaml"])
    net = module.build_model(cfg)
    assert sum(p.numel() for p in net.parameters()) == bp.approach().model.parameter_count
    shape = cfg["model"]["input_shape"]
    out = net(torch.zeros(3, *shape))
    assert tuple(out.shape) == (3, cfg["model"]["output_dim"])


def test_config_reads_back_and_monitor_falls_back_to_a_logged_metric() -> None:
    bp = make_blueprint("mlp", "diabetes", training={"early_stopping": {"monitor": "val_accuracy"}})
    cfg = yaml.safe_load(render.render(bp)["config.yaml"])
    assert cfg["training"]["early_stopping"]["monitor"] == "val_loss"
    assert cfg["training"]["early_stopping"]["mode"] == "min"
    assert cfg["data"]["source"] == "sklearn:diabetes"


def test_missing_data_source_names_the_field_and_the_flag() -> None:
    bp = make_blueprint("mlp")
    bp.requirements.data_source = None
    with pytest.raises(BlueprintError) as info:
        render.render(bp)
    assert "requirements.data_source" in info.value.line()
    assert "--data" in (info.value.hint or "")
    assert render.render(bp, data="sklearn:wine")["config.yaml"].count("sklearn:wine") == 1
