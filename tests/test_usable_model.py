"""The registered model works on data as a user has it (issue 13 items 1 and 4).

Every test drives the real CLI in a subprocess with a SQLite store in ``tmp_path``, then loads
``models:/<name>@champion`` in a *separate* Python that cannot import mlflowctl
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
    proc = cli("run", prompt, *args, "--workdir", "wd", "--json", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary: dict[str, Any] = json.loads(proc.stdout)
    return summary


def preprocessing_of(tmp_path: Path) -> dict[str, Any]:
    found = sorted(tmp_path.glob("wd/**/outputs/preprocessing.json"))
    assert found, "the trained project wrote no outputs/preprocessing.json"
    doc: dict[str, Any] = json.loads(found[0].read_text())
    return doc


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
        model = mlflow.pyfunc.load_model("models:/iris-classifier@champion")
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
        print(json.dumps({"accuracy": float((out["label"].to_numpy() == truth).mean()),
                          "labels": sorted(set(out["label"])), "inputs": names,
                          "missing": missing}))
        """,
        {"test": test_index},
    )
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
    assert header == "label,proba_setosa,proba_versicolor,proba_virginica"
    assert len(pred.stdout.splitlines()) == len(test_index) + 1
