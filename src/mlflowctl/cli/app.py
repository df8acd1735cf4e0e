"""The mlflowctl command line: parse arguments, call one function, print through ``console``.

This is the only place where errors become exit codes. Command modules under ``commands/`` must
stay cheap to import (typer, stdlib and light mlflowctl modules only): ``mlflowctl --help`` imports
all of them, and must import none of torch, lightning, mlflow, sklearn, pandas or scipy.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading
import traceback
from typing import Annotated, Any

import click
import typer

from mlflowctl import __version__, console
from mlflowctl.cli import agents as agents_cmd
from mlflowctl.cli import audit as audit_cmd
from mlflowctl.cli import build as build_cmd
from mlflowctl.cli import design as design_cmd
from mlflowctl.cli import doctor as doctor_cmd
from mlflowctl.cli import export as export_cmd
from mlflowctl.cli import monitor as monitor_cmd
from mlflowctl.cli import predict as predict_cmd
from mlflowctl.cli import registry as registry_cmd
from mlflowctl.cli import run as run_cmd
from mlflowctl.cli import serve as serve_cmd
from mlflowctl.cli import tune as tune_cmd
from mlflowctl.errors import EXIT_INTERNAL, EXIT_SIGINT, MlflowctlError, UsageError
from mlflowctl.settings import Settings

# Recent typer vendors its own click (``typer._click``); catch usage errors from either copy.
_typer_click_error: Any = getattr(
    getattr(getattr(typer, "_click", None), "exceptions", None), "ClickException", None
)
_CLICK_EXIT: tuple[type[BaseException], ...] = (click.exceptions.Exit, typer.Exit)
_CLICK_ERROR: tuple[type[BaseException], ...] = tuple(
    c for c in (click.ClickException, _typer_click_error) if c is not None
)
_CLICK_ABORT: tuple[type[BaseException], ...] = (
    click.exceptions.Abort,
    typer.Abort,
    KeyboardInterrupt,
)

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
    ctx: typer.Context,
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
    # One Settings object per command (flags, an environment snapshot, the agent specs); each
    # command takes it from ctx.obj. --agents travels as an argument, never through os.environ.
    ctx.obj = Settings.from_environment(agents_dir=agents_dir)


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
app.command("audit")(audit_cmd.audit)
app.command("tune")(tune_cmd.tune)
app.command("predict")(predict_cmd.predict)
app.command("forecast")(predict_cmd.forecast)
app.command("serve")(serve_cmd.serve)
app.command("export")(export_cmd.export)
app.command("monitor")(monitor_cmd.monitor)


def _wants_json(argv: list[str]) -> bool:
    return "--json" in argv


def _usage_error(exc: BaseException) -> dict[str, Any]:
    """Click's usage error as the ``--json`` error object: the flag or argument it names is the
    location."""
    param = getattr(exc, "param", None)
    location = getattr(exc, "param_hint", None) or (param.opts[0] if param is not None else None)
    ctx = getattr(exc, "ctx", None)
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    return UsageError(
        message,
        hint=f"see `{ctx.command_path if ctx is not None else 'mlflowctl'} --help`",
        location=location if isinstance(location, str) else None,
    ).to_dict()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = typer.main.get_command(app)
    return _dispatch(command, args)


def _dispatch(command: Any, args: list[str]) -> int:
    try:
        rv = command.main(args=args, prog_name="mlflowctl", standalone_mode=False)
    except MlflowctlError as exc:
        if _wants_json(args):
            console.print_json(exc.to_dict())
        console.error(exc.line(), exc.hint)
        return exc.exit_code
    except _CLICK_EXIT as exc:
        return int(getattr(exc, "exit_code", 0))
    except _CLICK_ERROR as exc:
        if _wants_json(args):  # a usage error is an object too under --json
            console.print_json(_usage_error(exc))
        exc.show()  # type: ignore[attr-defined]
        return int(getattr(exc, "exit_code", 2))
    except _CLICK_ABORT:
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
    code = main()
    # Every file is written and every run closed by now. Freezing the heap spares the
    # interpreter's shutdown collection a pass over everything mlflow, pandas and SQLAlchemy
    # allocated (0.5-0.9 s after a build); objects are still released, atexit handlers still run.
    gc.freeze()
    if threading.active_count() == 1 and sys.getprofile() is None and sys.gettrace() is None:
        # Nothing else runs and no profiler or coverage tracer waits for the interpreter's own
        # exit: the atexit handlers (logging, mlflow) run here, then the process ends without
        # tearing down the ~2,400 modules a build imported (0.08 s).
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe: nothing more can be said
                code = code or 1
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
