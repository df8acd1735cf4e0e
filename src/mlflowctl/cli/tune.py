"""``mlflowctl tune``: hyper-parameter search with Optuna over the blueprint's search space.

Cheap to import: optuna, torch and mlflow load inside ``mlflowctl.orchestrate.tune``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlflowctl import console
from mlflowctl.cli.options import AllowBaselineOpt, TrackingUriOpt


def tune(
    ctx: typer.Context,
    blueprint: Annotated[Path, typer.Argument(help="Blueprint file (YAML or JSON).")],
    approach: Annotated[
        str | None, typer.Option("--approach", help="Approach to tune (default: recommended).")
    ] = None,
    trials: Annotated[
        int | None,
        typer.Option("--trials", help="Trials the study should hold [default: the blueprint's]."),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="Start no new trial after this many seconds."),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", help="Worker processes on this machine sharing the study.")
    ] = 1,
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage",
            help="Optuna storage: a journal file, sqlite:///FILE or postgresql://... "
            "[default: study.journal in the tune folder].",
        ),
    ] = None,
    study: Annotated[
        str | None,
        typer.Option("--study", help="Study name [default: <blueprint_id>-<approach>]."),
    ] = None,
    max_epochs: Annotated[
        int | None, typer.Option("--max-epochs", min=1, help="Epoch budget of each trial.")
    ] = None,
    data: Annotated[
        str | None,
        typer.Option("--data", help="Override the data source (sklearn:..., file)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Tune folder [default: builds/<blueprint_id>-<approach>-tune]."),
    ] = None,
    pruner: Annotated[str, typer.Option("--pruner", help="median, hyperband or none.")] = "median",
    tracking_uri: TrackingUriOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    allow_baseline: AllowBaselineOpt = False,
) -> None:
    """Search the blueprint's hyper-parameters (one nested MLflow run per trial); register the
    best configuration as @challenger and apply the promotion gate."""
    from mlflowctl.settings import current

    settings = current(ctx).with_tracking_uri(tracking_uri)
    console.status(f"tune: loading {blueprint}")
    from mlflowctl.orchestrate.tune import TuneOptions
    from mlflowctl.orchestrate.tune import tune as run_tune

    summary = run_tune(
        TuneOptions(
            blueprint=blueprint,
            approach=approach,
            trials=trials,
            timeout=timeout,
            workers=workers,
            storage=storage,
            study=study,
            max_epochs=max_epochs,
            data=data,
            out=out,
            tracking_uri=settings.tracking.uri,
            pruner=pruner,
            allow_baseline_champion=allow_baseline,
        )
    )
    best = summary["best"]
    console.status(
        f"tune: best trial {best['number']}: {best['metric']}={best['value']:.4g} "
        f"{best['params']}; trials {summary['trials']} in {summary['wall_time_s']}s"
    )
    if "model_version" in summary:
        aliases = ", ".join(f"@{a}" for a in summary["aliases"]) or "no alias"
        console.status(
            f"tune: registered {summary['model_name']} version {summary['model_version']} "
            f"({aliases}): {summary['promotion_reason']}"
        )
    if json_out:
        console.print_json(summary)
    else:
        console.result(summary["parent_run_id"])
    if summary.get("promoted") is False and settings.orchestrator.fail_on_gate:
        from mlflowctl.errors import GateFailedError

        raise typer.Exit(GateFailedError.exit_code)  # like build and run: the gate said no
