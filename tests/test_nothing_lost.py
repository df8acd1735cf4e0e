"""Nothing lost (reliability plan §5b X1-X4): ``--force``, workdirs and locks never cost a user a
file. Every test drives the real CLI in a subprocess over real folders, then checks file by file."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest
from blueprints import make_blueprint
from cli_helpers import run_cli, slow_blueprint, start_cli, wait_for

pytestmark = pytest.mark.integration

PROMPT = "classify iris flowers"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _one_error(proc: subprocess.CompletedProcess[str]) -> str:
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def _user_folder(tmp_path: Path) -> Path:
    (tmp_path / "precious.txt").write_text("my notes\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "important.csv").write_text("a,b\n1,2\n")
    (tmp_path / "bp.yaml").write_text(make_blueprint("mlp", "iris").to_yaml())
    return tmp_path


def test_x1_build_force_never_replaces_the_current_directory(tmp_path: Path) -> None:
    folder = _user_folder(tmp_path)
    before = _snapshot(folder)
    proc = run_cli(folder, "build", "bp.yaml", "--out", ".", "--force", "--no-train")
    assert proc.returncode == 2, proc.stderr
    line = _one_error(proc)
    assert str(folder) in line and "current directory" in line
    assert "--out" in proc.stderr  # the hint
    assert _snapshot(folder) == before


def test_x1_build_force_replaces_only_a_folder_mlflowctl_wrote(tmp_path: Path) -> None:
    folder = _user_folder(tmp_path)
    mine = folder / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work\n")
    before = _snapshot(folder)
    proc = run_cli(folder, "build", "bp.yaml", "--out", "mine", "--force", "--no-train", "--json")
    assert proc.returncode == 2
    line = _one_error(proc)
    assert str(mine) in line and ".mlflowctl-build.json" in line
    doc = json.loads(proc.stdout)
    assert doc["exit_code"] == 2 and doc["location"] == str(mine)
    assert _snapshot(folder) == before

    # a folder mlflowctl built is replaceable, but not once it holds a user's file
    assert run_cli(folder, "build", "bp.yaml", "--out", "b", "--no-train").returncode == 0
    (folder / "b" / "notes.md").write_text("mine\n")
    before = _snapshot(folder)
    proc = run_cli(folder, "build", "bp.yaml", "--out", "b", "--force", "--no-train")
    assert proc.returncode == 2 and "notes.md" in _one_error(proc)
    assert _snapshot(folder) == before
    (folder / "b" / "notes.md").unlink()
    proc = run_cli(folder, "build", "bp.yaml", "--out", "b", "--force", "--no-train")
    assert proc.returncode == 0, proc.stderr
    marker = json.loads((folder / "b" / ".mlflowctl-build.json").read_text())
    assert "train.py" in marker["files"]


def test_x2_run_never_replaces_a_build_folder_it_did_not_write(tmp_path: Path) -> None:
    lib = tmp_path / "build" / "lib"
    lib.mkdir(parents=True)
    (lib / "important.so").write_bytes(b"\x7fELF not mine")
    (tmp_path / "precious.txt").write_text("my notes\n")
    before = _snapshot(tmp_path)
    proc = run_cli(tmp_path, "run", PROMPT, "--data", "sklearn:iris", "--workdir", ".",
                "--phases", "design,build")  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "build" in _one_error(proc)
    after = _snapshot(tmp_path)
    assert {k: v for k, v in after.items() if not k.startswith(".mlflowctl/")} == before
    assert not (tmp_path / "blueprint.yaml").exists()

    # a pipeline that restarts over an old one (--force) still meets the build folder rule
    wd = tmp_path / "wd"
    first = run_cli(tmp_path, "run", PROMPT, "--data", "sklearn:iris", "--workdir", "wd",
                 "--phases", "design")  # fmt: skip
    assert first.returncode == 0, first.stderr
    (wd / "build" / "lib").mkdir(parents=True)
    (wd / "build" / "lib" / "important.so").write_bytes(b"\x7fELF not mine")
    again = run_cli(tmp_path, "run", PROMPT, "--data", "sklearn:iris", "--workdir", "wd",
                 "--phases", "design,build", "--force")  # fmt: skip
    assert again.returncode == 2, again.stderr
    assert "mlflowctl did not write" in _one_error(again) or ".mlflowctl-build.json" in again.stderr
    assert (wd / "build" / "lib" / "important.so").read_bytes() == b"\x7fELF not mine"


@pytest.mark.slow  # over ~20 s on 2 cores: make test-slow
def test_x3_force_into_a_folder_that_is_training_exits_7(tmp_path: Path) -> None:
    bp = slow_blueprint(tmp_path / "bp.yaml")
    first = start_cli(
        tmp_path,
        "build",
        str(bp),
        "--out",
        "b1",
        "--no-track",
        "--accelerator",
        "cpu",
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for(first, "] epoch 1/")
        before = {p for p in _snapshot(tmp_path / "b1") if not p.startswith(("checkpoints", "out"))}
        second = run_cli(tmp_path, "build", str(bp), "--out", "b1", "--force", "--no-train")
        assert second.returncode == 7, second.stderr
        line = _one_error(second)
        assert str(tmp_path / "b1") in line and "training" in line
        assert before <= set(_snapshot(tmp_path / "b1"))  # nothing of the live build went
        assert first.poll() is None, "the first build is still training"
    finally:
        first.send_signal(signal.SIGTERM)
        rest = first.communicate(timeout=120)[1]
    assert first.returncode == 143, rest  # stopped by us, cleanly, not crashed
    assert (tmp_path / "b1" / "checkpoints" / "last.ckpt").is_file()


def test_x4_second_run_in_a_busy_workdir_writes_nothing(tmp_path: Path) -> None:
    from mlflowctl.orchestrate.journal import workdir_lock

    wd = tmp_path / "wd"
    first = run_cli(tmp_path, "run", PROMPT, "--data", "sklearn:iris", "--workdir", "wd",
                 "--phases", "design")  # fmt: skip
    assert first.returncode == 0, first.stderr
    journal = wd / ".mlflowctl" / "pipeline.json"
    before = _snapshot(wd)
    with workdir_lock(wd):  # as if the first pipeline were still running
        for args in (
            ("run", "classify wine cultivars", "--workdir", "wd", "--data", "sklearn:iris"),
            ("run", "classify wine cultivars", "--workdir", "wd", "--force"),
            ("run", "--resume", "wd"),
        ):
            proc = run_cli(tmp_path, *args)
            assert proc.returncode == 7, (args, proc.stderr)
            assert "another mlflowctl pipeline is running" in _one_error(proc)
            assert _snapshot(wd) == before, args
    # finished: a new prompt is refused without --force and says how to resume
    refused = run_cli(tmp_path, "run", "classify wine cultivars", "--workdir", "wd", "--json")
    assert refused.returncode == 2
    line = _one_error(refused)
    assert json.loads(journal.read_text())["pipeline_id"] in line
    assert "mlflowctl run --resume wd" in refused.stderr and "--force" in refused.stderr
    assert json.loads(refused.stdout)["exit_code"] == 2
    assert _snapshot(wd) == before


def test_x4_default_workdir_is_named_after_the_pipeline(tmp_path: Path) -> None:
    proc = run_cli(
        tmp_path, "run", PROMPT, "--data", "sklearn:iris", "--phases", "design", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    pid = json.loads(proc.stdout)["pipeline_id"]
    assert f"pipeline {pid} in runs/{pid}" in proc.stderr
    assert f"mlflowctl run --resume runs/{pid}" in proc.stderr
    journal = json.loads((tmp_path / "runs" / pid / ".mlflowctl" / "pipeline.json").read_text())
    assert journal["pipeline_id"] == pid
    resumed = run_cli(tmp_path, "run", "--resume", f"runs/{pid}")
    assert resumed.returncode == 0, resumed.stderr
