"""Faults during training (F2, F4, F15, F16): NaN loss, SIGTERM and resume, missing or corrupt
checkpoints. Every case runs the real rendered project."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from blueprints import make_blueprint

from mlflowctl.blueprint.results import RenderedProject
from mlflowctl.build import writer as workspace
from mlflowctl.errors import InterruptedRunError, TrainingError, WorkspaceError
from mlflowctl.train import runner as train

pytestmark = [pytest.mark.fault, pytest.mark.integration]

NAN_AT_THIRD_FORWARD = """

_build_model = build_model


def build_model(cfg):  # test fault: the third forward pass returns NaN
    net = _build_model(cfg)
    calls = [0]

    def poison(module, inputs, output):
        calls[0] += 1
        return output * float("nan") if calls[0] == 3 else output

    net.register_forward_hook(poison)
    return net
"""


def _events(root: Path) -> list[dict[str, Any]]:
    lines = (root / "events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _project(tmp_path: Path) -> RenderedProject:
    return workspace.build(make_blueprint("mlp", "iris"), out=tmp_path / "b")


def test_nan_loss_stops_at_the_step_with_exit_5(tmp_path: Path) -> None:
    project = _project(tmp_path)
    model = project.root / "model.py"
    model.write_text(model.read_text() + NAN_AT_THIRD_FORWARD)
    with pytest.raises(TrainingError) as info:
        train.train(project, max_epochs=3, accelerator="cpu")
    err = info.value
    assert err.exit_code == 5 and err.details["failure"] == "nan_loss"
    assert err.details["exit_code"] == 5
    assert "at step 2" in err.message  # the third batch, not the end of the epoch
    events = _events(project.root)
    assert events[-1] == {
        "event": "end",
        "status": "failed",
        "failure": "nan_loss",
        "message": events[-1]["message"],
    }
    assert not [e for e in events if e["event"] == "epoch"]


def test_sigterm_saves_last_checkpoint_then_resume_continues(tmp_path: Path) -> None:
    project = _project(tmp_path)
    signalled: list[int] = []

    def on_event(event: dict[str, Any]) -> None:
        if event["event"] == "epoch" and not signalled:
            signalled.append(event["epoch"])
            os.kill(os.getpid(), signal.SIGTERM)  # what a scheduler or `kill` does to mlflowctl

    with pytest.raises(InterruptedRunError) as info:
        train.train(project, max_epochs=500, accelerator="cpu", on_event=on_event)
    assert info.value.exit_code == 143 and info.value.details["signal"] == "SIGTERM"
    root = project.root
    assert (root / "checkpoints/last.ckpt").is_file()
    assert (root / "checkpoints/last.ckpt.sha256").is_file()
    events = _events(root)
    assert events[-1]["event"] == "end" and events[-1]["status"] == "killed"
    done = len([e for e in events if e["event"] == "epoch"])
    assert done >= 1

    run = train.train(project, max_epochs=done + 2, accelerator="cpu", resume=True)
    assert run.resumed_from == root / "checkpoints/last.ckpt"
    assert run.epochs_completed == done + 2
    assert [h["epoch"] for h in run.history] == list(range(1, done + 3))
    new_epochs = [e for e in _events(root) if e["event"] == "epoch"][done:]
    # continued from last.ckpt, not restarted from epoch 1 (epochs after the newest checkpoint
    # that reached the disk before the signal are done again)
    assert new_epochs[0]["epoch"] > 1, [e["epoch"] for e in new_epochs]


def test_resume_without_checkpoint_is_an_error_not_a_fresh_start(tmp_path: Path) -> None:
    project = _project(tmp_path)
    with pytest.raises(WorkspaceError) as info:
        train.train(project, resume=True)
    assert info.value.exit_code == 2 and "no checkpoint" in info.value.message
    assert not (project.root / "events.jsonl").exists()


@pytest.mark.slow
def test_project_train_py_refuses_resume_without_checkpoint(tmp_path: Path) -> None:
    project = _project(tmp_path)
    proc = subprocess.run(
        [sys.executable, "train.py", "--resume"],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 2
    assert "--resume" in proc.stderr and "last.ckpt not found" in proc.stderr
    assert not (project.root / "outputs/metrics.json").exists()


def test_truncated_checkpoint_is_detected(tmp_path: Path) -> None:
    project = _project(tmp_path)
    last = project.root / "checkpoints" / "last.ckpt"
    last.write_bytes(b"PK\x03\x04 a checkpoint that was cut short")
    sidecar = last.with_name("last.ckpt.sha256")
    sidecar.write_text("0" * 64 + "\n")
    with pytest.raises(WorkspaceError, match="truncated or corrupt"):
        train.train(project, resume=True)
    sidecar.unlink()
    with pytest.raises(WorkspaceError, match="truncated or corrupt"):
        train.train(project, resume=True)


def test_second_training_of_the_same_folder_gets_a_lock_error(tmp_path: Path) -> None:
    from filelock import FileLock

    from mlflowctl.errors import LockHeldError

    project = _project(tmp_path)
    with FileLock(str(project.root / ".train.lock")), pytest.raises(LockHeldError) as info:
        train.train(project, max_epochs=1)
    assert info.value.exit_code == 7 and not (project.root / "events.jsonl").exists()


RAISE_AT_THIRD_FORWARD = """

_build_model = build_model


def build_model(cfg):  # test fault: the third forward pass raises
    net = _build_model(cfg)
    calls = [0]

    def explode(module, inputs, output):
        calls[0] += 1
        if calls[0] == 3:
            raise {exception}("injected fault")
        return output

    net.register_forward_hook(explode)
    return net
"""


@pytest.mark.slow
@pytest.mark.parametrize(("exception", "failure"), [("MemoryError", "oom"), ("KeyError", "error")])
def test_exception_in_training_fails_with_its_kind(
    exception: str, failure: str, tmp_path: Path
) -> None:
    project = _project(tmp_path)
    model = project.root / "model.py"
    model.write_text(model.read_text() + RAISE_AT_THIRD_FORWARD.format(exception=exception))
    with pytest.raises(TrainingError) as info:
        train.train(project, max_epochs=2, accelerator="cpu")
    assert info.value.exit_code == 5 and info.value.details["failure"] == failure
    assert _events(project.root)[-1]["failure"] == failure
    log = (project.root / "outputs" / "train.log").read_text()
    if failure == "error":
        assert "Traceback" in log and "injected fault" in log  # the traceback is kept
    else:
        assert "smaller batch_size" in info.value.message
    assert not (project.root / "outputs" / "metrics.json").exists()
