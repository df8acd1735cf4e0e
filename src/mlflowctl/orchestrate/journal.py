"""The pipeline journal: one atomic JSON file per pipeline, and the lock on its workdir.

``<workdir>/.mlflowctl/pipeline.json`` records each phase's status, inputs, outputs, timings and
error, so ``mlflowctl run --resume DIR`` continues from the first unfinished phase. Every write goes
to a temporary file in the same folder and replaces the journal with ``os.replace``: a crash leaves
either the old or the new journal, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from mlflowctl.errors import EnvironmentProblemError, InvalidInputError, LockHeldError

PhaseStatus = Literal["pending", "running", "done", "failed", "skipped"]
_PHASE_STATUSES = ("pending", "running", "done", "failed", "skipped")
_JOURNAL_STATUSES = ("running", "finished", "failed", "interrupted")
_PHASE_FIELDS = frozenset(
    ("name", "status", "started_at", "finished_at", "duration_s", "inputs", "outputs", "error")
)
STATE_DIR = ".mlflowctl"
JOURNAL_NAME = "pipeline.json"
LOCK_NAME = "pipeline.lock"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def make_workdir(workdir: Path) -> None:
    """Create the pipeline's workdir; a read-only or unusable place is exit 2 naming it (X16)."""
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        probe = workdir / STATE_DIR
        probe.mkdir(exist_ok=True)
        if not os.access(probe, os.W_OK):
            raise PermissionError(13, "Permission denied", str(probe))
    except OSError as exc:
        raise EnvironmentProblemError(
            f"cannot write the pipeline's workdir: {exc.strerror or exc}",
            hint="run from a writable folder, or pass --workdir DIR on a writable disk",
            location=str(workdir),
        ) from None


def _journal_problem(data: Any) -> str | None:
    """What makes a parsed journal unusable, or None when it has the shape ``load`` needs."""
    if not isinstance(data, dict):
        return f"expected a JSON object, found {type(data).__name__}"
    for key, kind in (("pipeline_id", str), ("prompt", str), ("options", dict), ("phases", dict)):
        if key not in data:
            return f"missing key {key!r}"
        if not isinstance(data[key], kind):
            return f"{key!r} is not a {'string' if kind is str else 'JSON object'}"
    unknown = set(data) - {
        "pipeline_id", "prompt", "options", "phases", "created_at", "status", "exit_code"
    }  # fmt: skip
    if unknown:
        return f"unknown key {sorted(unknown)[0]!r}"
    if data.get("status", "running") not in _JOURNAL_STATUSES:
        return f"status {data.get('status')!r} is not one of {', '.join(_JOURNAL_STATUSES)}"
    exit_code = data.get("exit_code")
    if exit_code is not None and (not isinstance(exit_code, int) or isinstance(exit_code, bool)):
        return "'exit_code' is not an integer"
    if not data["phases"]:
        return "'phases' is empty"
    for name, rec in data["phases"].items():
        if not isinstance(rec, dict):
            return f"phases.{name} is not a JSON object"
        extra = set(rec) - _PHASE_FIELDS
        if extra:
            return f"phases.{name} has unknown key {sorted(extra)[0]!r}"
        if rec.get("name", name) != name:
            return f"phases.{name}.name is {rec.get('name')!r}"
        if rec.get("status", "pending") not in _PHASE_STATUSES:
            return f"phases.{name}.status {rec.get('status')!r} is not a phase status"
        for key in ("inputs", "outputs"):
            if not isinstance(rec.get(key, {}), dict):
                return f"phases.{name}.{key} is not a JSON object"
        if rec.get("error") is not None and not isinstance(rec["error"], dict):
            return f"phases.{name}.error is not a JSON object"
    return None


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary sibling and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class PhaseRecord:
    name: str
    status: PhaseStatus = "pending"
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None


@dataclass
class Journal:
    """What a pipeline did so far. Save after every change with ``save()``."""

    path: Path
    pipeline_id: str
    prompt: str
    options: dict[str, Any]
    phases: dict[str, PhaseRecord]
    created_at: str = field(default_factory=now_iso)
    status: Literal["running", "finished", "failed", "interrupted"] = "running"
    exit_code: int | None = None

    # ----------------------------------------------------------------- lifecycle

    @classmethod
    def create(
        cls,
        workdir: Path,
        *,
        pipeline_id: str,
        prompt: str,
        options: dict[str, Any],
        phases: list[str],
    ) -> Journal:
        journal = cls(
            path=workdir / STATE_DIR / JOURNAL_NAME,
            pipeline_id=pipeline_id,
            prompt=prompt,
            options=options,
            phases={name: PhaseRecord(name) for name in phases},
        )
        journal.save()
        return journal

    @classmethod
    def load(cls, workdir: Path) -> Journal:
        path = workdir / STATE_DIR / JOURNAL_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InvalidInputError(
                "no pipeline journal to resume",
                hint='start one with `mlflowctl run "<prompt>" --workdir DIR`',
                location=str(path),
            ) from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EnvironmentProblemError(
                f"pipeline journal unreadable: {exc}",
                hint="the workdir is damaged; start a new pipeline in another folder",
                location=str(path),
            ) from None
        problem = _journal_problem(data)
        if problem is not None:  # `[]`, missing keys, wrong types: exit 2, never a KeyError (X16)
            raise EnvironmentProblemError(
                f"pipeline journal is malformed: {problem}",
                hint="the workdir is damaged; start a new pipeline in another folder",
                location=str(path),
            )
        phases = {
            name: PhaseRecord(**{**rec, "name": name}) for name, rec in data.pop("phases").items()
        }
        return cls(path=path, phases=phases, **data)

    def save(self) -> None:
        data = asdict(self)
        data.pop("path")
        atomic_write_text(self.path, json.dumps(data, indent=2, default=str) + "\n")

    # ----------------------------------------------------------------- phases

    def first_unfinished(self) -> str | None:
        for name, rec in self.phases.items():
            if rec.status not in ("done", "skipped"):
                return name
        return None

    def start(self, name: str, inputs: dict[str, Any] | None = None) -> PhaseRecord:
        rec = self.phases[name]
        rec.status = "running"
        rec.started_at = now_iso()
        rec.finished_at = None
        rec.error = None
        rec.inputs = dict(inputs or {})
        rec.duration_s = None
        self._t0 = time.perf_counter()
        self.save()
        return rec

    def _stop(self, name: str, status: PhaseStatus) -> PhaseRecord:
        rec = self.phases[name]
        rec.status = status
        rec.finished_at = now_iso()
        t0 = getattr(self, "_t0", None)
        rec.duration_s = round(time.perf_counter() - t0, 3) if t0 is not None else None
        return rec

    def finish(self, name: str, outputs: dict[str, Any] | None = None) -> None:
        rec = self._stop(name, "done")
        rec.outputs = dict(outputs or {})
        self.save()

    def fail(self, name: str, error: dict[str, Any]) -> None:
        rec = self._stop(name, "failed")
        rec.error = error
        self.save()

    def output(self, name: str, key: str) -> Any:
        return self.phases[name].outputs.get(key)


@contextmanager
def workdir_lock(workdir: Path) -> Iterator[None]:
    """Hold the workdir's pipeline lock; a second pipeline fails at once (F18)."""
    from filelock import FileLock, Timeout

    lock_path = workdir / STATE_DIR / LOCK_NAME
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise LockHeldError(
            "another mlflowctl pipeline is running in this workdir",
            hint="wait for it to finish, or use another --workdir",
            location=str(workdir),
        ) from None
    try:
        yield
    finally:
        lock.release()
