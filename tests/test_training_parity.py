"""Training-loop overhead (T3, issue 18 item 2): the rendered project serialises one checkpoint
per epoch. An epoch that improves on the best used to pickle the same state twice (best.ckpt,
then last.ckpt); now last.ckpt is a byte copy of best.ckpt, with its own verified sidecar, and
``--resume`` continues from it. The real CLI renders the project; ``python train.py`` trains it
in a subprocess, with a ``sitecustomize`` that counts Lightning's checkpoint writes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from blueprints import make_blueprint
from cli_helpers import run_cli

pytestmark = pytest.mark.integration

# sitecustomize: once Lightning's torch_io module is loaded, its writer logs each file name
HOOK = """
import importlib.util, os, sys


def _counting(module):
    save = module.TorchCheckpointIO.save_checkpoint

    def save_checkpoint(self, checkpoint, path, storage_options=None):
        with open(os.environ["CKPT_SAVES"], "a") as f:
            f.write(os.path.basename(str(path)) + "\\n")
        return save(self, checkpoint, path, storage_options)

    module.TorchCheckpointIO.save_checkpoint = save_checkpoint


class _Finder:
    def find_spec(self, name, path=None, target=None):
        if name != "lightning.fabric.plugins.io.torch_io":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        exec_module = spec.loader.exec_module

        def run(module):
            exec_module(module)
            _counting(module)

        spec.loader.exec_module = run
        return spec


sys.meta_path.insert(0, _Finder())
"""


def _train(project: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    hook = tmp_path / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(HOOK)
    env = {
        **os.environ,
        "PYTHONPATH": str(hook),
        "CKPT_SAVES": str(tmp_path / "saves.txt"),
    }
    return subprocess.run(
        [sys.executable, "train.py", "--accelerator", "cpu", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_an_improving_epoch_serialises_its_checkpoint_once_and_resume_uses_the_copy(
    tmp_path: Path,
) -> None:
    (tmp_path / "bp.yaml").write_text(make_blueprint("mlp", "iris").to_yaml())
    built = run_cli(tmp_path, "build", "bp.yaml", "--no-train", "--out", "proj")
    assert built.returncode == 0, built.stderr
    project = tmp_path / "proj"

    proc = _train(project, tmp_path, "--max-epochs", "4")
    assert proc.returncode == 0, proc.stderr
    saves = (tmp_path / "saves.txt").read_text().split()
    ckpt = yaml.safe_load((project / "config.yaml").read_text())["checkpointing"]
    monitor, sign = ckpt["monitor"], -1.0 if ckpt["mode"] == "max" else 1.0
    events = [json.loads(line) for line in (project / "events.jsonl").read_text().splitlines()]
    scores = [sign * e["metrics"][monitor] for e in events if e["event"] == "epoch"]
    assert len(scores) == 4
    improved = [i for i, v in enumerate(scores) if v < min(scores[:i], default=float("inf"))]
    assert len(improved) >= 2, f"want a second improving epoch to check the copy: {scores}"
    # Lightning writes last.ckpt right after each new best.ckpt: one serialisation for both,
    # except in epoch 1 (last.ckpt's own path is only then recorded in the callback's state)
    assert len(saves) == len(improved) + 1, saves
    assert saves.count("last.ckpt") == 1, saves

    ckpts = project / "checkpoints"
    for name in ("best.ckpt", "last.ckpt"):
        digest = hashlib.sha256((ckpts / name).read_bytes()).hexdigest()
        assert (ckpts / f"{name}.sha256").read_text().strip() == digest
    assert not list(ckpts.glob("*.tmp"))

    resumed = _train(project, tmp_path, "--max-epochs", "5", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    events = [json.loads(line) for line in (project / "events.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in events if e["event"] == "epoch"][-1] == 5
