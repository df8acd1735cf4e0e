"""Training a rendered project for real (tiny: iris, 2 epochs) through ``mlflowctl.train``, and
the project on its own without mlflowctl."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from blueprints import make_blueprint

from mlflowctl.build import writer as workspace
from mlflowctl.train import runner as train

pytestmark = pytest.mark.integration


def test_train_reports_metrics_events_and_loadable_weights(tmp_path: Path) -> None:
    project = workspace.build(make_blueprint("mlp", "iris"), out=tmp_path / "b")
    seen: list[dict[str, Any]] = []
    run = train.train(project, max_epochs=2, accelerator="cpu", on_event=seen.append)
    assert run.status == "finished" and run.epochs_completed == 2
    assert (run.accelerator, run.precision) == ("cpu", "32-true")
    assert [e["event"] for e in seen] == ["start", "epoch", "epoch", "fitted", "test", "end"]
    fitted = next(e for e in seen if e["event"] == "fitted")
    assert fitted["epochs"] == 2 and fitted["wall_time_s"] > 0
    assert [h["epoch"] for h in run.history] == [1, 2]
    assert {"test_accuracy", "test_f1_macro", "val_loss", "val_accuracy"} <= set(run.metrics)
    assert 0.0 <= run.metrics["test_accuracy"] <= 1.0
    assert run.best_checkpoint is not None and run.best_checkpoint.is_file()
    root = project.root
    for rel in ("checkpoints/last.ckpt.sha256", "checkpoints/best.ckpt.sha256"):
        assert (root / rel).is_file()
    assert {p.name for p in run.plots} == {"learning_curves.png", "confusion_matrix.png"}
    assert run.report_path is not None and "test_accuracy" in run.report_path.read_text()
    tasks = (root / ".claude/tasks/ml-engineer-tasks.md").read_text()
    assert "- [x] Evaluate the best checkpoint" in tasks and "test_accuracy=" in tasks

    # the weights rebuild the network without Lightning, as CONTRACTS.md describes
    import numpy as np
    import safetensors.torch
    import torch

    sys.path.insert(0, str(root))
    try:
        from model import build_model  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(root))
        sys.modules.pop("model", None)
    net = build_model(yaml.safe_load((root / "config.yaml").read_text()))
    assert run.weights_path is not None
    net.load_state_dict(safetensors.torch.load_file(str(run.weights_path)))
    example = np.load(root / "outputs/input_example.npy")
    assert example.dtype == np.float32 and example.shape == (5, 4)
    assert net.eval()(torch.as_tensor(example)).shape == (5, 3)


@pytest.mark.slow
def test_project_trains_standalone_without_mlflowctl(tmp_path: Path) -> None:
    project = workspace.build(make_blueprint("mlp", "iris"), out=tmp_path / "b")
    blocker = (
        "import sys, runpy; sys.modules['mlflowctl'] = None; "
        "sys.argv = ['train.py', '--max-epochs', '1']; "
        "runpy.run_path('train.py', run_name='__main__')"
    )
    proc = subprocess.run(
        [sys.executable, "-c", blocker],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "epoch 1/1" in proc.stdout  # one plain line per epoch when not in a terminal
    doc = json.loads((project.root / "outputs/metrics.json").read_text())
    assert doc["epochs"] == 1 and "test_accuracy" in doc["metrics"]


def _load_module(root: Path, name: str) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"{name}_{root.name}", root / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TBPTT = {
    "enabled": True,
    "chunk_length": 8,
    "detach_points": ["hidden state at each chunk boundary"],
}


@pytest.mark.parametrize(
    ("family", "params"),
    [
        ("lstm", None),
        pytest.param(
            "transformer",
            {
                "family": "transformer",
                "d_model": 16,
                "heads": 2,
                "layers": 1,
                "ff_dim": 32,
                "max_len": 24,
                "memory_tokens": 2,
            },
            marks=pytest.mark.slow,
        ),
    ],
)
def test_truncated_bptt_takes_one_optimizer_step_per_chunk(
    family: str, params: dict[str, Any] | None, tmp_path: Path
) -> None:
    import math

    import torch

    bp = make_blueprint(family, params=params, training={"tbptt": TBPTT}, seasonal_period=11)
    project = workspace.build(bp, out=tmp_path / "b")
    run = train.train(project, max_epochs=2, accelerator="cpu")
    assert {"test_mase", "test_smape", "test_mae", "test_rmse"} <= set(run.metrics)
    cfg = yaml.safe_load((project.root / "config.yaml").read_text())
    data = _load_module(project.root, "data").DataModule(cfg)
    batches = len(data.train_dataloader())  # slices of an on-device index, not a DataLoader
    assert batches == math.ceil(len(data.splits["x_train"]) / 32) - 1  # a lone sample folds in
    chunks = math.ceil(24 / 8)
    ckpt = torch.load(
        project.root / "checkpoints/last.ckpt", map_location="cpu", weights_only=False
    )
    # manual optimization: one optimizer step (and one scheduler step) per chunk, not per batch
    assert ckpt["global_step"] == 2 * batches * chunks
    assert ckpt["lr_schedulers"][0]["last_epoch"] == 2 * batches * chunks


@pytest.mark.gpu
@pytest.mark.parametrize("family", ["cnn", "lstm"])
def test_gpu_training_uses_bf16_mixed(family: str, tmp_path: Path) -> None:
    bp = make_blueprint(family, seasonal_period=11 if family == "lstm" else None)
    project = workspace.build(bp, out=tmp_path / "b")
    run = train.train(project, max_epochs=3, accelerator="gpu")
    assert run.accelerator == "gpu" and run.precision in ("bf16-mixed", "16-mixed")
    assert run.epochs_completed == 3


@pytest.mark.slow
def test_gpu_request_without_a_gpu_is_invalid_input(tmp_path: Path) -> None:
    import torch

    from mlflowctl.errors import InvalidInputError

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    project = workspace.build(make_blueprint("mlp", "iris"), out=tmp_path / "b")
    with pytest.raises(InvalidInputError) as info:
        train.train(project, accelerator="gpu")
    assert info.value.exit_code == 2 and "--accelerator gpu" in info.value.message
    assert not (project.root / "outputs/metrics.json").exists()
