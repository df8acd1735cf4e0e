"""The model registry: idempotent registration, gated and serialized promotion, integrity.

Invariants kept here (reliability plan I2, I3): one version per run (looked up by ``run_id``
before creating, so a lost ack or a rerun never makes a second one); ``@champion`` only ever
points at a version whose tags record ``previous_champion``, ``promoted_at``,
``promoted_by_build`` and ``promotion_reason`` (tags are written before the alias moves);
``@challenger`` never equals ``@champion``; rollback moves an alias and never deletes a version.
Alias changes happen under a file lock and are re-read afterwards (post-write verification).
The gate's decision and the metrics it reads off a version are in ``mlops.gate``.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from mlflowctl.blueprint.model import PromotionGate, RegistrySpec
from mlflowctl.blueprint.results import ModelVersion, TrainingRun
from mlflowctl.errors import (
    GateFailedError,
    InvalidInputError,
    RegistryConflictError,
    TrainingError,
)
from mlflowctl.mlops.gate import (
    TAG_BASELINE,
    TAG_SHA,
    baseline_of,
    best_baseline,
    decision_tag,
    identical,
    metric_of,
    metric_tag,
    tie_scores,
    val_metric,
    version_decision,
)
from mlflowctl.mlops.store import client, store_lock

TAG_BUILD = "mlflowctl.build_id"
TAG_RUN = "run_id"
TAG_PREV = "previous_champion"
TAG_GATE = "mlflowctl.gate"
TAG_ALIASES = "mlflowctl.aliases"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def validate_registry_spec(registry: RegistrySpec) -> None:
    """MLflow's own name and alias rules, checked before any run starts (B23)."""
    from mlflow.exceptions import MlflowException
    from mlflow.utils.validation import (
        _validate_model_alias_name,
        _validate_model_alias_name_reserved,
        _validate_model_name,
    )

    alias = [_validate_model_alias_name, _validate_model_alias_name_reserved]
    checks = [("model_name", registry.model_name, [_validate_model_name])]
    checks += [(f, getattr(registry, f), alias) for f in ("challenger_alias", "champion_alias")]
    for field, value, validators in checks:
        for validate in validators:
            try:
                validate(value)
            except MlflowException as exc:
                raise InvalidInputError(
                    f"{value!r} is not allowed by MLflow: {exc.message}",
                    hint="pick a name of letters, digits, '-', '_' and '.'",
                    location=f"infrastructure.registry.{field}",
                ) from None


