"""Train a rendered project: run its ``train.py`` in a subprocess and follow its events.

The project trains exactly as a user would train it (``python train.py`` in its folder), so what
mlflowctl tests is what the user owns. Progress comes from ``events.jsonl``: one status line per
epoch, and ``on_event(dict)`` for whoever tracks the run. SIGINT/SIGTERM are forwarded to the
child, which writes ``checkpoints/last.ckpt`` before it exits; then ``InterruptedRunError``.

The folder's training lock (``.train.lock``, an ``flock``) is inherited by the child, so it stays
held by the process that writes the folder for as long as that process lives; on Linux the child
also gets SIGTERM when mlflowctl dies (``PR_SET_PDEATHSIG``), even by SIGKILL (X10): it saves its
checkpoint and stops instead of training on unwatched. The project still runs without mlflowctl.
The lock is in ``train.locks``, checkpoint checks in ``train.checkpoints``, the scale flags in
``train.scale``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from mlflowctl import console, environ_snapshot
from mlflowctl.blueprint.results import RenderedProject, TrainingRun
from mlflowctl.errors import InterruptedRunError, InvalidInputError, TrainingError
from mlflowctl.train.checkpoints import recover_checkpoint, sha256_file
from mlflowctl.train.locks import die_with_parent, folder_lock
from mlflowctl.train.scale import Scale

EventHandler = Callable[[dict[str, Any]], None]
#: returns the reason to stop the training early (work done alongside it failed), or None
AbortCheck = Callable[[], BaseException | None]
#: how often new events are read: the "end" event is seen within 50 ms, so logging the model
#: overlaps the child's exit (a read of the events file costs tens of microseconds)
_POLL_S = 0.05
#: how long a child stopped by mlflowctl (a pruned trial, a failed ``abort`` check; not a signal
#: to mlflowctl) may take to save ``last.ckpt`` and exit before SIGKILL
STOP_GRACE_S = 15.0


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
    abort: AbortCheck | None = None,
    launched: Callable[[], None] | None = None,
    finished: Callable[[TrainingRun], None] | None = None,
) -> TrainingRun:
    """Run the project's training; the returned run is read from ``outputs/metrics.json``.

    ``launched`` is called once the child runs (work to do alongside it starts then, so it does
    not delay the start); ``abort`` is asked between polls whether that work (opening the
    tracking store) failed: then the child is stopped (SIGTERM, it saves its checkpoint) and
    that error is raised here. ``finished`` is called with the run once the child reports it
    finished (every output written) while the child process is still exiting (its interpreter
    takes about a second to shut down); the child's exit status is still checked afterwards.

    A lock file in the build folder keeps a second training of the same folder out (F18); the
    training child inherits it (X10). With several devices ``train.py`` is the launcher
    (Lightning starts the other ranks); only rank zero writes events, so one run is followed
    whatever the number of processes.
    """
    with folder_lock(project.root) as fd:
        return _train_locked(
            project, max_epochs, accelerator, resume, on_event, fd, scale, abort, launched, finished
        )


def _train_locked(
    project: RenderedProject,
    max_epochs: int | None,
    accelerator: str,
    resume: bool,
    on_event: EventHandler | None,
    lock_fd: int = -1,
    scale: Scale | None = None,
    abort: AbortCheck | None = None,
    launched: Callable[[], None] | None = None,
    finished: Callable[[TrainingRun], None] | None = None,
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
            preexec_fn=die_with_parent(),
        )
        restore = _forward_signals(child, received)
        view.launched(child.pid, "python train.py")
        try:
            if launched is not None:
                launched()
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
                if finished is not None and last_end.get("status") == "finished":
                    finished(read_run(project, resumed_from))  # while the child exits
                    finished = None
                    continue
                if abort is not None and (problem := abort()) is not None:
                    _stop_child(child)
                    raise problem
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(timeout=_POLL_S)  # returns as soon as the child exits
        finally:
            view.close()
            restore()
            if child.poll() is None:  # e.g. a pruned trial: SIGTERM, a checkpoint, exit 143
                _stop_child(child)
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


def _stop_child(child: subprocess.Popen[bytes], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM (train.py stops at the next batch, saves ``last.ckpt``, exits 143), then SIGKILL
    if it is still running after ``grace_s``."""
    with contextlib.suppress(OSError):
        child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


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
        extra={"decision_threshold": doc["decision_threshold"]}
        if doc.get("decision_threshold")
        else {},
    )
