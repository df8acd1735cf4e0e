"""``mlflowctl monitor MODEL --data FILE``: drift of new data against the model's reference.

Cheap to import: mlflow, pandas and scipy load inside the command. Exit 0 when everything is
within the thresholds, 9 when drift or degradation is found (the findings code ``audit`` uses).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mlflowctl import console
from mlflowctl.cli.options import TrackingUriOpt
from mlflowctl.errors import EXIT_AUDIT_FINDINGS

EXIT_DRIFT_FOUND = EXIT_AUDIT_FINDINGS


def _read(path: Path) -> Any:
    """The data file as a DataFrame; unreadable or empty is exit 2 naming the file."""
    import pandas as pd

    from mlflowctl.errors import DataError

    if not path.is_file():
        raise DataError("no such data file", hint="pass a CSV or Parquet file", location=str(path))
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif suffix in (".csv", ".tsv", ".txt"):
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
        else:
            raise DataError(
                f"unsupported data file type {suffix or '(none)'!r}",
                hint="use .csv, .tsv or .parquet",
                location=str(path),
            )
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame()
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read: {exc}", location=str(path)) from None
    if frame.empty:
        raise DataError("the data file holds no rows", hint="pass new rows", location=str(path))
    return frame


def _monitoring_block(fetched: Any, approach: str | None) -> Any:
    if fetched.blueprint_path is None:
        return None
    from mlflowctl.blueprint.model import Blueprint

    try:
        bp = Blueprint.load(fetched.blueprint_path)
        return bp, bp.approach(approach).infrastructure.monitoring
    except Exception:  # an unreadable old blueprint: policy defaults
        return None


def _table(report: dict[str, Any]) -> None:
    rows = []
    for f in report["features"] + ([report["prediction"]] if report["prediction"] else []):
        rows.append(
            (
                f["name"],
                f["type"],
                f"{f['psi']:.4f}",
                f"{f['test']} p={f['pvalue']:.3g}",
                f"{f['missing_ref']:.2f}->{f['missing_new']:.2f}",
                "DRIFT" if f["drifted"] else "ok",
            )
        )
    cols = ["feature", "type", "psi", "test", "missing", "verdict"]
    console.table(f"drift of {report['n_rows']} rows", cols, rows)


def monitor(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="NAME@ALIAS, NAME/VERSION or models:/...")],
    data: Annotated[Path, typer.Option("--data", help="New rows (CSV, TSV or Parquet).")],
    report_dir: Annotated[
        Path | None, typer.Option("--report", help="Write an HTML report with plots here.")
    ] = None,
    retrain: Annotated[
        bool,
        typer.Option(
            "--retrain",
            help="On drift, train the model's blueprint on --data, register a challenger and "
            "apply the gate.",
        ),
    ] = False,
    max_epochs: Annotated[
        int | None, typer.Option("--max-epochs", min=1, help="Epoch budget of --retrain.")
    ] = None,
    tracking_uri: TrackingUriOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Compare new data and the model's predictions on it with its training reference."""
    from mlflowctl.settings import current

    settings = current(ctx).with_tracking_uri(tracking_uri)
    uri = settings.tracking.uri
    frame = _read(data)
    from mlflowctl.errors import DataError
    from mlflowctl.mlops import monitoring as mon
    from mlflowctl.mlops.store import mlflow_errors
    from mlflowctl.monitor import Thresholds, compare

    with mlflow_errors(uri), mon.temp_dir() as tmp:
        resolved = mon.resolve(uri, model)
        fetched = mon.fetch(uri, resolved, model, Path(tmp))
        profile = fetched.profile
        expected = fetched.input_columns or list(profile["features"])
        absent = [c for c in expected if c not in frame.columns]
        if absent:
            raise DataError(
                f"missing column(s) the model's signature needs: {', '.join(absent)}",
                hint=f"the model reads: {', '.join(expected)}",
                location=str(data),
            )
        predictions = mon.predict(fetched.local_dir, frame[expected])
        found = _monitoring_block(fetched, resolved.approach)
        policy = settings.mlops
        block = found[1] if found else None
        thresholds = Thresholds(
            psi=float(block.drift_threshold) if block else policy.drift_psi_threshold,
            pvalue=policy.drift_pvalue,
        )
        result = compare(
            profile,
            frame,
            predictions,
            thresholds,
            features=list(block.features) if block else None,
            expected_columns=expected,
            performance_metric=block.performance_metric if block else None,
            performance_threshold=block.performance_threshold if block else None,
        )
        doc = result.to_dict()
        doc["model"] = {
            "name": resolved.name,
            "version": resolved.version,
            "run_id": resolved.run_id,
        }
        if report_dir is not None:
            from mlflowctl.monitor.html import write_html

            header = {"model": f"{resolved.name} v{resolved.version}", "data": str(data)}
            doc["report"] = str(write_html(report_dir, result, profile, frame, predictions, header))
        run_id, exp_id = mon.log_check(
            uri, resolved, doc, data_file=str(data), report_dir=report_dir
        )
        doc["monitoring_run_id"] = run_id
        doc["monitoring_experiment_id"] = exp_id
        if retrain and result.drift_found:
            doc["retrain"] = _retrain(
                settings, found, fetched, resolved, data, max_epochs, run_id, list(frame.columns)
            )
        elif retrain:
            doc["retrain"] = {"started": False, "reason": "no drift: nothing to retrain"}
    if report_dir is not None and "retrain" in doc:
        import json

        (report_dir / "retrain.json").write_text(json.dumps(doc["retrain"], indent=1) + "\n")
    if json_out:
        console.print_json(doc)
    else:
        _table(doc)
        if doc["performance"]:
            p = doc["performance"]
            console.result(f"live {p['metric']}={p['live']:.4g} (validation {p['validation']})")
        console.result(f"monitoring run {run_id} in experiment {resolved.name}-monitoring")
        if "retrain" in doc:
            console.result(f"retrain: {doc['retrain']}")
    verdict = "drift found" if result.drift_found else "no drift"
    console.status(f"monitor: {verdict} ({', '.join(result.drifted_features) or 'no feature'})")
    if result.drift_found:
        raise typer.Exit(EXIT_DRIFT_FOUND)


