"""The ml-orchestrator: design -> build -> train -> evaluate -> register -> promote.

Each phase is a function of the pipeline context that returns the outputs the journal records.
A phase that finished in an earlier process is never redone on ``--resume``; its outputs are read
back from the journal. Heavy modules are imported inside the phases.
"""

from __future__ import annotations

import hashlib
import json
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from mlflowctl import __version__
from mlflowctl.errors import InterruptedRunError, InvalidInputError, MlflowctlError
from mlflowctl.orchestrate.journal import (
    Journal,
    atomic_write_text,
    make_workdir,
    now_iso,
    workdir_lock,
)
from mlflowctl.orchestrate.memory import TaskList, append_history, read_history

ALL_PHASES = ("design", "build", "train", "evaluate", "register", "promote")
PHASE_OWNER = {
    "design": "ml-architect",
    "build": "ml-engineer",
    "train": "ml-engineer",
    "evaluate": "ml-engineer",
    "register": "mlops-architect",
    "promote": "mlops-architect",
}


@dataclass
class PipelineOptions:
    prompt: str
    workdir: Path
    data: str | None = None
    target: str | None = None
    phases: tuple[str, ...] = ALL_PHASES
    backend: str = "offline"
    tracking_uri: str | None = None
    max_epochs: int | None = None
    accelerator: str = "auto"
    approach: str | None = None
    agents_dir: str | None = None
    #: the project folder: the MLflow store (``mlflow.db``) and ``.claude/memory`` live here
    root: Path = field(default_factory=Path.cwd)


@dataclass
class PipelineResult:
    pipeline_id: str
    workdir: Path
    status: str
    exit_code: int
    phases: dict[str, dict[str, Any]]
    summary: dict[str, Any] = field(default_factory=dict)


ProgressFn = Callable[[str, str, dict[str, Any]], None]
"""``progress(phase, message, info)``: the CLI turns these into a live view or plain lines."""


def pipeline_id_for(opts: PipelineOptions) -> str:
    key = json.dumps([opts.prompt, opts.data, opts.target, opts.backend, time.time_ns()])
    return "pl-" + hashlib.sha256(key.encode()).hexdigest()[:12]


