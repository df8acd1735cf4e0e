"""MLflow runs of a hyper-parameter search: one parent per study, one nested child per trial.

The parent carries the search space, the sampler and the best values; each child carries its
trial number, its sampled values, its per-epoch validation metrics and its state
(``mlflowctl.trial_state``: complete, pruned, fail). A pruned trial ends FINISHED (pruning is an
ordinary outcome of a search); a failed one FAILED; one stopped by a signal KILLED. Runs carry
the liveness tags, so runs of a worker that died are reaped like any other mlflowctl run.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from mlflowctl import __version__
from mlflowctl.blueprint.model import Blueprint
from mlflowctl.blueprint.results import TrainingRun
from mlflowctl.mlops.liveness import TAG_HEARTBEAT, liveness_tags, utc_now
from mlflowctl.mlops.store import client, get_or_create_experiment, redact, set_tags

TAG_STUDY = "mlflowctl.study"
TAG_TRIAL = "mlflowctl.trial_number"
TAG_STATE = "mlflowctl.trial_state"
TAG_ROLE = "mlflowctl.tune_role"
_BEAT_S = 20.0


def _params(c: Any, run_id: str, params: dict[str, Any]) -> None:
    from mlflow.entities import Param

    items = [Param(str(k)[:250], redact(str(v))[:6000]) for k, v in sorted(params.items())]
    for i in range(0, len(items), 100):
        c.log_batch(run_id, params=items[i : i + 100])


def open_study_run(
    uri: str,
    experiment: str,
    *,
    study: str,
    run_id: str | None,
    params: dict[str, Any],
    tags: dict[str, str],
) -> str:
    """The study's parent run: ``run_id`` reopened (a resumed search) or a new one."""
    c = client(uri)
    if run_id:
        c.update_run(run_id, status="RUNNING")
        set_tags(c, run_id, liveness_tags())
        return run_id
    exp_id = get_or_create_experiment(uri, experiment)
    all_tags = {
        TAG_STUDY: study,
        TAG_ROLE: "study",
        "mlflowctl.version": __version__,
        **liveness_tags(),
        **tags,
    }
    run = c.create_run(
        exp_id, tags={k: redact(v) for k, v in all_tags.items()}, run_name=f"tune-{study}"[:250]
    )
    new_id = str(run.info.run_id)
    _params(c, new_id, params)
    return new_id


def start_trial_run(
    uri: str,
    parent_run_id: str,
    *,
    study: str,
    number: int,
    params: dict[str, Any],
    tags: dict[str, str],
) -> str:
    """A nested run for trial ``number`` with its sampled values as params."""
    c = client(uri)
    exp_id = c.get_run(parent_run_id).info.experiment_id
    all_tags = {
        "mlflow.parentRunId": parent_run_id,
        TAG_STUDY: study,
        TAG_TRIAL: str(number),
        TAG_STATE: "running",
        TAG_ROLE: "trial",
        "mlflowctl.version": __version__,
        **liveness_tags(),
        **tags,
    }
    run = c.create_run(
        exp_id,
        tags={k: redact(v) for k, v in all_tags.items()},
        run_name=f"trial-{number:03d}",
    )
    run_id = str(run.info.run_id)
    _params(c, run_id, params)
    return run_id


class EpochLogger:
    """Per-epoch metrics of one trial (one batch per epoch) and a heartbeat for it and the
    parent; test metrics never reach a trial run (the search does not see the test split)."""

    def __init__(self, uri: str, run_id: str, parent_run_id: str) -> None:
        self.c = client(uri)
        self.run_ids = (run_id, parent_run_id)
        self._beat = time.monotonic()

    def epoch(self, metrics: dict[str, Any], step: int) -> None:
        from mlflow.entities import Metric

        ts = int(time.time() * 1000)
        batch = [
            Metric(str(k)[:250], float(v), ts, step)
            for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and not k.startswith("test")
        ]
        if batch:
            self.c.log_batch(self.run_ids[0], metrics=batch)
        if time.monotonic() - self._beat > _BEAT_S:
            self._beat = time.monotonic()
            for run_id in self.run_ids:
                self.c.set_tag(run_id, TAG_HEARTBEAT, utc_now())