def _retrain(
    settings: Any,
    found: Any,
    fetched: Any,
    resolved: Any,
    data: Path,
    max_epochs: int | None,
    monitor_run: str,
    columns: list[str],
) -> dict[str, Any]:
    """Build, train, register and gate the version's blueprint on the new data."""
    from mlflowctl.build import writer as workspace
    from mlflowctl.errors import InvalidInputError
    from mlflowctl.mlops.monitoring import tag_run
    from mlflowctl.orchestrate import services as flow

    if found is None:
        raise InvalidInputError(
            f"{resolved.name} v{resolved.version}'s run has no readable blueprint.yaml",
            hint="retrain with `mlflowctl build BLUEPRINT --data FILE`",
            location="--retrain",
        )
    bp = found[0]
    target = fetched.profile.get("target")
    if target and target not in columns:
        raise InvalidInputError(
            f"--retrain needs the target column {target!r} in the data",
            location=str(data),
        )
    out = Path("builds") / f"{bp.provenance.blueprint_id}-retrain-{monitor_run[:8]}"
    console.status(f"monitor: retraining {resolved.name} on {data} in {out}")
    project = workspace.build(
        bp, approach=resolved.approach, out=out, data=str(data.absolute()),
        force=False, dry_run=False, policy=settings.engineer,
    )  # fmt: skip
    outcome = flow.train_tracked(
        bp, project, tracking_uri=None, settings=settings, track=True, max_epochs=max_epochs
    )
    version = flow.register_and_gate(bp, outcome)
    decision = {
        "started": True,
        "build_dir": str(out),
        "run_id": outcome.run_id,
        "model_name": version.name,
        "version": version.version,
        "aliases": list(version.aliases),
        "promoted": version.promoted,
        "gate_reason": version.reason,
        "monitoring_run_id": monitor_run,
    }
    assert outcome.tracking_uri is not None and outcome.run_id is not None
    tag_run(outcome.tracking_uri, monitor_run, {
        "mlflowctl.monitor.retrain_run_id": outcome.run_id,
        "mlflowctl.monitor.retrain_version": str(version.version),
        "mlflowctl.monitor.gate": "promoted" if version.promoted else "stays challenger",
        "mlflowctl.monitor.gate_reason": version.reason[:500],
    })  # fmt: skip
    tag_run(outcome.tracking_uri, outcome.run_id, {"mlflowctl.monitor.triggered_by": monitor_run})
    return decision
