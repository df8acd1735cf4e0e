"""examples/: one valid, buildable blueprint per catalog family, and a CI workflow that parses."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlflowctl.blueprint.model import Blueprint

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
WORKFLOW = EXAMPLES / "github-actions" / "mlflowctl.yml"


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


# --------------------------------------------------------------------------- the CI example


def _workflow() -> dict[Any, Any]:
    wf = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(wf, dict)
    return wf


def _job() -> dict[str, Any]:
    job = _workflow()["jobs"]["train-and-gate"]
    assert isinstance(job, dict)
    return job


def _step(uses_prefix: str) -> list[dict[str, Any]]:
    return [st for st in _job()["steps"] if str(st.get("uses", "")).startswith(uses_prefix)]


def workflow_commands(program: str = "mlflowctl") -> list[list[str]]:
    """argv (after the program) of every ``program`` line of the workflow's ``run:`` scripts."""
    found = []
    for st in _job()["steps"]:
        for line in st.get("run", "").replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] == program:
                cut = [i for i, w in enumerate(words) if w in (">", ">>", "|", "&&", ";")]
                found.append(words[1 : cut[0] if cut else None])
    return found


def test_ci_workflow_has_what_a_runner_needs() -> None:
    """A schema-like check (actionlint cannot be installed offline here; see the next test)."""
    wf = _workflow()
    triggers = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in triggers and wf["name"]
    job = _job()
    assert job["runs-on"] and job["timeout-minutes"] > 0
    for st in job["steps"]:
        assert ("uses" in st) != ("run" in st), st
        if "uses" in st:
            assert "@v" in st["uses"], f"pin {st['uses']} to a major version"


def test_ci_workflow_installs_mlflowctl_from_its_repository_with_cpu_torch() -> None:
    (install,) = [st for st in _job()["steps"] if st.get("name") == "Install"]
    script = install["run"]
    assert "pip install mlflowctl\n" not in script + "\n"  # not on PyPI
    assert "git+${MLFLOWCTL_GIT}@${MLFLOWCTL_REF}" in script and "pip install ." in script
    assert _job()["env"]["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    assert '--index-url "$TORCH_INDEX_URL"' in script


def test_ci_workflow_keeps_the_registry_between_runs() -> None:
    env = _job()["env"]
    assert env["MLFLOW_TRACKING_URI"] == "${{ secrets.MLFLOW_TRACKING_URI }}"
    (restore,) = _step("actions/cache/restore@")
    (save,) = _step("actions/cache/save@")
    for st in (restore, save):  # the fallback: the local SQLite registry in the Actions cache
        assert st["if"].endswith("env.MLFLOW_TRACKING_URI == ''")
        assert set(st["with"]["path"].split()) == {"mlflow.db", "mlartifacts"}
    assert save["if"].startswith("always()")  # a failed gate still registered a challenger
    assert restore["with"]["restore-keys"] and save["with"]["key"] == restore["with"]["key"]


def test_ci_workflow_keeps_the_hidden_journal() -> None:
    (upload,) = _step("actions/upload-artifact@v4")
    assert upload["with"]["include-hidden-files"] is True
    assert "pipeline/.mlflowctl/pipeline.json" in upload["with"]["path"].split()
    assert upload["if"] == "always()"


def test_ci_concurrency_group_is_the_model_the_prompt_registers() -> None:
    """One writer per registered model: the group names the model this prompt designs."""
    from mlflowctl.design import design

    conc = _workflow()["concurrency"]
    assert conc["cancel-in-progress"] is False
    (run,) = [argv for argv in workflow_commands() if argv[0] == "run"]
    prompt, data = run[1], run[run.index("--data") + 1]
    model = design(prompt, data=data).approach().infrastructure.registry.model_name
    assert conc["group"] == f"mlflowctl-model-{model}"


def test_every_workflow_command_line_parses(capsys: pytest.CaptureFixture[str]) -> None:
    from mlflowctl.cli.app import main

    commands = workflow_commands()
    assert ["--version"] in commands and any(a[0] == "run" for a in commands)
    for argv in commands:
        assert main([*argv, "--help"]) == 0, argv
    capsys.readouterr()


@pytest.mark.integration
def test_workflow_command_lines_run_in_a_fresh_folder(
    tmp_path: Path, cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    """As written, with the pipeline cut to its design phase (the rest trains for minutes)."""
    for argv in workflow_commands():
        if argv[0] == "run":
            argv = [*argv, "--phases", "design"]
        done = cli(*argv, env={"CI": "true"})
        assert done.returncode == 0, (argv, done.stderr)
        if argv[0] == "run":
            summary = json.loads(done.stdout)  # one JSON object on stdout, as the step saves it
            assert summary["status"] == "finished"
    (upload,) = _step("actions/upload-artifact@v4")
    kept = [p for p in upload["with"]["path"].split() if (tmp_path / p).exists()]
    assert {"pipeline/blueprint.yaml", "pipeline/.mlflowctl/pipeline.json"} <= set(kept)


def _workflow_linter() -> list[str]:
    """actionlint when it is installed (it also checks expressions and shell); otherwise the
    GitHub workflow JSON schema that check-jsonschema ships (a dev dependency, no network)."""
    actionlint = shutil.which("actionlint")
    if actionlint is not None:
        return [actionlint]
    beside = Path(sys.executable).parent / "check-jsonschema"
    found = str(beside) if beside.is_file() else shutil.which("check-jsonschema")
    assert found, "pip install -e '.[dev]' installs check-jsonschema"
    return [found, "--builtin-schema", "vendor.github-workflows"]


@pytest.mark.integration
def test_the_workflow_passes_a_workflow_linter(tmp_path: Path) -> None:
    linter = _workflow_linter()
    done = subprocess.run(
        [*linter, str(WORKFLOW)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken.yml"  # the same linter refuses a job without `runs-on`
    broken.write_text(WORKFLOW.read_text(encoding="utf-8").replace("runs-on:", "runs_on:"))
    done = subprocess.run(
        [*linter, str(broken)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode != 0 and "runs-on" in done.stdout + done.stderr
