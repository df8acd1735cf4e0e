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
