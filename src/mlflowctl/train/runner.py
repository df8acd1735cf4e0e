"""Train a rendered project: run its ``train.py`` in a subprocess and follow its events.

The project trains exactly as a user would train it (``python train.py`` in its folder), so what
mlflowctl tests is what the user owns. Progress comes from ``events.jsonl``: one status line per
epoch, and ``on_event(dict)`` for whoever tracks the run. SIGINT/SIGTERM are forwarded to the
child, which writes ``checkpoints/last.ckpt`` before it exits; then ``InterruptedRunError``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from mlflowctl import console
from mlflowctl.blueprint.results import RenderedProject, TrainingRun
from mlflowctl.errors import (
    InterruptedRunError,
    InvalidInputError,
    LockHeldError,
    TrainingError,
    WorkspaceError,
)
from mlflowctl.settings import environ_snapshot

EventHandler = Callable[[dict[str, Any]], None]
_POLL_S = 0.2
#: strategies ``--strategy`` accepts (what the rendered train.py understands)
STRATEGIES = ("auto", "ddp", "fsdp")


@dataclass(frozen=True)
class Scale:
    """Flags over config.yaml's ``training.distributed`` (None: keep the blueprint's value)."""

    devices: int | None = None
    num_nodes: int | None = None
    strategy: str | None = None
    accumulate: int | None = None

    def args(self) -> list[str]:
        """The matching ``train.py`` flags."""
        out: list[str] = []
        for flag, value in (
            ("--devices", self.devices),
            ("--num-nodes", self.num_nodes),
            ("--strategy", self.strategy),
            ("--accumulate", self.accumulate),
        ):
            if value is not None:
                out += [flag, str(value)]
        return out


def check_scale(scale: Scale, accelerator: str) -> None:
    """Refuse what cannot run here before anything is written (exit 2, naming the flag).

    Lightning runs any number of CPU processes (gloo); more than twice the cores only thrashes.
    GPUs are counted with ``nvidia-smi`` so that no torch import is needed here.
    """
    for flag, value in (
        ("--devices", scale.devices),
        ("--num-nodes", scale.num_nodes),
        ("--accumulate", scale.accumulate),
    ):
        if value is not None and value < 1:
            raise InvalidInputError(f"must be at least 1 (got {value})", location=flag)
    if scale.strategy is not None and scale.strategy not in STRATEGIES:
        raise InvalidInputError(
            f"unknown strategy {scale.strategy!r}", hint="auto, ddp or fsdp", location="--strategy"
        )
    gpus = gpu_count() if accelerator != "cpu" else 0
    if scale.strategy == "fsdp" and not gpus:
        raise InvalidInputError(
            "FSDP needs CUDA GPUs and none was found (torch has no FSDP on CPU)",
            hint="use --strategy ddp on CPU",
            location="--strategy",
        )
    if scale.devices is None:
        return
    if gpus:
        if scale.devices > gpus:
            raise InvalidInputError(
                f"{scale.devices} devices requested but only {gpus} GPU(s) found",
                hint=f"use --devices {gpus} or fewer, or --accelerator cpu",
                location="--devices",
            )
        return
    cpus = os.cpu_count() or 1
    if scale.devices > 2 * cpus:
        raise InvalidInputError(
            f"{scale.devices} devices requested but only {cpus} CPU cores found (at most "
            f"{2 * cpus} CPU processes)",
            hint=f"use --devices {2 * cpus} or fewer",
            location="--devices",
        )


def gpu_count() -> int:
    """CUDA devices ``nvidia-smi -L`` lists (0 without the tool or a driver)."""
    import shutil

    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_last_checkpoint(root: Path) -> Path:
    """``checkpoints/last.ckpt`` if it exists and matches its sidecar (F15, F16), else an error."""
    last = root / "checkpoints" / "last.ckpt"
    sidecar = last.with_name("last.ckpt.sha256")
    if not last.is_file():
        raise WorkspaceError(
            "--resume: no checkpoint to resume from",
            hint="train without --resume first; nothing was started",
            location=str(last),
        )
    if not sidecar.is_file() or sha256_file(last) != sidecar.read_text().strip():
        raise WorkspaceError(
            "--resume: checkpoint is truncated or corrupt (sha256 does not match its sidecar)",
            hint="train again without --resume",
            location=str(last),
        )
    return last


class _EventTail:
    """Reads the new complete lines of events.jsonl as the child appends them."""

    def __init__(self, path: Path, start: int) -> None:
        self.path, self.offset, self.buffer = path, start, ""

    def read(self) -> list[dict[str, Any]]:
        try:
            with self.path.open("r", encoding="utf-8") as f:
                f.seek(self.offset)
                chunk = f.read()
                self.offset = f.tell()
        except FileNotFoundError:
            return []
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split("\n")
        events = []
        for line in lines:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(event, dict):
                events.append(event)
        return events


def _show(event: dict[str, Any], started: float) -> None:
    elapsed = f"[{time.perf_counter() - started:6.1f}s]"
    kind = event.get("event")
    if kind == "start":
        console.status(
            f"{elapsed} training: up to {event.get('epochs')} epochs on "
            f"{event.get('accelerator')} ({event.get('precision')})"
        )
    elif kind == "epoch":
        metrics = event.get("metrics", {})
        shown = "  ".join(
            f"{k}={v:.4g}" for k, v in sorted(metrics.items()) if isinstance(v, (int, float))
        )
        console.status(f"{elapsed} epoch {event.get('epoch')}  {shown}")


def train(
    project: RenderedProject,
    *,
    max_epochs: int | None = None,
    accelerator: str = "auto",
    resume: bool = False,
    on_event: EventHandler | None = None,
    scale: Scale | None = None,
) -> TrainingRun:
    """Run the project's training; the returned run is read from ``outputs/metrics.json``.

    A lock file in the build folder keeps a second training of the same folder out (F18).
    With several devices ``train.py`` is the launcher (Lightning starts the other ranks); only
    rank zero writes events, so one run is followed whatever the number of processes.
    """
    from filelock import FileLock, Timeout

    lock = FileLock(str(project.root / ".train.lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise LockHeldError(
            "another mlflowctl process is training this build folder",
            hint="wait for it to finish, or build into another --out",
            location=str(project.root),
        ) from None
    try:
        return _train_locked(project, max_epochs, accelerator, resume, on_event, scale)
    finally:
        lock.release()


def _train_locked(
    project: RenderedProject,
    max_epochs: int | None,
    accelerator: str,
    resume: bool,
    on_event: EventHandler | None,
    scale: Scale | None = None,
) -> TrainingRun:
    root = project.root
    resumed_from = verify_last_checkpoint(root) if resume else None
    events_path = root / "events.jsonl"
    if not resume:
        events_path.unlink(missing_ok=True)
    start = events_path.stat().st_size if events_path.exists() else 0
    command = [sys.executable, "train.py", "--events", "events.jsonl", "--accelerator", accelerator]
    if max_epochs is not None:
        command += ["--max-epochs", str(max_epochs)]
    if resume:
        command.append("--resume")
    if scale is not None:
        command += scale.args()
    log_path = root / "outputs" / "train.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**environ_snapshot(), "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    tail = _EventTail(events_path, start)
    last_end: dict[str, Any] = {}
    received: list[int] = []
    started = time.perf_counter()
    with log_path.open("a", encoding="utf-8") as log:
        child = subprocess.Popen(
            command, cwd=root, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        restore = _forward_signals(child, received)
        try:
            while True:
                done = child.poll() is not None
                for event in tail.read():
                    _show(event, started)
                    if event.get("event") == "end":
                        last_end = event
                    if on_event is not None:
                        on_event(event)
                if done:
                    break
                time.sleep(_POLL_S)
        finally:
            restore()
            if child.poll() is None:
                child.kill()
                child.wait()
            _kill_group(child.pid)  # ranks Lightning started, should any outlive the launcher
    code = child.returncode
    if received or code in (130, 143) or last_end.get("status") == "killed":
        signum = received[0] if received else (signal.SIGINT if code == 130 else signal.SIGTERM)
        raise InterruptedRunError.for_signal(int(signum), phase="train")
    if code == 2:  # train.py refused its arguments (e.g. --accelerator gpu without a GPU)
        raise _refusal(log_path)
    if code != 0:
        raise _failure(code, last_end, log_path)
    return read_run(project, resumed_from)


def _kill_group(pgid: int) -> None:
    """SIGKILL what is left of the child's process group (its own session: only our ranks)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _forward_signals(child: subprocess.Popen[bytes], received: list[int]) -> Callable[[], None]:
    """Pass SIGINT/SIGTERM on to the child (it saves a checkpoint); undo with the result."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def forward(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if child.poll() is None:
            child.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for s, handler in previous.items():
            signal.signal(s, handler)

    return restore


def _refusal(log_path: Path) -> InvalidInputError:
    lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    errors = [line.removeprefix("error: ") for line in lines if line.startswith("error:")]
    return InvalidInputError(
        errors[-1] if errors else "train.py refused its arguments",
        hint=f"see the log: {log_path}",
        phase="train",
        location="train.py",
    )


def _failure(code: int, end: dict[str, Any], log_path: Path) -> TrainingError:
    failure = end.get("failure") if end.get("failure") in ("nan_loss", "oom", "error") else "error"
    lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    message = end.get("message") or (errors[-1] if errors else f"train.py exited with {code}")
    hints = {
        "nan_loss": "lower the learning rate or enable gradient clipping in config.yaml",
        "oom": "use a smaller batch_size or model",
        "error": f"see the log: {log_path}",
    }
    return TrainingError(
        f"training failed ({failure}): {message}",
        hint=hints[str(failure)],
        phase="train",
        location=str(log_path),
        details={"failure": failure, "exit_code": code, "log_tail": lines[-20:]},
    )


def read_run(project: RenderedProject, resumed_from: Path | None = None) -> TrainingRun:
    """The finished run recorded in ``outputs/metrics.json`` (also for a run trained earlier)."""
    root = project.root
    metrics_path = root / "outputs" / "metrics.json"
    doc = json.loads(metrics_path.read_text(encoding="utf-8"))
    weights = root / "outputs" / "weights.safetensors"
    plots = sorted((root / "outputs" / "plots").glob("*.png"))
    return TrainingRun(
        project=project,
        metrics={k: float(v) for k, v in doc["metrics"].items()},
        history=doc["history"],
        status="finished",
        wall_time_s=float(doc["wall_time_s"]),
        epochs_completed=int(doc["epochs"]),
        accelerator=str(doc["accelerator"]),
        precision=str(doc["precision"]),
        best_checkpoint=root / doc["best_checkpoint"],
        last_checkpoint=root / "checkpoints" / "last.ckpt",
        weights_path=weights,
        weights_sha256=sha256_file(weights) if weights.is_file() else None,
        metrics_path=metrics_path,
        plots=plots,
        report_path=root / "outputs" / "report.md",
        resumed_from=resumed_from,
    )
