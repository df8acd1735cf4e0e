"""Issue 15: the rendered project trains with several processes (CPU DDP over gloo here).

Every test drives the real CLI in a subprocess. Two CPU processes split each training batch of
a single-process run with twice the batch, so their validation losses must agree: DDP averages
the ranks' gradients, which is the gradient of the doubled batch (``REL_TOL`` covers float
summation order). GPU paths (NCCL, FSDP, bf16, compile) are ``gpu`` tests.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from blueprints import make_blueprint

#: relative tolerance between DDP x2 (batch b) and one process (batch 2b), per epoch val_loss
REL_TOL = 1e-3
NO_DROPOUT = {"family": "mlp", "hidden": [32], "dropout": 0.0}


def _cli(*args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlflowctl", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _blueprint(tmp_path: Path, name: str, family: str, dataset: str, **training: Any) -> Path:
    params = NO_DROPOUT if family == "mlp" else None
    path = tmp_path / name
    path.write_text(make_blueprint(family, dataset, params=params, training=training).to_yaml())
    return path


def _events(root: Path) -> list[dict[str, Any]]:
    lines = (root / "events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _val_losses(root: Path) -> list[float]:
    return [e["metrics"]["val_loss"] for e in _events(root) if e["event"] == "epoch"]


@pytest.mark.integration
def test_two_cpu_processes_train_one_run_of_events(tmp_path: Path) -> None:
    """The default-suite DDP check: ``--devices 2 --strategy ddp`` trains with two processes."""
    bp = _blueprint(tmp_path, "bp.yaml", "mlp", "wine")
    proc = _cli(
        "build", str(bp), "--no-track", "--devices", "2", "--strategy", "ddp",
        "--accelerator", "cpu", "--max-epochs", "1", "--out", "b", "--json", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    root = tmp_path / "b"
    events = _events(root)
    starts = [e for e in events if e["event"] == "start"]
    ends = [e for e in events if e["event"] == "end"]
    assert len(starts) == 1 and len(ends) == 1, events  # rank 1 wrote nothing
    assert starts[0]["strategy"] == "ddp" and starts[0]["devices"] == 2
    assert starts[0]["effective_batch_size"] == 64
    assert not any("rank" in e for e in events)
    doc = json.loads((root / "outputs" / "metrics.json").read_text())
    assert doc["strategy"] == "ddp" and doc["devices"] == 2
    assert (root / "outputs" / "weights.safetensors").is_file()
    log = (root / "outputs" / "train.log").read_text()
    assert "GLOBAL_RANK: 1" in log  # a second process really ran


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize(("family", "dataset"), [("mlp", "wine"), ("lstm", "sunspots")])
def test_ddp_matches_one_process_with_the_same_effective_batch_and_registers_once(
    tmp_path: Path, family: str, dataset: str
) -> None:
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    one = _blueprint(tmp_path, "one.yaml", family, dataset, batch_size=64)
    two = _blueprint(tmp_path, "two.yaml", family, dataset, batch_size=32)
    proc = _cli("build", str(one), "--accelerator", "cpu", "--max-epochs", "2", "--out", "one",
                "--no-track", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    proc = _cli(
        "build", str(two), "--devices", "2", "--strategy", "ddp", "--accelerator", "cpu",
        "--max-epochs", "2", "--out", "two", "--tracking-uri", store, "--json", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["model_version"] == 1
    single, ddp = _val_losses(tmp_path / "one"), _val_losses(tmp_path / "two")
    assert len(single) == len(ddp) == 2
    for a, b in zip(single, ddp, strict=True):
        assert b == pytest.approx(a, rel=REL_TOL), (single, ddp)
    import mlflow

    client = mlflow.MlflowClient(store)
    runs = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]
    assert len(runs) == 1, [r.info.run_id for r in runs]
    versions = client.search_model_versions(f"name='{summary['model_name']}'")
    assert len(versions) == 1


def _wait_for_epoch(proc: subprocess.Popen[str], root: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        events = root / "events.jsonl"
        if events.is_file() and '"event": "epoch"' in events.read_text():
            return
        time.sleep(0.2)
    raise AssertionError("no epoch finished in time")


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.fault
def test_sigterm_stops_every_rank_and_resumes_on_one_device(tmp_path: Path) -> None:
    bp = _blueprint(tmp_path, "bp.yaml", "mlp", "digits", batch_size=8, max_epochs=200)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflowctl", "build", str(bp), "--no-track", "--devices", "2",
         "--strategy", "ddp", "--accelerator", "cpu", "--out", "b"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    root = tmp_path / "b"
    _wait_for_epoch(proc, root, time.monotonic() + 240)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert (root / "checkpoints" / "last.ckpt").is_file()
    assert (root / "checkpoints" / "last.ckpt.sha256").is_file()
    events = _events(root)
    assert events[-1]["status"] == "killed" and not any("rank" in e for e in events)
    done = sum(1 for e in events if e["event"] == "epoch")
    # no rank outlives the job
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(root) not in ps and not [
        line
        for line in ps.splitlines()
        if "train.py" in line and "--devices 2" in line and str(tmp_path) in line
    ]
    proc2 = _cli("build", str(bp), "--resume", "--out", "b", "--no-track", "--devices", "1",
                 "--accelerator", "cpu", "--max-epochs", str(done + 1), cwd=tmp_path)  # fmt: skip
    assert proc2.returncode == 0, proc2.stderr
    resumed = [e for e in _events(root) if e["event"] == "start"][-1]
    assert resumed["resumed"] and resumed["strategy"] == "single"
    assert json.loads((root / "outputs" / "metrics.json").read_text())["resumed"] is True


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.fault
def test_a_rank_crashing_mid_epoch_fails_the_job_with_exit_5(tmp_path: Path) -> None:
    bp = _blueprint(tmp_path, "bp.yaml", "mlp", "wine", batch_size=8)
    args = ["--no-track", "--devices", "2", "--strategy", "ddp", "--accelerator", "cpu"]
    proc = _cli("build", str(bp), *args, "--max-epochs", "1", "--out", "b", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    model = tmp_path / "b" / "model.py"
    source = model.read_text()
    # the tabular training_step (the specialised template has no tbptt branch there)
    hook = "        x, y = batch\n        loss = self.loss_fn(self.net(x), y)"
    assert hook in source
    model.write_text(source.replace(hook, (
        "        x, y = batch\n"
        "        if self.global_rank == 1 and self.current_epoch == 1 and batch_idx == 2:\n"
        "            raise RuntimeError('injected rank failure')\n"
        "        loss = self.loss_fn(self.net(x), y)"
    ), 1))  # fmt: skip
    started = time.monotonic()
    proc = _cli("build", str(bp), "--resume", *args, "--max-epochs", "3", "--out", "b",
                "--json", cwd=tmp_path, timeout=600)  # fmt: skip
    assert proc.returncode == 5, proc.stderr
    assert time.monotonic() - started < 300  # no hang in a collective
    err = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "rank 1" in err[0] and "injected rank failure" in err[0], proc.stderr
    failed = [e for e in _events(tmp_path / "b") if e.get("status") == "failed"]
    by_rank = [e for e in failed if e.get("rank") == 1]
    assert by_rank and "injected rank failure" in by_rank[0]["traceback"], failed


# --------------------------------------------------------------------------- GPU paths


def _has_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


cuda = pytest.mark.skipif(not _has_cuda(), reason="needs a CUDA GPU")


def _gpu_build(tmp_path: Path, family: str, dataset: str, *flags: str, **training: Any) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    bp = _blueprint(tmp_path, "bp.yaml", family, dataset, **training)
    proc = _cli("build", str(bp), "--no-track", "--accelerator", "gpu", "--max-epochs", "2",
                "--out", "b", *flags, cwd=tmp_path, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return tmp_path / "b"


@pytest.mark.gpu
@pytest.mark.integration
@cuda
def test_gpu_nccl_ddp_bf16(tmp_path: Path) -> None:
    root = _gpu_build(tmp_path, "mlp", "digits", "--devices", "1", "--strategy", "ddp",
                      precision="bf16-mixed")  # fmt: skip
    start = next(e for e in _events(root) if e["event"] == "start")
    assert start["accelerator"] == "gpu" and start["precision"] in ("bf16-mixed", "16-mixed")


@pytest.mark.gpu
@pytest.mark.integration
@cuda
def test_gpu_fsdp_saves_the_same_weights_as_one_device(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    fsdp = _gpu_build(tmp_path / "f", "transformer", "sunspots", "--strategy", "fsdp",
                      "--devices", "1")  # fmt: skip
    plain = _gpu_build(tmp_path / "p", "transformer", "sunspots", "--strategy", "auto")
    a = load_file(str(fsdp / "outputs" / "weights.safetensors"))
    b = load_file(str(plain / "outputs" / "weights.safetensors"))
    assert a.keys() == b.keys() and all(a[k].shape == b[k].shape for k in a)
    assert next(e for e in _events(fsdp) if e["event"] == "start")["strategy"] == "fsdp"


@pytest.mark.gpu
@pytest.mark.integration
@cuda
def test_gpu_compile_runs_and_keeps_the_weights_keys(tmp_path: Path) -> None:
    root = _gpu_build(tmp_path, "mlp", "digits", compile=True)
    start = next(e for e in _events(root) if e["event"] == "start")
    assert start["compiled"] is True
    assert (root / "outputs" / "weights.safetensors").is_file()
