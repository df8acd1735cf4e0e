"""When a rendered project writes its checkpoints: ``last.ckpt`` at the end of every epoch (a
resumed run redoes at most the epoch it was stopped in), ``best.ckpt`` when validation improves,
each file written at most every ``CHECKPOINT_EVERY_S`` with the newer ones held in memory and
written when the fit ends or a signal stops it (train.py ``PacedCheckpointIO``)."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest
import yaml
from blueprints import make_blueprint

from mlflowctl.build import writer as workspace

pytestmark = pytest.mark.integration


def _flat_project(tmp_path: Path) -> Path:
    """An iris project whose validation loss never improves after the first epoch (lr 0), so
    Lightning's own ``save_last`` would leave ``last.ckpt`` at epoch 1 for the whole run."""
    root = workspace.build(make_blueprint("mlp", "iris"), out=tmp_path / "b").root
    config = root / "config.yaml"
    cfg = yaml.safe_load(config.read_text())
    cfg["training"]["optimizer"]["lr"] = 0.0
    cfg["training"]["early_stopping"]["enabled"] = False
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return root


def _load(path: Path) -> dict[str, Any]:
    import torch

    sidecar = path.with_name(path.name + ".sha256").read_text().strip()
    assert sidecar == hashlib.sha256(path.read_bytes()).hexdigest(), f"{path.name} vs sidecar"
    checkpoint: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=False)
    return checkpoint


def test_last_checkpoint_is_the_final_epoch_even_when_validation_stops_improving(
    tmp_path: Path,
) -> None:
    root = _flat_project(tmp_path)
    proc = subprocess.run(
        [sys.executable, "train.py", "--max-epochs", "6", "--accelerator", "cpu"],
        cwd=root, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    last, best = _load(root / "checkpoints/last.ckpt"), _load(root / "checkpoints/best.ckpt")
    assert last["epoch"] == 5 and len(last["callbacks"]["EventLog"]["history"]) == 6
    assert best["epoch"] == 0 and len(best["callbacks"]["EventLog"]["history"]) == 1
    assert not list((root / "checkpoints").glob("*.tmp")), "no temporary file is left"
    summary = json.loads((root / "outputs/metrics.json").read_text())
    assert summary["best_checkpoint"] == "checkpoints/best.ckpt"
    assert "multiple `ModelCheckpoint`" not in proc.stderr


@pytest.mark.heavy
def test_sigterm_leaves_last_checkpoint_at_the_previous_epoch_and_resume_goes_on(
    tmp_path: Path,
) -> None:
    root = _flat_project(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "train.py", "--max-epochs", "5000", "--accelerator", "cpu"],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    seen = 0
    deadline = time.monotonic() + 300
    try:
        for line in proc.stdout:
            if line.startswith("epoch "):
                seen = int(line.split()[1].split("/")[0])
                if seen >= 4:
                    break
            assert time.monotonic() < deadline, "no fourth epoch within 300 s"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    last = _load(root / "checkpoints/last.ckpt")
    done = last["epoch"] + 1
    # every epoch printed before the signal is in last.ckpt (Lightning's save_last: epoch 1)
    assert done >= seen >= 4
    assert len(last["callbacks"]["EventLog"]["history"]) == done

    resumed = subprocess.run(
        [sys.executable, "train.py", "--resume", "--max-epochs", str(done + 2),
         "--accelerator", "cpu"],
        cwd=root, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    epochs = [ln.split()[1] for ln in resumed.stdout.splitlines() if ln.startswith("epoch ")]
    assert epochs == [f"{done + 1}/{done + 2}", f"{done + 2}/{done + 2}"]


def test_a_held_checkpoint_is_a_copy_that_later_steps_do_not_change(tmp_path: Path) -> None:
    """Inside the project's writer: the second save within ``every_s`` is held, and the copy
    keeps the values of its step (and the state dict's per-module versions)."""
    import torch

    root = workspace.build(make_blueprint("mlp", "iris"), out=tmp_path / "b").root
    sys.path.insert(0, str(root))
    try:
        import train  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(root))
        for name in ("train", "model", "data", "evaluate", "preprocessing", "plots"):
            sys.modules.pop(name, None)
    weights = torch.zeros(3)
    state: OrderedDict[str, torch.Tensor] = OrderedDict(w=weights)
    state._metadata = {"": {"version": 2}}  # type: ignore[attr-defined]
    history: list[dict[str, float]] = [{"epoch": 1}]
    checkpoint = {"state_dict": state, "epoch": 0, "callbacks": {"log": {"history": history}}}
    paced = train.PacedCheckpointIO(every_s=3600)
    path = tmp_path / "ck" / "last.ckpt"

    paced.save_checkpoint(checkpoint, path)  # the first write is never held
    assert _load(path)["epoch"] == 0
    weights += 1.0
    history.append({"epoch": 2})
    paced.save_checkpoint({**checkpoint, "epoch": 1}, path)
    assert _load(path)["epoch"] == 0, "held, not written: the file was written < every_s ago"
    weights += 1.0  # a later step changes the live tensor and list
    history.append({"epoch": 3})
    paced.flush()
    written = _load(path)
    assert written["epoch"] == 1
    assert written["state_dict"]["w"].tolist() == [1.0, 1.0, 1.0]
    assert written["state_dict"]._metadata == {"": {"version": 2}}
    assert written["callbacks"]["log"]["history"] == [{"epoch": 1}, {"epoch": 2}]
    paced.remove_checkpoint(path)
    assert not path.exists() and not path.with_name("last.ckpt.sha256").exists()
