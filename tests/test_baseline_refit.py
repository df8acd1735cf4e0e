"""Tabular baselines are scored on validation from a training-split fit (where the gate compares
them with the network) and refitted on training + validation for the test split and the model
they save, as the series baselines are (issue 14 item 7); the rendered ``baselines.py`` is run
on a split where the validation rows move the decision boundary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from blueprints import make_blueprint
from rendered import import_rendered

from mlflowctl.build import render

pytestmark = pytest.mark.unit


def test_validation_scores_a_training_fit_and_test_a_training_plus_validation_fit(
    tmp_path: Path,
) -> None:
    files = render.render(make_blueprint("mlp", "breast_cancer"))
    baselines = import_rendered(tmp_path, {"baselines.py": files["baselines.py"]}, "baselines.py")
    x_train = np.r_[np.linspace(-1.0, -0.5, 20), np.linspace(0.5, 1.0, 20)].reshape(-1, 1)
    y_train = np.r_[np.zeros(20), np.ones(20)].astype(int)
    x_val = np.linspace(0.0, 0.45, 40).reshape(-1, 1)  # class 0 up to 0.45: the boundary moves
    y_val = np.zeros(40, dtype=int)
    probe = np.array([[0.2]])
    splits = {
        "x_train": x_train, "y_train": y_train, "x_val": probe, "y_val": np.array([0]),
        "x_test": probe, "y_test": np.array([0]), "classes": ["a", "b"],
    }  # fmt: skip
    alone = baselines._tabular("logistic_regression", "classification", splits, 0)
    assert alone.outputs["val"][0, 1] > 0.5  # from the training rows only, 0.2 looks like b
    splits["x_val"], splits["y_val"] = np.r_[probe, x_val], np.r_[0, y_val]
    fitted = baselines._tabular("logistic_regression", "classification", splits, 0)
    assert fitted.outputs["val"][0, 1] == pytest.approx(alone.outputs["val"][0, 1])
    assert fitted.outputs["test"][0, 1] < 0.5  # the refit saw the validation rows
    assert fitted.state.predict(probe)[0] == 0  # and the saved model is the refit
