"""The MLflow "models from code" loader logged with every mlflowctl model.

MLflow copies this file into the logged model and runs it at load time, so loading never
unpickles anything (it works with ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false``): the model is
rebuilt from the rendered project's ``model.py`` + ``config.yaml`` and its safetensors weights.
It must stay self-contained: the loading side may not have mlflowctl installed.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import mlflow


class RenderedProjectModel(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
    """``build_model(cfg)`` from the project's ``model.py`` with its safetensors state dict."""

    # predict has no type hints on purpose (MLflow would read them as the input schema); this
    # MLflow switch skips its type-hint inspection, and with it the "add type hints" warning
    _skip_type_hint_validation = True

    def load_context(self, context: Any) -> None:
        import torch
        import yaml
        from safetensors.torch import load_file

        spec = importlib.util.spec_from_file_location(
            "mlflowctl_logged_model", context.artifacts["model_py"]
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        with open(context.artifacts["config"], encoding="utf-8") as fh:
            cfg = yaml.safe_load(fh)
        model = module.build_model(cfg)
        model.load_state_dict(load_file(context.artifacts["weights"]))
        model.eval()
        self._model = model
        self._torch = torch

    # no type hints: MLflow would read them as a (wrong) input schema
    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        import numpy as np

        torch = self._torch
        x = torch.as_tensor(np.asarray(model_input, dtype=np.float32))
        with torch.no_grad():
            return self._model(x).cpu().numpy()


mlflow.models.set_model(RenderedProjectModel())
