"""The orchestrator's phases (``run --tune``'s is in ``tune_phase.py``). Each takes the running
``Pipeline`` and returns the outputs its journal records; ``outputs["summary"]`` feeds the final
report and ``outputs["memory"]`` the history line. Everything a later phase needs is read back
from files or the journal, so any phase can run in a later process after ``--resume``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mlflowctl.errors import GateFailedError, InvalidInputError
from mlflowctl.orchestrate.context import PhaseFn
from mlflowctl.orchestrate.context import PipelineContext as Pipeline
from mlflowctl.orchestrate.journal import atomic_write_text
from mlflowctl.orchestrate.phase_support import (
    BLUEPRINT_FILE,
    BUILD_DIR,
    build_dir,
    load_blueprint,
    settings_of,
    tracking_uri_of,
)
from mlflowctl.orchestrate.tune_phase import phase_tune

if TYPE_CHECKING:
    from mlflowctl.blueprint.model import Blueprint
    from mlflowctl.orchestrate.services import BuildOutcome

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
        assume=p.opts.assume,
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

    bp = load_blueprint(p)
    project = render(
        bp,
        approach=p.opts.approach,
        out=build_dir(p),
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
    project = open_project(build_dir(p))
    rec = p.journal.phases.get("train")
    outputs = rec.outputs if rec else {}
    run = read_run(project)
    run.extra["model_uri"] = outputs.get("model_uri")
    state = read_state(project.root)
    outcome = BuildOutcome(
        project=project,
        run=run,
        run_id=outputs.get("run_id"),
        tracking_uri=tracking_uri_of(p),
        build_id=state.get("build_id"),
    )
    p.state["outcome"] = outcome
    return outcome


def phase_train(p: Pipeline) -> dict[str, Any]:
    from mlflowctl.build.writer import open_project
    from mlflowctl.errors import WorkspaceError
    from mlflowctl.orchestrate.services import train_tracked
    from mlflowctl.train.checkpoints import recover_checkpoint

    bp = load_blueprint(p)
    project = open_project(build_dir(p))
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
        scale=_scale(p, bp),
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


def _scale(p: Pipeline, bp: Blueprint) -> Any:
    """``run --devices/--num-nodes/--strategy/--accumulate`` (from the journal on --resume),
    checked like ``build`` does: FSDP for a family it cannot wrap is exit 2 before training."""
    if not p.opts.scale:
        return None
    from mlflowctl.train.scale import Scale, check_scale_for

    scale = Scale(**p.opts.scale)
    check_scale_for(bp.approach(p.opts.approach), scale, p.opts.accelerator)
    return scale


def _parent_run(p: Pipeline, bp: Blueprint) -> str:
    """The pipeline's parent MLflow run, created once and remembered in the journal."""
    from mlflowctl.mlops.liveness import start_parent_run

    p.state["tracking_uri"] = tracking_uri_of(p)
    known = p.journal.options.get("parent_run_id")
    if known:  # a resumed pipeline: the run its last process ended (KILLED/FAILED) goes on
        from mlflowctl.mlops.store import client

        client(p.state["tracking_uri"]).update_run(str(known), status="RUNNING")
        return str(known)
    run_id = start_parent_run(
        tracking_uri_of(p),
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

    bp = load_blueprint(p)
    outcome = _outcome(p)
    assert outcome.run is not None and outcome.run_id and outcome.build_id
    registry = bp.approach(outcome.project.approach).infrastructure.registry
    mv = register_challenger(
        outcome.tracking_uri or tracking_uri_of(p),
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

    bp = load_blueprint(p)
    outcome = _outcome(p)
    reg = p.journal.phases["register"].outputs
    registry = bp.approach(outcome.project.approach).infrastructure.registry
    uri = outcome.tracking_uri or tracking_uri_of(p)
    ties = p.opts.allow_baseline_champion
    mv = apply_gate(
        uri, registry, int(reg["model_version"]), build_id=outcome.build_id or "", ties=ties
    )
    if not mv.promoted and p.opts.allow_baseline_champion:
        from mlflowctl.mlops.baseline_champion import offer_baseline

        assert outcome.run is not None and outcome.run_id
        mv = offer_baseline(
            uri, outcome.run_id, outcome.run, registry, build_id=outcome.build_id or "", lost=mv
        )
    elif not mv.promoted:
        from mlflowctl.mlops.baseline_champion import suggest_baseline

        mv = suggest_baseline(uri, registry, mv)
    summary = {
        "model_name": mv.name,
        "model_version": mv.version,
        "aliases": list(mv.aliases),
        "promoted": mv.promoted,
        "promotion_reason": mv.reason,
        "previous_champion": mv.previous_champion,
        "outcome": "promoted" if mv.promoted else "gate_failed",
    }
    if mv.version != int(reg["model_version"]):  # the baseline registered in the network's place
        assert outcome.run is not None
        doc = json.loads((build_dir(p) / "outputs" / "metrics.json").read_text(encoding="utf-8"))
        name = str(doc.get("baseline_best"))
        prefix = f"baseline.{name}."
        summary["stand_in"] = {
            "baseline": name,
            "metrics": {
                k[len(prefix) :]: float(v)
                for k, v in outcome.run.metrics.items()
                if k.startswith(prefix + "test_")
            },
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
    from mlflowctl.mlops.liveness import end_parent_run

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
        f"- model: `{summary.get('model_name')}` version {summary['model_version']} "
        f"(approach `{p.opts.approach or bp.recommended.approach}`)",
        f"- aliases: {', '.join('@' + a for a in summary['aliases']) or '(none)'}",
        f"- promoted: {summary['promoted']} ({summary['promotion_reason']})",
        *_metric_table(metrics, summary.get("stand_in")),
        "",
        *(
            f"![{png.stem.replace('_', ' ')}]({BUILD_DIR}/outputs/plots/{png.name})"
            for png in sorted((build_dir(p) / "outputs" / "plots").glob("*.png"))
        ),
        "",
    ]
    report_md = "\n".join(lines)
    atomic_write_text(p.opts.workdir / "report.md", report_md)
    report = {**summary, "metrics": metrics, "blueprint_id": bp.provenance.blueprint_id}
    parent = p.journal.options.get("parent_run_id")
    if parent:
        end_parent_run(tracking_uri_of(p), str(parent), report_md=report_md, report=report)
    p.state["report"] = json.dumps(report)


def _metric_table(metrics: dict[str, float], stand_in: dict[str, Any] | None) -> list[str]:
    """The network's test metrics; beside them the baseline's when it stands in for the net."""
    if not stand_in:
        rows = [f"| {k} | {v:.4f} |" for k, v in sorted(metrics.items())]
        return ["", "| metric | value |", "| --- | --- |", *rows, ""]
    name, theirs = stand_in["baseline"], stand_in["metrics"]
    rows = [
        f"| {k} | {metrics[k]:.4f} | {theirs.get(k, float('nan')):.4f} |" for k in sorted(metrics)
    ]
    return [
        f"- this version is the classical baseline `{name}` (--allow-baseline-champion)",
        "",
        f"| metric | network | baseline {name} |",
        "| --- | --- | --- |",
        *rows,
        "",
    ]


#: the pipeline looks its phases up here (no lookup by name, no import back into the pipeline)
PHASES: dict[str, PhaseFn] = {
    "design": phase_design,
    "tune": phase_tune,
    "build": phase_build,
    "train": phase_train,
    "evaluate": phase_evaluate,
    "register": phase_register,
    "promote": phase_promote,
}
