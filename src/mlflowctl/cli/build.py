"""``mlflowctl build``: render a blueprint into a Lightning project, then train it.

Cheap to import: the workspace, the renderer and the trainer load inside the function, after the
first status line is printed (T2). The command is a plain sequence of calls (load the blueprint,
``workspace.build``, ``train.train``) so that tracking can wrap training through ``on_event``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mlflowctl import console
from mlflowctl.cli.options import (
    AccumulateOpt,
    AllowBaselineOpt,
    DevicesOpt,
    NumNodesOpt,
    StrategyOpt,
    TrackingUriOpt,
)
from mlflowctl.orchestrate.signals import interruptible


def _summary(project: Any, run: Any | None, dry_run: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "build_dir": str(project.root),
        "blueprint_id": project.blueprint_id,
        "approach": project.approach,
        "template_kind": project.template_kind,
        "files": sorted(project.files),
        "written": not dry_run,
    }
    if run is not None:
        out.update(
            {
                "status": run.status,
                "metrics": run.metrics,
                "epochs": run.epochs_completed,
                "wall_time_s": run.wall_time_s,
                "accelerator": run.accelerator,
                "precision": run.precision,
                "weights": str(run.weights_path),
                "weights_sha256": run.weights_sha256,
            }
        )
    return out


@interruptible  # X11: a signal in any step (registration too) is exit 130/143 with one line
def build(
    ctx: typer.Context,
    blueprint: Annotated[Path, typer.Argument(help="Blueprint file (YAML or JSON).")],
    approach: Annotated[
        str | None, typer.Option("--approach", help="Approach to build (default: recommended).")
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            "--data", help="Override the data source (sklearn:..., statsmodels:..., file)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Build folder (default: builds/<blueprint_id>-<approach>)."),
    ] = None,
    no_train: Annotated[bool, typer.Option("--no-train", help="Render only.")] = False,
    max_epochs: Annotated[
        int | None, typer.Option("--max-epochs", min=1, help="Override the epoch budget.")
    ] = None,
    accelerator: Annotated[str, typer.Option("--accelerator", help="auto, cpu or gpu.")] = "auto",
    devices: DevicesOpt = None,
    num_nodes: NumNodesOpt = None,
    strategy: StrategyOpt = None,
    accumulate: AccumulateOpt = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue training an existing build folder.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing build folder.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the files that would be written; write none.")
    ] = False,
    tracking_uri: TrackingUriOpt = None,
    no_track: Annotated[
        bool, typer.Option("--no-track", help="Train without MLflow tracking or registration.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    allow_baseline: AllowBaselineOpt = False,
) -> None:
    """Render a blueprint into a standalone Lightning project and train it."""
    from mlflowctl.errors import InvalidInputError
    from mlflowctl.settings import current

    settings = current(ctx).with_tracking_uri(tracking_uri)
    console.status(f"build: loading {blueprint}")
    if accelerator not in ("auto", "cpu", "gpu"):
        raise InvalidInputError(
            f"unknown accelerator {accelerator!r}",
            hint="auto, cpu or gpu",
            location="--accelerator",
        )
    if resume and (force or dry_run):
        raise InvalidInputError(
            "--resume continues an existing build; it cannot be combined with --force/--dry-run",
            location="--resume",
        )
    from mlflowctl.blueprint.model import Blueprint
    from mlflowctl.build import writer as workspace
    from mlflowctl.train.scale import Scale, check_scale_for

    scale = Scale(devices, num_nodes, strategy, accumulate)
    bp = Blueprint.load(blueprint)
    check_scale_for(bp.approach(approach), scale, accelerator)
    track = not (no_track or dry_run or no_train)
    if track:
        from mlflowctl.mlops.store import check_store

        # a bad URI, a dead server or an unusable store: before anything is written (the
        # schema and the registry names (B23) are checked alongside the training, before any run)
        check_store(settings.tracking.uri)
    root = out or workspace.default_out(bp, approach)
    from mlflowctl.build.preflight import preflight

    unhonoured = preflight(
        bp,
        approach,
        data=data,
        accelerator=accelerator,
        train=not (dry_run or no_train),
        project_root=root.absolute() if resume else None,
    )
    for line in unhonoured:
        console.warn(line)
    if resume:
        project = workspace.open_project(root)
        console.status(f"build: resuming {project.root}")
    else:
        project = workspace.build(
            bp,
            approach=approach,
            out=root,
            data=data,
            force=force,
            dry_run=dry_run,
            policy=settings.engineer,
        )
        verb = "would write" if dry_run else "wrote"
        console.status(f"build: {verb} {len(project.files)} files to {project.root}")
        if dry_run and not json_out:
            for rel in sorted(project.files):
                console.result(str(project.root / rel))
    run = None
    version = None
    if not (dry_run or no_train):
        from mlflowctl.orchestrate import services as flow

        outcome = flow.train_tracked(
            bp,
            project,
            tracking_uri=tracking_uri,
            settings=settings,
            track=track,
            max_epochs=max_epochs,
            accelerator=accelerator,
            resume=resume,
            scale=scale,
        )
        run = outcome.run
        assert run is not None
        shown = "  ".join(f"{k}={v:.4g}" for k, v in run.metrics.items() if k.startswith("test_"))
        console.status(
            f"build: trained {run.epochs_completed} epochs in {run.wall_time_s:.1f}s: {shown}"
        )
        if track:
            version = flow.register_and_gate(bp, outcome, allow_baseline=allow_baseline)
            aliases = ", ".join(f"@{a}" for a in version.aliases) or "no alias"
            console.status(
                f"build: registered {version.name} version {version.version} ({aliases}): "
                f"{version.reason}"
            )
    summary = _summary(project, run, dry_run)
    summary["unhonoured"] = unhonoured
    if version is not None:
        summary.update(
            model_name=version.name,
            model_version=version.version,
            aliases=list(version.aliases),
            promoted=version.promoted,
            promotion_reason=version.reason,
            previous_champion=version.previous_champion,
        )
    if json_out:
        console.print_json(summary)
    elif run is not None:
        console.result(str(project.root / "outputs" / "metrics.json"))
    if version is not None and not version.promoted and settings.orchestrator.fail_on_gate:
        from mlflowctl.errors import GateFailedError

        raise typer.Exit(GateFailedError.exit_code)  # like `run`: the gate said no (exit 8)
