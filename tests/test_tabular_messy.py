"""Tabular data as people have it (issue 13 items 2 and 3): text categories, missing values, an
id and a constant column train, register and predict end to end from raw rows; ``--target`` is
required at design and is part of the blueprint id; a blueprint designed without data is
re-shaped from the data at build."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from rendered import import_rendered
from test_usable_model import isolated, preprocessing_of, run_pipeline, version_uri

pytestmark = pytest.mark.integration

CLI = Callable[..., subprocess.CompletedProcess[str]]
ROOT = Path(__file__).resolve().parent.parent


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location("messy_csv", ROOT / "benchmarks" / "messy_csv.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_messy_csv_trains_registers_and_predicts_raw_rows(cli: CLI, tmp_path: Path) -> None:
    frame = _bench().messy_frame(400)
    frame.to_csv(tmp_path / "customers.csv", index=False)
    summary = run_pipeline(
        cli,
        tmp_path,
        "predict customer churn",
        "--data",
        "customers.csv",
        "--target",
        "churn",
        "--max-epochs",
        "3",
    )
    spec = preprocessing_of(tmp_path)
    assert {d["name"]: d["reason"] for d in spec["dropped"]} == {
        "customer_id": "identifier",
        "country": "constant",
    }
    assert "tenure=<missing>" in spec["features"] and "region=<unknown>" in spec["features"]
    blueprint = yaml.safe_load(next(tmp_path.glob("wd/**/blueprint.yaml")).read_text())
    notes = " ".join(blueprint["data_profile"]["notes"])
    assert "identifier-like columns: customer_id" in notes and "constant columns: country" in notes
    proc = isolated(
        tmp_path,
        """
        raw = pd.read_csv("customers.csv").iloc[ARGS["test"]]
        truth = raw.pop("churn").to_numpy()
        assert raw["tenure"].isna().any() and raw["region"].isna().any()
        model = mlflow.pyfunc.load_model(ARGS["uri"])
        out = model.predict(raw)
        odd = raw.head(2).copy()
        odd["region"] = ["atlantis", None]          # unseen and missing -> the unknown bucket
        odd_out = model.predict(odd.drop(columns=["customer_id", "country"]))
        bad = raw.head(2).copy().astype({"tenure": object})
        bad["tenure"] = ["long", "short"]
        try:
            model.predict(bad)
            wrong = "no error"
        except Exception as exc:
            wrong = str(exc)
        print(json.dumps({"accuracy": float((out["prediction"].to_numpy() == truth).mean()),
                          "odd": odd_out["prediction"].tolist(), "columns": list(out.columns),
                          "wrong": wrong}))
        """,
        {"test": spec["split"]["test_index"], "uri": version_uri(summary)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["accuracy"] == pytest.approx(summary["metrics"]["test_accuracy"], abs=1e-9)
    assert result["columns"] == ["prediction", "proba_no", "proba_yes"]
    assert set(result["odd"]) <= {"no", "yes"} and len(result["odd"]) == 2
    assert "tenure" in result["wrong"]
    # the same rows as a user has them, through the CLI: `calls` is a whole-number column (the
    # logged signature keeps it int64), `customer_id` the identifier training dropped (the key)
    raw = pd.read_csv(tmp_path / "customers.csv").iloc[spec["split"]["test_index"]]
    raw.drop(columns=["churn"]).to_csv(tmp_path / "new.csv", index=False)
    model = f"{summary['model_name']}/{summary['model_version']}"
    proc = cli("predict", model, "--input", "new.csv", "--output", "pred.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Found extra inputs" not in proc.stderr  # key columns never reach the model
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert list(pred.columns) == ["customer_id", "prediction", "proba_no", "proba_yes"]
    assert pred["customer_id"].tolist() == raw["customer_id"].tolist()
    accuracy = float((pred["prediction"].to_numpy() == raw["churn"].to_numpy()).mean())
    assert accuracy == pytest.approx(summary["metrics"]["test_accuracy"], abs=1e-9)
    raw.head(1).assign(calls=2.5).drop(columns=["churn"]).to_csv(tmp_path / "frac.csv", index=False)
    proc = cli("predict", model, "--input", "frac.csv", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "column 'calls': '2.5' is not a whole number" in proc.stderr


def test_design_refuses_a_table_without_target_and_ids_differ_by_target(
    cli: CLI, tmp_path: Path
) -> None:
    _bench().messy_frame(100).to_csv(tmp_path / "customers.csv", index=False)
    proc = cli("design", "predict customer churn", "--data", "customers.csv", "--json")
    assert proc.returncode == 2
    error = json.loads(proc.stdout)
    assert error["location"] == "--target"
    assert "customer_id, plan, region" in error["message"]
    assert proc.stderr.count("error:") == 1
    ids = []
    for target in ("churn", "calls"):
        out = cli("design", "predict it", "--data", "customers.csv", "--target", target, "--json")
        assert out.returncode == 0, out.stderr
        ids.append(json.loads(out.stdout)["provenance"]["blueprint_id"])
    assert ids[0] != ids[1]


def test_blueprint_designed_without_data_is_reshaped_from_the_data_at_build(
    cli: CLI, tmp_path: Path
) -> None:
    designed = cli("design", "classify tumours as malignant or benign", "-o", "bp.yaml")
    assert designed.returncode == 0, designed.stderr
    bp = yaml.safe_load((tmp_path / "bp.yaml").read_text())
    assert bp["approaches"][0]["model"]["input"]["shape"] != [30]  # a guess without data
    built = cli(
        "build", "bp.yaml", "--data", "sklearn:breast_cancer", "--out", "proj",
        "--no-track", "--max-epochs", "1",
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    cfg = yaml.safe_load((tmp_path / "proj" / "config.yaml").read_text())
    assert cfg["model"]["input_shape"] == [30] and cfg["model"]["output_dim"] == 2
    assert (tmp_path / "proj" / "outputs" / "preprocessing.json").is_file()


def test_forecasting_blueprint_on_a_plain_table_exits_2_before_writing(
    cli: CLI, tmp_path: Path
) -> None:
    _bench().messy_frame(100).to_csv(tmp_path / "customers.csv", index=False)
    assert cli("design", "forecast sunspots 6 steps", "-o", "bp.yaml").returncode == 0
    proc = cli("build", "bp.yaml", "--data", "customers.csv", "--out", "proj", "--no-track")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("error:") == 1 and "customers.csv" in proc.stderr
    assert not (tmp_path / "proj").exists()


@pytest.mark.slow
def test_messy_csv_benchmark_meets_hgb_minus_two_points() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "messy_csv.py"), "--json"],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["meets_target"], result
    assert result["mlflowctl_test_accuracy"] >= result["hgb_test_accuracy"] - 0.02


def _rendered_data(tmp_path: Path, files: dict[str, str]) -> Any:
    wanted = {n: files[n] for n in ("preprocessing.py", "data.py")}
    return import_rendered(tmp_path, wanted, "data.py")


@pytest.mark.parametrize(
    "dataset", ["iris", "wine", "breast_cancer", "diabetes", "digits", "sunspots", "messy"]
)
def test_rendered_data_py_and_mlflowctl_data_agree(
    dataset: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One implementation: the columns, splits and arrays of the rendered data.py equal what
    mlflowctl's loaders and ``data.layout`` (the shared preprocessing.py) compute."""
    import numpy as np
    from blueprints import make_blueprint

    from mlflowctl.build import render
    from mlflowctl.data.layout import split_train, tabular_layout
    from mlflowctl.data.loaders import load

    monkeypatch.chdir(tmp_path)
    if dataset == "messy":
        _bench().messy_frame(300).to_csv(tmp_path / "customers.csv", index=False)
        bp = make_blueprint("mlp", "breast_cancer")
        bp.requirements.data_source = str(tmp_path / "customers.csv")
        bp.requirements.target = "churn"
        files = render.render(bp, data=str(tmp_path / "customers.csv"))
        source, target = str(tmp_path / "customers.csv"), "churn"
    else:
        bp = make_blueprint("lstm" if dataset == "sunspots" else "mlp", dataset)
        files = render.render(bp)
        source, target = bp.requirements.data_source or "", None
    cfg = yaml.safe_load(files["config.yaml"])
    splits = _rendered_data(tmp_path, files).load_splits(cfg)
    loaded = load(source, target)
    if dataset == "sunspots":
        assert loaded.series is not None
        assert np.allclose(splits["series"], loaded.series, atol=1e-4)
        return
    training = cfg["training"]
    layout = tabular_layout(
        source,
        target,
        cfg["task"],
        seed=training["seed"],
        val=training["val_fraction"],
        test=training["test_fraction"],
    )
    spec = splits["preprocessing"]
    assert spec["features"] == layout.features
    assert len(spec["features"]) == layout.n_features == cfg["model"]["input_shape"][0]
    assert spec["dropped"] == layout.dropped
    y = loaded.y
    assert y is not None
    train = split_train(
        len(y),
        y,
        seed=training["seed"],
        val=training["val_fraction"],
        test=training["test_fraction"],
        stratify=cfg["task"] == "classification",
    )
    assert np.array_equal(splits["index_train"], train)
    n = sum(len(splits[f"y_{k}"]) for k in ("train", "val", "test"))
    assert n == loaded.n_rows
    if cfg["task"] == "classification":
        assert np.array_equal(splits["y_train"], y[train])
        assert len(splits["classes"]) == len(loaded.class_names)
    else:
        assert np.allclose(splits["y_train"], y[train], atol=1e-3)
    if dataset != "messy":  # numeric built-ins: same raw values, same scaling on train rows
        kept = [loaded.feature_names.index(f) for f in layout.features]
        raw = loaded.X.reshape(loaded.n_rows, -1)[:, kept]
        mean, std = raw[train].mean(axis=0), raw[train].std(axis=0)
        expected = (raw - mean) / np.where(std > 0, std, 1.0)
        assert np.allclose(splits["x_train"].reshape(len(train), -1), expected[train], atol=1e-3)


def test_series_covariates_are_reported_not_silently_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np
    import pandas as pd

    from mlflowctl.data import profile

    monkeypatch.chdir(tmp_path)
    days = pd.date_range("2024-01-01", periods=60, freq="D")
    pd.DataFrame(
        {"day": days.strftime("%Y-%m-%d"), "load": np.arange(60.0), "temp": np.ones(60)}
    ).to_csv("power.csv", index=False)
    notes = " ".join(profile("power.csv", target="load").notes)
    assert "covariates not used: temp" in notes
