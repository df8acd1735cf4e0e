"""What the pipeline and its phases share: the phase names, the options, the context a phase
gets. Neither ``pipeline`` nor ``phases`` imports the other through this module, so the import
graph has no loop: ``pipeline`` -> ``phases`` -> ``context``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mlflowctl.orchestrate.journal import Journal

#: ``tune`` runs only when asked (``run --tune``): the search, then the tuned blueprint is built
ALL_PHASES = ("design", "tune", "build", "train", "evaluate", "register", "promote")
PHASE_OWNER = {
    "design": "ml-architect",
    "tune": "ml-engineer",
    "build": "ml-engineer",
    "train": "ml-engineer",
    "evaluate": "ml-engineer",
    "register": "mlops-architect",
    "promote": "mlops-architect",
}

ProgressFn = Callable[[str, str, dict[str, Any]], None]
"""``progress(phase, message, info)``: the CLI turns these into a live view or plain lines."""


@dataclass
class PipelineOptions:
    prompt: str
    workdir: Path
    data: str | None = None
    target: str | None = None
    phases: tuple[str, ...] = ALL_PHASES
    backend: str = "offline"
    tracking_uri: str | None = None
    max_epochs: int | None = None
    accelerator: str = "auto"
    approach: str | None = None
    agents_dir: str | None = None
    #: design even when the prompt needs information or is unsupported (``run --assume``)
    assume: bool = False
    #: the project folder: the MLflow store (``mlflow.db``) and ``.claude/memory`` live here
    root: Path = field(default_factory=Path.cwd)
    #: chosen once, so the default workdir ``runs/<id>`` and the journal name the same id
    pipeline_id: str | None = None
    #: ``run --tune``: {"trials", "timeout", "workers"} of the search phase
    tune: dict[str, Any] | None = None
    #: ``run --devices/--num-nodes/--strategy/--accumulate`` (None: the blueprint's)
    scale: dict[str, Any] | None = None
    #: ``run --allow-baseline-champion``: the best baseline may stand in for a losing network
    allow_baseline_champion: bool = False


class PipelineContext(Protocol):
    """What a phase may use of the running pipeline."""

    opts: PipelineOptions
    journal: Journal
    progress: ProgressFn
    state: dict[str, Any]

    def history(self) -> list[dict[str, Any]]: ...


PhaseFn = Callable[[PipelineContext], dict[str, Any]]
