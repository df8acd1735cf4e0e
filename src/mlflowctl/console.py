"""The only module that imports rich.

Results go to stdout, everything else (status lines, warnings, errors, progress) to stderr, so
``--json`` output on stdout stays parseable. In CI (``CI=true``) or when the stream is not a
terminal, output is plain text with no colour codes and no live widgets.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

#: the one clock every timed line shows: seconds since mlflowctl started
_T0 = time.perf_counter()


def elapsed() -> float:
    """Seconds since this process started (the clock every progress line uses)."""
    return time.perf_counter() - _T0


def stamp() -> str:
    """``[  12.3s]``: the one clock format of progress lines."""
    return f"[{elapsed():6.1f}s]"


def timed(message: str) -> None:
    """One status line on stderr, prefixed with the clock."""
    status(f"{stamp()} {message}")


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
        self._plain = plain_mode(sys.stderr)
        self._status: Any = None

    def _elapsed(self) -> str:
        return f"{elapsed():6.1f}s"

    def __call__(self, phase: str, message: str, info: dict[str, Any]) -> None:
        if message == "epoch":  # the trainer's TrainingView shows epochs (one line each at most)
            return
        if message == "started":
            line = f"[{self._elapsed()}] {phase:<8} started"
            if self._plain or phase == "train":  # training has its own live display
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
            )
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


def _metric_text(metrics: Mapping[str, Any]) -> str:
    return "  ".join(
        f"{k}={v:.4g}" for k, v in sorted(metrics.items()) if isinstance(v, (int, float))
    )


def _best_key(metrics: Mapping[str, Any]) -> tuple[str, str] | None:
    """The metric "best so far" follows (``val_loss`` lower is better, else a val score)."""
    for key, mode in (("val_loss", "min"), ("val_accuracy", "max"), ("val_f1_macro", "max")):
        if isinstance(metrics.get(key), (int, float)):
            return key, mode
    for key in sorted(metrics):
        if key.startswith("val_") and isinstance(metrics[key], (int, float)):
            return key, "min" if "loss" in key or "err" in key else "max"
    return None


class TrainingView:
    """Training progress from the child's events, on stderr.

    Without a terminal: one line when the process starts, one when it reports its start, at most
    one line per epoch (no more than one every ``min_interval`` seconds; the last epoch always),
    all on the one clock (``stamp()``), never cut. In a terminal: a live progress bar over the
    epochs carrying the current metrics, the best so far, elapsed and estimated time left.
    """

    def __init__(self, *, min_interval: float = 2.0, plain: bool | None = None) -> None:
        self._plain = plain_mode(sys.stderr) if plain is None else plain
        self._min_interval = min_interval
        self._last_shown = -math.inf
        self._pending: str | None = None
        self._total: int | None = None
        self._best: tuple[str, str, float, int] | None = None
        self._progress: Any = None
        self._task: Any = None

    def launched(self, pid: int, command: str) -> None:
        """The training process exists (a line at once: importing torch takes seconds)."""
        timed(f"training: started {command} (pid {pid}); loading torch and the data")

    def event(self, event: Mapping[str, Any]) -> None:
        kind = event.get("event")
        if kind == "start":
            total = event.get("epochs")
            self._total = int(total) if isinstance(total, int) else None
            timed(
                f"training: up to {total} epochs on {event.get('accelerator')} "
                f"({event.get('precision')})"
            )
            if not self._plain:
                self._start_bar()
        elif kind == "epoch":
            self._epoch(event)
        elif kind == "fitted":  # the best checkpoint and the baselines are scored next (seconds)
            self._flush()
            self._stop_bar()
            wall = float(event.get("wall_time_s") or 0)
            limit = event.get("max_time_s")
            why = f" (stopped by the {limit} s training-time limit)" if limit else ""
            timed(
                f"training: {event.get('epochs')} epochs in {wall:.1f} s{why}; testing the best "
                "checkpoint and fitting the classical baselines"
            )
        elif kind in ("test", "end"):
            self._flush()
            self._stop_bar()
            if kind == "end":
                status_ = event.get("status")
                timed(
                    f"training: {status_}"
                    + (f" ({event['failure']})" if event.get("failure") else "")
                )

    def _epoch(self, event: Mapping[str, Any]) -> None:
        metrics = event.get("metrics") or {}
        epoch = event.get("epoch")
        number = int(epoch) if isinstance(epoch, int) else 0
        found = _best_key(metrics)
        if found is not None:
            key, mode = found
            value = float(metrics[key])
            if (
                self._best is None
                or self._best[0] != key
                or (value < self._best[2] if mode == "min" else value > self._best[2])
            ):
                self._best = (key, mode, value, number)
        best = (
            f"  best {self._best[0]}={self._best[2]:.4g} (epoch {self._best[3]})"
            if self._best
            else ""
        )
        of = f"/{self._total}" if self._total else ""
        if self._progress is not None:
            self._progress.update(
                self._task,
                completed=number,
                description=f"epoch {number}{of}",
                metrics=escape(_metric_text(metrics) + best),
            )
            return
        line = f"epoch {number}{of}  {_metric_text(metrics)}{best}"
        now = elapsed()
        if now - self._last_shown >= self._min_interval or (self._total and number >= self._total):
            self._pending = None
            self._last_shown = now
            timed(line)
        else:
            self._pending = line

    def _flush(self) -> None:
        if self._pending is not None:
            timed(self._pending)
            self._pending = None

    def _start_bar(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]train[/bold] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[metrics]}"),
            console=err(),
            transient=False,
        )
        self._task = self._progress.add_task("epoch 0", total=self._total, metrics="")
        self._progress.start()

    def _stop_bar(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def close(self) -> None:
        """Show what is pending and stop the live display (also after a failure)."""
        self._flush()
        self._stop_bar()
