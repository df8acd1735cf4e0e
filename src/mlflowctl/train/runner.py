"""Train a rendered project: run its ``train.py`` in a subprocess and follow its events.

The project trains exactly as a user would train it (``python train.py`` in its folder), so what
mlflowctl tests is what the user owns. Progress comes from ``events.jsonl``: one status line per
epoch, and ``on_event(dict)`` for whoever tracks the run. SIGINT/SIGTERM are forwarded to the
child, which writes ``checkpoints/last.ckpt`` before it exits; then ``InterruptedRunError``.

The folder's training lock (``.train.lock``, an ``flock``) is inherited by the child, so it stays
held by the process that writes the folder for as long as that process lives; on Linux the child
also gets SIGTERM when mlflowctl dies (``PR_SET_PDEATHSIG``), even by SIGKILL (X10): it saves its
checkpoint and stops instead of training on unwatched. The project still runs without mlflowctl.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from mlflowctl import console, environ_snapshot
from mlflowctl.blueprint.results import RenderedProject, TrainingRun
from mlflowctl.errors import (
    InterruptedRunError,
    InvalidInputError,
    LockHeldError,
    TrainingError,
    WorkspaceError,
)

EventHandler = Callable[[dict[str, Any]], None]
_POLL_S = 0.2
LOCK_NAME = ".train.lock"
_PR_SET_PDEATHSIG = 1
#: locks this process holds: real path of the lock file -> [fd, depth]
_HELD: dict[str, list[int]] = {}


@contextmanager
def folder_lock(root: Path) -> Iterator[int]:
    """Hold ``root/.train.lock`` (exit 7 when another process holds it); yields the lock's fd.

    An ``flock`` belongs to the open file, so a child given the fd (``pass_fds``) keeps the folder
    locked even when this process is killed; it is released when the last holder exits.
    Reentrant within this process (the build holds it around training, the trainer takes it).
    """
    key = os.path.realpath(root / LOCK_NAME)
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield _HELD[key][0]
        finally:
            _HELD[key][1] -= 1
        return
    try:
        import fcntl
    except ImportError:  # not POSIX: a plain lock file, not inherited by the child
        from filelock import FileLock, Timeout

        lock = FileLock(str(root / LOCK_NAME), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise _lock_held(root) from None
        try:
            yield -1
        finally:
            lock.release()
        return
    fd = os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise _lock_held(root) from None
    _HELD[key] = [fd, 1]
    try:
        yield fd
    finally:
        del _HELD[key]
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _lock_held(root: Path) -> LockHeldError:
    return LockHeldError(
        "another mlflowctl process is training this build folder",
        hint="wait for it to finish, or build into another --out",
        location=str(root),
    )


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGTERM when this process dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:  # runs in the child between fork and exec: no imports, no locks
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


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


def _verifies(path: Path) -> bool:
    sidecar = path.with_name(path.name + ".sha256")
    try:
        return path.is_file() and sha256_file(path) == sidecar.read_text().strip()
    except OSError:
        return False


def recover_checkpoint(root: Path) -> Path:
    """``checkpoints/last.ckpt`` made usable for ``--resume``, before any run is created (X19).

    If ``last.ckpt`` does not match its sidecar, the newest other checkpoint that does (e.g.
    ``best.ckpt``, a full Lightning checkpoint) becomes ``last.ckpt``; the bad file is kept
    beside it as ``last.ckpt.corrupt`` (nothing is deleted). Without any checkpoint that
    verifies, a ``WorkspaceError`` says how to start the training over.
    """
    last = root / "checkpoints" / "last.ckpt"
    if _verifies(last):
        return last
    candidates = sorted(
        (p for p in last.parent.glob("*.ckpt") if p.name != last.name and _verifies(p)),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    if not candidates:
        return verify_last_checkpoint(root)  # raises, naming what is wrong
    good = candidates[0]
    if last.exists():
        os.replace(last, last.with_name("last.ckpt.corrupt"))
        sidecar = last.with_name("last.ckpt.sha256")
        if sidecar.exists():
            os.replace(sidecar, last.with_name("last.ckpt.corrupt.sha256"))
    tmp = last.with_name("last.ckpt.tmp")
    shutil.copyfile(good, tmp)
    os.replace(tmp, last)
    side_tmp = last.with_name("last.ckpt.sha256.tmp")
    side_tmp.write_text(sha256_file(last) + "\n")
    os.replace(side_tmp, last.with_name("last.ckpt.sha256"))
    console.status(f"resume: {last.name} did not verify; continuing from {good.name}")
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

    A lock file in the build folder keeps a second training of the same folder out (F18); the
    training child inherits it (X10). With several devices ``train.py`` is the launcher
    (Lightning starts the other ranks); only rank zero writes events, so one run is followed
    whatever the number of processes.
    """
    with folder_lock(project.root) as fd:
        return _train_locked(project, max_epochs, accelerator, resume, on_event, fd, scale)


def _train_locked(
    project: RenderedProject,
    max_epochs: int | None,
    accelerator: str,
    resume: bool,
    on_event: EventHandler | None,
    lock_fd: int = -1,
    scale: Scale | None = None,
) -> TrainingRun:
    root = project.root
    resumed_from = recover_checkpoint(root) if resume else None
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
    view = console.TrainingView()
    with log_path.open("a", encoding="utf-8") as log:
        child = subprocess.Popen(
            command,
            cwd=root,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            pass_fds=(lock_fd,) if lock_fd >= 0 else (),
            preexec_fn=_die_with_parent(),
        )
        restore = _forward_signals(child, received)
        view.launched(child.pid, "python train.py")
        try:
            while True:
                done = child.poll() is not None
                for event in tail.read():
                    view.event(event)
                    if event.get("event") == "end":
                        last_end = event
                    if on_event is not None:
                        on_event(event)
                if done:
                    break
                time.sleep(_POLL_S)
        finally:
            view.close()
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
