"""The engineer's and the mlops-architect's phases as one call: build -> train -> track -> register.

``mlflowctl build`` and the orchestrator's pipeline both go through ``render``, ``train_tracked``
and ``register_and_gate`` so a build behaves the same wherever it starts; both pass the command's
``Settings`` (tracking URI by the one rule, the agent specs' policies). Order matters for "nothing
lost": the registry name is checked before any run exists, the tracking store is prepared (and a
dead server reported, F8) before anything trains, and a version is registered only after the
model was logged.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflowctl import console
from mlflowctl.blueprint.model import Blueprint
from mlflowctl.blueprint.results import ModelVersion, RenderedProject, TrainingRun
from mlflowctl.orchestrate.alongside import Alongside
from mlflowctl.orchestrate.journal import atomic_write_text

if TYPE_CHECKING:
    from mlflowctl.mlops.runs import Tracker
    from mlflowctl.settings import Settings
    from mlflowctl.train.scale import Scale

EventHandler = Callable[[dict[str, Any]], None]
AGENTS = ("ml-architect", "ml-engineer", "mlops-architect", "ml-orchestrator")
BUILD_STATE = Path(".mlflowctl") / "build.json"


@dataclass
class BuildOutcome:
    project: RenderedProject
    run: TrainingRun | None = None
    version: ModelVersion | None = None
    run_id: str | None = None
    tracking_uri: str | None = None
    build_id: str | None = None


def agent_digests(agents_dir: str | None = None) -> dict[str, str]:
    from mlflowctl.specs.loader import load_agent

    return {name: load_agent(name, agents_dir).sha256 for name in AGENTS}


def _settings(
    settings: Settings | None, tracking_uri: str | None, agents_dir: str | None
) -> Settings:
    """The caller's settings, or (for a library caller without them) the environment's."""
    from mlflowctl.settings import Settings

    if settings is not None:
        return settings if tracking_uri is None else settings.with_tracking_uri(tracking_uri)
    return Settings.from_environment(agents_dir=agents_dir, tracking_uri=tracking_uri)


def read_state(root: Path) -> dict[str, Any]:
    try:
        data = json.loads((root / BUILD_STATE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_state(root: Path, state: dict[str, Any]) -> None:
    atomic_write_text(root / BUILD_STATE, json.dumps(state, indent=2) + "\n")


def render(
    blueprint: Blueprint,
    *,
    approach: str | None,
    out: Path,
    data: str | None,
    force: bool,
    resume: bool,
    dry_run: bool = False,
    settings: Settings | None = None,
) -> RenderedProject:
    """Write the project (or reopen it for ``resume``) with the ml-engineer policy."""
    from mlflowctl import console
    from mlflowctl.build import writer as workspace
    from mlflowctl.build.preflight import preflight

    for line in preflight(
        blueprint, approach, data=data, train=not dry_run, project_root=out if resume else None
    ):
        console.warn(line)
    if resume:
        return workspace.open_project(out)
    return workspace.build(
        blueprint,
        approach=approach,
        out=out,
        data=data,
        force=force,
        dry_run=dry_run,
        policy=_settings(settings, None, None).engineer,
    )


def train_tracked(
    blueprint: Blueprint,
    project: RenderedProject,
    *,
    tracking_uri: str | None,
    track: bool = True,
    max_epochs: int | None = None,
    accelerator: str = "auto",
    resume: bool = False,
    on_event: EventHandler | None = None,
    parent_run_id: str | None = None,
    agents_dir: str | None = None,
    settings: Settings | None = None,
    scale: Scale | None = None,
) -> BuildOutcome:
    """Train the project inside one tracked MLflow run; the model is logged, not registered.

    The store is ``settings.tracking`` (``tracking_uri``, when given, is the flag on top of it);
    the Tracker runs with the mlops-architect policy (heartbeat, staleness, batch size). The
    folder's training lock is held throughout: nothing in the folder (its state, a checkpoint to
    recover) is touched while another process trains it (X3).
    """
    from mlflowctl.train.locks import folder_lock

    with folder_lock(project.root):
        return _train_tracked(
            blueprint, project, tracking_uri=tracking_uri, track=track, max_epochs=max_epochs,
            accelerator=accelerator, resume=resume, on_event=on_event,
            parent_run_id=parent_run_id, agents_dir=agents_dir, settings=settings, scale=scale,
        )  # fmt: skip


def _train_tracked(
    blueprint: Blueprint,
    project: RenderedProject,
    *,
    tracking_uri: str | None,
    track: bool,
    max_epochs: int | None,
    accelerator: str,
    resume: bool,
    on_event: EventHandler | None,
    parent_run_id: str | None,
    agents_dir: str | None,
    settings: Settings | None,
    scale: Scale | None,
) -> BuildOutcome:
    from mlflowctl.train import runner as trainer
    from mlflowctl.train.checkpoints import recover_checkpoint

    approach = blueprint.approach(project.approach)
    state = read_state(project.root)
    build_id = state.get("build_id") or f"{project.blueprint_id}-{secrets.token_hex(4)}"
    raw = state.get("overrides")
    recorded: dict[str, Any] = raw if isinstance(raw, dict) else {}
    if resume:  # X18: the overrides the build started with, unless given again
        if max_epochs is None:
            max_epochs = recorded.get("max_epochs")
        if accelerator == "auto":
            accelerator = str(recorded.get("accelerator") or "auto")
        recover_checkpoint(project.root)  # X19: before any run exists
    state = {
        **state,
        "build_id": build_id,
        "overrides": {"max_epochs": max_epochs, "accelerator": accelerator},
    }
    _write_state(project.root, state)
    outcome = BuildOutcome(project=project, build_id=build_id)
    if not track:
        outcome.run = trainer.train(
            project,
            max_epochs=max_epochs,
            accelerator=accelerator,
            resume=resume,
            on_event=on_event,
            scale=scale,
        )
        return outcome

    from mlflowctl.mlops.run_params import effective_config
    from mlflowctl.mlops.store import tracking_unavailable

    resolved = _settings(settings, tracking_uri, agents_dir)
    uri = resolved.tracking.uri
    outcome.tracking_uri = uri
    previous_runs = list(state.get("run_ids", []))
    extra_tags = {
        "mlflowctl.start": "resumed" if resume else "fresh",
    }
    if resume and previous_runs:
        extra_tags["mlflowctl.resumed_from"] = previous_runs[-1]
    config = effective_config(project.root, max_epochs)

    def open_tracker() -> Tracker:
        """Everything MLflow needs before the first metric, done while the child trains:
        ``import mlflow``, the registry names (B23), the store (F8 probe, SQLite schema), the
        run and its params, and what logging the model needs afterwards (a failure here stops
        the training: the runner's ``abort``)."""
        from mlflowctl.mlops.registry import validate_registry_spec
        from mlflowctl.mlops.runs import Tracker
        from mlflowctl.mlops.store import prepare_store

        with tracking_unavailable(uri):
            validate_registry_spec(approach.infrastructure.registry)  # before any run exists
            prepare_store(uri)  # F8: a dead server stops the training (exit 6)
            return _opened(
                Tracker(
                    uri,
                    blueprint,
                    project.approach,
                    build_id=build_id,
                    agent_digests=resolved.agent_digests(),
                    parent_run_id=parent_run_id,
                    policy=resolved.mlops,
                    extra_tags=extra_tags,
                    config=config,
                )
            )

    def _opened(tracker: Tracker) -> Tracker:
        from mlflowctl.mlops.model_logging import warm_up

        tracker.__enter__()
        try:
            assert tracker.run_id is not None
            _write_state(project.root, {**state, "run_ids": [*previous_runs, tracker.run_id]})
            tracker.log_project(project)  # known already: off the path after the training
            warm_up()
        except BaseException as exc:
            tracker.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return tracker

    console.timed(f"tracking: opening the store {uri} (while the training starts)")
    opening = Alongside(open_tracker)  # started once the child runs
    early: list[dict[str, Any]] = []  # events that came before the run existed

    def handle(event: dict[str, Any]) -> None:
        tracker = opening.ready()
        if tracker is None:
            early.append(event)
        else:
            while early:
                tracker.on_event(early.pop(0))
            tracker.on_event(event)
        if on_event is not None:
            on_event(event)

    logged: list[TrainingRun] = []

    def log_while_exiting(run: TrainingRun) -> None:
        """Every output is written: log them while the training process shuts down."""
        with tracking_unavailable(uri):
            tracker = opening.result()
            for event in early:
                tracker.on_event(event)
            early.clear()
            console.timed("tracking: logging the model and metrics to MLflow")
            tracker.log_training(run)
        logged.append(run)

    try:
        run = trainer.train(
            project,
            max_epochs=max_epochs,
            accelerator=accelerator,
            resume=resume,
            on_event=handle,
            scale=scale,
            abort=opening.failure,
            launched=opening.start,
            finished=log_while_exiting,
        )
    except BaseException as exc:
        tracker = opening.settle()  # the run it opened ends FAILED / KILLED
        if tracker is not None:
            tracker.install_sigterm()
            for event in early:
                tracker.on_event(event)
            tracker.__exit__(type(exc), exc, exc.__traceback__)
        raise
    with tracking_unavailable(uri):
        tracker = opening.result()  # raises what opening the store raised
    tracker.install_sigterm()
    with tracking_unavailable(uri), _closing(tracker):
        assert tracker.run_id is not None
        outcome.run_id = tracker.run_id
        for event in early:
            tracker.on_event(event)
        early.clear()
        if logged:  # logged while the child exited (the outputs cannot change after its end)
            run = logged[0]
        else:  # the child ended without a 'finished' event reaching us first
            console.timed("tracking: logging the model and metrics to MLflow")
            tracker.log_training(run)
        outcome.run = run
    return outcome


@contextlib.contextmanager
def _closing(tracker: Tracker) -> Iterator[None]:
    """``with tracker:`` for a tracker entered elsewhere: its exit sets the run's status."""
    try:
        yield
    except BaseException as exc:
        tracker.__exit__(type(exc), exc, exc.__traceback__)
        raise
    tracker.__exit__(None, None, None)


def register_and_gate(
    blueprint: Blueprint, outcome: BuildOutcome, *, allow_baseline: bool = False
) -> ModelVersion:
    """Register the logged model as ``@challenger``; the blueprint's gate decides ``@champion``.
    With ``allow_baseline`` (``--allow-baseline-champion``), a network that loses to the best
    classical baseline has that baseline registered and gated in its place."""
    from mlflowctl.mlops.registry import register
    from mlflowctl.mlops.store import tracking_unavailable

    assert outcome.run is not None and outcome.run_id and outcome.tracking_uri and outcome.build_id
    registry = blueprint.approach(outcome.project.approach).infrastructure.registry
    with tracking_unavailable(outcome.tracking_uri):
        outcome.version = register(
            outcome.tracking_uri, outcome.run_id, outcome.run, registry,
            build_id=outcome.build_id, ties=allow_baseline,
        )  # fmt: skip
        if allow_baseline and not outcome.version.promoted:
            from mlflowctl.mlops.baseline_champion import offer_baseline

            outcome.version = offer_baseline(
                outcome.tracking_uri,
                outcome.run_id,
                outcome.run,
                registry,
                build_id=outcome.build_id,
                lost=outcome.version,
            )
        elif not outcome.version.promoted:
            from mlflowctl.mlops.baseline_champion import suggest_baseline

            outcome.version = suggest_baseline(outcome.tracking_uri, registry, outcome.version)
    return outcome.version
