"""The orchestrator's six phases. Each takes the running ``Pipeline`` and returns the outputs its
journal records; ``outputs["summary"]`` feeds the final report and ``outputs["memory"]`` the
history line. Everything a later phase needs is read back from files or the journal, so any
phase can run in a later process after ``--resume``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflowctl.errors import GateFailedError, InvalidInputError
from mlflowctl.orchestrate.context import PhaseFn
from mlflowctl.orchestrate.context import PipelineContext as Pipeline
from mlflowctl.orchestrate.journal import atomic_write_text

if TYPE_CHECKING:
    from mlflowctl.blueprint.model import Blueprint
    from mlflowctl.orchestrate.services import BuildOutcome
    from mlflowctl.settings import Settings

BLUEPRINT_FILE = "blueprint.yaml"
BUILD_DIR = "build"


def _blueprint(p: Pipeline) -> Blueprint:
    from mlflowctl.blueprint.model import Blueprint

    path = p.opts.workdir / BLUEPRINT_FILE
    if not path.exists():
        raise InvalidInputError(
            "no blueprint in the workdir",
            hint="run the design phase first (--phases design,...)",
            location=str(path),
        )
    return Blueprint.load(path)


def _build_dir(p: Pipeline) -> Path:
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


def _tracking_uri(p: Pipeline) -> str:
    """The one rule (``mlflowctl.settings``): flag > MLFLOW_TRACKING_URI > the mlops-architect
    policy > ``sqlite:///mlflow.db``, relative paths against the directory ``run`` started in."""
    return settings_of(p).tracking.uri


# --------------------------------------------------------------------------- design


def phase_design(p: Pipeline) -> dict[str, Any]:
    from mlflowctl.design import design

    bp = design(
        p.opts.prompt,
        data=p.opts.data,
        target=p.opts.target,
        backend=p.opts.backend,
        history=p.history(),
        agents_dir=p.opts.agents_dir,
    )
    atomic_write_text(p.opts.workdir / BLUEPRINT_FILE, bp.to_yaml())
    chosen = bp.approach(p.opts.approach)
    return {
        "blueprint": BLUEPRINT_FILE,
        "blueprint_id": bp.provenance.blueprint_id,
        "approach": chosen.name,
        "summary": {
            "blueprint_id": bp.provenance.blueprint_id,
            "approach": chosen.name,
            "family": chosen.model.family,
            "parameter_count": chosen.model.parameter_count,
            "history_note": bp.history_note,
        },
        "memory": {"approach": chosen.name, "family": chosen.model.family},
    }


# --------------------------------------------------------------------------- build


def phase_build(p: Pipeline) -> dict[str, Any]:
    from mlflowctl.orchestrate.services import render

    bp = _blueprint(p)
    project = render(
        bp,
        approach=p.opts.approach,
        out=_build_dir(p),
        data=p.opts.data,
        force=True,  # replaces only a folder mlflowctl built (its marker), never the user's
        resume=False,
        settings=settings_of(p),
    )
    return {"build_dir": BUILD_DIR, "files": sorted(project.files), "approach": project.approach}


# --------------------------------------------------------------------------- train


def _outcome(p: Pipeline) -> BuildOutcome:
    """The training outcome, from this process or read back from the journal and the files."""
    from mlflowctl.build.writer import open_project
    from mlflowctl.orchestrate.services import BuildOutcome, read_state
    from mlflowctl.train.runner import read_run

    cached = p.state.get("outcome")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    project = open_project(_build_dir(p))
    rec = p.journal.phases.get("train")
    outputs = rec.outputs if rec else {}
    run = read_run(project)
    run.extra["model_uri"] = outputs.get("model_uri")
    state = read_state(project.root)
    outcome = BuildOutcome(
        project=project,
        run=run,
        run_id=outputs.get("run_id"),
        tracking_uri=_tracking_uri(p),
        build_id=state.get("build_id"),
    )
    p.state["outcome"] = outcome
    return outcome


