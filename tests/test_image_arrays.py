"""Image models take the images as people have them: numpy arrays (N, 8, 8) or (N, 64) in the
original value range (0-16 for sklearn digits), through ``mlflow.pyfunc.load_model(...).predict``
and through ``mlflowctl predict --input images.npy`` (issue 13 item 1)."""

from __future__ import annotations

import json
from collections.abc import Callable
from subprocess import CompletedProcess
from typing import Any

import numpy as np
import pytest
from blueprints import make_blueprint

pytestmark = pytest.mark.integration

Cli = Callable[..., CompletedProcess[str]]


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from cli_helpers import run_cli

    root = tmp_path_factory.mktemp("digits")
    (root / "bp.json").write_text(make_blueprint("cnn", "digits_image").model_dump_json())
    done = run_cli(root, "build", "bp.json", "--out", "b", "--max-epochs", "2")
    assert done.returncode in (0, 8), done.stderr[-3000:]  # 8: two epochs may not pass the gate
    out = root / "b" / "outputs"
    prep = json.loads((out / "preprocessing.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    return {"root": root, "test": prep["split"]["test_index"], "accuracy": metrics["test_accuracy"]}


def test_pyfunc_takes_raw_digit_arrays_with_the_reported_accuracy(
    digits: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.pyfunc
    from sklearn.datasets import load_digits

    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{digits['root'] / 'mlflow.db'}")
    bunch = load_digits()
    images, truth = bunch.images[digits["test"]], bunch.target[digits["test"]]
    assert images.shape[1:] == (8, 8) and images.max() == 16  # the original value range
    model = mlflow.pyfunc.load_model("models:/test-model/1")
    for array in (images, images.reshape(len(images), 64)):
        out = model.predict(array)
        accuracy = float((out["prediction"].astype(int).to_numpy() == truth).mean())
        assert accuracy == pytest.approx(digits["accuracy"], abs=0.01)
        assert list(out.columns) == ["prediction", *[f"proba_{c}" for c in range(10)]]
    with pytest.raises(Exception, match="64 pixels"):
        model.predict(images[:, :4, :])


@pytest.mark.heavy
def test_predict_reads_a_npy_of_images(digits: dict[str, Any], cli: Cli) -> None:
    from sklearn.datasets import load_digits

    root = digits["root"]
    bunch = load_digits()
    np.save(root / "images.npy", bunch.images[digits["test"]])
    done = cli("predict", "test-model/1", "--input", "images.npy", "--output", "p.csv", cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    import pandas as pd

    out = pd.read_csv(root / "p.csv")
    assert list(out["row"]) == list(range(1, len(digits["test"]) + 1))
    accuracy = float((out["prediction"].to_numpy() == bunch.target[digits["test"]]).mean())
    assert accuracy == pytest.approx(digits["accuracy"], abs=0.01)

    np.save(root / "wrong.npy", np.zeros((3, 7, 7)))
    bad = cli("predict", "test-model/1", "--input", "wrong.npy", "--output", "w.csv", cwd=root)
    assert bad.returncode == 2, bad.stderr
    errors = [ln for ln in bad.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "(3, 7, 7)" in errors[0] and "wrong.npy" in bad.stderr
    assert not (root / "w.csv").exists()
