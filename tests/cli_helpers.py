"""Running the installed CLI as a user would, for tests that signal, wait on or race it.

``conftest.cli`` covers the plain run-and-check case; these are for tests that start mlflowctl
in the background, wait for a line of its progress, and kill or race it (X3, X4, X10–X19).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from blueprints import make_blueprint


def user_env() -> dict[str, str]:
    """This process's environment minus the store and spec overrides (never a developer's
    server or specs), unbuffered, with CI=true."""
    env = {**os.environ, "CI": "true", "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("MLFLOWCTL_AGENTS_DIR", None)
    return env


def run_cli(cwd: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """``python -m mlflowctl ARGS`` to completion; never raises on a non-zero exit."""
    return subprocess.run(
        [sys.executable, "-m", "mlflowctl", *args],
        cwd=cwd,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_cli(cwd: Path, *args: str, stdout: Any = subprocess.PIPE) -> subprocess.Popen[str]:
    """``python -m mlflowctl ARGS`` in the background, stderr piped for ``wait_for``."""
    return subprocess.Popen(
        [sys.executable, "-m", "mlflowctl", *args],
        cwd=cwd,
        env=user_env(),
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(proc: subprocess.Popen[str], text: str, timeout: float = 180) -> list[str]:
    """Read the process's stderr until a line holds ``text``; the lines read so far."""
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    for line in proc.stderr:
        seen.append(line)
        if text in line:
            return seen
        assert time.monotonic() < deadline, "".join(seen)
    raise AssertionError(f"{text!r} never printed:\n{''.join(seen)}")


def slow_blueprint(path: Path) -> Path:
    """An iris MLP that trains for minutes (batch 1, 5000 epochs, no early stop): a build that
    is still training when the test signals or races it."""
    training = {
        "max_epochs": 5000,
        "batch_size": 1,
        "early_stopping": {"enabled": False, "monitor": "val_accuracy", "mode": "max"},
    }
    path.write_text(make_blueprint("mlp", "iris", training=training).to_yaml())
    return path
