"""Fixtures for the tracking and registry tests.

* ``mlflow_server``: a real ``mlflow server`` on 127.0.0.1 (free port, SQLite backend and
  artifact store in tmp_path), ready once ``/health`` answers, killed at teardown.
* ``make_blueprint`` / ``make_project``: a valid Blueprint and a trained-looking project folder
  that follows docs/CONTRACTS.md (tiny ``nn.Linear`` ``build_model``, safetensors weights,
  ``metrics.json``, ``input_example.npy``), so these tests need neither templates nor training.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from mlflowctl.blueprint.model import Blueprint
from mlflowctl.blueprint.results import RenderedProject, TrainingRun

MODEL_PY = """\
import torch.nn as nn


def build_model(cfg):
    return nn.Linear(cfg["n_features"], cfg["n_out"])
"""


def _approach(name: str, model_name: str, experiment: str, metric: str, direction: str) -> Any:
    return {
        "name": name,
        "title": f"{name} approach",
        "overview": "tiny",
        "model": {
            "family": "mlp",
            "template_kind": "mlp",
            "input": {"shape": [4]},
            "output": {"kind": "class_logits", "dim": 3},
            "params": {"family": "mlp", "hidden": [8]},
            "layers": [{"name": "fc", "kind": "Linear", "shape": "4x3", "params": 15}],
            "parameter_count": 15,
            "flops_per_sample": 24,
        },
        "training": {
            "loss": {"name": "cross_entropy"},
            "optimizer": {"name": "adamw", "lr": 0.01},
            "schedule": {"name": "constant"},
            "batch_size": 8,
            "max_epochs": 2,
        },
        "infrastructure": {
            "tracking": {"experiment_name": experiment, "metrics": [metric]},
            "registry": {
                "model_name": model_name,
                "gate": {"metric": metric, "direction": direction},
            },
            "monitoring": {"performance_metric": metric},
        },
        "tradeoffs": [{"aspect": "accuracy", "rating": "medium"}],
        "rationale": "tests",
    }


def make_blueprint(
    model_name: str = "iris-clf",
    experiment: str = "mlflowctl-tests",
    metric: str = "test_accuracy",
    direction: str = "maximize",
    **gate: Any,
) -> Blueprint:
    first = _approach("small", model_name, experiment, metric, direction)
    first["infrastructure"]["registry"]["gate"].update(gate)
    data = {
        "provenance": {
            "blueprint_id": "bp-0123456789ab",
            "prompt": "classify iris",
            "created_at": datetime.now(timezone.utc).isoformat(),
            "tool_version": "0.1.0",
            "agent": {"name": "ml-architect", "sha256": "0" * 64},
            "backend": "offline",
        },
        "requirements": {"task": "classification", "modality": "tabular"},
        "approaches": [first, _approach("other", model_name, experiment, metric, direction)],
        "recommended": {"approach": "small", "reason": "smallest"},
        "plan": {
            "steps": [{"order": 1, "owner": "ml-engineer", "action": "train"}],
            "files": ["model.py"],
        },
        "envelope": {"confidence": 0.5, "verification": ["tests"]},
    }
    return Blueprint.model_validate(data)


def make_project(root: Path, accuracy: float, seed: int = 0) -> TrainingRun:
    """A project folder as ``train()`` leaves it, and the TrainingRun describing it."""
    import numpy as np
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    (root / "outputs").mkdir(parents=True, exist_ok=True)
    config = "n_features: 4\nn_out: 3\n"
    (root / "model.py").write_text(MODEL_PY)
    (root / "config.yaml").write_text(config)
    layer = torch.nn.Linear(4, 3)
    weights = root / "outputs" / "weights.safetensors"
    save_file({k: v.contiguous() for k, v in layer.state_dict().items()}, str(weights))
    np.save(root / "outputs" / "input_example.npy", np.random.rand(2, 4).astype(np.float32))
    metrics = {
        "test_accuracy": accuracy,
        "test_f1_macro": accuracy - 0.01,
        "val_accuracy": accuracy,  # the gate decides on the validation split
        "val_f1_macro": accuracy - 0.01,
        "val_loss": 0.5,
    }
    (root / "outputs" / "metrics.json").write_text(json.dumps(metrics))
    project = RenderedProject(
        root=root,
        blueprint_id="bp-0123456789ab",
        approach="small",
        template_kind="mlp",
        files={"model.py": MODEL_PY, "config.yaml": config},
    )
    return TrainingRun(
        project=project,
        metrics=metrics,
        history=[{"epoch": 0, "train_loss": 1.0, "val_loss": 0.5}],
        status="finished",
        wall_time_s=1.0,
        epochs_completed=1,
        accelerator="cpu",
        precision="32-true",
        weights_path=weights,
        metrics_path=root / "outputs" / "metrics.json",
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a live ``mlflow server``; killed (group) at teardown."""
    port = _free_port()
    home = tmp_path / "server"
    home.mkdir()
    cmd = [
        sys.executable, "-m", "mlflow", "server",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}",
        "--artifacts-destination", str(home / "artifacts"),
    ]  # fmt: skip
    log = open(home / "server.log", "wb")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(cmd, cwd=home, stdout=log, stderr=log, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"mlflow server did not start: {(home / 'server.log').read_text()[-2000:]}"
                )
            time.sleep(0.5)
        yield url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        log.close()


#: a tracked build in a child process: ``python SCRIPT URI PROJECT ACCURACY BUILD_ID MODE``.
#: MODE ``sleep`` prints ``ready`` inside the Tracker and waits for a signal; ``register`` logs the
#: project and registers it, waiting first for ``URI``'s sibling ``go`` file (a start barrier).
TRACKED_SCRIPT = """\
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from mlflow_server import make_blueprint, make_project
from mlflowctl.errors import InterruptedRunError
from mlflowctl.specs.policy import MlopsPolicy
from mlflowctl.mlops.registry import register
from mlflowctl.mlops.runs import Tracker

uri, root, acc, build, mode = sys.argv[1:6]
bp = make_blueprint()
run = make_project(Path(root), float(acc), seed=hash(build) % 1000)
if mode == "register":
    go = Path(root).parent / "go"
    while not go.exists():
        time.sleep(0.05)
try:
    with Tracker(uri, bp, None, build_id=build, agent_digests={{}},
                 policy=MlopsPolicy(heartbeat_seconds=1)) as tr:
        if mode == "sleep":
            print("ready", tr.run_id, flush=True)
            time.sleep(120)
        tr.log_training(run)
    mv = register(uri, tr.run_id, run, bp.approach().infrastructure.registry, build_id=build)
    print("version", mv.version, tr.run_id, flush=True)
except InterruptedRunError as exc:
    sys.exit(exc.exit_code)
except KeyboardInterrupt:
    sys.exit(130)
"""


def write_tracked_script(where: Path) -> Path:
    script = where / "tracked_build.py"
    script.write_text(TRACKED_SCRIPT.format(tests=str(Path(__file__).resolve().parent)))
    return script
