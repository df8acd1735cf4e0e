"""One tune worker: ask the shared study for trials until it holds enough, train each one.

A trial renders the blueprint's project with the sampled values into ``trials/NNNN`` of the tune
folder and runs it with ``train.runner`` (``python train.py``); each epoch's validation metric is
reported to Optuna and, when the pruner says so, the child is stopped and the trial pruned.
Workers coordinate only through Optuna's storage (no coordinator of our own); on one machine a
file lock beside the storage makes "count, then ask" atomic so no worker starts a surplus trial.
Run as ``python -m mlflowctl.orchestrate.tune_trial SETTINGS.json`` for the extra workers.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from mlflowctl.errors import InterruptedRunError, InvalidInputError, MlflowctlError

ATTR_HOST, ATTR_PID = "mlflowctl.host", "mlflowctl.pid"
ATTR_RUN, ATTR_FAILURE, ATTR_REASON = "mlflowctl.run_id", "mlflowctl.failure", "mlflowctl.reason"


@dataclass
class WorkerSettings:
    """Everything a worker process needs (JSON-able: the extra workers read it from a file)."""

    blueprint: str
    approach: str
    tune_dir: str
    storage: str
    study: str
    trials: int
    deadline: float | None
    max_epochs: int | None
    data: str | None
    tracking_uri: str
    parent_run_id: str
    pruner: str
    seed: int
    threads: int
    budget_tolerance: float
    worker: int = 0


class _Pruned(Exception):
    """Raised from the event handler: the runner then stops the training child."""


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise InterruptedRunError.for_signal(signum, phase="tune")


@contextlib.contextmanager
def interrupt_handlers() -> Iterator[None]:
    """SIGINT/SIGTERM raise ``InterruptedRunError`` (the runner forwards them to its child)."""
    previous = {s: signal.signal(s, _raise_interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def counted(trial: Any) -> bool:
    """Whether a trial uses up one of the requested trials (interrupted ones do not)."""
    from optuna.trial import TrialState

    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING):
        return True
    return trial.state == TrialState.FAIL and ATTR_FAILURE in trial.user_attrs


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_orphans(study: Any, tracking_uri: str) -> None:
    """RUNNING trials of dead processes on this host: FAIL in the study, KILLED in MLflow."""
    from optuna.trial import TrialState

    from mlflowctl.mlops.tuning import close_stale_trials

    host = socket.gethostname()
    stale = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = str(t.user_attrs.get(ATTR_PID, ""))
        if t.user_attrs.get(ATTR_HOST) == host and pid.isdigit() and not _pid_alive(int(pid)):
            with contextlib.suppress(Exception):  # another worker may close it first
                study.tell(t.number, state=TrialState.FAIL)
                stale.append(str(t.user_attrs.get(ATTR_RUN, "")))
    if any(stale):
        close_stale_trials(tracking_uri, [r for r in stale if r])


def make_sampler(method: str, params: list[Any], seed: int, trials: int) -> Any:
    import optuna

    from mlflowctl.orchestrate.tune_space import INT_PARAMS

    if method == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if method == "grid":
        grid = {
            p.name: [int(c) if p.name in INT_PARAMS else float(c) for c in p.choices]
            for p in params
        }
        return optuna.samplers.GridSampler(grid, seed=seed)
    startup = max(3, min(10, trials // 3))
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, constant_liar=True)


def make_pruner(name: str, max_epochs: int) -> Any:
    import optuna

    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(2, max_epochs))
    if name == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=max(1, max_epochs // 10))


def validation_only(root: Path) -> None:
    """The trial's config.yaml with ``evaluation.test: false``: its evaluate.py scores the
    validation split only, so the search never computes (nor logs) a test metric."""
    import yaml

    path = root / "config.yaml"
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg.setdefault("evaluation", {})["test"] = False
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")


def objective_value(history: list[dict[str, Any]], metric: str, monitor: str, mode: str) -> float:
    """The objective at the epoch the checkpoint kept (the weights a registration would use)."""
    rows = [h for h in history if isinstance(h.get(metric), (int, float))]
    if not rows:
        raise InvalidInputError(f"the training reported no {metric}", location="events.jsonl")
    kept = [h for h in rows if isinstance(h.get(monitor), (int, float))]
    if not kept:
        return float(rows[-1][metric])
    sign = -1.0 if mode == "max" else 1.0
    best = min(kept, key=lambda h: (sign * float(h[monitor]), int(h.get("epoch", 0))))
    return float(best[metric])


class Worker:
    """The trial loop of one worker process."""

    def __init__(self, settings: WorkerSettings) -> None:
        import optuna

        from mlflowctl.blueprint.model import Blueprint
        from mlflowctl.orchestrate.tune_space import check_space, objective_of

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.s = settings
        self.bp = Blueprint.load(settings.blueprint)
        self.approach = self.bp.approach(settings.approach)
        self.params = check_space(self.bp, self.approach, settings.blueprint)
        self.objective = objective_of(self.approach)
        self.max_epochs = settings.max_epochs or self.approach.training.max_epochs
        from mlflowctl.orchestrate.tune_storage import open_storage, storage_lock_path

        self.study = optuna.load_study(
            study_name=settings.study,
            storage=open_storage(settings.storage),
            sampler=make_sampler(
                self.approach.training.search_space.method,
                self.params,
                settings.seed,
                settings.trials,
            ),
            pruner=make_pruner(settings.pruner, self.max_epochs),
        )
        lock = storage_lock_path(settings.storage)
        self.lock = None
        if lock is not None:
            from filelock import FileLock

            self.lock = FileLock(str(lock), timeout=600)
        os.environ["OMP_NUM_THREADS"] = str(settings.threads)
        os.environ["MKL_NUM_THREADS"] = str(settings.threads)

    def _ask(self) -> Any | None:
        if self.s.deadline is not None and time.time() >= self.s.deadline:
            return None
        with self.lock if self.lock is not None else contextlib.nullcontext():
            fail_orphans(self.study, self.s.tracking_uri)
            trials = self.study.get_trials(deepcopy=False)
            if sum(1 for t in trials if counted(t)) >= self.s.trials:
                return None
            trial = self.study.ask()
        # several machines (no shared lock): the later of two racing asks steps back
        live = [t.number for t in self.study.get_trials(deepcopy=False) if counted(t)]
        if sum(1 for n in live if n < trial.number) >= self.s.trials:
            from optuna.trial import TrialState

            self.study.tell(trial, state=TrialState.FAIL)
            return None
        return trial

    def run(self) -> int:
        """Trials until the study holds enough; returns how many this worker ran."""
        done = 0
        while (trial := self._ask()) is not None:
            self.trial(trial)
            done += 1
        return done

    def trial(self, trial: Any) -> None:
        from optuna.trial import TrialState

        from mlflowctl.build import writer
        from mlflowctl.mlops import tuning
        from mlflowctl.orchestrate.tune_space import apply, budget_problem, sample
        from mlflowctl.train import runner

        s, obj = self.s, self.objective
        trial.set_user_attr(ATTR_HOST, socket.gethostname())
        trial.set_user_attr(ATTR_PID, os.getpid())
        values = sample(trial, self.params)
        problem, bp = None, self.bp
        try:
            bp = apply(self.bp, s.approach, values)
            count = bp.approach(s.approach).model.parameter_count
            problem = budget_problem(bp, bp.approach(s.approach), s.budget_tolerance)
        except InvalidInputError as exc:
            problem, count = exc.message, 0
        run_id = tuning.start_trial_run(
            s.tracking_uri,
            s.parent_run_id,
            study=s.study,
            number=trial.number,
            params={**values, "parameter_count": count, "max_epochs": self.max_epochs},
            tags={"mlflowctl.worker": str(s.worker)},
        )
        trial.set_user_attr(ATTR_RUN, run_id)
        if problem is not None:  # over the budget or not an architecture: never trained
            trial.set_user_attr(ATTR_REASON, problem)
            tuning.end_trial_run(
                s.tracking_uri, run_id, state="pruned", status="FINISHED",
                tags={"mlflowctl.prune_reason": problem},
            )  # fmt: skip
            self.study.tell(trial, state=TrialState.PRUNED)
            self._say(trial.number, f"pruned before training: {problem}")
            return
        logger = tuning.EpochLogger(s.tracking_uri, run_id, s.parent_run_id)
        pruned_at: list[int] = []

        def on_event(event: dict[str, Any]) -> None:
            if event.get("event") != "epoch":
                return
            step, metrics = int(event.get("epoch", 0)), event.get("metrics", {})
            logger.epoch(metrics, step)
            value = metrics.get(obj.metric)
            if isinstance(value, (int, float)):
                trial.report(float(value), step)
                if trial.should_prune():
                    pruned_at.append(step)
                    raise _Pruned()

        root = Path(s.tune_dir) / "trials" / f"{trial.number:04d}"
        try:
            project = writer.build(
                bp, approach=s.approach, out=root, data=s.data, force=root.is_dir()
            )
            validation_only(root)
            run = runner.train(project, max_epochs=self.max_epochs, on_event=on_event)
            value = objective_value(run.history, obj.metric, obj.monitor, obj.monitor_mode)
        except _Pruned:
            tuning.end_trial_run(
                s.tracking_uri, run_id, state="pruned", status="FINISHED",
                tags={"mlflowctl.prune_reason": f"pruned at epoch {pruned_at[-1]}"},
            )  # fmt: skip
            self.study.tell(trial, state=TrialState.PRUNED)
            self._say(trial.number, f"pruned at epoch {pruned_at[-1]}")
            return
        except (InterruptedRunError, KeyboardInterrupt):
            self.study.tell(trial, state=TrialState.FAIL)
            tuning.end_trial_run(s.tracking_uri, run_id, state="fail", status="KILLED")
            raise
        except MlflowctlError as exc:  # this configuration failed; the search goes on
            trial.set_user_attr(ATTR_FAILURE, exc.message[:500])
            self.study.tell(trial, state=TrialState.FAIL)
            tuning.end_trial_run(
                s.tracking_uri, run_id, state="fail", status="FAILED",
                tags={"mlflowctl.failure": exc.line()},
            )  # fmt: skip
            self._say(trial.number, f"failed: {exc.line()}")
            return
        self.study.tell(trial, value)
        tuning.end_trial_run(
            s.tracking_uri, run_id, state="complete", status="FINISHED",
            value=value, metric=obj.metric,
        )  # fmt: skip
        self._say(trial.number, f"{obj.metric}={value:.4g} ({run.epochs_completed} epochs)")

    def _say(self, number: int, text: str) -> None:
        from mlflowctl import console

        console.status(f"tune: trial {number} (worker {self.s.worker}) {text}")


def write_settings(settings: WorkerSettings, path: Path) -> None:
    """The workers' settings (the storage URL may hold a password: readable by the owner only)."""
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(json.dumps(asdict(settings), indent=2), encoding="utf-8")


def main(argv: list[str]) -> int:
    """An extra worker process: its own trials until the study holds enough."""
    from mlflowctl import console

    settings = WorkerSettings(**json.loads(Path(argv[0]).read_text(encoding="utf-8")))
    try:
        with interrupt_handlers():
            Worker(settings).run()
    except MlflowctlError as exc:
        console.error(exc.line(), exc.hint)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
