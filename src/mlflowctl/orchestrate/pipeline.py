"""The ml-orchestrator: design -> build -> train -> evaluate -> register -> promote.

Each phase is a function of the pipeline context that returns the outputs the journal records.
A phase that finished in an earlier process is never redone on ``--resume``; its outputs are read
back from the journal. Heavy modules are imported inside the phases.
"""

from __future__ import annotations

import hashlib
import json
import time
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflowctl import __version__
from mlflowctl.errors import InterruptedRunError, InvalidInputError, MlflowctlError, WorkspaceError
from mlflowctl.orchestrate.context import (
    ALL_PHASES,
    PHASE_OWNER,
    PipelineOptions,
    ProgressFn,
)
from mlflowctl.orchestrate.journal import (
    JOURNAL_NAME,
    STATE_DIR,
    Journal,
    atomic_write_text,
    make_workdir,
    now_iso,
    workdir_lock,
)
from mlflowctl.orchestrate.memory import TaskList, append_history, read_history
from mlflowctl.orchestrate.phase_support import BLUEPRINT_FILE, BUILD_DIR
from mlflowctl.orchestrate.phases import PHASES, gate_exit_code
from mlflowctl.orchestrate.signals import signals_as_errors

__all__ = [
    "ALL_PHASES",
    "PHASE_OWNER",
    "Pipeline",
    "PipelineOptions",
    "PipelineResult",
    "ProgressFn",
    "pipeline_id_for",
]

#: what a pipeline writes into its workdir besides ``.mlflowctl/``
PIPELINE_FILES = (BLUEPRINT_FILE, BUILD_DIR, "report.md", "report.json")


@dataclass
class PipelineResult:
    pipeline_id: str
    workdir: Path
    status: str
    exit_code: int
    phases: dict[str, dict[str, Any]]
    summary: dict[str, Any] = field(default_factory=dict)


def pipeline_id_for(opts: PipelineOptions) -> str:
    key = json.dumps([opts.prompt, opts.data, opts.target, opts.backend, time.time_ns()])
    return "pl-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def resume_hint(workdir: Path) -> str:
    return f"resume with `mlflowctl run --resume {workdir}`"


