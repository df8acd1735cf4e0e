"""How the ``mlflowctl`` process ends: the exit code, atexit handlers and output all survive the
fast exit that skips the interpreter's module teardown (``cli.app.run``), and a profiler still
gets its report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

_SCRIPT = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('atexit ran', flush=True))\n"
    "sys.argv = ['mlflowctl', *sys.argv[1:]]\n"
    "from mlflowctl.cli.app import run\n"
    "run()\n"
)


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _SCRIPT, *args],
        cwd=cwd, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def test_exit_code_output_and_atexit_handlers_survive(tmp_path: Path) -> None:
    ok = _run("--version", cwd=tmp_path)
    assert ok.returncode == 0 and "mlflowctl" in ok.stdout and "atexit ran" in ok.stdout
    bad = _run("build", "missing.yaml", "--json", cwd=tmp_path)
    assert bad.returncode == 2, bad.stderr
    assert "missing.yaml" in bad.stdout + bad.stderr and "atexit ran" in bad.stdout


def test_a_profiler_still_writes_its_report(tmp_path: Path) -> None:
    out = tmp_path / "prof.out"
    proc = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "mlflowctl", "--version"],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0