def phase_train(p: Pipeline) -> dict[str, Any]:
    from mlflowctl.build.writer import open_project
    from mlflowctl.errors import WorkspaceError
    from mlflowctl.orchestrate.services import train_tracked
    from mlflowctl.train.checkpoints import recover_checkpoint

    bp = _blueprint(p)
    project = open_project(_build_dir(p))
    last = project.root / "checkpoints" / "last.ckpt"
    restart = p.journal.options.pop("restart_phase", None) is not None  # --restart-phase
    resume = last.exists() and not restart
    if resume:  # X19: a checkpoint that verifies, or a way out, before any MLflow run exists
        try:
            recover_checkpoint(project.root)
        except WorkspaceError as exc:
            exc.hint = (
                "no checkpoint verifies; start the training over with "
                f"`mlflowctl run --resume {p.opts.workdir} --restart-phase train`"
            )
            raise
    parent = _parent_run(p, bp)

    def on_event(event: dict[str, Any]) -> None:
        if event.get("event") == "epoch":
            p.progress("train", "epoch", event)

    outcome = train_tracked(
        bp,
        project,
        tracking_uri=None,  # settings_of(p) carries it
        max_epochs=p.opts.max_epochs,
        accelerator=p.opts.accelerator,
        resume=resume,
        on_event=on_event,
        parent_run_id=parent,
        settings=settings_of(p),
    )
    p.state["outcome"] = outcome
    assert outcome.run is not None
    return {
        "run_id": outcome.run_id,
        "parent_run_id": parent,
        "model_uri": outcome.run.extra.get("model_uri"),
        "epochs": outcome.run.epochs_completed,
        "wall_time_s": round(outcome.run.wall_time_s, 2),
        "accelerator": outcome.run.accelerator,
        "precision": outcome.run.precision,
        "resumed": resume,
        "summary": {"run_id": outcome.run_id, "parent_run_id": parent},
    }


def _parent_run(p: Pipeline, bp: Blueprint) -> str:
    """The pipeline's parent MLflow run, created once and remembered in the journal."""
    from mlflowctl.mlops.runs import start_parent_run

    p.state["tracking_uri"] = _tracking_uri(p)
    known = p.journal.options.get("parent_run_id")
    if known:  # a resumed pipeline: the run its last process ended (KILLED/FAILED) goes on
        from mlflowctl.mlops.store import client

        client(p.state["tracking_uri"]).update_run(str(known), status="RUNNING")
        return str(known)
    run_id = start_parent_run(
        _tracking_uri(p),
        bp.approach(p.opts.approach).infrastructure.tracking.experiment_name,
        pipeline_id=p.journal.pipeline_id,
        prompt=p.journal.prompt,
    )
    p.journal.options["parent_run_id"] = run_id
    p.journal.save()
    return run_id


# --------------------------------------------------------------------------- evaluate


def phase_evaluate(p: Pipeline) -> dict[str, Any]:
    outcome = _outcome(p)
    assert outcome.run is not None
    metrics = {k: float(v) for k, v in outcome.run.metrics.items() if k.startswith("test_")}
    if not metrics:
        raise InvalidInputError(
            "training produced no test-split metrics",
            hint="the build's outputs/metrics.json is incomplete; rerun with --resume",
            location=str(outcome.project.root / "outputs" / "metrics.json"),
        )
    return {
        "metrics": metrics,
        "summary": {"metrics": metrics},
        "memory": {"metrics": metrics},
    }


# --------------------------------------------------------------------------- register / promote


def phase_register(p: Pipeline) -> dict[str, Any]:
    from mlflowctl.mlops.registry import register_challenger

    bp = _blueprint(p)
    outcome = _outcome(p)
    assert outcome.run is not None and outcome.run_id and outcome.build_id
    registry = bp.approach(outcome.project.approach).infrastructure.registry
    mv = register_challenger(
        outcome.tracking_uri or _tracking_uri(p),
        outcome.run_id,
        outcome.run,
        registry,
        build_id=outcome.build_id,
    )
    return {
        "model_name": mv.name,
        "model_version": mv.version,
        "summary": {"model_name": mv.name, "model_version": mv.version},
    }


