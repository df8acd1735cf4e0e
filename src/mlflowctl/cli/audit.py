"""``mlflowctl audit PATH``: review a training project statically (the ml-engineer's audit mode).

Imports only the ``mlflowctl.audit`` package (pure ``ast``) when the command runs, so
``mlflowctl --help`` stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlflowctl import console
from mlflowctl.errors import InvalidInputError

FAIL_ON = ("high", "medium", "low")


def audit(
    path: Annotated[
        Path, typer.Argument(help="Folder of the training project (or one .py file) to review.")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help='Print {"findings": [...], "summary": {...}}.')
    ] = False,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            help="Exit 9 when a finding of this severity or worse exists: high, medium or low.",
        ),
    ] = "high",
) -> None:
    """Review training code without running it: leakage, splits, seeds, unsafe loads, GPU use."""
    if fail_on not in FAIL_ON:
        raise InvalidInputError(
            f"unknown severity {fail_on!r}",
            hint="use --fail-on high, medium or low",
            location="--fail-on",
        )
    from mlflowctl.audit import audit_path

    report = audit_path(path, fail_on=fail_on)
    if as_json:
        console.print_json(report.to_dict())
    else:
        console.markdown(report.markdown())
    if report.failed:
        raise typer.Exit(report.exit_code)
