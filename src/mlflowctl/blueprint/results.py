"""The nouns the phases return: ``build() -> RenderedProject``, ``train() -> TrainingRun``,
``register() -> ModelVersion``. Plain data, cheap to import."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RenderedProject:
    """A standalone Lightning project written to ``root`` from one approach of a blueprint."""

    root: Path
    blueprint_id: str
    approach: str
    template_kind: str
    #: relative path -> text, exactly what was written
    files: dict[str, str] = field(default_factory=dict)


@dataclass
class TrainingRun:
    """What one training of a rendered project produced."""

    project: RenderedProject
    #: test-split metrics (``test_accuracy``, ``test_rmse`` ...) and final validation metrics
    metrics: dict[str, float]
    #: one dict per finished epoch: {"epoch": n, "train_loss": ..., "val_loss": ...}
    history: list[dict[str, float]]
    status: str  # "finished" | "failed" | "killed"
    wall_time_s: float
    epochs_completed: int
    accelerator: str  # "cpu" | "gpu"
    precision: str
    best_checkpoint: Path | None = None
    last_checkpoint: Path | None = None
    #: pickle-free weights (safetensors-style state dict saved by the project)
    weights_path: Path | None = None
    weights_sha256: str | None = None
    metrics_path: Path | None = None
    plots: list[Path] = field(default_factory=list)
    report_path: Path | None = None
    failure: str | None = None  # "nan_loss" | "oom" | "error" when status == "failed"
    resumed_from: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelVersion:
    """A registered model version and what the promotion gate decided."""

    name: str
    version: int
    run_id: str
    aliases: tuple[str, ...]
    promoted: bool
    reason: str
    weights_sha256: str | None = None
    previous_champion: int | None = None