def phase_promote(p: Pipeline) -> dict[str, Any]:
    from mlflowctl.mlops.registry import apply_gate

    bp = _blueprint(p)
    outcome = _outcome(p)
    reg = p.journal.phases["register"].outputs
    registry = bp.approach(outcome.project.approach).infrastructure.registry
    mv = apply_gate(
        outcome.tracking_uri or _tracking_uri(p),
        registry,
        int(reg["model_version"]),
        build_id=outcome.build_id or "",
    )
    summary = {
        "model_name": mv.name,
        "model_version": mv.version,
        "aliases": list(mv.aliases),
        "promoted": mv.promoted,
        "promotion_reason": mv.reason,
        "previous_champion": mv.previous_champion,
        "outcome": "promoted" if mv.promoted else "gate_failed",
    }
    _write_report(p, bp, summary)
    if not mv.promoted and settings_of(p).orchestrator.fail_on_gate:
        p.state["exit_code"] = GateFailedError.exit_code
    return {
        "aliases": list(mv.aliases),
        "promoted": mv.promoted,
        "reason": mv.reason,
        "summary": {**summary, "report": "report.md"},
        "memory": {"outcome": summary["outcome"], "model_version": mv.version},
    }


def gate_exit_code(p: Pipeline) -> int:
    """Exit 8 again when a resumed pipeline's promote phase was already done and failed the gate."""
    rec = p.journal.phases.get("promote")
    if rec is None or rec.status != "done" or rec.outputs.get("promoted", True):
        return 0
    return GateFailedError.exit_code if settings_of(p).orchestrator.fail_on_gate else 0


def _write_report(p: Pipeline, bp: Blueprint, summary: dict[str, Any]) -> None:
    from mlflowctl.mlops.runs import end_parent_run

    metrics = (
        p.journal.phases["evaluate"].outputs.get("metrics", {})
        if "evaluate" in p.journal.phases
        else {}
    )
    lines = [
        f"# mlflowctl pipeline {p.journal.pipeline_id}",
        "",
        f"- prompt: {p.journal.prompt}",
        f"- blueprint: `{bp.provenance.blueprint_id}` ({BLUEPRINT_FILE})",
        f"- approach: `{summary.get('model_name')}` version {summary['model_version']}",
        f"- aliases: {', '.join('@' + a for a in summary['aliases']) or '(none)'}",
        f"- promoted: {summary['promoted']} ({summary['promotion_reason']})",
        "",
        "| metric | value |",
        "| --- | --- |",
        *(f"| {k} | {v:.4f} |" for k, v in sorted(metrics.items())),
        "",
        *(
            f"![{png.stem.replace('_', ' ')}]({BUILD_DIR}/outputs/plots/{png.name})"
            for png in sorted((_build_dir(p) / "outputs" / "plots").glob("*.png"))
        ),
        "",
    ]
    report_md = "\n".join(lines)
    atomic_write_text(p.opts.workdir / "report.md", report_md)
    report = {**summary, "metrics": metrics, "blueprint_id": bp.provenance.blueprint_id}
    parent = p.journal.options.get("parent_run_id")
    if parent:
        end_parent_run(_tracking_uri(p), str(parent), report_md=report_md, report=report)
    p.state["report"] = json.dumps(report)


#: the pipeline looks its phases up here (no lookup by name, no import back into the pipeline)
PHASES: dict[str, PhaseFn] = {
    "design": phase_design,
    "build": phase_build,
    "train": phase_train,
    "evaluate": phase_evaluate,
    "register": phase_register,
    "promote": phase_promote,
}
