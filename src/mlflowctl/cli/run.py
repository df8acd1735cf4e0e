"""``mlflowctl run``: every phase, headlessly, resumably."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlflowctl import console


def run(
    prompt: Annotated[
        str | None, typer.Argument(help="The requirement in plain language.", show_default=False)
    ] = None,
    data: Annotated[
        str | None, typer.Option("--data", help="sklearn:digits, statsmodels:co2, or a file.")
    ] = None,
    target: Annotated[str | None, typer.Option("--target", help="Target column of a file.")] = None,
    workdir: Annotated[
        Path | None,
        typer.Option("--workdir", help="Folder for the pipeline's files [default: runs/<id>]."),
    ] = None,
    phases: Annotated[
        str | None,
        typer.Option(
            "--phases",
            help="Comma-separated subset of design,build,train,evaluate,register,promote.",
        ),
    ] = None,
    backend: Annotated[
        str, typer.Option("--backend", help="offline, openai:MODEL or anthropic:MODEL.")
    ] = "offline",
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            "--tracking-uri",
            envvar="MLFLOW_TRACKING_URI",
            help="MLflow tracking URI [default: sqlite:///mlflow.db in the workdir].",
        ),
    ] = None,
    max_epochs: Annotated[
        int | None, typer.Option("--max-epochs", min=1, help="Cap the blueprint's epochs.")
    ] = None,
    accelerator: Annotated[str, typer.Option("--accelerator", help="auto, cpu or gpu.")] = "auto",
    approach: Annotated[
        str | None, typer.Option("--approach", help="Build this approach, not the recommended.")
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume", help="Continue the pipeline in DIR from its first unfinished phase."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one summary object on stdout.")
    ] = False,
) -> None:
    """Design, build, train, evaluate, register and promote: a requirement to a @champion."""
    import os

    from mlflowctl.errors import InvalidInputError
    from mlflowctl.orchestrate.pipeline import (
        ALL_PHASES,
        Pipeline,
        PipelineOptions,
        pipeline_id_for,
    )

    if accelerator not in ("auto", "cpu", "gpu"):
        raise InvalidInputError(
            f"unknown accelerator {accelerator!r}",
            hint="use auto, cpu or gpu",
            location="--accelerator",
        )
    view = console.PhaseView()
    agents_dir = os.environ.get("MLFLOWCTL_AGENTS_DIR")
    try:
        if resume is not None:
            if prompt:
                raise InvalidInputError(
                    "give either a prompt or --resume DIR, not both",
                    hint="--resume reads the prompt from the pipeline's journal",
                    location="--resume",
                )
            pipeline = Pipeline.resume(
                resume,
                view,
                tracking_uri=tracking_uri,
                max_epochs=max_epochs,
                accelerator=None if accelerator == "auto" else accelerator,
            )
        else:
            if not prompt or not prompt.strip():
                raise InvalidInputError(
                    "the prompt is empty",
                    hint='describe the model, e.g. mlflowctl run "classify handwritten digits"',
                    location="PROMPT",
                )
            if backend != "offline":  # a missing key fails before a workdir exists (B27)
                from mlflowctl.cli.design import check_backend

                check_backend(backend)
            chosen = (
                tuple(p.strip() for p in phases.split(",") if p.strip()) if phases else ALL_PHASES
            )
            opts = PipelineOptions(
                prompt=prompt,
                workdir=Path("."),
                data=data,
                target=target,
                phases=chosen,
                backend=backend,
                tracking_uri=tracking_uri,
                max_epochs=max_epochs,
                accelerator=accelerator,
                approach=approach,
                agents_dir=agents_dir,
            )
            opts.workdir = workdir if workdir is not None else Path("runs") / pipeline_id_for(opts)
            if set(chosen) & {"train", "register", "promote"}:
                # an unusable store or a dead server: reported before the workdir is written (X20)
                from mlflowctl.mlops.store import prepare_store
                from mlflowctl.orchestrate.services import resolve_uri

                default = f"sqlite:///{(opts.root / 'mlflow.db').resolve()}"
                flag = tracking_uri or (None if os.environ.get("MLFLOW_TRACKING_URI") else default)
                prepare_store(resolve_uri(flag, agents_dir))
            pipeline = Pipeline.start(opts, view)
        console.status(f"pipeline {pipeline.journal.pipeline_id} in {pipeline.opts.workdir}")
        result = pipeline.run()
    finally:
        view.close()
    if as_json:
        console.print_json(result.summary)
    else:
        _print_summary(result.summary)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _print_summary(summary: dict[str, object]) -> None:
    keys = (
        "pipeline_id",
        "workdir",
        "blueprint_id",
        "approach",
        "family",
        "metrics",
        "model_name",
        "model_version",
        "aliases",
        "promoted",
        "promotion_reason",
        "report",
    )
    console.key_values("mlflowctl run", {k: summary[k] for k in keys if k in summary})
