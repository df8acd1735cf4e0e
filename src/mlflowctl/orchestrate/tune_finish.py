"""The end of a search: counts, the study's plots, the best trial registered through the gate.

The best trial's project already trained to the end in its own folder (its best checkpoint,
weights and test metrics are there), so it is not retrained: its model is logged on the trial's
own MLflow run and registered as ``@challenger``; the blueprint's gate decides ``@champion``
(``orchestrate.services.register_and_gate``, what ``mlflowctl build`` does after training).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

from mlflowctl import console
from mlflowctl.mlops.uri import redact

#: study attribute: the best trial's retraining was claimed by one process (registered once)
ATTR_RETRAINED = "mlflowctl.retrained"


def _plots(study: Any, tune_dir: Path) -> list[Path]:
    """Optimization history and parameter importances (matplotlib; fANOVA for importance)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as ovm

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    out: list[Path] = []
    plots_dir = tune_dir / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    for name, draw in (
        ("optimization_history", ovm.plot_optimization_history),
        ("param_importances", ovm.plot_param_importances),
    ):
        try:
            axes: Any = draw(study)
            fig: Any = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
            fig.set_size_inches(8, 5)
            fig.tight_layout()
            path = plots_dir / f"{name}.png"
            fig.savefig(path, dpi=100)
            plt.close(fig)
            out.append(path)
        except Exception as exc:  # e.g. importance needs two complete trials
            console.warn(f"tune: no {name} plot ({str(exc).splitlines()[0][:200]})")
    return out


def _counts(study: Any) -> dict[str, int]:
    counts: dict[str, int] = {"complete": 0, "pruned": 0, "fail": 0, "running": 0}
    for t in study.get_trials(deepcopy=False):
        key = t.state.name.lower()
        counts[key] = counts.get(key, 0) + 1
    return counts


def _wait_for_others(study: Any, tracking_uri: str, limit_s: float = 1800.0) -> None:
    """Trials other processes still run: wait, so every process sees the same best trial."""
    from optuna.trial import TrialState

    from mlflowctl.orchestrate.tune_trial import fail_orphans

    end = time.monotonic() + limit_s
    said = False
    while time.monotonic() < end:
        fail_orphans(study, tracking_uri)
        if not study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            return
        if not said:
            console.status("tune: waiting for trials other workers are running")
            said = True
        time.sleep(2.0)
    console.warn("tune: trials still running elsewhere; finishing with what is complete")


def _retrain_best(
    worker: Any, number: int, params: dict[str, Any], best_bp: Any, tune_dir: Path
) -> Any:
    """The best configuration trained once more with its test evaluation on (trials score the
    validation split only), on a nested run of its own (``tune_role: best``)."""
    from mlflowctl.build import writer
    from mlflowctl.mlops import tuning
    from mlflowctl.orchestrate import services
    from mlflowctl.train import runner

    s = worker.s
    root = tune_dir / "best"
    console.status(f"tune: retraining the best configuration (trial {number}) with its test split")
    count = best_bp.approach(s.approach).model.parameter_count
    run_id = tuning.start_trial_run(
        s.tracking_uri,
        s.parent_run_id,
        study=s.study,
        number=number,
        params={**params, "parameter_count": count, "max_epochs": worker.max_epochs},
        tags={tuning.TAG_ROLE: "best", "mlflowctl.retrain_of_trial": str(number)},
    )
    logger = tuning.EpochLogger(s.tracking_uri, run_id, s.parent_run_id)

    def on_event(event: dict[str, Any]) -> None:
        if event.get("event") == "epoch":
            logger.epoch(event.get("metrics", {}), int(event.get("epoch", 0)))

    try:
        project = writer.build(
            best_bp, approach=s.approach, out=root, data=s.data, force=root.is_dir()
        )
        run = runner.train(project, max_epochs=worker.max_epochs, on_event=on_event)
        tuning.log_trial_model(s.tracking_uri, run_id, best_bp, run)
    except BaseException:
        tuning.end_trial_run(s.tracking_uri, run_id, state="fail", status="FAILED")
        raise
    tuning.end_trial_run(s.tracking_uri, run_id, state="complete", status="FINISHED")
    return services.BuildOutcome(
        project=project,
        run=run,
        run_id=run_id,
        tracking_uri=s.tracking_uri,
        build_id=f"{s.study}-trial{number}",
    )


def finish(
    worker: Any,
    tune_dir: Path,
    bp: Any,
    started: float,
    *,
    register: bool = True,
    allow_baseline: bool = False,
) -> dict[str, Any]:
    from optuna.trial import TrialState

    from mlflowctl.mlops.tuning import finish_study_run
    from mlflowctl.orchestrate import services
    from mlflowctl.orchestrate.tune_space import apply

    s, study, obj = worker.s, worker.study, worker.objective
    _wait_for_others(study, s.tracking_uri)
    counts = _counts(study)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    summary: dict[str, Any] = {
        "study": s.study,
        "storage": redact(s.storage),  # the JSON output and journal carry no password
        "tune_dir": str(tune_dir),
        "parent_run_id": s.parent_run_id,
        "tracking_uri": s.tracking_uri,
        "objective": {"metric": obj.metric, "direction": obj.direction},
        "trials": counts,
        "requested_trials": s.trials,
    }
    if not complete:
        finish_study_run(
            s.tracking_uri, s.parent_run_id, status="FAILED", best=None, counts=counts, plots=[]
        )
        from mlflowctl.errors import TrainingError

        raise TrainingError(
            f"no trial of study {s.study!r} completed ({counts})",
            hint=f"see the trial runs under {s.parent_run_id} and {tune_dir / 'trials'}",
            phase="tune",
            location=str(tune_dir),
        )
    best = study.best_trial
    plots = _plots(study, tune_dir)
    best_info = {
        "number": best.number,
        "value": best.value,
        "metric": obj.metric,
        "params": dict(best.params),
    }
    summary["best"] = best_info
    best_bp = apply(bp, s.approach, dict(best.params))
    version = None
    claim = f"{ATTR_RETRAINED}.{best.number}"
    tuned = tune_dir / "best_blueprint.yaml"
    tuned.write_text(best_bp.to_yaml(), encoding="utf-8")
    summary["best_blueprint"] = str(tuned)
    if register and study.user_attrs.get(claim, s.tune_dir) != s.tune_dir:
        console.warn(f"tune: best trial {best.number} was retrained elsewhere; nothing registered")
    elif register:
        study.set_user_attr(claim, s.tune_dir)
        outcome = _retrain_best(worker, best.number, dict(best.params), best_bp, tune_dir)
        version = services.register_and_gate(best_bp, outcome, allow_baseline=allow_baseline)
        assert outcome.run is not None
        summary["test_metrics"] = {
            k: v for k, v in outcome.run.metrics.items() if k.startswith("test_")
        }
        summary["best_build_dir"] = str(outcome.project.root)
        summary["best_run_id"] = outcome.run_id
    finish_study_run(
        s.tracking_uri, s.parent_run_id, status="FINISHED", best=best_info, counts=counts,
        plots=plots,
    )  # fmt: skip
    summary["plots"] = [str(p) for p in plots]
    if version is not None:
        summary.update(
            model_name=version.name,
            model_version=version.version,
            aliases=list(version.aliases),
            promoted=version.promoted,
            promotion_reason=version.reason,
            previous_champion=version.previous_champion,
        )
    summary["wall_time_s"] = round(time.perf_counter() - started, 1)
    return summary
