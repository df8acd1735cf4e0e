"""One ``Settings`` object per command: flags, environment, agent specs and defaults, resolved once.

The CLI builds it at its boundary (``cli/app.py`` puts the base object, with ``--agents``, on
typer's context; each command adds its own flags with ``with_tracking_uri``) and passes it down;
nothing below the CLI reads ``--agents`` or ``MLFLOW_TRACKING_URI`` from ``os.environ`` on its own.
The environment is read once, as a snapshot (``environ_snapshot``), never iterated live.

Tracking URI, one rule (``tracking``; every command that touches the store uses it):

1. the ``--tracking-uri`` flag,
2. else ``MLFLOW_TRACKING_URI``,
3. else the mlops-architect spec's ``policy.tracking_uri`` (through ``--agents DIR`` if given),
4. else ``sqlite:///mlflow.db``;

a relative ``sqlite:///`` path is made absolute against ``cwd``, the directory the command runs in
(for a resumed ``run``: the directory the pipeline was started in).

Cheap to import: stdlib only at module level; specs and the store load on first use.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflowctl import environ_snapshot

if TYPE_CHECKING:
    from mlflowctl.specs.loader import AgentSpec
    from mlflowctl.specs.policy import (
        ArchitectPolicy,
        EngineerPolicy,
        MlopsPolicy,
        OrchestratorPolicy,
    )

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
ENV_TRACKING_URI = "MLFLOW_TRACKING_URI"
SOURCE_FLAG = "--tracking-uri"
SOURCE_ENV = ENV_TRACKING_URI
SOURCE_POLICY = "mlops-architect policy"
SOURCE_DEFAULT = "default"


@dataclass(frozen=True)
class TrackingUri:
    """The resolved tracking URI (absolute for SQLite, no credentials) and where it came from."""

    uri: str
    source: str


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know about where it runs; immutable once built."""

    #: the directory the command runs in: relative store paths are resolved against it
    cwd: Path
    #: ``--agents DIR`` (absolute) or None for the built-in specs only
    agents_dir: Path | None = None
    #: the command's ``--tracking-uri`` flag, as typed
    tracking_uri_flag: str | None = None
    #: a snapshot of the environment taken when the settings were built
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    _specs: dict[str, AgentSpec] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_environment(
        cls,
        *,
        agents_dir: str | Path | None = None,
        tracking_uri: str | None = None,
        cwd: str | Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Settings:
        """Settings of the current process: ``env`` defaults to a snapshot of ``os.environ``."""
        base = Path(cwd) if cwd is not None else Path.cwd()
        folder = None
        if agents_dir not in (None, ""):
            folder = Path(str(agents_dir)).expanduser()
            folder = folder if folder.is_absolute() else base / folder
        return cls(
            cwd=base.absolute(),
            agents_dir=folder,
            tracking_uri_flag=tracking_uri or None,
            env=environ_snapshot() if env is None else dict(env),
        )

    def with_tracking_uri(self, flag: str | None) -> Settings:
        """The same settings with a command's ``--tracking-uri`` flag (None keeps the rule)."""
        return dataclasses.replace(self, tracking_uri_flag=flag or None, _specs=self._specs)

    # ----------------------------------------------------------------- agent specs

    def agent(self, role: str) -> AgentSpec:
        """The agent spec ``role`` (``--agents`` first, then the built-in), loaded once."""
        if role not in self._specs:
            from mlflowctl.specs.loader import load_agent

            self._specs[role] = load_agent(role, self.agents_arg)
        return self._specs[role]

    @property
    def agents_arg(self) -> str:
        """``agents_dir`` for the spec loader and the pipeline's options: the folder, or ``""``
        for "built-in specs only" (``None`` would let the loader read the environment)."""
        return str(self.agents_dir) if self.agents_dir is not None else ""

    @cached_property
    def architect(self) -> ArchitectPolicy:
        from mlflowctl.specs.policy import ArchitectPolicy

        return self.agent("ml-architect").policy_as(ArchitectPolicy)

    @cached_property
    def engineer(self) -> EngineerPolicy:
        from mlflowctl.specs.policy import EngineerPolicy

        return self.agent("ml-engineer").policy_as(EngineerPolicy)

    @cached_property
    def mlops(self) -> MlopsPolicy:
        from mlflowctl.specs.policy import MlopsPolicy

        return self.agent("mlops-architect").policy_as(MlopsPolicy)

    @cached_property
    def orchestrator(self) -> OrchestratorPolicy:
        from mlflowctl.specs.policy import OrchestratorPolicy

        return self.agent("ml-orchestrator").policy_as(OrchestratorPolicy)

    def agent_digests(self) -> dict[str, str]:
        """sha256 of each role's spec (what a run's provenance records)."""
        from mlflowctl.specs.loader import ROLES

        return {role: self.agent(role).sha256 for role in ROLES}

    # ----------------------------------------------------------------- tracking store

    @cached_property
    def tracking(self) -> TrackingUri:
        """The tracking URI by the documented rule (module docstring); ``InvalidInputError`` for
        an unusable URI, ``SpecError`` for a broken mlops-architect spec when it is consulted."""
        return self.resolve_tracking(use_policy=True)

    def resolve_tracking(self, *, use_policy: bool = True) -> TrackingUri:
        """``tracking`` without caching; ``use_policy=False`` skips the spec (``doctor`` uses it
        when the spec cannot be read, to still report on the default store)."""
        from mlflowctl.mlops.uri import locate_tracking_store

        policy_uri: str | None = None
        if use_policy and not self.tracking_uri_flag and not self.env.get(ENV_TRACKING_URI):
            policy = self.mlops
            if "tracking_uri" in policy.model_fields_set:
                policy_uri = policy.tracking_uri
        uri, source = locate_tracking_store(
            self.tracking_uri_flag, policy_uri, env=self.env, cwd=self.cwd
        )
        return TrackingUri(uri=uri, source=source)

    def summary(self) -> dict[str, Any]:
        """JSON-safe view (for reports)."""
        return {
            "cwd": str(self.cwd),
            "agents_dir": str(self.agents_dir) if self.agents_dir else None,
            "tracking_uri_flag": self.tracking_uri_flag,
        }


def current(ctx: Any) -> Settings:
    """The settings the root command put on typer's context (``ctx.obj``); a fresh object from
    the environment when a command runs without the root (an embedding caller)."""
    obj = getattr(ctx, "obj", None) if ctx is not None else None
    if isinstance(obj, Settings):
        return obj
    return Settings.from_environment()