@contextmanager
def _signals_as_errors(phase: Callable[[], str]) -> Iterator[None]:
    """SIGTERM becomes ``InterruptedRunError`` (exit 143), so every phase unwinds cleanly."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise InterruptedRunError.for_signal(signum, phase=phase())

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Pipeline:
    """One pipeline in one workdir. ``run()`` executes the phases not yet done."""

    def __init__(self, opts: PipelineOptions, journal: Journal, progress: ProgressFn) -> None:
        self.opts = opts
        self.journal = journal
        self.progress = progress
        self.current = "design"
        self.state: dict[str, Any] = {}

    # ----------------------------------------------------------------- construction

    @classmethod
    def start(cls, opts: PipelineOptions, progress: ProgressFn) -> Pipeline:
        if not opts.prompt.strip():
            raise InvalidInputError(
                "the prompt is empty",
                hint='describe the model, e.g. "classify handwritten digits"',
                location="PROMPT",
            )
        unknown = [p for p in opts.phases if p not in ALL_PHASES]
        if unknown:
            raise InvalidInputError(
                f"unknown phase(s): {', '.join(unknown)}",
                hint=f"choose from: {', '.join(ALL_PHASES)}",
                location="--phases",
            )
        make_workdir(opts.workdir)
        journal = Journal.create(
            opts.workdir,
            pipeline_id=pipeline_id_for(opts),
            prompt=opts.prompt,
            options=_options_dict(opts),
            phases=[p for p in ALL_PHASES if p in opts.phases],
        )
        return cls(opts, journal, progress)

    @classmethod
    def resume(cls, workdir: Path, progress: ProgressFn, **overrides: Any) -> Pipeline:
        journal = Journal.load(workdir)
        data = dict(journal.options)
        data.update({k: v for k, v in overrides.items() if v is not None})
        opts = PipelineOptions(
            prompt=journal.prompt,
            workdir=workdir,
            data=data.get("data"),
            target=data.get("target"),
            phases=tuple(journal.phases),
            backend=data.get("backend", "offline"),
            tracking_uri=data.get("tracking_uri"),
            max_epochs=data.get("max_epochs"),
            accelerator=data.get("accelerator", "auto"),
            approach=data.get("approach"),
            agents_dir=data.get("agents_dir"),
            root=Path(data.get("root") or Path.cwd()),
        )
        journal.status = "running"
        journal.exit_code = None
        journal.save()
        return cls(opts, journal, progress)

    # ----------------------------------------------------------------- running

    def run(self) -> PipelineResult:
        from mlflowctl.orchestrate import phases as phase_impl

        with workdir_lock(self.opts.workdir), _signals_as_errors(lambda: self.current):
            try:
                for name, rec in self.journal.phases.items():
                    self.current = name
                    if rec.status in ("done", "skipped"):
                        self.progress(name, "already done", rec.outputs)
                        continue
                    tasks = TaskList.open(self.opts.workdir, PHASE_OWNER[name])
                    tasks.plan(
                        *[f"{p}" for p in self.journal.phases if PHASE_OWNER[p] == tasks.agent]
                    )
                    tasks.begin(name)
                    self.journal.start(name, {"resumed": rec.started_at is not None})
                    self.progress(name, "started", {})
                    try:
                        outputs = getattr(phase_impl, f"phase_{name}")(self)
                    except MlflowctlError as exc:
                        exc.phase = exc.phase or name
                        self.journal.fail(name, exc.to_dict())
                        tasks.fail(name, exc.line())
                        raise
                    except Exception as exc:
                        self.journal.fail(name, {"error": "internal", "message": repr(exc)})
                        tasks.fail(name, repr(exc))
                        raise
                    self.journal.finish(name, outputs)
                    tasks.complete(name, _short(outputs))
                    self.progress(name, "done", outputs)
            except MlflowctlError as exc:
                self.journal.status = (
                    "interrupted" if isinstance(exc, InterruptedRunError) else "failed"
                )
                self.journal.exit_code = exc.exit_code
                self.journal.save()
                self._remember(outcome="failed", error=exc.kind)
                raise
            self.journal.status = "finished"
            self.journal.exit_code = int(self.state.get("exit_code", 0))
            self.journal.save()
        summary = self.summary()
        self._remember(outcome=str(summary.get("outcome", "finished")))
        atomic_write_text(self.opts.workdir / "report.json", json.dumps(summary, indent=2) + "\n")
        return PipelineResult(
            pipeline_id=self.journal.pipeline_id,
            workdir=self.opts.workdir,
            status=self.journal.status,
            exit_code=self.journal.exit_code or 0,
            phases={
                n: {"status": r.status, "duration_s": r.duration_s}
                for n, r in self.journal.phases.items()
            },
            summary=summary,
        )

    # ----------------------------------------------------------------- reporting

    def summary(self) -> dict[str, Any]:
        j = self.journal
        out: dict[str, Any] = {
            "pipeline_id": j.pipeline_id,
            "prompt": j.prompt,
            "status": j.status,
            "workdir": str(self.opts.workdir),
            "mlflowctl_version": __version__,
            "phases": {
                n: {"status": r.status, "duration_s": r.duration_s} for n, r in j.phases.items()
            },
        }
        for name in j.phases:
            out.update(j.phases[name].outputs.get("summary", {}))
        return out

    def _remember(self, *, outcome: str, error: str | None = None) -> None:
        from mlflowctl.specs.loader import load_agent

        policy = load_agent("ml-orchestrator", self.opts.agents_dir).policy
        record = {
            "pipeline_id": self.journal.pipeline_id,
            "time": now_iso(),
            "prompt": self.journal.prompt,
            "data": self.opts.data,
            "outcome": outcome,
            "error": error,
        }
        for name in self.journal.phases:
            record.update(self.journal.phases[name].outputs.get("memory", {}))
        append_history(self.opts.root / policy.history_file, record)

    def history(self) -> list[dict[str, Any]]:
        from mlflowctl.specs.loader import load_agent

        policy = load_agent("ml-orchestrator", self.opts.agents_dir).policy
        return read_history(
            self.opts.root / policy.history_file,
            policy.history_window,
        )


def _short(outputs: dict[str, Any]) -> str:
    metrics = outputs.get("metrics")
    if isinstance(metrics, dict) and metrics:
        return ", ".join(
            f"{k}={v:.4g}" for k, v in list(metrics.items())[:3] if isinstance(v, float)
        )
    return ", ".join(f"{k}={v}" for k, v in outputs.items() if isinstance(v, str | int))[:200]


def _options_dict(opts: PipelineOptions) -> dict[str, Any]:
    # A tracking URI with credentials is never written to disk (I4): resume re-reads it from the
    # flag or MLFLOW_TRACKING_URI.
    uri = opts.tracking_uri
    if uri and "@" in uri.split("://", 1)[-1].split("/", 1)[0]:
        uri = None
    return {
        "data": opts.data,
        "target": opts.target,
        "backend": opts.backend,
        "tracking_uri": uri,
        "max_epochs": opts.max_epochs,
        "accelerator": opts.accelerator,
        "approach": opts.approach,
        "agents_dir": opts.agents_dir,
        "root": str(opts.root.resolve()),
    }
