"""``mlflowctl run --assume`` (issue 14 item 2): like ``design --assume``, journaled for --resume.

Without it a prompt that states no task ends before any side effect with exit 2 and the
questions (a JSON list with ``--json``); with it the design phase runs on stated assumptions, and
``run --resume`` keeps them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from cli_helpers import run_cli

pytestmark = pytest.mark.integration


def test_run_without_assume_asks_the_questions_and_writes_nothing(tmp_path: Path) -> None:
    proc = run_cli(tmp_path, "run", "hello there", "--phases", "design", "--json")
    assert proc.returncode == 2, proc.stderr
    err = json.loads(proc.stdout)
    assert err["status"] == "needs_info" and err["location"] == "PROMPT"
    assert isinstance(err["questions"], list) and len(err["questions"]) >= 2
    assert all(q.endswith("?") or "?" in q for q in err["questions"])
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and "--assume" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_run_assume_designs_on_stated_assumptions_and_resume_keeps_them(tmp_path: Path) -> None:
    proc = run_cli(
        tmp_path, "run", "hello there", "--assume", "--phases", "design", "--workdir", "wd",
        "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["phases"]["design"]["status"] == "done"
    bp = yaml.safe_load((tmp_path / "wd" / "blueprint.yaml").read_text())
    factors = bp["envelope"]["uncertainty_factors"]
    assert any(f.startswith("assumed: no modelling task was stated") for f in factors), factors
    journal = json.loads((tmp_path / "wd" / ".mlflowctl" / "pipeline.json").read_text())
    assert journal["options"]["assume"] is True
    # the design phase again, from the journal alone: it must still proceed on assumptions
    again = run_cli(tmp_path, "run", "--resume", "wd", "--restart-phase", "design", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["blueprint_id"] == summary["blueprint_id"]


def test_run_assume_on_an_unsupported_task(tmp_path: Path) -> None:
    proc = run_cli(tmp_path, "run", "fine-tune BERT for sentiment", "--phases", "design", "--json")
    assert proc.returncode == 2 and json.loads(proc.stdout)["status"] == "unsupported"
    proc = run_cli(
        tmp_path, "run", "fine-tune BERT for sentiment", "--assume", "--phases", "design",
        "--workdir", "wd", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    bp = yaml.safe_load((tmp_path / "wd" / "blueprint.yaml").read_text())
    assert any("pretrained" in f for f in bp["envelope"]["uncertainty_factors"])
