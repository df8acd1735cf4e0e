"""SIGINT and SIGTERM as ``InterruptedRunError`` (exit 130/143) for a whole command (X11).

Installed by ``build`` and ``run`` before they write anything, so a signal in any phase unwinds
through the same ``except``/``finally`` blocks as any other failure: runs are ended KILLED, the
journal says ``interrupted``, the CLI prints one ``error:`` line (and the JSON object with
``--json``). The trainer forwards signals to its child while it trains and raises the same error
once the child has saved its checkpoint. Cheap to import: stdlib and ``errors`` only.
"""

from __future__ import annotations

import functools
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import ParamSpec, TypeVar

from mlflowctl.errors import InterruptedRunError

SIGNALS = (signal.SIGINT, signal.SIGTERM)
P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def signals_as_errors(phase: Callable[[], str | None] = lambda: None) -> Iterator[None]:
    """Raise ``InterruptedRunError`` (naming ``phase()``) on SIGINT/SIGTERM inside the block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise InterruptedRunError.for_signal(signum, phase=phase())

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def interruptible(command: Callable[P, R]) -> Callable[P, R]:
    """Decorator: the whole CLI command runs under ``signals_as_errors`` (typer still sees the
    command's own signature and annotations through ``__wrapped__``)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with signals_as_errors():
            return command(*args, **kwargs)

    return wrapper