def end_trial_run(
    uri: str,
    run_id: str,
    *,
    state: str,
    status: str,
    value: float | None = None,
    metric: str | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    """Close a trial run: its state tag, the objective value, a terminal status."""
    c = client(uri)
    c.set_tag(run_id, TAG_STATE, state)
    for key, text in (tags or {}).items():
        c.set_tag(run_id, key, redact(text)[:5000])
    if value is not None and metric:
        c.log_metric(run_id, f"objective.{metric}", float(value))
    c.set_terminated(run_id, status=status)


def close_stale_trials(uri: str, run_ids: list[str]) -> None:
    """Trial runs left RUNNING by a worker that died: KILLED, state fail."""
    c = client(uri)
    for run_id in run_ids:
        try:
            if c.get_run(run_id).info.status == "RUNNING":
                c.set_tag(run_id, TAG_STATE, "fail")
                c.set_tag(run_id, "mlflowctl.reaped", utc_now())
                c.set_terminated(run_id, status="KILLED")
        except Exception:
            continue


def finish_study_run(
    uri: str,
    run_id: str,
    *,
    status: str,
    best: dict[str, Any] | None,
    counts: dict[str, int],
    plots: list[Path],
) -> None:
    """Best values (metrics and tags: a resumed study may find a better one), trial counts,
    the study's plots as artifacts, then the terminal status."""
    c = client(uri)
    for state, n in counts.items():
        c.log_metric(run_id, f"trials_{state}", float(n))
    if best:
        c.log_metric(run_id, f"best_{best['metric']}", float(best["value"]))
        tags = {f"mlflowctl.best.{k}": str(v) for k, v in best["params"].items()}
        set_tags(c, run_id, {"mlflowctl.best_trial": str(best["number"]), **tags})
    for plot in plots:
        if plot.is_file():
            c.log_artifact(run_id, str(plot), "plots")
    c.set_terminated(run_id, status=status)


def log_trial_model(uri: str, run_id: str, blueprint: Blueprint, run: TrainingRun) -> str:
    """The best trial's trained project and pickle-free model on its own run (no retraining);
    returns the model URI that registration uses."""
    from mlflow.entities import Metric

    from mlflowctl.mlops.model_logging import log_pickle_free_model
    from mlflowctl.train.checkpoints import sha256_file

    c = client(uri)
    logged = c.get_run(run_id).data.tags.get("mlflowctl.model_uri")
    if logged:  # another process sharing the study logged it first
        run.weights_sha256 = c.get_run(run_id).data.tags.get("mlflowctl.weights_sha256")
        run.extra.update(model_uri=logged, run_id=run_id)
        return str(logged)
    ts = int(time.time() * 1000)
    step = max(run.epochs_completed - 1, 0)
    c.log_batch(run_id, metrics=[Metric(k, float(v), ts, step) for k, v in run.metrics.items()])
    c.log_text(run_id, redact(blueprint.to_yaml()), "blueprint.yaml")
    with tempfile.TemporaryDirectory(prefix="mlflowctl-project-") as tmp:
        for rel, text in run.project.files.items():
            dest = Path(tmp, rel)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(redact(text), encoding="utf-8")
        if run.project.files:
            c.log_artifacts(run_id, tmp, "project")
    for path in (run.metrics_path, run.report_path):
        if path is not None and Path(path).is_file():
            c.log_artifact(run_id, str(path), "outputs")
    for plot in run.plots:
        if Path(plot).is_file():
            c.log_artifact(run_id, str(plot), "outputs/plots")
    root = run.project.root
    weights = Path(run.weights_path or root / "outputs" / "weights.safetensors")
    run.weights_sha256 = run.weights_sha256 or sha256_file(weights)
    exp_id = c.get_run(run_id).info.experiment_id
    with warnings.catch_warnings():  # "add type hints to predict": deliberately absent
        warnings.simplefilter("ignore", UserWarning)
        model_uri = log_pickle_free_model(c, exp_id, run_id, root, weights)
    tags = {"mlflowctl.model_uri": model_uri, "mlflowctl.weights_sha256": run.weights_sha256}
    set_tags(c, run_id, tags)
    run.extra["model_uri"] = model_uri
    run.extra["run_id"] = run_id
    return model_uri
