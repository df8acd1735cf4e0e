"""The registered model works on data as a user has it (issue 13 items 1 and 4).

Every test drives the real CLI in a subprocess with a SQLite store in ``tmp_path``, then loads
``models:/<name>/<version>`` (the version the run registered, @champion or, after a brief
training the gate refused, @challenger) in a *separate* Python that cannot import mlflowctl
(``python -I -S`` with only site-packages on ``sys.path``, no editable-install hook) and with
``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false``: the logged model must be self-contained.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

CLI = Callable[..., subprocess.CompletedProcess[str]]

PRELUDE = """
import importlib.util, json, sys
assert importlib.util.find_spec("mlflowctl") is None, "mlflowctl must not be importable here"
import mlflow, numpy as np, pandas as pd
mlflow.set_tracking_uri(sys.argv[1])
ARGS = json.loads(sys.argv[2])
"""


def isolated(tmp_path: Path, code: str, args: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a Python that sees site-packages but not mlflowctl; argv: uri, args."""
    script = tmp_path / "isolated_check.py"
    script.write_text(PRELUDE + textwrap.dedent(code), encoding="utf-8")
    paths = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    boot = f"import sys; sys.path[:0] = {paths!r}; sys.argv = sys.argv[1:]; " + (
        "exec(compile(open(sys.argv[0]).read(), sys.argv[0], 'exec'))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "MLFLOW"))}
    env["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "false"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", boot, str(script), uri, json.dumps(args)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def run_pipeline(cli: CLI, tmp_path: Path, prompt: str, *args: str) -> dict[str, Any]:
    """``mlflowctl run`` to a registered version; brief training may stay @challenger (exit 8)."""
    proc = cli("run", prompt, *args, "--workdir", "wd", "--json", timeout=600)
    assert proc.returncode in (0, 8), proc.stderr[-3000:]
    summary: dict[str, Any] = json.loads(proc.stdout)
    assert summary["status"] == "finished" and summary["model_version"] == 1, summary
    assert summary["promoted"] is (proc.returncode == 0), summary
    if proc.returncode == 8:
        assert summary["aliases"] == ["challenger"] and summary["promotion_reason"], summary
    return summary


def version_uri(summary: dict[str, Any]) -> str:
    """``models:/NAME/VERSION`` of the version the pipeline registered, promoted or not."""
    return f"models:/{summary['model_name']}/{summary['model_version']}"


def preprocessing_of(tmp_path: Path) -> dict[str, Any]:
    found = sorted(tmp_path.glob("wd/**/outputs/preprocessing.json"))
    assert found, "the trained project wrote no outputs/preprocessing.json"
    doc: dict[str, Any] = json.loads(found[0].read_text())
    return doc


@pytest.mark.heavy
def test_iris_champion_predicts_raw_rows_with_the_reported_accuracy(
    cli: CLI, tmp_path: Path
) -> None:
    summary = run_pipeline(
        cli, tmp_path, "classify iris flowers", "--data", "sklearn:iris", "--max-epochs", "3"
    )
    reported = summary["metrics"]["test_accuracy"]
    test_index = preprocessing_of(tmp_path)["split"]["test_index"]
    proc = isolated(
        tmp_path,
        """
        from sklearn.datasets import load_iris
        bunch = load_iris(as_frame=True)
        raw = bunch.data.iloc[ARGS["test"]]            # original column names and units
        model = mlflow.pyfunc.load_model(ARGS["uri"])
        out = model.predict(raw)
        truth = np.asarray(bunch.target_names)[bunch.target.iloc[ARGS["test"]]]
        proba = out[[f"proba_{c}" for c in bunch.target_names]].to_numpy()
        assert np.allclose(proba.sum(axis=1), 1.0)
        names = [c.name for c in model.metadata.signature.inputs.inputs]
        try:
            model.predict(raw.drop(columns=["petal width (cm)"]))
            missing = "no error"
        except Exception as exc:
            missing = str(exc)
        print(json.dumps({"accuracy": float((out["prediction"].to_numpy() == truth).mean()),
                          "labels": sorted(set(out["prediction"])), "inputs": names,
                          "missing": missing}))
        """,
        {"test": test_index, "uri": version_uri(summary)},
    )
    assert summary["model_name"] == "iris-classifier"
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["accuracy"] == pytest.approx(reported, abs=1e-9)
    assert set(result["labels"]) <= {"setosa", "versicolor", "virginica"}
    assert result["inputs"] == [
        "sepal length (cm)",
        "sepal width (cm)",
        "petal length (cm)",
        "petal width (cm)",
    ]
    assert "petal width (cm)" in result["missing"]
    # the rendered project's own predict.py takes the same raw rows from a CSV
    project = next(tmp_path.glob("wd/**/outputs/preprocessing.json")).parent.parent
    from sklearn.datasets import load_iris

    load_iris(as_frame=True).data.iloc[test_index].to_csv(tmp_path / "rows.csv", index=False)
    pred = subprocess.run(
        [sys.executable, "predict.py", str(tmp_path / "rows.csv")],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert pred.returncode == 0, pred.stderr[-2000:]
    header = pred.stdout.splitlines()[0]
    assert header == "prediction,proba_setosa,proba_versicolor,proba_virginica"
    assert len(pred.stdout.splitlines()) == len(test_index) + 1


@pytest.mark.slow  # a real pipeline: about a minute on a busy 2-core box
def test_regression_champion_returns_original_units(cli: CLI, tmp_path: Path) -> None:
    summary = run_pipeline(
        cli, tmp_path, "predict diabetes progression", "--data", "sklearn:diabetes",
        "--max-epochs", "3",
    )  # fmt: skip
    test_index = preprocessing_of(tmp_path)["split"]["test_index"]
    proc = isolated(
        tmp_path,
        """
        from sklearn.datasets import load_diabetes
        bunch = load_diabetes(as_frame=True)
        model = mlflow.pyfunc.load_model(ARGS["uri"])
        out = model.predict(bunch.data.iloc[ARGS["test"]])
        err = out["prediction"].to_numpy() - bunch.target.iloc[ARGS["test"]].to_numpy()
        print(json.dumps({"rmse": float(np.sqrt((err ** 2).mean())), "columns": list(out.columns),
                          "mean": float(out["prediction"].mean())}))
        """,
        {"test": test_index, "uri": version_uri(summary)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["columns"] == ["prediction"]
    assert result["rmse"] == pytest.approx(summary["metrics"]["test_rmse"], rel=1e-4)
    assert 50 < result["mean"] < 300  # disease progression units, not z-scores


@pytest.mark.slow  # a real pipeline: about a minute on a busy 2-core box
def test_forecaster_returns_the_next_horizon_with_its_dates(cli: CLI, tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd

    months = pd.date_range("2000-01-01", periods=240, freq="MS")
    rng = np.random.default_rng(0)
    steps = np.arange(240)
    sales = 100 + 10 * np.sin(2 * np.pi * steps / 12) + 0.1 * steps + rng.normal(0, 1, 240)
    frame = pd.DataFrame({"month": months.strftime("%Y-%m-%d"), "sales": sales})
    frame.to_csv(tmp_path / "sales.csv", index=False)
    summary = run_pipeline(
        cli, tmp_path, "forecast monthly sales 6 months ahead", "--data", "sales.csv",
        "--max-epochs", "2",
    )  # fmt: skip
    spec = preprocessing_of(tmp_path)["series"]
    assert (spec["horizon"], spec["time_column"], spec["frequency"]) == (6, "month", "MS")
    frame.tail(spec["lookback"] + 5).to_csv(tmp_path / "history.csv", index=False)
    proc = isolated(
        tmp_path,
        """
        model = mlflow.pyfunc.load_model(ARGS["uri"])
        out = model.predict(pd.read_csv("history.csv"))
        print(json.dumps(out.to_dict(orient="list")))
        """,
        {"uri": version_uri(summary)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["step"] == [1, 2, 3, 4, 5, 6]
    assert out["time"] == [f"2020-{m:02d}-01" for m in range(1, 7)]  # after the last month
    assert all(60 < v < 180 for v in out["forecast"])  # sales units, not z-scores
    project = next(tmp_path.glob("wd/**/outputs/preprocessing.json")).parent.parent
    pred = subprocess.run(
        [sys.executable, "predict.py", str(tmp_path / "history.csv")],
        cwd=project, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert pred.returncode == 0, pred.stderr[-2000:]
    rows = [line.split(",") for line in pred.stdout.splitlines()[1:]]
    assert [float(r[-1]) for r in rows] == pytest.approx(out["forecast"], rel=1e-5)


@pytest.mark.slow
def test_digits_champion_predicts_raw_pixel_rows(cli: CLI, tmp_path: Path) -> None:
    summary = run_pipeline(
        cli, tmp_path, "classify handwritten digits", "--data", "sklearn:digits",
        "--max-epochs", "2",
    )  # fmt: skip
    test_index = preprocessing_of(tmp_path)["split"]["test_index"]
    proc = isolated(
        tmp_path,
        """
        from sklearn.datasets import load_digits
        bunch = load_digits(as_frame=True)
        raw = bunch.data.iloc[ARGS["test"]]           # (N, 64) pixel columns, values 0..16
        assert raw.shape[1] == 64 and raw.to_numpy().max() == 16
        model = mlflow.pyfunc.load_model(ARGS["uri"])
        out = model.predict(raw)
        truth = bunch.target.iloc[ARGS["test"]].astype(str).to_numpy()
        print(json.dumps({"accuracy": float((out["prediction"].to_numpy() == truth).mean())}))
        """,
        {"test": test_index, "uri": version_uri(summary)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["accuracy"] == pytest.approx(summary["metrics"]["test_accuracy"], abs=1e-9)
