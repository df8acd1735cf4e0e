"""The one error tree of mlflowctl.

Every failure a user can cause or meet is an ``MlflowctlError``: plain data (a one-line message,
a hint, the phase it happened in, the file or field it concerns) with one exit code per class.
``cli.py`` is the only place that turns these into exit codes and printed lines; the rest of the
code raises and never prints tracebacks for user mistakes.

Exit codes (README.md documents the same table):

====  =====================================================================
code  meaning
====  =====================================================================
0     success
1     internal error (a bug: please report it with the traceback)
2     invalid input: a flag, a prompt, a spec file, a blueprint, a data file
3     LLM output still invalid after the spec's retry budget
4     generated code rejected by the safety checks
5     training failed (nan_loss, oom, error)
6     tracking server unavailable
7     conflict: registry alias or version, or a lock held by another process
8     promotion gate not passed (the challenger stays; nothing else wrong)
9     ``mlflowctl audit`` found an issue at or above ``--fail-on``
130   interrupted by SIGINT
143   terminated by SIGTERM
====  =====================================================================

Tracking-store and environment problems (reliability plan X13, X15, X16) split by *when* they
happen, so the code tells the user what to do next:

* **2** (``EnvironmentProblemError``): found before any run exists -- a read-only current
  directory or build folder, a SQLite path that cannot be created (``sqlite:////proc/x.db``), a
  file that is not an SQLite database, a corrupt pipeline journal or ``config.yaml``, a tracking
  URI that is not even well formed. Nothing was started; fix the environment and run again.
* **6** (``TrackingUnavailableError``): the store stopped accepting writes once runs existed -- a
  server killed mid-training, a disk full (ENOSPC/EFBIG) while logging to the SQLite file. The
  results stay in the build folder (``events.jsonl``, ``outputs/``); fix the store and continue
  with ``build --resume`` / ``run --resume``, which sends the metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INVALID_INPUT = 2
EXIT_LLM_INVALID = 3
EXIT_CODEGEN_REJECTED = 4
EXIT_TRAINING_FAILED = 5
EXIT_TRACKING_UNAVAILABLE = 6
EXIT_REGISTRY_CONFLICT = 7
EXIT_GATE_FAILED = 8
EXIT_AUDIT_FINDINGS = 9
EXIT_SIGINT = 130
EXIT_SIGTERM = 143

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success",
    EXIT_INTERNAL: "internal error (a bug)",
    EXIT_INVALID_INPUT: "invalid input: flag, prompt, spec, blueprint or data",
    EXIT_LLM_INVALID: "LLM output invalid after the retry budget",
    EXIT_CODEGEN_REJECTED: "generated code rejected by the safety checks",
    EXIT_TRAINING_FAILED: "training failed (nan_loss, oom, error)",
    EXIT_TRACKING_UNAVAILABLE: "tracking server unavailable",
    EXIT_REGISTRY_CONFLICT: "conflict: registry alias/version, or a lock held elsewhere",
    EXIT_GATE_FAILED: "promotion gate not passed; the challenger stays",
    EXIT_AUDIT_FINDINGS: "audit found an issue at or above --fail-on; monitor found drift",
    EXIT_SIGINT: "interrupted (SIGINT)",
    EXIT_SIGTERM: "terminated (SIGTERM)",
}


@dataclass
class MlflowctlError(Exception):
    """Base of every error a user may see. Plain data; ``str()`` is the one line."""

    message: str
    hint: str | None = None
    phase: str | None = None
    location: str | None = None  # file, file:line, field path or flag the error concerns
    details: dict[str, Any] = field(default_factory=dict)

    exit_code: ClassVar[int] = EXIT_INTERNAL
    kind: ClassVar[str] = "error"

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.line()

    def line(self) -> str:
        """The one line printed on stderr: ``location: message``."""
        prefix = f"{self.location}: " if self.location else ""
        return f"{prefix}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` error object."""
        return {
            "error": self.kind,
            "message": self.message,
            "hint": self.hint,
            "phase": self.phase,
            "location": self.location,
            "exit_code": self.exit_code,
            "details": self.details,
        }


