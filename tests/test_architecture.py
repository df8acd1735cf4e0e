"""How the code and its tests are laid out: markers mean what they say."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit


def test_a_unit_test_cannot_start_a_subprocess() -> None:
    """conftest's guard: a ``unit`` test that spawns fails, naming the marker to use instead."""
    with pytest.raises(RuntimeError, match="marked unit but starts a subprocess"):
        subprocess.run([sys.executable, "-c", "pass"], check=False)


def test_a_unit_test_cannot_open_a_store() -> None:
    with pytest.raises(RuntimeError, match="marked unit but opens a SQLite store"):
        sqlite3.connect(":memory:")


@pytest.mark.integration
def test_an_integration_mark_lifts_the_guard_and_the_unit_mark(
    request: pytest.FixtureRequest,
) -> None:
    """A per-test ``integration`` mark in a ``unit`` file: no guard, and ``-m unit`` skips it."""
    assert request.node.get_closest_marker("unit") is None
    done = subprocess.run([sys.executable, "-c", "print('ok')"], capture_output=True, text=True)
    assert done.stdout.strip() == "ok"
    sqlite3.connect(":memory:").close()
