"""The MLflow "models from code" loader logged with every mlflowctl model.

MLflow copies this file into the logged model and runs it at load time, so loading never
unpickles anything (it works with ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false``): the model is
rebuilt from the rendered project's ``model.py`` + ``config.yaml`` and its safetensors weights,
and the rendered ``preprocessing.py`` applies ``outputs/preprocessing.json`` (fitted on the
training split) on the way in and out. Input and output are described in docs/CONTRACTS.md
("The logged model"): raw rows in, labels + ``proba_<class>`` / original units / the next
``horizon`` steps out. It must stay self-contained: the loading side may not have mlflowctl.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd


def _import(name: str, path: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _preprocessor(artifacts: dict[str, str], **decision: Any) -> Any:
    """The project's ``Preprocessor`` over the fitted ``preprocessing.json``; with ``threshold``
    (a baseline's own, tuned on validation like the network's), the tuned decision uses it."""
    spec = json.loads(Path(artifacts["preprocessing"]).read_text(encoding="utf-8"))
    if "threshold" in decision and spec.get("decision"):
        threshold = decision["threshold"]
        spec["decision"] = (
            None if threshold is None else {**spec["decision"], "threshold": threshold}
        )
    module = _import(f"mlflowctl_preprocessing_{id(spec)}", artifacts["preprocessing_py"])
    return module.Preprocessor(spec)


class ProjectPredictor:
    """The trained network with its fitted preprocessing; ``predict(raw) -> DataFrame``."""

    def __init__(self, artifacts: dict[str, str]) -> None:
        import torch
        import yaml
        from safetensors.torch import load_file

        module = _import(f"mlflowctl_logged_model_{id(self)}", artifacts["model_py"])
        cfg = yaml.safe_load(Path(artifacts["config"]).read_text(encoding="utf-8"))
        model = module.build_model(cfg)
        model.load_state_dict(load_file(artifacts["weights"]))
        model.eval()
        self.model, self.torch = model, torch
        self.prep: Any = None
        if "preprocessing" in artifacts and "preprocessing_py" in artifacts:
            self.prep = _preprocessor(artifacts)

    def raw_outputs(self, x: Any) -> Any:
        import numpy as np

        with self.torch.no_grad():
            tensor = self.torch.as_tensor(np.asarray(x, dtype=np.float32))
            return self.model(tensor).float().cpu().numpy()

    def predict(self, model_input: Any) -> Any:
        if self.prep is None:  # a model logged before preprocessing.json existed
            return self.raw_outputs(model_input)
        return self.prep.decode(self.raw_outputs(self.prep.transform(model_input)), model_input)


class BaselinePredictor:
    """The build's best classical baseline in the network's place (``--allow-baseline-champion``):
    the project's ``baselines.py`` replays it behind the same fitted preprocessing, and the
    output has the network's columns. No torch; scikit-learn estimators load through skops."""

    def __init__(self, artifacts: dict[str, str]) -> None:
        import numpy as np

        self.np = np
        self.base = _import(f"mlflowctl_baselines_{id(self)}", artifacts["baselines_py"])
        model_path = artifacts.get("baseline_model")
        self.doc, self.fitted = self.base.load_baseline(
            Path(artifacts["baseline"]), Path(model_path) if model_path else None
        )
        self.prep = _preprocessor(artifacts, threshold=self.doc.get("threshold"))

    def predict(self, model_input: Any) -> Any:
        np, spec, task = self.np, self.prep.spec, self.prep.task
        if self.prep.kind == "series":
            s = spec["series"]
            last = s.get("last_time")
            if isinstance(model_input, pd.DataFrame) and s.get("time_column") in model_input:
                last = pd.to_datetime(model_input[s["time_column"]]).max()
            origin = self.base.origin_of(self.doc, last, s.get("frequency"))
            history = self.prep.history(model_input)
            values = self.base.forecast_baseline(self.doc, self.fitted, history, origin)
            return self.prep.decode(((values - s["mean"]) / s["std"])[None, :], model_input)
        x = self.prep.transform(model_input)
        n_classes = len(spec["target"].get("classes") or []) if task == "classification" else 0
        out = self.base.predict_baseline(task, self.fitted, x, n_classes)
        if task == "classification":  # probabilities; decode takes logits (softmax of log p = p)
            return self.prep.decode(np.log(np.clip(out, 1e-300, None)), model_input)
        t = spec["target"]
        return self.prep.decode(((out - t["mean"]) / t["std"])[:, None], model_input)


def predictor(artifacts: dict[str, str]) -> Any:
    """The logged model's predictor: the trained network, or the baseline in its place."""
    return BaselinePredictor(artifacts) if "baseline" in artifacts else ProjectPredictor(artifacts)


class RenderedProjectModel(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
    """``build_model(cfg)`` + safetensors weights (or the registered baseline) behind the
    project's fitted preprocessing."""

    def load_context(self, context: Any) -> None:
        self._predictor = predictor(dict(context.artifacts))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        result: pd.DataFrame = self._predictor.predict(model_input)
        return result


if __name__ != "mlflowctl.mlops.pyfunc_model":  # only when MLflow loads this file as the model
    mlflow.models.set_model(RenderedProjectModel())
