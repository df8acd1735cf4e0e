"""``mlflowctl run``: every phase, headlessly, resumably."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
from mlflowctl.settings import ENV_TRACKING_URI, current


@interruptible  # X11: SIGINT/SIGTERM from the first line on become exit 130/143, one error line
def run(
    ctx: typer.Context,
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
            help="Comma-separated subset of design,build,train,evaluate,register,promote "
            "[default: the ml-orchestrator policy's phases, all six as shipped].",
        ),
    ] = None,
    backend: Annotated[
        str, typer.Option("--backend", help="offline, openai:MODEL or anthropic:MODEL.")
    ] = "offline",
    tracking_uri: TrackingUriOpt = None,
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
    force: Annotated[
        bool,
        typer.Option("--force", help="Start a new pipeline in a workdir that holds an old one."),
    ] = False,
    allow_baseline: AllowBaselineOpt = False,
    assume: Annotated[
        bool,
        typer.Option(
            "--assume",
            help="Design even when the prompt needs more information or asks for an "
            "unsupported task; the assumptions are listed in the blueprint's uncertainties.",
        ),
    ] = False,
    restart_phase: Annotated[
        str | None,
        typer.Option(
            "--restart-phase",
            help="With --resume: redo this phase and every later one (e.g. train).",
        ),
    ] = None,
    tune: Annotated[
        bool,
        typer.Option(
            "--tune", help="Search the blueprint's hyper-parameters (Optuna) before the build."
        ),
    ] = False,
    trials: Annotated[
        int | None,
        typer.Option("--trials", help="With --tune: trials [default: the blueprint's]."),
    ] = None,
    tune_timeout: Annotated[
        float | None,
        typer.Option("--tune-timeout", help="With --tune: start no trial after this many s."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="With --tune: worker processes sharing the study."),
    ] = None,
    devices: DevicesOpt = None,
    num_nodes: NumNodesOpt = None,
    strategy: StrategyOpt = None,
    accumulate: AccumulateOpt = None,
) -> None:
    """Design, build, train, evaluate, register and promote: a requirement to a @champion."""
    from mlflowctl.errors import InvalidInputError, MlflowctlError
    from mlflowctl.orchestrate.pipeline import (
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
    if restart_phase is not None and resume is None:
        raise InvalidInputError(
            "--restart-phase only applies to --resume DIR",
            hint="mlflowctl run --resume DIR --restart-phase train",
            location="--restart-phase",
        )
    tune_knobs = _tune_knobs(tune, trials, tune_timeout, workers)
    scale = _scale_flags(devices, num_nodes, strategy, accumulate, accelerator)
    if resume is not None and (tune_knobs or scale):
        raise InvalidInputError(
            "--resume reuses the options the pipeline started with",
            hint="the journal keeps --tune/--trials/--devices/...; start a new pipeline to change"
            " them",
            location="--tune" if tune_knobs else "--devices",
        )
    settings = current(ctx).with_tracking_uri(tracking_uri)
    view = console.PhaseView()
    pipeline = None
    try:
        if resume is not None:
            if prompt:
                raise InvalidInputError(
                    "give either a prompt or --resume DIR, not both",
                    hint="--resume reads the prompt from the pipeline's journal",
                    location="--resume",
                )
            # the journal's store and specs, unless this command names others (flag, env, --agents)
            uri_now = settings.tracking_uri_flag or settings.env.get(ENV_TRACKING_URI)
            pipeline = Pipeline.resume(
                resume,
                view,
                restart_phase=restart_phase,
                tracking_uri=uri_now,
                max_epochs=max_epochs,
                accelerator=None if accelerator == "auto" else accelerator,
                agents_dir=str(settings.agents_dir) if settings.agents_dir else None,
                allow_baseline_champion=allow_baseline or None,  # the flag may add it, not drop it
            )
        else:
            if not prompt or not prompt.strip():
                raise InvalidInputError(
                    "the prompt is empty",
                    hint='describe the model, e.g. mlflowctl run "classify handwritten digits"',
                    location="PROMPT",
                )
            from mlflowctl.design.requirements import check_prompt

            # needs_info: before any side effect
            check_prompt(prompt, has_data=data is not None, assume=assume)
            if backend != "offline":  # a missing key fails before a workdir exists (B27)
                from mlflowctl.cli.design import check_backend

                check_backend(backend, agents_dir=settings.agents_arg)
            chosen = (
                tuple(p.strip() for p in phases.split(",") if p.strip())
                if phases
                else settings.orchestrator.phases
            )
            if tune_knobs is not None and "tune" not in chosen:
                chosen = (*chosen, "tune")  # the pipeline orders its phases itself
            settings.tracking  # noqa: B018 (a bad URI or spec fails before a workdir exists)
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
                agents_dir=settings.agents_arg,
                assume=assume,
                root=settings.cwd,
                tune=tune_knobs,
                scale=scale,
                allow_baseline_champion=allow_baseline,
            )
            opts.pipeline_id = pipeline_id_for(opts)  # one id: the default workdir and the journal
            opts.workdir = workdir if workdir is not None else Path("runs") / opts.pipeline_id
            if set(chosen) & {"train", "register", "promote"}:
                # an unusable store or a dead server: reported before the workdir is written (X20)
                from mlflowctl.mlops.store import prepare_store

                console.timed(f"tracking: opening the store {settings.tracking.uri}")
                prepare_store(settings.tracking.uri)
            pipeline = Pipeline.start(opts, view, force=force)
            pipeline.state["settings"] = settings
        console.status(
            f"pipeline {pipeline.journal.pipeline_id} in {pipeline.opts.workdir} "
            f"(resume: mlflowctl run --resume {pipeline.opts.workdir})"
        )
        result = pipeline.run()
    except (MlflowctlError, KeyboardInterrupt) as exc:
        if pipeline is not None and isinstance(exc, MlflowctlError):
            pipeline.abandon(exc)  # a signal between start and run: the journal says so too
        raise
    finally:
        view.close()
    if as_json:
        console.print_json(result.summary)
    else:
        _print_summary(result.summary)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _tune_knobs(
    tune: bool, trials: int | None, timeout: float | None, workers: int | None
) -> dict[str, object] | None:
    """The search phase's options, checked before anything starts (exit 2 naming the flag)."""
    from mlflowctl.errors import InvalidInputError

    given = {"--trials": trials, "--tune-timeout": timeout, "--workers": workers}
    if not tune:
        named = [flag for flag, value in given.items() if value is not None]
        if named:
            raise InvalidInputError(
                f"{named[0]} only applies with --tune",
                hint=f"mlflowctl run PROMPT --tune {named[0]} ...",
                location=named[0],
            )
        return None
    if trials is not None and trials < 1:
        raise InvalidInputError(f"--trials must be at least 1, got {trials}", location="--trials")
    if workers is not None and workers < 1:
        raise InvalidInputError(
            f"--workers must be at least 1, got {workers}", location="--workers"
        )
    if timeout is not None and not timeout > 0:
        raise InvalidInputError(
            f"--tune-timeout must be positive, got {timeout:g}", location="--tune-timeout"
        )
    return {"trials": trials, "timeout": timeout, "workers": workers or 1}


def _scale_flags(
    devices: int | None,
    num_nodes: int | None,
    strategy: str | None,
    accumulate: int | None,
    accelerator: str,
) -> dict[str, object] | None:
    """The scale flags as the journal keeps them, checked like ``build`` checks them."""
    if devices is None and num_nodes is None and strategy is None and accumulate is None:
        return None
    from mlflowctl.train.scale import Scale, check_scale

    check_scale(Scale(devices, num_nodes, strategy, accumulate), accelerator)
    return {
        "devices": devices,
        "num_nodes": num_nodes,
        "strategy": strategy,
        "accumulate": accumulate,
    }


def _print_summary(summary: dict[str, object]) -> None:
    keys = (
        "pipeline_id",
        "workdir",
        "blueprint_id",
        "approach",
        "family",
        "tune",
        "metrics",
        "model_name",
        "model_version",
        "aliases",
        "promoted",
        "promotion_reason",
        "report",
    )
    console.key_values("mlflowctl run", {k: summary[k] for k in keys if k in summary})