class InvalidInputError(MlflowctlError):
    """A flag, prompt, blueprint or data file the user gave is not usable."""

    exit_code = EXIT_INVALID_INPUT
    kind = "invalid_input"


class UsageError(InvalidInputError):
    """A flag, argument or command the CLI parser refused (click's usage errors, exit 2)."""

    kind = "usage"


class SpecError(InvalidInputError):
    """An agent spec file cannot be loaded or breaks a rule mlflowctl enforces."""

    kind = "invalid_spec"


class DataError(InvalidInputError):
    """A data source is unknown, unreadable, or lacks what the task needs."""

    kind = "invalid_data"


class BlueprintError(InvalidInputError):
    """A blueprint fails validation (schema, bounds, closed sets, consistency)."""

    kind = "invalid_blueprint"

    @classmethod
    def from_validation(cls, exc: Any, *, source: str) -> BlueprintError:
        """One error from a pydantic ValidationError: first field in the line, all in details."""
        errors = [
            (".".join(str(p) for p in e["loc"]) or "<root>", str(e["msg"])) for e in exc.errors()
        ]
        first_loc, first_msg = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return cls(
            f"{first_loc}: {first_msg}{more}",
            hint="see `mlflowctl schema blueprint` for the allowed values",
            location=source,
            details={"errors": [f"{loc}: {msg}" for loc, msg in errors]},
        )


class WorkspaceError(InvalidInputError):
    """A build folder exists, is locked, or cannot be written."""

    kind = "workspace"


class EnvironmentProblemError(InvalidInputError):
    """The machine, not the user's files, is unusable: a read-only folder, an unreachable or
    corrupt local store, a corrupt state file. Found before any run was created (exit 2)."""

    kind = "environment"


class LLMOutputError(MlflowctlError):
    """The LLM backend kept answering with output that does not validate."""

    exit_code = EXIT_LLM_INVALID
    kind = "llm_output_invalid"


class CodegenError(MlflowctlError):
    """A rendered file failed to compile, lint or match its expected shape."""

    exit_code = EXIT_CODEGEN_REJECTED
    kind = "codegen_rejected"


class TrainingError(MlflowctlError):
    """Training stopped with a failure: ``details['failure']`` is nan_loss, oom or error."""

    exit_code = EXIT_TRAINING_FAILED
    kind = "training_failed"


class TrackingUnavailableError(MlflowctlError):
    """The MLflow tracking server does not answer within the retry budget, or the store stopped
    accepting writes (server gone, disk full) after runs were created: resume once it works."""

    exit_code = EXIT_TRACKING_UNAVAILABLE
    kind = "tracking_unavailable"


class RegistryConflictError(MlflowctlError):
    """A registry operation conflicts with the registry's state (alias, version, lock)."""

    exit_code = EXIT_REGISTRY_CONFLICT
    kind = "registry_conflict"


class LockHeldError(MlflowctlError):
    """Another mlflowctl process holds the lock on this folder or store."""

    exit_code = EXIT_REGISTRY_CONFLICT
    kind = "lock_held"


class GateFailedError(MlflowctlError):
    """The promotion gate did not pass: the new version stays ``@challenger``."""

    exit_code = EXIT_GATE_FAILED
    kind = "gate_failed"


class InterruptedRunError(MlflowctlError):
    """The process got SIGINT or SIGTERM; ``details['signal']`` names which."""

    exit_code = EXIT_SIGTERM
    kind = "interrupted"

    @classmethod
    def for_signal(cls, signum: int, phase: str | None = None) -> InterruptedRunError:
        import signal as _signal

        err = cls(
            message=f"interrupted by {_signal.Signals(signum).name}",
            hint="resume with --resume",
            phase=phase,
            details={"signal": _signal.Signals(signum).name},
        )
        err.exit_code = 128 + int(signum)  # type: ignore[misc]
        return err
