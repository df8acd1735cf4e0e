"""Log a rendered project's model to MLflow without pickle.

``mlflow.pytorch``'s ``pt2`` format traces one input shape and fails on some families; a pickled
module needs ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION``. Instead the model is an MLflow "model from
code" (``pyfunc_model.py``) carrying the project's ``model.py``, ``config.yaml`` and safetensors
weights: the same recipe the rendered project documents, and it loads with pickle disabled.
The logged model is created through the client API so no fluent (global) run is ever started.
"""

from __future__ import annotations

import importlib.util
import tempfile
import warnings
from pathlib import Path
from typing import Any

from mlflowctl.errors import TrainingError

PIP_REQUIREMENTS = ["mlflow", "torch", "safetensors", "pyyaml", "numpy"]


def load_project_model(root: Path, weights: Path) -> Any:
    """``build_model(cfg)`` from the project with the weights loaded (CONTRACTS.md recipe)."""
    import yaml
    from safetensors.torch import load_file

    spec = importlib.util.spec_from_file_location(f"mlflowctl_model_{id(root)}", root / "model.py")
    if spec is None or spec.loader is None:
        raise TrainingError("cannot import model.py", location=str(root / "model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cfg = yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))
    model = module.build_model(cfg)
    model.load_state_dict(load_file(str(weights)))
    model.eval()
    return model


def log_pickle_free_model(
    client: Any, experiment_id: str, run_id: str, root: Path, weights: Path
) -> str:
    """Save the pyfunc locally, upload it as a READY LoggedModel; returns ``models:/<id>``."""
    import numpy as np
    import torch
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus
    from mlflow.models import infer_signature
    from mlflow.pyfunc import save_model

    example_path = root / "outputs" / "input_example.npy"
    for needed in (root / "model.py", root / "config.yaml", weights, example_path):
        if not needed.is_file():
            raise TrainingError(
                "the trained project lacks a file the model needs",
                hint="train the project to the end first (mlflowctl build)",
                location=str(needed),
            )
    example = np.load(example_path, allow_pickle=False).astype(np.float32)
    model = load_project_model(root, weights)
    with torch.no_grad():
        prediction = model(torch.from_numpy(example)).cpu().numpy()
    signature = infer_signature(example, prediction)
    code = Path(__file__).with_name("pyfunc_model.py")
    logged = client.create_logged_model(
        experiment_id, name="model", source_run_id=run_id, model_type="pytorch-pyfunc"
    )
    try:
        with tempfile.TemporaryDirectory(prefix="mlflowctl-model-") as tmp:
            local = Path(tmp, "model")
            with warnings.catch_warnings():  # "add type hints": deliberately absent (no schema)
                warnings.simplefilter("ignore", UserWarning)
                save_model(
                    path=str(local),
                    python_model=str(code),
                    artifacts={
                        "model_py": str(root / "model.py"),
                        "config": str(root / "config.yaml"),
                        "weights": str(weights),
                    },
                    signature=signature,
                    input_example=example,
                    pip_requirements=PIP_REQUIREMENTS,
                )
            client.log_model_artifacts(logged.model_id, str(local))
    except BaseException:
        client.finalize_logged_model(logged.model_id, LoggedModelStatus.FAILED)
        raise
    client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
    client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=0)])
    return f"models:/{logged.model_id}"


def weights_artifact_uri(client: Any, model_id: str) -> str:
    """Where a logged model's weights file lives in the artifact store."""
    logged = client.get_logged_model(model_id)
    return f"{logged.artifact_location.rstrip('/')}/artifacts/weights.safetensors"
