"""The mlflowctl command line: parse arguments, call one function, print through ``console``.

This is the only place where errors become exit codes. Command modules under ``commands/`` must
stay cheap to import (typer, stdlib and light mlflowctl modules only): ``mlflowctl --help`` imports
all of them, and must import none of torch, lightning, mlflow, sklearn, pandas or scipy.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Annotated

import click
import typer

from mlflowctl import __version__, console
from mlflowctl.commands import agents as agents_cmd
from mlflowctl.commands import build as build_cmd
from mlflowctl.commands import design as design_cmd
from mlflowctl.commands import doctor as doctor_cmd
from mlflowctl.commands import registry as registry_cmd
from mlflowctl.commands import run as run_cmd
from mlflowctl.errors import EXIT_INTERNAL, EXIT_SIGINT, MlflowctlError

app = typer.Typer(
    name="mlflowctl",
    help=(
        "Turn an ML requirement in plain language into a designed, trained, tracked and "
        "registered model."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version_callback(value: bool) -> None:
    if value:
        console.result(f"mlflowctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
    agents_dir: Annotated[
        str | None,
        typer.Option(
            "--agents",
            envvar="MLFLOWCTL_AGENTS_DIR",
            help="Folder of agent specs that override the built-in ones by name.",
            show_envvar=True,
        ),
    ] = None,
) -> None:
    """mlflowctl: requirement -> blueprint -> Lightning project -> MLflow registry."""
    if agents_dir:
        os.environ["MLFLOWCTL_AGENTS_DIR"] = agents_dir


app.add_typer(agents_cmd.app, name="agents", help="Inspect and validate agent spec files.")
app.add_typer(
    registry_cmd.app,
    name="registry",
    help="The MLflow model registry: list, promote, rollback, verify.",
)
app.add_typer(design_cmd.schema_app, name="schema", help="Print JSON Schemas of mlflowctl's files.")
app.command("design")(design_cmd.design)
app.command("build")(build_cmd.build)
app.command("run")(run_cmd.run)
app.command("doctor")(doctor_cmd.doctor)


def _wants_json(argv: list[str]) -> bool:
    return "--json" in argv


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = typer.main.get_command(app)
    try:
        rv = command.main(args=args, prog_name="mlflowctl", standalone_mode=False)
    except MlflowctlError as exc:
        if _wants_json(args):
            console.print_json(exc.to_dict())
        console.error(exc.line(), exc.hint)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return int(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        console.error("interrupted")
        return EXIT_SIGINT
    except Exception:  # a bug: say so, with the traceback
        traceback.print_exc()
        console.error(
            "internal error: this is a bug in mlflowctl",
            "please report it with the traceback above",
        )
        return EXIT_INTERNAL
    return int(rv) if isinstance(rv, int) else 0


def run() -> None:
    """Console-script wrapper."""
    sys.exit(main())


if __name__ == "__main__":
    run()
