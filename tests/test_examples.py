"""examples/: one valid, buildable blueprint per catalog family, and a CI workflow that parses."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlflowctl.blueprint.model import Blueprint

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_one_example_blueprint_per_family() -> None:
    families = {
        Blueprint.load(p).approach().model.family for p in (EXAMPLES / "blueprints").glob("*.yaml")
    }
    assert families == {"mlp", "cnn", "lstm", "gru", "tcn", "transformer"}


@pytest.mark.integration
@pytest.mark.parametrize("path", sorted((EXAMPLES / "blueprints").glob("*.yaml")), ids=str)
def test_example_blueprints_render_clean_projects(path: Path, tmp_path: Path) -> None:
    from mlflowctl.build import writer as workspace

    bp = Blueprint.load(path)
    assert Blueprint.from_yaml(bp.to_yaml()).to_yaml() == path.read_text(encoding="utf-8")
    project = workspace.build(bp, out=tmp_path / "b", dry_run=True)  # compiles, ruff, AST shape
    assert {"model.py", "data.py", "train.py", "config.yaml"} <= set(project.files)
    assert not (tmp_path / "b").exists()


def test_ci_workflow_runs_the_pipeline_headlessly() -> None:
    wf = yaml.safe_load((EXAMPLES / "github-actions" / "mlflowctl.yml").read_text())
    steps = wf["jobs"]["train-and-gate"]["steps"]
    commands = "\n".join(s.get("run", "") for s in steps)
    assert "mlflowctl run" in commands and "--json" in commands
    assert wf["jobs"]["train-and-gate"]["env"]["CI"] == "true"
