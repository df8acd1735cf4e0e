"""``mlflowctl predict``/``forecast``: batch inference from the registry, bad input, atomic output.

One tiny iris build (``--max-epochs 1``) registered in a real SQLite store per module; every check
drives the CLI in a subprocess like a user. The checks of raw rows against ``preprocessing.json``
(categories, NaN, image size) are also exercised directly on ``LoadedModel.check`` with a
hand-written spec, so they hold whichever logged-model contract the build produced.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from blueprints import make_blueprint

from mlflowctl.errors import InvalidInputError
from mlflowctl.mlops.inference import LoadedModel, ModelRef, parse_ref

CLASSES = ["setosa", "versicolor", "virginica"]


def mlflowctl(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI",)}
    return subprocess.run(
        [sys.executable, "-m", "mlflowctl", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def build_registered(root: Path, family: str = "mlp", dataset: str | None = None) -> Path:
    """A tiny trained build registered as ``test-model`` in ``root/mlflow.db``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "bp.json").write_text(make_blueprint(family, dataset).model_dump_json())
    proc = mlflowctl("build", "bp.json", "--out", "b", "--max-epochs", "1", cwd=root)
    # one epoch rarely beats the classical baseline: the gate keeps v1 @challenger (exit 8)
    assert proc.returncode in (0, 8), proc.stderr[-3000:]
    if proc.returncode == 8:
        promoted = mlflowctl("registry", "promote", "test-model", "1", "--force", cwd=root)
        assert promoted.returncode == 0, promoted.stderr[-3000:]
    return root


def iris_frame() -> Any:
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    frame["species"] = [CLASSES[t] for t in frame.pop("target")]
    frame.insert(0, "id", range(100, 100 + len(frame)))
    return frame


@pytest.fixture(scope="module")
def iris_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = build_registered(tmp_path_factory.mktemp("iris"))
    iris_frame().to_csv(root / "iris.csv", index=False)
    return root


