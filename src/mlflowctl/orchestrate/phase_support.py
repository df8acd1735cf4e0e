"""What every phase of the pipeline shares: the workdir's file names, its blueprint, its
settings and tracking store (``phases.py`` and ``tune_phase.py`` use them)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlflowctl.errors import InvalidInputError
from mlflowctl.orchestrate.context import PipelineContext as Pipeline

if TYPE_CHECKING:
    from mlflowctl.blueprint.model import Blueprint
    from mlflowctl.settings import Settings

BLUEPRINT_FILE = "blueprint.yaml"
BUILD_DIR = "build"


def load_blueprint(p: Pipeline) -> Blueprint:
    from mlflowctl.blueprint.model import Blueprint

    path = p.opts.workdir / BLUEPRINT_FILE
    if not path.exists():
        raise InvalidInputError(
            "no blueprint in the workdir",
            hint="run the design phase first (--phases design,...)",
            location=str(path),
        )
    return Blueprint.load(path)


def build_dir(p: Pipeline) -> Path:
    return p.opts.workdir / BUILD_DIR


def settings_of(p: Pipeline) -> Settings:
    """The pipeline's ``Settings``: the ones ``mlflowctl run`` resolved (``p.state["settings"]``),
    else built from its options (``--tracking-uri``, ``--agents``, and ``root``, the directory the
    pipeline was started in, which relative store paths are resolved against)."""
    from mlflowctl.settings import Settings

    found = p.state.get("settings")
    if not isinstance(found, Settings):
        found = Settings.from_environment(
            agents_dir=p.opts.agents_dir, tracking_uri=p.opts.tracking_uri, cwd=p.opts.root
        )
        p.state["settings"] = found
    return found


def tracking_uri_of(p: Pipeline) -> str:
    """The one rule (``mlflowctl.settings``): flag > MLFLOW_TRACKING_URI > the mlops-architect
    policy > ``sqlite:///mlflow.db``, relative paths against the directory ``run`` started in."""
    return settings_of(p).tracking.uri