def _version(c: Any, name: str, version: int | str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return c.get_model_version(name, str(version))
    except MlflowException:
        return None


def _alias_version(c: Any, name: str, alias: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return c.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _find_by_run(c: Any, name: str, run_id: str) -> Any:
    found = c.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    return min(found, key=lambda mv: int(mv.version)) if found else None


def _find_by_build(c: Any, name: str, build_id: str) -> Any:
    """The version an earlier process registered for this build (F12, X12), or None.

    ``build --resume`` and ``run --resume`` train in a new MLflow run, so a lookup by ``run_id``
    alone misses a version created just before a kill; one build id has at most one version.
    """
    if not build_id or "'" in build_id:
        return None
    found = c.search_model_versions(f"name = '{name}' and tags.`{TAG_BUILD}` = '{build_id}'")
    return min(found, key=lambda mv: int(mv.version)) if found else None


def _ensure_registered_model(c: Any, registry: RegistrySpec) -> None:
    from mlflow.exceptions import MlflowException

    tags = {
        TAG_GATE: registry.gate.model_dump_json(),
        TAG_ALIASES: json.dumps([registry.challenger_alias, registry.champion_alias]),
    }
    try:  # the usual case: the model exists and its tags are current (one read, no write)
        stored = dict(c.get_registered_model(registry.model_name).tags)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        try:
            c.create_registered_model(registry.model_name, tags=tags)
            return
        except MlflowException as exc2:  # another build created it meanwhile
            if exc2.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            stored = {}
    for k, v in tags.items():
        if stored.get(k) != v:
            c.set_registered_model_tag(registry.model_name, k, v)


def _create_once(c: Any, name: str, run_id: str, model_uri: str, tags: dict[str, str]) -> Any:
    """Create the run's version unless it exists; a lost ack is absorbed by the re-lookup (F11)."""
    last: Exception | None = None
    for _ in range(3):
        existing = _find_by_run(c, name, run_id)
        if existing is not None:
            return existing
        try:
            return c.create_model_version(
                name, source=model_uri, run_id=run_id, tags=tags,
                model_id=model_uri.rsplit("/", 1)[-1],
            )  # fmt: skip
        except Exception as exc:  # network or collision: look up again before retrying
            last = exc
    existing = _find_by_run(c, name, run_id)
    if existing is None and last is not None:
        raise last
    return existing


def _model(c: Any, name: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return c.get_registered_model(name)
    except MlflowException:
        raise InvalidInputError(
            f"no registered model named {name!r}",
            hint="see `mlflowctl registry list`",
            location="NAME",
        ) from None


def _aliases_of(c: Any, name: str) -> tuple[str, str]:
    raw = _model(c, name).tags.get(TAG_ALIASES)
    challenger, champion = json.loads(raw) if raw else ("challenger", "champion")
    return str(challenger), str(champion)


def _promote_locked(
    c: Any, name: str, mv: Any, reason: str, build_id: str, challenger: str, champion: str
) -> ModelVersion:
    """Tags first, then the alias, then re-read it: a champion always carries its audit tags."""
    current = _alias_version(c, name, champion)
    previous = current.version if current is not None else ""
    if current is not None and int(current.version) == int(mv.version):
        return _to_result(c, name, mv.version, True, "already the champion")
    for key, value in {
        TAG_PREV: str(previous),
        "promoted_at": _now(),
        "promoted_by_build": build_id,
        "promotion_reason": reason[:5000],
    }.items():
        c.set_model_version_tag(name, mv.version, key, value)
    c.set_registered_model_alias(name, champion, mv.version)
    holder = _alias_version(c, name, challenger)
    if holder is not None and int(holder.version) == int(mv.version):
        c.delete_registered_model_alias(name, challenger)
    check = _alias_version(c, name, champion)
    if check is None or int(check.version) != int(mv.version):
        raise RegistryConflictError(
            f"@{champion} of {name} moved to another version while promoting v{mv.version}",
            hint="another process promoted at the same time; inspect `mlflowctl registry show`",
            location=name,
        )
    return _to_result(c, name, mv.version, True, reason, previous=previous)


def _to_result(
    c: Any, name: str, version: Any, promoted: bool, reason: str, previous: Any = None
) -> ModelVersion:
    mv = c.get_model_version(name, str(version))
    prev = previous if previous is not None else mv.tags.get(TAG_PREV)
    return ModelVersion(
        name=name,
        version=int(mv.version),
        run_id=str(mv.run_id or ""),
        aliases=tuple(sorted(mv.aliases)),
        promoted=promoted,
        reason=reason,
        weights_sha256=mv.tags.get(TAG_SHA),
        previous_champion=int(prev) if prev not in (None, "") else None,
    )


def register_challenger(
    tracking_uri: str,
    run_id: str,
    training_run: TrainingRun,
    registry: RegistrySpec,
    *,
    build_id: str,
) -> ModelVersion:
    """Register the build's model once (idempotent, F11/F12: looked up by build id, then by run
    id, before a version is created) and mark it ``@challenger``."""
    validate_registry_spec(registry)
    if training_run.status != "finished":
        raise TrainingError(
            f"training {training_run.status} ({training_run.failure or 'no detail'}): "
            "nothing registered",
            hint="fix the failure and build again",
            location=str(training_run.project.root),
        )
    c = client(tracking_uri)
    name = registry.model_name
    model_uri, sha = training_run.extra.get("model_uri"), training_run.weights_sha256
    if not model_uri or not sha:  # registered again later: what the run recorded
        logged = c.get_run(run_id).data.tags
        model_uri = model_uri or logged.get("mlflowctl.model_uri")
        sha = sha or logged.get("mlflowctl.weights_sha256", "")
    if not model_uri:
        raise RegistryConflictError(
            f"run {run_id} has no logged model", hint="log it with Tracker.log_training first"
        )
    metric = val_metric(registry.gate.metric)
    decision = decision_tag(training_run.extra.get("decision_threshold"))
    tags = {TAG_BUILD: build_id, TAG_RUN: run_id, TAG_SHA: sha, **decision}
    for key in {registry.gate.metric, metric}:
        value = training_run.metrics.get(key)
        if value is not None:
            tags[metric_tag(key)] = repr(float(value))
    best = best_baseline(training_run.metrics, metric, registry.gate.direction)
    if best is not None:
        tags[TAG_BASELINE], tags[metric_tag(TAG_BASELINE)] = best[0], repr(best[1])
    _ensure_registered_model(c, registry)
    mv = _find_by_build(c, name, build_id) or _create_once(c, name, run_id, model_uri, tags)
    with store_lock(tracking_uri):
        champ = _alias_version(c, name, registry.champion_alias)
        if champ is not None and int(champ.version) == int(mv.version):
            return _to_result(c, name, mv.version, True, "already the champion")
        c.set_registered_model_alias(name, registry.challenger_alias, mv.version)
        return _to_result(c, name, mv.version, False, f"registered as @{registry.challenger_alias}")


def apply_gate(
    tracking_uri: str, registry: RegistrySpec, version: int, *, build_id: str, ties: bool = False
) -> ModelVersion:
    """The blueprint's gate against the current ``@champion`` decides promotion (serialized).
    ``ties`` (``--allow-baseline-champion``): a tie with the best baseline goes to the lower
    validation log loss (``gate.tie_scores``)."""
    c = client(tracking_uri)
    name, gate = registry.model_name, registry.gate
    with store_lock(tracking_uri):
        mv = _require_version(c, name, version)
        champ = _alias_version(c, name, registry.champion_alias)
        if champ is not None and int(champ.version) == int(mv.version):
            return _to_result(c, name, mv.version, True, "already the champion")
        sha = None if champ is None else identical(champ, mv)
        if champ is not None and sha:
            reason = (
                f"v{mv.version} has the same weights (sha256 {sha[:12]}) as @"
                f"{registry.champion_alias} v{champ.version}: already champion"
            )
            c.set_model_version_tag(name, mv.version, "gate_result", reason)
            return _to_result(c, name, mv.version, True, reason)  # not a gate failure: exit 0
        metric = val_metric(gate.metric)
        champ_value = None if champ is None else metric_of(c, champ, metric)
        base, value = baseline_of(mv), metric_of(c, mv, metric)
        finer = tie_scores(c, mv, base, value) if ties else None
        ok, reason = version_decision(c, mv, gate, champ_value, base, finer)
        if not ok:
            c.set_model_version_tag(name, mv.version, "gate_result", reason[:5000])
            return _to_result(c, name, mv.version, False, reason)
        return _promote_locked(
            c, name, mv, reason, build_id, registry.challenger_alias, registry.champion_alias
        )


def register(
    tracking_uri: str,
    run_id: str,
    training_run: TrainingRun,
    registry: RegistrySpec,
    *,
    build_id: str,
    ties: bool = False,
) -> ModelVersion:
    """``register_challenger`` then ``apply_gate``: what one build does after training."""
    from mlflowctl.mlops.store import tracking_errors

    with tracking_errors(tracking_uri):  # a store fault is one line and exit 6 (X13, X15)
        mv = register_challenger(tracking_uri, run_id, training_run, registry, build_id=build_id)
        if mv.promoted:
            return mv
        return apply_gate(tracking_uri, registry, mv.version, build_id=build_id, ties=ties)


def promote(tracking_uri: str, name: str, version: int, *, force: bool = False) -> ModelVersion:
    """Move ``@champion`` to VERSION; the stored gate applies unless ``force``."""
    c = client(tracking_uri)
    with store_lock(tracking_uri):
        challenger, champion = _aliases_of(c, name)
        mv = _require_version(c, name, version)
        reason = "forced by `mlflowctl registry promote --force`"
        if not force:
            raw = _model(c, name).tags.get(TAG_GATE)
            if raw:
                gate = PromotionGate.model_validate_json(raw)
                champ = _alias_version(c, name, champion)
                champ_value = None
                metric = val_metric(gate.metric)
                if champ is not None and int(champ.version) != int(mv.version):
                    champ_value = metric_of(c, champ, metric)
                ok, reason = version_decision(c, mv, gate, champ_value, baseline_of(mv))
                if not ok:
                    raise GateFailedError(
                        f"v{version} of {name} not promoted: {reason}",
                        hint="use --force to promote anyway",
                        location=name,
                    )
            else:
                reason = "promoted by hand (no gate recorded)"
        return _promote_locked(c, name, mv, reason, "manual", challenger, champion)


def _require_version(c: Any, name: str, version: int | str) -> Any:
    mv = _version(c, name, version)
    if mv is None:
        raise RegistryConflictError(
            f"{name} has no version {version}",
            hint=f"see `mlflowctl registry show {name}`",
            location=name,
        )
    return mv


def rollback(tracking_uri: str, name: str) -> ModelVersion:
    """``@champion`` back to the version its ``previous_champion`` tag names (F17)."""
    c = client(tracking_uri)
    with store_lock(tracking_uri):
        challenger, champion = _aliases_of(c, name)
        current = _alias_version(c, name, champion)
        if current is None:
            raise RegistryConflictError(
                f"{name} has no @{champion} (never promoted, or its version was deleted)",
                hint=f"promote a version first: `mlflowctl registry promote {name} VERSION`",
                location=name,
            )
        prev = current.tags.get(TAG_PREV, "")
        if not prev:
            raise RegistryConflictError(
                f"@{champion} v{current.version} of {name} records no previous champion",
                hint="nothing to roll back to; promote another version instead",
                location=name,
            )
        target = _version(c, name, prev)
        if target is None:
            raise RegistryConflictError(
                f"previous champion v{prev} of {name} no longer exists",
                hint="it was deleted outside mlflowctl; promote another version instead",
                location=name,
            )
        c.set_model_version_tag(name, prev, "rolled_back_from", str(current.version))
        c.set_model_version_tag(name, prev, "promoted_at", _now())
        c.set_model_version_tag(name, prev, "promoted_by_build", "rollback")
        c.set_model_version_tag(name, prev, "promotion_reason", f"rollback from v{current.version}")
        c.set_registered_model_alias(name, champion, prev)
        holder = _alias_version(c, name, challenger)
        if holder is not None and int(holder.version) == int(prev):
            c.delete_registered_model_alias(name, challenger)
        check = _alias_version(c, name, champion)
        if check is None or int(check.version) != int(prev):
            raise RegistryConflictError(
                f"@{champion} of {name} moved during rollback", location=name
            )
        return _to_result(c, name, prev, True, f"rolled back from v{current.version}")
