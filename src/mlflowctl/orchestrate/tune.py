"""``mlflowctl tune``: an Optuna search over the blueprint's ``search_space``.

Order matters for "nothing started on bad input": the blueprint, its search space, the registry
spec, the tracking store and the study storage are all checked before a run or a trial exists.
Then one parent MLflow run for the study, ``workers`` worker processes sharing the study (this
process is worker 0; the others are ``python -m mlflowctl.orchestrate.tune_trial``), and at the
end the study's plots on the parent and the best trial's trained model registered as
``@challenger`` and put through the gate, exactly as ``mlflowctl build`` does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlflowctl import console
from mlflowctl.errors import (
    EXIT_REGISTRY_CONFLICT,
    InterruptedRunError,
    InvalidInputError,
    MlflowctlError,
)
from mlflowctl.mlops.uri import redact
from mlflowctl.orchestrate.tune_storage import open_storage, study_setup_lock
from mlflowctl.settings import Settings

ATTR_SPACE, ATTR_PARENT = "mlflowctl.search_space", "mlflowctl.parent_run_id"
ATTR_JOINS = "mlflowctl.joins"
PRUNERS = ("median", "hyperband", "none")


class StudyConflictError(MlflowctlError):
    """A study of that name exists with a different search space (exit 7)."""

    exit_code = EXIT_REGISTRY_CONFLICT
    kind = "study_conflict"


@dataclass
class TuneOptions:
    blueprint: Path
    approach: str | None = None
    trials: int | None = None
    timeout: float | None = None
    workers: int = 1
    storage: str | None = None
    study: str | None = None
    max_epochs: int | None = None
    data: str | None = None
    out: Path | None = None
    tracking_uri: str | None = None
    pruner: str = "median"
    #: retrain the best configuration and register it through the gate (``run --tune`` does
    #: both in its own phases instead)
    register: bool = True
    #: ``--allow-baseline-champion``: the best baseline may stand in for the tuned network
    allow_baseline_champion: bool = False


def _storage_url(opts: TuneOptions, tune_dir: Path) -> str:
    if opts.storage is None:
        return str((tune_dir / "study.journal").absolute())
    if "://" not in opts.storage:
        return str(Path(opts.storage.removeprefix("journal:")).absolute())
    return opts.storage


def _load_study(storage: Any, name: str, direction: str, signature: str) -> Any:
    import optuna

    study = optuna.create_study(
        study_name=name,
        storage=storage,
        direction=optuna.study.StudyDirection[direction.upper()],
        load_if_exists=True,
    )
    existing = study.user_attrs.get(ATTR_SPACE)
    if existing is None:
        study.set_user_attr(ATTR_SPACE, signature)
    elif existing != signature or study.direction.name.lower() != direction:
        raise StudyConflictError(
            f"study {name!r} exists with a different search space: stored {existing}; "
            f"this blueprint asks for {signature}",
            hint="pass another --study NAME, or the blueprint the study was started with",
            location="--study",
        )
    return study


def _threads(workers: int) -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    budget = max(1, (cores or 1) // workers)
    user = os.environ.get("OMP_NUM_THREADS", "")
    return min(budget, int(user)) if user.isdigit() and int(user) > 0 else budget


def _spawn(settings: Any, tune_dir: Path) -> list[subprocess.Popen[bytes]]:
    from mlflowctl.orchestrate.tune_trial import write_settings

    procs = []
    (tune_dir / "workers").mkdir(exist_ok=True)
    for worker in range(1, settings.workers_total):
        ws = replace(settings.worker_settings, worker=worker, seed=settings.seeds[worker])
        path = tune_dir / "workers" / f"worker-{worker}.json"
        write_settings(ws, path)
        log = (tune_dir / "workers" / f"worker-{worker}.log").open("ab")
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "mlflowctl.orchestrate.tune_trial", str(path)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        log.close()
    return procs


@dataclass
class _Plan:
    worker_settings: Any
    workers_total: int
    seeds: list[int]


def _stop(procs: list[subprocess.Popen[bytes]], signum: int) -> None:
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(OSError):
                p.send_signal(signum)
    end = time.monotonic() + 120
    for p in procs:
        try:
            p.wait(timeout=max(1.0, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def tune(opts: TuneOptions) -> dict[str, Any]:
    """Run (or continue) the search; returns the summary the CLI prints."""

    from mlflowctl.blueprint.model import Blueprint
    from mlflowctl.mlops.registry import validate_registry_spec
    from mlflowctl.orchestrate.tune_space import check_space, objective_of, space_signature
    from mlflowctl.orchestrate.tune_trial import WorkerSettings
    from mlflowctl.specs.loader import load_agent

    started = time.perf_counter()
    if opts.trials is not None and opts.trials < 1:
        raise InvalidInputError(
            f"--trials must be at least 1, got {opts.trials}", location="--trials"
        )
    if opts.workers < 1:
        raise InvalidInputError(
            f"--workers must be at least 1, got {opts.workers}", location="--workers"
        )
    if opts.timeout is not None and opts.timeout <= 0:
        raise InvalidInputError("--timeout must be positive", location="--timeout")
    if opts.pruner not in PRUNERS:
        raise InvalidInputError(
            f"unknown pruner {opts.pruner!r}", hint=", ".join(PRUNERS), location="--pruner"
        )
    bp = Blueprint.load(opts.blueprint)
    approach = bp.approach(opts.approach)
    params = check_space(bp, approach, str(opts.blueprint))
    objective = objective_of(approach)
    space = approach.training.search_space
    trials = opts.trials or space.n_trials
    if not space.enabled:
        console.warn(
            "training.search_space.enabled is false: searching the blueprint's default space"
        )
    registry = approach.infrastructure.registry
    validate_registry_spec(registry)
    uri = opts.tracking_uri or Settings.from_environment().tracking.uri
    from mlflowctl.build.preflight import preflight

    for line in preflight(bp, approach.name, data=opts.data, train=True):
        if "search_space" not in line:
            console.warn(line)
    from mlflowctl.mlops.store import prepare_store

    prepare_store(uri)  # a dead tracking server fails here (exit 6), before any trial
    tune_dir = (
        opts.out or Path("builds") / f"{bp.provenance.blueprint_id}-{approach.name}-tune"
    ).absolute()
    storage_url = _storage_url(opts, tune_dir)
    if opts.storage is None:
        tune_dir.mkdir(parents=True, exist_ok=True)
    storage = open_storage(storage_url)
    study_name = opts.study or f"{bp.provenance.blueprint_id}-{approach.name}"
    signature = space_signature(params, objective, space.method)
    with study_setup_lock(storage_url, storage, study_name):
        # one parent run per study, and a distinct seed for each process that joins it
        study = _load_study(storage, study_name, objective.direction, signature)
        if not study.get_trials(deepcopy=False):  # a new study starts from the design itself
            from mlflowctl.orchestrate.tune_space import defaults

            study.enqueue_trial(defaults(approach, params), skip_if_exists=True)
        parent = _parent_run(study, uri, approach, study_name, trials, objective, opts, signature)
        joins = int(study.user_attrs.get(ATTR_JOINS, 0))
        study.set_user_attr(ATTR_JOINS, joins + 1)
    tune_dir.mkdir(parents=True, exist_ok=True)
    console.status(
        f"tune: study {study_name!r} ({trials} trials, {opts.workers} worker(s), "
        f"{objective.direction} {objective.metric}); storage {redact(storage_url)}"
    )
    base = approach.training.seed + 1000 * joins
    seeds = [base + w for w in range(opts.workers)]
    deadline = time.time() + opts.timeout if opts.timeout else None
    settings = WorkerSettings(
        blueprint=str(opts.blueprint.absolute()),
        approach=approach.name,
        tune_dir=str(tune_dir),
        storage=storage_url,
        study=study_name,
        trials=trials,
        deadline=deadline,
        max_epochs=opts.max_epochs,
        data=opts.data,
        tracking_uri=uri,
        parent_run_id=parent,
        pruner=opts.pruner,
        seed=seeds[0],
        threads=_threads(opts.workers),
        budget_tolerance=load_agent("ml-architect").policy.param_budget_tolerance,
    )
    plan = _Plan(settings, opts.workers, seeds)
    return _search(plan, tune_dir, bp, started, opts.register, opts.allow_baseline_champion)


def _parent_run(
    study: Any,
    uri: str,
    approach: Any,
    study_name: str,
    trials: int,
    objective: Any,
    opts: TuneOptions,
    signature: str,
) -> str:
    from mlflowctl.mlops.tuning import open_study_run

    previous = study.user_attrs.get(ATTR_PARENT)
    if isinstance(previous, dict) and previous.get("uri") == uri:
        return open_study_run(
            uri, "", study=study_name, run_id=str(previous["run_id"]), params={}, tags={}
        )
    run_id = open_study_run(
        uri,
        approach.infrastructure.tracking.experiment_name,
        study=study_name,
        run_id=None,
        params={
            "search_space": signature,
            "sampler": f"{approach.training.search_space.method} (seed {approach.training.seed})",
            "pruner": opts.pruner,
            "n_trials": trials,
            "objective": f"{objective.direction} {objective.metric}",
            "max_epochs": opts.max_epochs or approach.training.max_epochs,
        },
        tags={"mlflowctl.approach": approach.name, "mlflowctl.family": approach.model.family},
    )
    study.set_user_attr(ATTR_PARENT, {"uri": uri, "run_id": run_id})
    return run_id


def _search(
    plan: _Plan,
    tune_dir: Path,
    bp: Any,
    started: float,
    register: bool = True,
    allow_baseline: bool = False,
) -> dict[str, Any]:
    from mlflowctl.mlops.tuning import finish_study_run
    from mlflowctl.orchestrate.tune_trial import Worker, interrupt_handlers

    s = plan.worker_settings
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with interrupt_handlers():
            procs = _spawn(plan, tune_dir)
            worker = Worker(s)
            worker.run()
            for p in procs:
                p.wait()
    except (InterruptedRunError, KeyboardInterrupt) as exc:
        signum = signal.SIGINT if isinstance(exc, KeyboardInterrupt) else signal.SIGTERM
        if isinstance(exc, InterruptedRunError) and exc.details.get("signal") == "SIGINT":
            signum = signal.SIGINT
        _stop(procs, signum)
        with contextlib.suppress(Exception):
            finish_study_run(
                s.tracking_uri, s.parent_run_id, status="KILLED", best=None, counts={}, plots=[]
            )
        raise
    except BaseException:
        _stop(procs, signal.SIGTERM)
        with contextlib.suppress(Exception):
            finish_study_run(
                s.tracking_uri, s.parent_run_id, status="FAILED", best=None, counts={}, plots=[]
            )
        raise
    crashed = [p.pid for p in procs if p.returncode not in (0, None)]
    if crashed:
        console.warn(f"tune: worker(s) {crashed} exited with an error; see {tune_dir / 'workers'}")
    from mlflowctl.orchestrate.tune_finish import finish

    return finish(worker, tune_dir, bp, started, register=register, allow_baseline=allow_baseline)
