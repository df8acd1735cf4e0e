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
            prep_module = _import(
                f"mlflowctl_preprocessing_{id(self)}", artifacts["preprocessing_py"]
            )
            spec = json.loads(Path(artifacts["preprocessing"]).read_text(encoding="utf-8"))
            self.prep = prep_module.Preprocessor(spec)

    def raw_outputs(self, x: Any) -> Any:
        import numpy as np

        with self.torch.no_grad():
            tensor = self.torch.as_tensor(np.asarray(x, dtype=np.float32))
            return self.model(tensor).float().cpu().numpy()

    def predict(self, model_input: Any) -> Any:
        if self.prep is None:  # a model logged before preprocessing.json existed
            return self.raw_outputs(model_input)
        return self.prep.decode(self.raw_outputs(self.prep.transform(model_input)), model_input)


class RenderedProjectModel(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
    """``build_model(cfg)`` + safetensors weights behind the project's fitted preprocessing."""

    def load_context(self, context: Any) -> None:
        self._predictor = ProjectPredictor(dict(context.artifacts))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        result: pd.DataFrame = self._predictor.predict(model_input)
        return result


if __name__ != "mlflowctl.mlops.pyfunc_model":  # only when MLflow loads this file as the model
    mlflow.models.set_model(RenderedProjectModel())
