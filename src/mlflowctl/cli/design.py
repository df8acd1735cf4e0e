"""``mlflowctl design`` and ``mlflowctl schema``.

Cheap to import: the architect, the data module and pydantic's schema machinery load inside the
functions. ``-o FILE`` is written only after the blueprint validated, through a temporary file in
the same folder and ``os.replace``, so a failed design never leaves a half-written file behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from mlflowctl import console
from mlflowctl.settings import current

schema_app = typer.Typer(no_args_is_help=True, add_completion=False)

FORMATS = ("yaml", "json", "md")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` all at once: a temp file beside it, then ``os.replace``."""
    from mlflowctl.errors import InvalidInputError

    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InvalidInputError(
            f"folder {folder} does not exist", hint="create it first", location="-o/--output"
        )
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def design(
    ctx: typer.Context,
    prompt: Annotated[str, typer.Argument(help="The requirement in plain language.")],
    data: Annotated[
        str | None,
        typer.Option("--data", help="sklearn:digits, statsmodels:co2, or a CSV/Parquet/NPZ file."),
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="Target column of a data file.")
    ] = None,
    backend: Annotated[
        str, typer.Option("--backend", help="offline, openai:MODEL or anthropic:MODEL.")
    ] = "offline",
    record: Annotated[
        Path | None, typer.Option("--record", help="Record LLM exchanges into DIR.")
    ] = None,
    replay: Annotated[
        Path | None, typer.Option("--replay", help="Replay recorded LLM exchanges from DIR.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the blueprint to FILE.")
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="yaml, json or md [default: from -o's suffix, else yaml]."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the blueprint (or the error) as JSON.")
    ] = False,
    assume: Annotated[
        bool,
        typer.Option(
            "--assume",
            help="Design even when the prompt needs more information or asks for an "
            "unsupported task; the assumptions are listed in the blueprint's uncertainties.",
        ),
    ] = False,
) -> None:
    """Design a blueprint: 2-3 approaches, one recommended, ready for `mlflowctl build`."""
    from mlflowctl.errors import InvalidInputError

    if fmt is None:
        suffix = output.suffix.lower().lstrip(".") if output is not None else ""
        fmt = {"json": "json", "md": "md", "markdown": "md"}.get(suffix, "yaml")
    if fmt not in FORMATS:
        raise InvalidInputError(
            f"unknown format {fmt!r}", hint="use yaml, json or md", location="--format"
        )
    if as_json and output is None:
        fmt = "json"  # the blueprint itself is the JSON on stdout
    if not prompt.strip():
        raise InvalidInputError(
            "the prompt is empty",
            hint='describe the task, e.g. mlflowctl design "classify handwritten digits"',
            location="PROMPT",
        )
    from mlflowctl.design import design as run_design

    settings = current(ctx)
    if backend != "offline":
        check_backend(backend, record=record, replay=replay, agents_dir=settings.agents_arg)
    if data is not None:
        from mlflowctl.data import parse_source

        parse_source(data)  # cheap: a bad name fails before anything heavy loads
        console.status(f"profiling {data} ...")
    bp = run_design(
        prompt,
        data=data,
        target=target,
        backend=backend,
        agents_dir=settings.agents_arg,
        record_dir=record,
        replay_dir=replay,
        assume=assume,
    )
    if fmt == "md":
        from mlflowctl.design.proposal import render

        text = render(bp)
    else:
        text = bp.to_json() + "\n" if fmt == "json" else bp.to_yaml()
    if output is not None:
        write_atomic(output, text)
        rec = bp.approach()
        console.status(
            f"wrote {output}: {rec.name} ({rec.model.family}, "
            f"{rec.model.parameter_count:,} parameters) recommended of {len(bp.approaches)}"
        )
        if as_json:  # the file holds ``fmt``; stdout gets a JSON summary
            console.print_json(
                {
                    "output": str(output),
                    "format": fmt,
                    "blueprint_id": bp.provenance.blueprint_id,
                    "recommended": rec.name,
                    "family": rec.model.family,
                    "parameter_count": rec.model.parameter_count,
                    "approaches": [a.name for a in bp.approaches],
                }
            )
        return
    if fmt == "md":
        console.markdown(text)
    else:
        console.result(text)


@schema_app.command("blueprint")
def schema_blueprint() -> None:
    """Print the Blueprint's JSON Schema."""
    import json

    from mlflowctl.blueprint.model import blueprint_json_schema

    console.result(json.dumps(blueprint_json_schema(), indent=2))


def check_backend(
    backend: str,
    *,
    record: Path | None = None,
    replay: Path | None = None,
    agents_dir: str | Path | None = None,
) -> None:
    """Key, URL and record/replay folders of an LLM backend, checked before any side effect."""
    from mlflowctl.design.llm import preflight
    from mlflowctl.specs.loader import load_agent

    spec = load_agent("ml-architect", agents_dir)
    preflight(backend, default_model=spec.model, record_dir=record, replay_dir=replay)
