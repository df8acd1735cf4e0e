"""The only module that imports rich.

Results go to stdout, everything else (status lines, warnings, errors, progress) to stderr, so
``--json`` output on stdout stays parseable. In CI (``CI=true``) or when the stream is not a
terminal, output is plain text with no colour codes and no live widgets.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def plain_mode(stream: Any = None) -> bool:
    """True when output must be plain lines: CI, NO_COLOR, or not a terminal."""
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        return True
    if os.environ.get("NO_COLOR"):
        return True
    stream = stream if stream is not None else sys.stdout
    isatty = getattr(stream, "isatty", None)
    return not (isatty and isatty())


@cache
def _console(stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    plain = plain_mode(stream)
    return Console(
        stderr=stderr,
        no_color=plain,
        force_terminal=False if plain else None,
        highlight=False,
        emoji=False,  # "openai:m:" must not become an emoji
        soft_wrap=True,
        width=120 if plain else None,
    )


def out() -> Console:
    """The stdout console (results)."""
    return _console(False)


def err() -> Console:
    """The stderr console (status, warnings, errors, progress)."""
    return _console(True)


def reset() -> None:
    """Forget cached consoles (tests swap sys.stdout/sys.stderr)."""
    _console.cache_clear()


def status(message: str) -> None:
    """One status line on stderr."""
    err().print(escape(message))


def warn(message: str) -> None:
    err().print(f"[yellow]warning:[/yellow] {escape(message)}")


def error(message: str, hint: str | None = None) -> None:
    err().print(f"[bold red]error:[/bold red] {escape(message)}")
    if hint:
        err().print(f"  [dim]hint:[/dim] {escape(hint)}")


def result(text: str) -> None:
    """Plain text on stdout, printed verbatim (no markup, no wrapping)."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def print_json(obj: Any) -> None:
    """One JSON document on stdout."""
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    stderr: bool = False,
) -> None:
    """A rich table in a terminal; aligned plain text otherwise."""
    t = Table(title=title, show_lines=False, header_style="bold")
    for col in columns:
        t.add_column(col, overflow="fold")
    for row in rows:
        t.add_row(*(escape("" if v is None else str(v)) for v in row))
    (err() if stderr else out()).print(t)


def key_values(title: str, items: Mapping[str, Any], *, stderr: bool = False) -> None:
    """A two-column table of names and values."""
    table(title, ["field", "value"], [(k, v) for k, v in items.items()], stderr=stderr)


def rule(title: str) -> None:
    out().rule(escape(title))


def markdown(text: str) -> None:
    """Print markdown rendered in a terminal, verbatim otherwise."""
    if plain_mode(sys.stdout):
        result(text)
        return
    from rich.markdown import Markdown

    out().print(Markdown(text))


@contextmanager
def spinner(message: str) -> Iterator[None]:
    """A spinner in a terminal; one status line otherwise."""
    if plain_mode(sys.stderr):
        status(message)
        yield
        return
    with err().status(escape(message)):
        yield


class PhaseView:
    """The orchestrator's progress: phase, epoch, metric, elapsed.

    In a terminal, a live line per phase with a spinner; in CI or a pipe, one plain line per event
    with no colour codes. Everything goes to stderr so ``--json`` on stdout stays clean.
    """

    def __init__(self) -> None:
        import time

        self._time = time.perf_counter
        self._t0 = self._time()
        self._plain = plain_mode(sys.stderr)
        self._status: Any = None

    def _elapsed(self) -> str:
        return f"{self._time() - self._t0:6.1f}s"

    def __call__(self, phase: str, message: str, info: dict[str, Any]) -> None:
        if message == "epoch":
            metrics = info.get("metrics", {})
            shown = "  ".join(
                f"{k}={v:.4g}" for k, v in metrics.items() if isinstance(v, (int, float))
            )
            line = f"[{self._elapsed()}] {phase:<8} epoch {info.get('epoch')}  {shown}"
            if self._plain or self._status is None:
                err().print(escape(line))
            else:
                self._status.update(escape(line))
            return
        if message == "started":
            line = f"[{self._elapsed()}] {phase:<8} started"
            if self._plain:
                err().print(escape(line))
            else:
                self._stop_status()
                self._status = err().status(escape(line))
                self._status.start()
            return
        self._stop_status()
        detail = ""
        if isinstance(info, dict):
            detail = "  ".join(
                f"{k}={v}" for k, v in info.items() if isinstance(v, (str, int, float))
            )[:160]
        colour = {"done": "green", "already done": "dim", "failed": "red"}.get(message, "")
        text = f"[{self._elapsed()}] {phase:<8} {message}  {detail}".rstrip()
        if self._plain or not colour:
            err().print(escape(text))
        else:
            err().print(f"[{colour}]{escape(text)}[/{colour}]")

    def _stop_status(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def close(self) -> None:
        self._stop_status()
