"""Shared fixtures. ``tests/fixtures/`` holds the inputs tests read (see its README)."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("MLFLOWCTL_SHARED", REPO / "tests" / "fixtures"))

# Keep MLflow's HTTP retries short in tests (defaults make one dead call take ~4 minutes).
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """``seeds/``, ``corpus/agent-specs/``, ``prompts/design-prompts.yaml``: in the repository."""
    assert FIXTURES.is_dir(), f"test fixtures not found at {FIXTURES}"
    return FIXTURES


@pytest.fixture(scope="session")
def shared_dir(fixtures_dir: Path) -> Path:
    """The old name of ``fixtures_dir`` (these files used to live in ``../shared``)."""
    return fixtures_dir


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


# The stdlib runs `uname -p` once (and caches it) when something first asks, e.g. importing mlflow:
# ask now, before the unit guard below would take that probe for a test's subprocess.
platform.processor()


class UnitTestViolation(RuntimeError):
    """A test marked ``unit`` started a subprocess or opened a (SQLite/MLflow) store."""


#: MLflow's URI variables as the session started (a test may change them; see below)
_MLFLOW_ENV_AT_START = {
    name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
}


@pytest.fixture(autouse=True)
def _mlflow_globals_reset() -> Iterator[None]:
    """Code run in-process (``mlflowctl.mlops.store``) sets MLflow's global tracking and registry
    URIs, and through them ``MLFLOW_TRACKING_URI``/``MLFLOW_REGISTRY_URI``: left alone, the next
    test's ``models:/NAME/1`` resolves against the previous test's store. Reset both."""
    yield
    if "mlflow" in sys.modules:
        import mlflow

        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
        mlflow.set_registry_uri(None)  # type: ignore[arg-type]
    for name, value in _MLFLOW_ENV_AT_START.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(autouse=True)
def _unit_means_unit(request: pytest.FixtureRequest) -> Iterator[None]:
    """``unit`` tests start no subprocess and no store: both raise while such a test runs.

    A test that needs either is ``integration`` (or ``fault``/``load``/``slow``); an item marked
    ``integration`` as well as ``unit`` (a per-test mark on a ``unit`` file) is not checked.
    """
    node = request.node
    if node.get_closest_marker("unit") is None or node.get_closest_marker("integration"):
        yield
        return
    where = node.nodeid

    real_popen_init = subprocess.Popen.__init__

    def no_subprocess(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
        command = args[0] if args else kwargs.get("args")
        if isinstance(command, list) and command and command[0] == "fc-list":
            # matplotlib's one-time font cache build on its first import in a fresh
            # environment (lightning -> torchmetrics -> matplotlib), not the test's doing
            real_popen_init(self, *args, **kwargs)
            return
        raise UnitTestViolation(
            f"{where} is marked unit but starts a subprocess: mark it integration"
        )

    def no_store(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        raise UnitTestViolation(
            f"{where} is marked unit but opens a SQLite store: mark it integration"
        )

    mp = pytest.MonkeyPatch()
    mp.setattr(subprocess.Popen, "__init__", no_subprocess)
    mp.setattr(sqlite3, "connect", no_store)
    try:
        yield
    finally:
        mp.undo()


@pytest.fixture()
def cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python -m mlflowctl ARGS`` like a user: ``cli("design", "...", cwd=..., env={...})``.

    The working directory defaults to the test's ``tmp_path``; the environment is this process's
    without ``MLFLOW_TRACKING_URI``/``MLFLOWCTL_AGENTS_DIR`` (so a test never reaches a real server
    or the developer's specs by accident), plus ``env``. Never raises on a non-zero exit.
    """

    def run(
        *args: str,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        input: str | None = None,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        base = {
            k: v
            for k, v in os.environ.items()
            if k not in ("MLFLOW_TRACKING_URI", "MLFLOWCTL_AGENTS_DIR")
        }
        return subprocess.run(
            [sys.executable, "-m", "mlflowctl", *args],
            cwd=cwd or tmp_path,
            env={**base, **(env or {})},
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


def _integration_overrides_unit(items: list[pytest.Item]) -> None:
    """A test's own ``integration`` mark wins over its file's (or class's) ``pytestmark = unit``.

    The file-level ``unit`` is moved down onto each of that file's other tests, so ``-m unit``
    selects exactly the tests that start no store, subprocess or training.
    """
    own = {id(i) for i in items if any(m.name == "integration" for m in i.own_markers)}
    if not own:
        return
    holders: dict[int, pytest.Mark] = {}
    for item in items:
        if id(item) not in own:
            continue
        for node in item.listchain()[:-1]:
            for mark in node.own_markers:
                if mark.name == "unit":
                    holders[id(node)] = mark
                    node.own_markers[:] = [m for m in node.own_markers if m.name != "unit"]
    if not holders:
        return
    for item in items:
        if id(item) in own:
            continue
        for node in item.listchain()[:-1]:
            if id(node) in holders:
                item.own_markers.append(holders[id(node)])
                break


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _integration_overrides_unit(items)
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if not gpu_items:
        return
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except Exception:
        has_gpu = False
    if not has_gpu:
        skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in gpu_items:
            item.add_marker(skip_gpu)
