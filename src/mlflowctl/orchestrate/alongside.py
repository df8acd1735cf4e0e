"""Work done in a thread while the main thread trains (the build opens its MLflow store and run
this way, so ``import mlflow`` and a fresh store's schema cost no wall time)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Alongside(Generic[T]):
    """``fn()`` in a daemon thread while the main thread trains; its result or its error."""

    def __init__(self, fn: Callable[[], T]) -> None:
        self._fn = fn
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="mlflowctl-open-store", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _started(self) -> None:
        if self._thread.ident is None:  # the training never started: do it now
            self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._fn()
        except BaseException as exc:  # handed to the main thread
            self._error = exc

    def ready(self) -> T | None:
        return None if self._thread.is_alive() else self._value

    def failure(self) -> BaseException | None:
        return None if self._thread.is_alive() else self._error

    def settle(self) -> T | None:
        """Wait for it; the tracker if it opened, None if it failed (that error is not raised)."""
        if self._thread.ident is None:
            return None  # the training failed before it started: no run was opened
        self._thread.join()
        return self._value

    def result(self) -> T:
        self._started()
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value