@pytest.mark.integration
@pytest.mark.heavy
def test_predict_raw_iris_rows_to_file_and_stdout(iris_store: Path) -> None:
    import pandas as pd

    out = iris_store / "pred.csv"
    proc = mlflowctl(
        "predict", "test-model@champion", "--input", "iris.csv", "--output", str(out),
        "--key", "id", "--chunk-rows", "40", "--json", cwd=iris_store,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["rows"] == 150 and summary["version"] == 1
    pred = pd.read_csv(out)
    assert list(pred["id"]) == list(range(100, 250))  # chunks keep order and keys
    proba = pred.filter(like="proba_")
    assert proba.shape == (150, 3)
    assert proba.sum(axis=1).round(5).eq(1.0).all()
    assert "prediction" in pred.columns

    iris_frame().drop(columns=["id"]).to_csv(iris_store / "raw.csv", index=False)
    proc = mlflowctl("predict", "test-model/1", "--input", "raw.csv", cwd=iris_store)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("row,prediction,proba_") and len(lines) == 151
    assert lines[1].startswith("1,")  # no key column given: the data row number

    pq = iris_store / "iris.parquet"
    iris_frame().to_parquet(pq)
    proc = mlflowctl(
        "predict", "models:/test-model@champion", "--input", str(pq), "--output", "p.parquet",
        "--chunk-rows", "64", "--key", "id", cwd=iris_store,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert len(pd.read_parquet(iris_store / "p.parquet")) == 150


def _bad(iris_store: Path, name: str, text: str, *extra: str) -> subprocess.CompletedProcess[str]:
    path = iris_store / name
    path.write_text(text)
    out = iris_store / f"{name}.out.csv"
    out.write_text("precious\n")
    proc = mlflowctl(
        "predict", "test-model@champion", "--input", name, "--output", out.name, *extra,
        cwd=iris_store,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert out.read_text() == "precious\n"  # nothing written to --output on error
    assert not [p for p in iris_store.iterdir() if p.name.endswith(".tmp")]
    return proc


@pytest.mark.integration
def test_predict_bad_input_is_one_error_line_and_nothing_written(iris_store: Path) -> None:
    header = "id,sepal length (cm),sepal width (cm),petal length (cm),petal width (cm)\n"
    assert "empty" in _bad(iris_store, "empty.csv", "").stderr
    assert "header but no rows" in _bad(iris_store, "header.csv", header).stderr
    proc = _bad(iris_store, "cols.csv", "a,b\n1,2\n", "--key", "a")
    assert "cols.csv" in proc.stderr
    proc = _bad(
        iris_store, "nan.csv", header + "1,5.1,3.5,1.4,0.2\n2,5.0,,1.4,0.2\n", "--key", "id"
    )
    assert "row 2" in proc.stderr and "sepal width (cm)" in proc.stderr
    proc = _bad(iris_store, "many.csv", header + "1,5.1,3.5,1.4,0.2\n" * 30, "--key", "nope")
    assert "--key" in proc.stderr
    proc = mlflowctl("predict", "nosuch@champion", "--input", "iris.csv", "--json", cwd=iris_store)
    assert proc.returncode == 2 and json.loads(proc.stdout)["location"] == "MODEL"
    proc = mlflowctl("forecast", "test-model@champion", "--input", "iris.csv", cwd=iris_store)
    assert proc.returncode == 2 and "not a forecaster" in proc.stderr


@pytest.mark.integration
def test_an_empty_input_is_said_before_the_model_is_looked_up(tmp_path: Path) -> None:
    """Found from outside: an empty CSV took 9 s (loading the model) to be called empty. The
    file's own checks come first: a model that does not exist is never reached."""
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("a,b\n\n")
    for name, words in (("empty.csv", "is empty"), ("header.csv", "header but no rows")):
        for command in ("predict", "forecast"):
            proc = mlflowctl(command, "nosuch@champion", "--input", name, "--json", cwd=tmp_path)
            assert proc.returncode == 2, proc.stderr
            found = json.loads(proc.stdout)
            assert found["location"] == name and words in found["message"], found


# ---- the raw-row checks on a hand-written preprocessing spec (no store, no model) ----------

PREP: dict[str, Any] = {
    "format": "mlflowctl-preprocessing",
    "version": 1,
    "task": "classification",
    "kind": "tabular",
    "input_shape": [5],
    "columns": [
        {
            "name": "age",
            "dtype": "float64",
            "role": "numeric",
            "fill": 41.0,
            "indicator": True,
            "mean": 40.0,
            "std": 10.0,
        },
        {
            "name": "height",
            "dtype": "float64",
            "role": "numeric",
            "fill": 1.7,
            "indicator": False,
            "mean": 1.7,
            "std": 0.1,
        },
        {"name": "color", "dtype": "object", "role": "categorical", "categories": ["blue", "red"]},
    ],
    "dropped": [{"name": "id", "reason": "identifier"}],
    "target": {"name": "y", "classes": ["a", "b"]},
}


def _model(prep: dict[str, Any], task: str = "classification") -> LoadedModel:
    cfg = {"task": task, "data": {"kind": prep["kind"], "lookback": 4, "horizon": 2},
           "model": {"input_shape": prep["input_shape"], "output_dim": 2}}  # fmt: skip
    return LoadedModel(ModelRef("m@champion", "models:/m@champion"), Path("."), cfg, prep, None)


def _error(model: LoadedModel, frame: Any) -> str:
    with pytest.raises(InvalidInputError) as info:
        model.check(frame, first_row=1, source="in.csv")
    return info.value.line()


@pytest.mark.unit
def test_checks_name_the_row_column_and_expectation() -> None:
    import pandas as pd

    m = _model(PREP)
    ok = pd.DataFrame({"id": [1, 2], "age": [30, None], "height": [1.8, 1.6],
                       "color": ["red", None]})  # fmt: skip
    assert list(m.check(ok)["age"].isna()) == [False, True]  # NaN allowed: training had some
    assert "missing column(s) 'color'" in _error(m, ok.drop(columns=["color"]))
    line = _error(m, ok.assign(color=["red", "green"]))
    assert "row 2, column 'color': unseen category 'green'" in line and "blue, red" in line
    line = _error(m, ok.assign(height=["1.8", "tall"]))
    assert "row 2, column 'height': 'tall' is not a number" in line
    line = _error(m, ok.assign(height=[1.8, None]))
    assert "row 2, column 'height': missing value" in line and "had none" in line
    assert m.identifier_columns() == ["id"] and m.categorical_columns() == ["color"]

    image = {**PREP, "kind": "image", "input_shape": [1, 2, 2],
             "columns": [{"name": f"pixel_{i}", "role": "numeric"} for i in range(4)]}  # fmt: skip
    line = _error(_model(image), pd.DataFrame({"pixel_0": [1], "pixel_1": [2]}))
    assert "wrong size" in line and "4 pixel columns" in line and "1x2x2" in line

    series = {**PREP, "kind": "series", "input_shape": [4, 1], "columns": [],
              "series": {"column": "value", "lookback": 4, "horizon": 2}}  # fmt: skip
    line = _error(_model(series, "forecasting"), pd.DataFrame({"value": [1.0, 2.0, 3.0]}))
    assert "3 values is shorter than the model's window (lookback 4)" in line


@pytest.mark.unit
def test_model_references() -> None:
    assert parse_ref("iris@champion")[0] == "models:/iris@champion"
    assert parse_ref("iris/3")[:3] == ("models:/iris/3", "iris", "3")
    assert parse_ref("models:/m-abc123")[0] == "models:/m-abc123"
    with pytest.raises(InvalidInputError):
        parse_ref("no such thing!")


@pytest.fixture(scope="module")
def sunspots_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = build_registered(tmp_path_factory.mktemp("sun"), "mlp", "sunspots")
    import statsmodels.api as sm

    # the logged model names the series column of a bundled data set "value" (CONTRACTS.md)
    series = sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"]
    series.rename("value").to_frame().to_csv(root / "sunspots.csv", index=False)
    return root


@pytest.mark.integration
def test_forecast_next_h_on_bundled_series(sunspots_store: Path) -> None:
    import pandas as pd

    proc = mlflowctl(
        "forecast", "test-model@champion", "--input", "sunspots.csv", "--horizon", "5",
        "--output", "f.csv", cwd=sunspots_store,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = pd.read_csv(sunspots_store / "f.csv")
    assert list(out["step"]) == [1, 2, 3, 4, 5] and out["forecast"].notna().all()
    # a column the model does not read (a row note) is left out, not warned about by MLflow
    hist = pd.read_csv(sunspots_store / "sunspots.csv").assign(note="checked")
    hist.to_csv(sunspots_store / "noted.csv", index=False)
    proc = mlflowctl(
        "forecast", "test-model@champion", "--input", "noted.csv", "--horizon", "5",
        "--output", "g.csv", cwd=sunspots_store,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" not in proc.stderr and "extra inputs" not in proc.stderr, proc.stderr
    assert pd.read_csv(sunspots_store / "g.csv")["forecast"].tolist() == out["forecast"].tolist()

    (sunspots_store / "short.csv").write_text("value\n5\n11\n")
    proc = mlflowctl("forecast", "test-model@champion", "--input", "short.csv", cwd=sunspots_store)
    assert proc.returncode == 2 and "shorter than the model's window" in proc.stderr
    proc = mlflowctl("predict", "test-model@champion", "--input", "short.csv", cwd=sunspots_store)
    assert proc.returncode == 2 and "mlflowctl forecast" in proc.stderr