class Pipeline:
    """One pipeline in one workdir. ``run()`` executes the phases not yet done."""

    def __init__(
        self,
        opts: PipelineOptions,
        journal: Journal,
        progress: ProgressFn,
        locks: ExitStack | None = None,
    ) -> None:
        self.opts = opts
        self.journal = journal
        self.progress = progress
        self.current = "design"
        self.state: dict[str, Any] = {}
        #: the workdir lock, taken before anything was written; released when ``run()`` ends
        self._locks = locks or ExitStack()

    # ----------------------------------------------------------------- construction

    @classmethod
    def start(cls, opts: PipelineOptions, progress: ProgressFn, *, force: bool = False) -> Pipeline:
        """A new pipeline in ``opts.workdir``: the lock first, then the checks, then the journal.

        A workdir that holds another pipeline's journal is refused unless ``force`` (X4); one
        that holds files a pipeline would write, without a journal, is always refused (X2).
        """
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
        locks = ExitStack()
        locks.enter_context(workdir_lock(opts.workdir))
        try:
            _check_fresh_workdir(opts.workdir, force=force)
            journal = Journal.create(
                opts.workdir,
                pipeline_id=opts.pipeline_id or pipeline_id_for(opts),
                prompt=opts.prompt,
                options=_options_dict(opts),
                phases=[p for p in ALL_PHASES if p in opts.phases],
            )
        except BaseException:
            locks.close()
            raise
        return cls(opts, journal, progress, locks)

    @classmethod
    def resume(
        cls,
        workdir: Path,
        progress: ProgressFn,
        *,
        restart_phase: str | None = None,
        **overrides: Any,
    ) -> Pipeline:
        locks = ExitStack()
        if (workdir / STATE_DIR / JOURNAL_NAME).is_file():  # else Journal.load says what is wrong
            locks.enter_context(workdir_lock(workdir))  # before the journal is touched (X4)
        try:
            return cls._resume_locked(workdir, progress, locks, restart_phase, overrides)
        except BaseException:
            locks.close()
            raise

    @classmethod
    def _resume_locked(
        cls,
        workdir: Path,
        progress: ProgressFn,
        locks: ExitStack,
        restart_phase: str | None,
        overrides: dict[str, Any],
    ) -> Pipeline:
        journal = Journal.load(workdir)
        if restart_phase is not None:
            if restart_phase not in journal.phases:
                raise InvalidInputError(
                    f"this pipeline has no phase {restart_phase!r}",
                    hint=f"choose one of: {', '.join(journal.phases)}",
                    location="--restart-phase",
                )
            names = list(journal.phases)
            for name in names[names.index(restart_phase) :]:
                journal.phases[name].status = "pending"
                journal.phases[name].outputs = {}
            if "train" in names[names.index(restart_phase) :]:
                journal.options["restart_phase"] = restart_phase  # train afresh, not --resume
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
            assume=bool(data.get("assume", False)),
            root=Path(data.get("root") or Path.cwd()),
            tune=data.get("tune"),
            scale=data.get("scale"),
            allow_baseline_champion=bool(data.get("allow_baseline_champion", False)),
        )
        journal.status = "running"
        journal.exit_code = None
        journal.save()
        return cls(opts, journal, progress, locks)

    # ----------------------------------------------------------------- running

    def run(self) -> PipelineResult:
        with self._locks, signals_as_errors(lambda: self.current):
            try:
                self._run_phases()
            except MlflowctlError as exc:
                self.abandon(exc)
                raise
            except KeyboardInterrupt:
                import signal

                err = InterruptedRunError.for_signal(signal.SIGINT, phase=self.current)
                self.abandon(err)
                raise err from None
            except Exception as exc:
                self.abandon(exc)
                raise
            self.journal.status = "finished"
            self.journal.exit_code = int(self.state.get("exit_code", 0)) or gate_exit_code(self)
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

    def _run_phases(self) -> None:
        for name, rec in self.journal.phases.items():
            self.current = name
            if rec.status in ("done", "skipped"):
                self.progress(name, "already done", rec.outputs)
                continue
            tasks = TaskList.open(self.opts.workdir, PHASE_OWNER[name])
            tasks.plan(*[f"{p}" for p in self.journal.phases if PHASE_OWNER[p] == tasks.agent])
            tasks.begin(name)
            self.journal.start(name, {"resumed": rec.started_at is not None})
            self.progress(name, "started", {})
            try:
                outputs = PHASES[name](self)
            except MlflowctlError as exc:
                exc.phase = exc.phase or name
                self.journal.fail(name, exc.to_dict())
                tasks.fail(name, exc.line())
                raise
            except KeyboardInterrupt:
                self.journal.fail(name, {"error": "interrupted", "message": "SIGINT"})
                tasks.fail(name, "interrupted")
                raise
            except Exception as exc:
                self.journal.fail(name, {"error": "internal", "message": repr(exc)})
                tasks.fail(name, repr(exc))
                raise
            self.journal.finish(name, outputs)
            tasks.complete(name, _short(outputs))
            self.progress(name, "done", outputs)

    def abandon(self, exc: BaseException) -> None:
        """The pipeline stops here: journal, parent run and history tell the truth (X11, X14).

        Idempotent; every step is best effort so the original error is what the user sees.
        """
        interrupted = isinstance(exc, InterruptedRunError)
        if self.journal.status == "running":
            self.journal.status = "interrupted" if interrupted else "failed"
            self.journal.exit_code = exc.exit_code if isinstance(exc, MlflowctlError) else 1
            with suppress(OSError):
                self.journal.save()
        if isinstance(exc, MlflowctlError):
            exc.phase = exc.phase or self.journal.first_unfinished()
            if interrupted:
                exc.hint = resume_hint(self.opts.workdir)
        self._end_parent("KILLED" if interrupted else "FAILED")
        with suppress(Exception):  # history is a convenience, never the error shown
            self._remember(
                outcome="interrupted" if interrupted else "failed",
                error=exc.kind if isinstance(exc, MlflowctlError) else "internal",
            )

    def _end_parent(self, status: str) -> None:
        """End the pipeline's parent MLflow run (if one was opened) with ``status`` (X14)."""
        parent = self.journal.options.get("parent_run_id")
        if not parent:
            return
        # a dead store must not hide the real error; the reaper closes the run later
        with suppress(Exception):
            from mlflowctl.mlops.liveness import end_parent_run
            from mlflowctl.orchestrate.phase_support import tracking_uri_of

            uri = self.state.get("tracking_uri") or tracking_uri_of(self)
            end_parent_run(str(uri), str(parent), status=status)

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


def _check_fresh_workdir(workdir: Path, *, force: bool) -> None:
    """Refuse a workdir holding another pipeline (without ``force``) or files we did not write."""
    journal_path = workdir / STATE_DIR / JOURNAL_NAME
    if journal_path.exists():
        if force:
            return
        try:
            old = Journal.load(workdir)
            what = f"pipeline {old.pipeline_id} ({old.status})"
        except InvalidInputError:
            what = "an unreadable pipeline journal"
        raise WorkspaceError(
            f"the workdir already holds {what}",
            hint=f"{resume_hint(workdir)}, pass --force to start over in it, or use another "
            "--workdir",
            location=str(workdir),
        )
    present = [name for name in PIPELINE_FILES if (workdir / name).exists()]
    if present:
        raise WorkspaceError(
            f"the workdir holds files a pipeline would write ({', '.join(present)}); "
            "refusing to touch them",
            hint="use another --workdir (the default is a new runs/<pipeline id> folder)",
            location=str(workdir),
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
        "assume": opts.assume,
        "root": str(opts.root.resolve()),
        "tune": opts.tune,
        "scale": opts.scale,
        "allow_baseline_champion": opts.allow_baseline_champion,
    }
