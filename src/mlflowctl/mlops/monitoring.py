"""The MLflow side of ``mlflowctl monitor``: resolve a model URI, fetch its reference profile,
blueprint and pyfunc, predict, and log each check as a run of ``<model-name>-monitoring``.

A small resolver of its own (``NAME@ALIAS``, ``NAME/VERSION``, ``models:/...``); the
``predict/serve`` work brings a shared one and the two fold later.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflowctl.errors import InvalidInputError

TAG_MODEL_NAME = "mlflowctl.monitor.model_name"
TAG_MODEL_VERSION = "mlflowctl.monitor.model_version"
TAG_MODEL_RUN = "mlflowctl.monitor.model_run_id"
TAG_VERDICT = "mlflowctl.monitor.verdict"
_URI = re.compile(r"^(?:models:/)?(?P<name>[^@/]+)(?:@(?P<alias>[^@/]+)|/(?P<version>\d+))$")


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    version: int
    run_id: str
    source: str
    aliases: tuple[str, ...]
    approach: str | None = None


def parse(model: str) -> tuple[str, str | None, int | None]:
    """``(name, alias, version)`` of ``NAME@ALIAS``, ``NAME/VERSION`` or ``models:/...``."""
    m = _URI.match(model.strip())
    if not m:
        raise InvalidInputError(
            f"cannot read the model reference {model!r}",
            hint="use NAME@ALIAS, NAME/VERSION or models:/NAME@ALIAS",
            location="MODEL",
        )
    version = m.group("version")
    return m.group("name"), m.group("alias"), int(version) if version else None


def resolve(uri: str, model: str) -> ResolvedModel:
    from mlflow.exceptions import MlflowException

    from mlflowctl.mlops.store import client

    name, alias, version = parse(model)
    c = client(uri)
    try:
        mv = (
            c.get_model_version_by_alias(name, alias)
            if alias
            else c.get_model_version(name, str(version))
        )
    except MlflowException as exc:
        raise InvalidInputError(
            f"no model version {model!r} in the registry",
            hint="see `mlflowctl registry show NAME` for the versions and aliases",
            location="MODEL",
            details={"mlflow": str(exc).splitlines()[0][:300]},
        ) from None
    return ResolvedModel(
        name=mv.name,
        version=int(mv.version),
        run_id=str(mv.run_id),
        source=str(mv.source),
        aliases=tuple(getattr(mv, "aliases", []) or []),
        approach=c.get_run(str(mv.run_id)).data.tags.get("mlflowctl.approach"),
    )


@dataclass
class FetchedModel:
    local_dir: Path
    profile: dict[str, Any]
    blueprint_path: Path | None
    input_columns: list[str]


def fetch(uri: str, model: ResolvedModel, model_ref: str, dst: Path) -> FetchedModel:
    """Download the logged model and the run's ``blueprint.yaml``; exit 2 without a profile."""
    import mlflow

    from mlflowctl.monitor import profile_problem

    mlflow.set_tracking_uri(uri)
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model.source, dst_path=str(dst)))
    found = sorted(local.rglob("reference_profile.json"))
    if not found:
        raise InvalidInputError(
            f"{model.name} version {model.version} has no reference profile",
            hint="it was registered before `monitor` existed: rebuild it (mlflowctl build "
            "BLUEPRINT) and monitor the new version",
            location=model_ref,
        )
    profile = json.loads(found[0].read_text(encoding="utf-8"))
    problem = profile_problem(profile)
    if problem:
        raise InvalidInputError(problem, hint="rebuild the model", location=str(found[0]))
    blueprint: Path | None = None
    try:
        blueprint = Path(
            mlflow.artifacts.download_artifacts(
                run_id=model.run_id, artifact_path="blueprint.yaml", dst_path=str(dst / "run")
            )
        )
    except Exception:  # a run without its blueprint: monitor with defaults
        blueprint = None
    meta = mlflow.models.Model.load(str(local))
    schema = meta.get_input_schema()  # type: ignore[no-untyped-call]
    columns = list(schema.input_names()) if schema is not None and schema.has_input_names() else []
    return FetchedModel(local, profile, blueprint, [str(c) for c in columns])


def predict(local_dir: Path, frame: Any) -> Any:
    """The logged pyfunc's predictions on ``frame``; a schema mismatch is exit 2."""
    import mlflow
    from mlflow.exceptions import MlflowException

    model = mlflow.pyfunc.load_model(str(local_dir))
    try:
        return model.predict(frame)
    except (MlflowException, ValueError, TypeError) as exc:
        raise InvalidInputError(
            f"the model cannot read the data: {str(exc).splitlines()[0][:300]}",
            hint="the columns and types must match the model's signature (see the version's "
            "input example)",
            location="--data",
        ) from None


def log_check(
    uri: str,
    model: ResolvedModel,
    report: dict[str, Any],
    *,
    data_file: str,
    report_dir: Path | None,
    extra_tags: dict[str, str] | None = None,
) -> tuple[str, str]:
    """One run in ``<name>-monitoring`` with the figures, linked to the model version."""
    from mlflow.entities import Metric, Param

    from mlflowctl.mlops.store import client

    c = client(uri)
    exp_name = f"{model.name}-monitoring"
    exp = c.get_experiment_by_name(exp_name)
    exp_id = exp.experiment_id if exp is not None else c.create_experiment(exp_name)
    tags = {
        TAG_MODEL_NAME: model.name,
        TAG_MODEL_VERSION: str(model.version),
        TAG_MODEL_RUN: model.run_id,
        TAG_VERDICT: "drift" if report["drift_found"] else "ok",
        "mlflow.runName": f"monitor-{model.name}-v{model.version}",
        "mlflowctl.monitor.data": Path(data_file).name[:250],
        **(extra_tags or {}),
    }
    run = c.create_run(exp_id, tags=tags)
    run_id = str(run.info.run_id)
    metrics = [Metric("n_rows", float(report["n_rows"]), 0, 0)]
    metrics.append(Metric("drifted_features", float(len(report["drifted_features"])), 0, 0))
    for f in report["features"] + ([report["prediction"]] if report["prediction"] else []):
        key = re.sub(r"[^A-Za-z0-9_\-. /]", "_", f["name"])[:200]
        metrics.append(Metric(f"psi.{key}", float(f["psi"]), 0, 0))
        metrics.append(Metric(f"pvalue.{key}", float(f["pvalue"]), 0, 0))
    perf = report.get("performance")
    if perf:
        metrics.append(Metric(f"live_{perf['metric']}", float(perf["live"]), 0, 0))
    params = [Param(f"threshold.{k}", str(v)) for k, v in report["thresholds"].items()]
    c.log_batch(run_id, metrics=metrics, params=params)
    c.log_text(run_id, json.dumps(report, indent=1), "monitor_report.json")
    if report_dir is not None and report_dir.is_dir():
        c.log_artifacts(run_id, str(report_dir), "report")
    c.set_terminated(run_id, "FINISHED")
    return run_id, str(exp_id)


def tag_run(uri: str, run_id: str, tags: dict[str, str]) -> None:
    from mlflowctl.mlops.store import client

    c = client(uri)
    for k, v in tags.items():
        c.set_tag(run_id, k, v)


def temp_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="mlflowctl-monitor-")
