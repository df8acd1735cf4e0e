"""``--allow-baseline-champion``: the best classical baseline in the network's place.

When the network fails the gate *because the best baseline beats it* (not a threshold, not the
champion), or only ties it on the gate metric with the higher validation log loss (under this
flag a tie goes to the better-calibrated model), and the user allowed it, the baseline the build
saved (``outputs/baseline/``: a skops estimator or the series baseline's numbers, no pickle) is
logged as a second model of the same training run (``baseline-model``: raw rows in, the
network's output columns out), registered as its own version (tags ``mlflowctl.kind=baseline``
and ``baseline_name``, its validation and test metrics) and put through the same gate against
the current champion, minus the baseline check. Anything else (no baseline saved, the failure
was the threshold) leaves the verdict as it was, with the reason saying why.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from mlflowctl.blueprint.model import RegistrySpec
from mlflowctl.blueprint.results import ModelVersion, TrainingRun
from mlflowctl.mlops.gate import (
    TAG_SHA,
    baseline_of,
    gate_decision,
    metric_of,
    metric_tag,
    tie_scores,
    val_metric,
)
from mlflowctl.mlops.registry import (
    TAG_BUILD,
    TAG_RUN,
    _alias_version,
    _find_by_build,
    apply_gate,
)
from mlflowctl.mlops.store import client, store_lock, tracking_errors

TAG_KIND = "mlflowctl.kind"
TAG_BASELINE_NAME = "baseline_name"


def lost_to_baseline(c: Any, registry: RegistrySpec, version: int) -> tuple[str, float] | None:
    """The baseline that beat ``version`` on the gate metric (by the gate's margin), or None when
    the network passed that check (it failed on the threshold or the champion instead)."""
    mv = c.get_model_version(registry.model_name, str(version))
    baseline = baseline_of(mv)
    if baseline is None or mv.tags.get(TAG_KIND) == "baseline":
        return None
    # the baseline comparison alone: not the threshold, not the prompt's other requirements
    gate = registry.gate.model_copy(update={"threshold": None, "requires": []})
    value = metric_of(c, mv, val_metric(gate.metric))
    passed, _ = gate_decision(gate, value, None, baseline, tie_scores(c, mv, baseline, value))
    return None if passed else baseline


def _unsaved_reason(root: Path) -> str:
    """Why the build saved no baseline (``metrics.json``'s ``baseline_saved``)."""
    try:
        doc = json.loads((root / "outputs" / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "the build wrote no outputs/baseline/ (built before mlflowctl saved baselines)"
    saved = doc.get("baseline_saved") or {}
    return str(saved.get("unsaved_because") or "the build wrote no outputs/baseline/")


def suggest_baseline(tracking_uri: str, registry: RegistrySpec, lost: ModelVersion) -> ModelVersion:
    """``lost`` with its reason saying how to use the baseline that beat it (the flag that
    registers it in the network's place), when a baseline beat it; else ``lost`` unchanged."""
    if lost.promoted:
        return lost
    with tracking_errors(tracking_uri):
        winner = lost_to_baseline(client(tracking_uri), registry, lost.version)
    if winner is None:
        return lost
    note = (
        f"; --allow-baseline-champion puts baseline {winner[0]} through the gate in the network's "
        "place (it takes the same raw rows)"
    )
    return replace(lost, reason=lost.reason + note)


def offer_baseline(
    tracking_uri: str,
    run_id: str,
    training_run: TrainingRun,
    registry: RegistrySpec,
    *,
    build_id: str,
    lost: ModelVersion,
) -> ModelVersion:
    """Register the saved best baseline and gate it when the network ``lost`` to it; otherwise
    ``lost`` unchanged (or with why the baseline could not stand in)."""
    from mlflowctl.mlops.model_logging import (
        baseline_artifacts,
        baseline_digest,
        log_baseline_model,
    )

    with tracking_errors(tracking_uri):
        c = client(tracking_uri)
        winner = lost_to_baseline(c, registry, lost.version)
        if lost.promoted or winner is None:
            return lost
        root = training_run.project.root
        artifacts = baseline_artifacts(root)
        saved = None
        if artifacts is not None:
            saved = json.loads(Path(artifacts["baseline"]).read_text(encoding="utf-8"))["name"]
        if artifacts is None or saved != winner[0]:
            why = _unsaved_reason(root) if artifacts is None else f"the build saved {saved}"
            note = f"; baseline {winner[0]} not registered in its place: {why}"
            return replace(lost, reason=lost.reason + note)
        name, tag_build = registry.model_name, f"{build_id}/baseline"
        tags = {
            TAG_BUILD: tag_build,
            TAG_RUN: run_id,
            TAG_SHA: baseline_digest(Path(artifacts["baseline"]).parent),
            TAG_KIND: "baseline",
            TAG_BASELINE_NAME: winner[0],
        }
        # the baseline's own values of what the gate reads (its metric and `requires`): the run's
        # plain metrics are the network's
        gated = [registry.gate.metric, *(r.metric for r in registry.gate.requires)]
        for key in {*gated, *map(val_metric, gated)}:
            value = training_run.metrics.get(f"baseline.{winner[0]}.{key}")
            if value is not None:
                tags[metric_tag(key)] = repr(float(value))
        mv = _find_by_build(c, name, tag_build)
        if mv is None:
            experiment_id = c.get_run(run_id).info.experiment_id
            uri = log_baseline_model(c, experiment_id, run_id, root, artifacts)
            mv = c.create_model_version(
                name, source=uri, run_id=run_id, tags=tags, model_id=uri.rsplit("/", 1)[-1]
            )
        with store_lock(tracking_uri):
            champ = _alias_version(c, name, registry.champion_alias)
            if champ is None or int(champ.version) != int(mv.version):
                c.set_registered_model_alias(name, registry.challenger_alias, mv.version)
        result = apply_gate(tracking_uri, registry, int(mv.version), build_id=build_id)
    verdict = "promoted" if result.promoted else "not promoted"
    if "already champion" in result.reason:  # the same fitted baseline holds @champion already
        verdict = "left @champion where it is"
    reason = (
        f"network not promoted ({lost.reason}); allowed by --allow-baseline-champion, baseline "
        f"{winner[0]} registered as v{result.version} and {verdict}: {result.reason}"
    )
    return replace(result, reason=reason)
