"""The pipeline journal, the workdir lock (F18), task lists and pipeline history."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mlflowctl.errors import InvalidInputError, LockHeldError
from mlflowctl.orchestrate.journal import Journal, atomic_write_text, workdir_lock
from mlflowctl.orchestrate.memory import TaskList, append_history, read_history

pytestmark = pytest.mark.unit


def test_journal_round_trip_and_first_unfinished(tmp_path: Path) -> None:
    j = Journal.create(
        tmp_path,
        pipeline_id="pl-000000000001",
        prompt="p",
        options={"data": "sklearn:iris"},
        phases=["design", "build", "train"],
    )
    j.start("design")
    j.finish("design", {"blueprint": "blueprint.yaml"})
    j.start("build")
    j.fail("build", {"message": "boom"})

    again = Journal.load(tmp_path)
    assert again.first_unfinished() == "build"
    assert again.phases["design"].status == "done"
    assert again.phases["design"].outputs == {"blueprint": "blueprint.yaml"}
    assert again.phases["design"].duration_s is not None
    assert again.phases["build"].error == {"message": "boom"}
    assert again.options == {"data": "sklearn:iris"}


def test_journal_missing_or_damaged_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no pipeline journal"):
        Journal.load(tmp_path)
    (tmp_path / ".mlflowctl").mkdir()
    (tmp_path / ".mlflowctl" / "pipeline.json").write_text("{half", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="unreadable"):
        Journal.load(tmp_path)


def test_atomic_write_leaves_old_file_when_interrupted(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "state.json"
    atomic_write_text(target, "old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"], "temp file left behind"


@pytest.mark.integration
def test_second_pipeline_in_same_workdir_fails_at_once(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from pathlib import Path
                from mlflowctl.orchestrate.journal import workdir_lock
                with workdir_lock(Path({str(tmp_path)!r})):
                    print("locked", flush=True)
                    time.sleep(30)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        t0 = time.perf_counter()
        with (
            pytest.raises(LockHeldError, match="another mlflowctl pipeline"),
            workdir_lock(tmp_path),
        ):
            pass
        assert time.perf_counter() - t0 < 2.0
    finally:
        holder.kill()
        holder.wait()
    with workdir_lock(tmp_path):  # released when the holder died
        pass


def test_task_list_survives_a_reopen(tmp_path: Path) -> None:
    tasks = TaskList.open(tmp_path, "ml-engineer").plan("build", "train")
    tasks.begin("build")
    tasks.complete("build", "6 files")
    tasks.begin("train")

    text = (tmp_path / ".claude" / "tasks" / "ml-engineer-tasks.md").read_text()
    assert "## In Progress" in text and "## To Do" in text and "## Completed" in text
    reopened = TaskList.open(tmp_path, "ml-engineer")
    assert reopened.todo == []
    assert len(reopened.in_progress) == 1 and reopened.in_progress[0].startswith("train (started ")
    assert reopened.completed[0].startswith("build (") and reopened.completed[0].endswith(
        ": 6 files"
    )


def test_history_keeps_a_window_and_skips_broken_lines(tmp_path: Path) -> None:
    path = tmp_path / ".claude" / "memory" / "history.jsonl"
    for i in range(5):
        append_history(path, {"i": i, "data": "sklearn:digits"})
    with path.open("a") as fh:
        fh.write("{not json\n")
    records = read_history(path, window=3)
    assert [r["i"] for r in records] == [2, 3, 4]
    assert read_history(path, window=0) == []
    assert all(
        json.loads(line)["data"] == "sklearn:digits" for line in path.read_text().splitlines()[:5]
    )
