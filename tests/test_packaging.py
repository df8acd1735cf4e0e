"""A non-editable install ships agents/ and templates/ inside the wheel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(repo_root), "--no-deps", "-q", "-w", str(out)],
        check=True,
        timeout=300,
    )
    (whl,) = out.glob("mlflowctl-*.whl")
    return whl


def test_wheel_carries_agents_and_templates(wheel: Path, repo_root: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for spec in (repo_root / "agents").glob("*.md"):
        assert f"mlflowctl/_data/agents/{spec.name}" in names
    templates = [p for p in (repo_root / "templates").rglob("*.j2")]
    assert templates
    for t in templates:
        assert f"mlflowctl/_data/templates/{t.relative_to(repo_root / 'templates')}" in names


@pytest.mark.integration
def test_installed_wheel_lists_the_four_agents(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("MLFLOWCTL_AGENTS_DIR", None)
    proc = subprocess.run(
        [sys.executable, "-m", "mlflowctl", "agents", "list", "--json"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    rows = listed if isinstance(listed, list) else listed.get("agents", [])
    names = sorted(r["name"] for r in rows)
    assert names == ["ml-architect", "ml-engineer", "ml-orchestrator", "mlops-architect"]
    assert all(str(target) in r["source"] for r in rows), "specs must come from the installed wheel"
