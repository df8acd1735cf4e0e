"""Read-only registry views: list, show, and the weights integrity check behind ``verify``."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from mlflowctl.errors import RegistryConflictError
from mlflowctl.mlops.gate import TAG_SHA
from mlflowctl.mlops.registry import (
    TAG_BUILD,
    TAG_PREV,
    _alias_version,
    _aliases_of,
    _model,
    _require_version,
)
from mlflowctl.mlops.store import client


def verify(tracking_uri: str, name: str, version: int | None = None) -> dict[str, Any]:
    """Download the version's weights, recompute sha256, compare with its tag (exit 7 if not)."""
    import mlflow.artifacts

    from mlflowctl.mlops.model_logging import baseline_digest, weights_artifact_uri
    from mlflowctl.train.checkpoints import sha256_file

    c = client(tracking_uri)
    if version is None:
        _, champion = _aliases_of(c, name)
        mv = _alias_version(c, name, champion)
        if mv is None:
            raise RegistryConflictError(
                f"{name} has no @{champion} to verify", hint="name a VERSION", location=name
            )
    else:
        mv = _require_version(c, name, version)
    expected = mv.tags.get(TAG_SHA)
    source = str(mv.source or "")
    model_id = getattr(mv, "model_id", None) or (
        source.rsplit("/", 1)[-1] if source.startswith("models:/m-") else None
    )
    if not expected or not model_id:
        raise RegistryConflictError(
            f"v{mv.version} of {name} was not registered by mlflowctl (no {TAG_SHA} tag)",
            location=name,
        )
    with tempfile.TemporaryDirectory(prefix="mlflowctl-verify-") as tmp:
        if mv.tags.get("mlflowctl.kind") == "baseline":  # its fitted files, not weights
            folder = weights_artifact_uri(c, model_id).rsplit("/", 1)[0]
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=folder, dst_path=tmp, tracking_uri=tracking_uri
            )
            actual = baseline_digest(Path(local))
        else:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=weights_artifact_uri(c, model_id),
                dst_path=tmp,
                tracking_uri=tracking_uri,
            )
            actual = sha256_file(Path(local))
    if actual != expected:
        raise RegistryConflictError(
            f"weights of {name} v{mv.version} do not match: tag {expected}, artifact {actual}",
            hint="the artifact store was altered; do not serve this version",
            location=f"{name}/{mv.version}",
            details={"expected": expected, "actual": actual},
        )
    what = "fitted baseline" if mv.tags.get("mlflowctl.kind") == "baseline" else "weights"
    return {"name": name, "version": int(mv.version), "sha256": actual, "ok": True, "of": what}


def list_models(tracking_uri: str) -> list[dict[str, Any]]:
    c = client(tracking_uri)
    out = []
    for rm in c.search_registered_models(max_results=1000):
        aliases = {a: int(v) for a, v in (rm.aliases or {}).items()}
        latest = max((int(v.version) for v in rm.latest_versions or []), default=None)
        out.append({"name": rm.name, "latest_version": latest, "aliases": aliases})
    return out


def show(tracking_uri: str, name: str) -> dict[str, Any]:
    c = client(tracking_uri)
    rm = _model(c, name)
    versions = []
    for mv in sorted(c.search_model_versions(f"name = '{name}'"), key=lambda v: int(v.version)):
        t = mv.tags
        versions.append({
            "version": int(mv.version), "run_id": mv.run_id, "aliases": sorted(mv.aliases),
            "build_id": t.get(TAG_BUILD), "weights_sha256": t.get(TAG_SHA),
            "metrics": {k[7:]: float(v) for k, v in t.items() if k.startswith("metric.")},
            "previous_champion": t.get(TAG_PREV), "promoted_at": t.get("promoted_at"),
            "promotion_reason": t.get("promotion_reason") or t.get("gate_result"),
            "baseline": t.get("baseline_name") if t.get("mlflowctl.kind") == "baseline" else None,
        })  # fmt: skip
    aliases = {a: int(v) for a, v in (rm.aliases or {}).items()}
    # search_model_versions does not fill aliases on every store: take them from the model
    for row in versions:
        row["aliases"] = sorted(
            {*row["aliases"], *(a for a, v in aliases.items() if v == row["version"])}
        )
    return {"name": name, "aliases": aliases, "versions": versions}
