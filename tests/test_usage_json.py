"""Under ``--json`` a usage error (a bad flag value, a missing option, an unknown command) is one
JSON object on stdout naming the flag, with exit 2, like every other error (issue 18)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_cli


@pytest.mark.parametrize(
    ("args", "location", "words"),
    [
        (["build", "bp.yaml", "--max-epochs", "0", "--json"], "--max-epochs", "greater than"),
        (["export", "some-model", "--json"], "--out", "Missing option"),
        (["tune", "bp.yaml", "--trials", "zero", "--json"], "--trials", "valid integer"),
        (["buidl", "--json"], None, "No such command"),
    ],
)
def test_usage_errors_are_json_objects(
    tmp_path: Path, args: list[str], location: str | None, words: str
) -> None:
    proc = run_cli(tmp_path, *args)
    assert proc.returncode == 2, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["error"] == "usage" and doc["exit_code"] == 2
    assert doc["location"] == location
    assert words in doc["message"]
    assert "--help" in doc["hint"]
    assert "Usage:" in proc.stderr  # the person at a terminal still reads click's text
