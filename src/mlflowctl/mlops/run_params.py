"""What a Tracker writes, as plain functions: the params (the effective ``config.yaml``,
flattened), metric batches, and the small helpers around them."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from mlflowctl.mlops.uri import redact

_PARAM_MAX = 6000


def flatten(data: Any, prefix: str = "") -> dict[str, str]:
    """Nested dicts as dotted keys; lists and scalars as JSON text (MLflow params are strings)."""
    out: dict[str, str] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    text = data if isinstance(data, str) else json.dumps(data, sort_keys=True)
    out[prefix] = redact(text)[:_PARAM_MAX]
    return out


def effective_config(root: Path, max_epochs: int | None = None) -> dict[str, Any]:
    """The project's ``config.yaml`` as ``train.py`` will run it: after ``--max-epochs``.

    These are the values that train, so they (not the blueprint's) become the run's params.
    """
    import yaml

    from mlflowctl.errors import TrainingError

    path = root / "config.yaml"
    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TrainingError(
            f"{path}: cannot read the project's config ({exc})",
            hint="rebuild the project with --force",
            phase="train",
            location=str(path),
        ) from exc
    if not isinstance(cfg, dict) or not isinstance(cfg.get("training"), dict):
        raise TrainingError(
            f"{path}: no 'training' section",
            hint="rebuild the project with --force",
            phase="train",
            location=str(path),
        )
    if max_epochs is not None:
        cfg["training"]["max_epochs"] = max_epochs
    return cfg


def _git_commit(cwd: Path) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None


def _batches(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def metric_batch(metrics: dict[str, Any], step: int) -> list[Any]:
    from mlflow.entities import Metric

    ts = int(time.time() * 1000)
    return [
        Metric(str(k)[:250], float(v), ts, step)
        for k, v in metrics.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    ]


def recorded_epoch_metrics(root: Path) -> dict[tuple[str, int], Any]:
    """The epoch metrics of the build folder's local record ``events.jsonl``, by (key, step)."""
    try:
        lines = (root / "events.jsonl").read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    latest: dict[tuple[str, int], Any] = {}
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a torn last line of a killed child
        if not isinstance(event, dict) or event.get("event") != "epoch":
            continue
        for metric in metric_batch(event.get("metrics", {}), int(event.get("epoch", 0))):
            latest[(str(metric.key), int(metric.step))] = metric
    return latest
