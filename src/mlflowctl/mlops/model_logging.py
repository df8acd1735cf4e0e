"""Log a rendered project's model to MLflow without pickle.

``mlflow.pytorch``'s ``pt2`` format traces one input shape and fails on some families; a pickled
module needs ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION``. Instead the model is an MLflow "model from
code" (``pyfunc_model.py``) carrying the project's ``model.py``, ``config.yaml`` and safetensors
weights: the same recipe the rendered project documents, and it loads with pickle disabled.
The logged model is created through the client API so no fluent (global) run is ever started.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
import warnings
from pathlib import Path
from typing import Any

from mlflowctl.errors import TrainingError
from mlflowctl.mlops.input_checks import model_input_dtype

PIP_REQUIREMENTS = ["mlflow", "torch", "safetensors", "pyyaml", "numpy", "pandas"]


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


def _artifacts(root: Path, weights: Path) -> dict[str, str]:
    """What the logged model carries; preprocessing only when the project wrote it."""
    artifacts = {
        "model_py": str(root / "model.py"),
        "config": str(root / "config.yaml"),
        "weights": str(weights),
    }
    prep_json = root / "outputs" / "preprocessing.json"
    if prep_json.is_file() and (root / "preprocessing.py").is_file():
        artifacts["preprocessing_py"] = str(root / "preprocessing.py")
        artifacts["preprocessing"] = str(prep_json)
    test_inputs = root / "outputs" / "test_inputs.npz"
    if test_inputs.is_file():  # the export's parity check runs on these test-split rows
        artifacts["test_inputs"] = str(test_inputs)
    reference = root / "outputs" / "reference_profile.json"
    if reference.is_file():  # what `mlflowctl monitor` compares new data with
        artifacts["reference_profile"] = str(reference)
    return artifacts


def _kind(artifacts: dict[str, str]) -> str | None:
    """preprocessing.json's ``kind`` (tabular, image, series), None without one."""
    if "preprocessing" not in artifacts:
        return None
    doc = json.loads(Path(artifacts["preprocessing"]).read_text(encoding="utf-8"))
    return str(doc.get("kind")) if doc.get("kind") else None


def raw_input_example(root: Path) -> Any:
    """``outputs/input_example.json`` as a DataFrame typed like the training columns.

    Numeric feature columns keep their training dtype (integers stay integers: MLflow will not
    read int64 input as float64), categorical ones become text (object): the signature MLflow
    infers from it names every column and its type.
    """
    import json

    import pandas as pd

    doc = json.loads((root / "outputs" / "input_example.json").read_text(encoding="utf-8"))
    spec = json.loads((root / "outputs" / "preprocessing.json").read_text(encoding="utf-8"))
    frame = pd.DataFrame(doc["data"], columns=doc["columns"])
    roles = {c["name"]: c.get("role") for c in spec.get("columns", [])}
    dtypes = {c["name"]: str(c.get("dtype", "float64")) for c in spec.get("columns", [])}
    series = spec.get("series") or {}
    for name in frame.columns:
        role = roles.get(name)
        if role == "categorical" or name == series.get("time_column"):
            col = frame[name]
            frame[name] = col.map(lambda v: None if v is None else str(v)).astype(object)
        else:
            frame[name] = frame[name].astype(model_input_dtype(dtypes.get(name, "float64")))
    return frame


def log_pickle_free_model(
    client: Any, experiment_id: str, run_id: str, root: Path, weights: Path
) -> str:
    """Save the pyfunc locally, upload it as a READY LoggedModel; returns ``models:/<id>``.

    With ``outputs/preprocessing.json`` the model takes raw rows (a DataFrame) and its signature
    names the columns and types (docs/CONTRACTS.md "The logged model"); a project trained before
    that file existed logs the tensor-in, tensor-out model.
    """
    from mlflow.models import infer_signature

    for needed in (root / "model.py", root / "config.yaml", weights):
        if not needed.is_file():
            raise TrainingError(
                "the trained project lacks a file the model needs",
                hint="train the project to the end first (mlflowctl build)",
                location=str(needed),
            )
    artifacts = _artifacts(root, weights)
    example, prediction = described_example(root, artifacts)
    if prediction is None:  # a project trained before output_example.json: rebuild the model
        example, prediction = _predicted_example(root, artifacts)
    with warnings.catch_warnings():  # integer columns are kept integers on purpose (see above)
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        signature = infer_signature(example, prediction)
    if _kind(artifacts) == "image":  # pixel columns or (N, H, W)/(N, H*W) arrays: the model checks
        from mlflow.models import ModelSignature

        signature = ModelSignature(inputs=None, outputs=signature.outputs)
    return _upload(
        client,
        experiment_id,
        run_id,
        ("model", "pytorch-pyfunc", PIP_REQUIREMENTS),
        artifacts,
        (example, signature),
    )


def _upload(
    client: Any,
    experiment_id: str,
    run_id: str,
    what: tuple[str, str, list[str]],
    artifacts: dict[str, str],
    described: tuple[Any, Any],
) -> str:
    """Save the pyfunc (``pyfunc_model.py`` + ``artifacts``) locally and upload it as a READY
    LoggedModel of ``run_id`` named ``what[0]``; returns ``models:/<id>``."""
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus
    from mlflow.pyfunc import save_model

    name, model_type, requirements = what
    example, signature = described
    code = Path(__file__).with_name("pyfunc_model.py")
    logged = client.create_logged_model(
        experiment_id, name=name, source_run_id=run_id, model_type=model_type
    )
    try:
        with tempfile.TemporaryDirectory(prefix="mlflowctl-model-") as tmp:
            local = Path(tmp, "model")
            save_model(
                path=str(local),
                python_model=str(code),
                artifacts=artifacts,
                signature=signature,
                input_example=example,
                pip_requirements=requirements,
            )
            client.log_model_artifacts(logged.model_id, str(local))
    except BaseException:
        client.finalize_logged_model(logged.model_id, LoggedModelStatus.FAILED)
        raise
    client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
    client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=0)])
    return f"models:/{logged.model_id}"


def baseline_digest(folder: Path) -> str:
    """sha256 over a baseline's fitted content (``baseline.json``, then ``model.skops`` if any):
    ``registry verify`` recomputes it, and a retrain fitting the same baseline ties the champion.
    A skops file is a zip whose member names, object ids and timestamps change with every dump
    of the same estimator, so it is hashed canonically: its schema with ids renumbered in
    document order and each array file replaced by the hash of its bytes."""
    import hashlib

    h = hashlib.sha256()
    if (folder / "baseline.json").is_file():
        h.update((folder / "baseline.json").read_bytes())
    if (folder / "model.skops").is_file():
        h.update(_skops_canonical(folder / "model.skops"))
    return h.hexdigest()


def _skops_canonical(path: Path) -> bytes:
    import hashlib
    import zipfile

    with zipfile.ZipFile(path) as z:
        files = {n: hashlib.sha256(z.read(n)).hexdigest() for n in z.namelist()}
        schema = json.loads(z.read("schema.json"))
    ids: dict[Any, int] = {}

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "__id__":
                    value = ids.setdefault(value, len(ids))
                elif key == "file" and isinstance(value, str) and value in files:
                    value = files[value]
                out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return json.dumps(walk(schema), sort_keys=True).encode()


BASELINE_REQUIREMENTS = ["mlflow", "scikit-learn", "skops", "numpy", "pandas", "pyyaml"]


def baseline_artifacts(root: Path) -> dict[str, str] | None:
    """What a registered baseline carries (``outputs/baseline/`` of the build, its
    ``baselines.py`` and the fitted preprocessing), or None when the build saved none."""
    folder, out = root / "outputs" / "baseline", root / "outputs"
    needed = [folder / "baseline.json", root / "baselines.py", root / "preprocessing.py"]
    needed += [out / "preprocessing.json", root / "config.yaml"]
    if not all(path.is_file() for path in needed):
        return None
    artifacts = {  # config.yaml: what predict/serve/monitor read about any mlflowctl model
        "config": str(root / "config.yaml"),
        "baseline": str(folder / "baseline.json"),
        "baselines_py": str(root / "baselines.py"),
        "preprocessing_py": str(root / "preprocessing.py"),
        "preprocessing": str(out / "preprocessing.json"),
    }
    if (folder / "model.skops").is_file():
        artifacts["baseline_model"] = str(folder / "model.skops")
    if (out / "reference_profile.json").is_file():  # `mlflowctl monitor` compares with it
        artifacts["reference_profile"] = str(out / "reference_profile.json")
    return artifacts


def log_baseline_model(
    client: Any, experiment_id: str, run_id: str, root: Path, artifacts: dict[str, str]
) -> str:
    """Log the build's saved best baseline as a second model of its run (``baseline-model``):
    raw rows in, the network's output columns out. Returns ``models:/<id>``."""
    from mlflow.models import ModelSignature, infer_signature

    from mlflowctl.mlops.pyfunc_model import BaselinePredictor

    example = raw_input_example(root)
    prediction = BaselinePredictor(artifacts).predict(example)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        signature = infer_signature(example, prediction)
    if _kind(artifacts) == "image":
        signature = ModelSignature(inputs=None, outputs=signature.outputs)
    what = ("baseline-model", "sklearn-pyfunc", BASELINE_REQUIREMENTS)
    return _upload(client, experiment_id, run_id, what, artifacts, (example, signature))


def described_example(root: Path, artifacts: dict[str, str]) -> tuple[Any, Any]:
    """The input example and the model's prediction for it, read from the files the training
    wrote (``input_example.json`` + ``output_example.json``, written by the project's own
    ``predict.py`` from the saved weights): no torch in this process. ``(None, None)`` for a
    project that predates them."""
    out = root / "outputs"
    if "preprocessing" not in artifacts or not (out / "input_example.json").is_file():
        return None, None
    if not (out / "output_example.json").is_file():
        return None, None
    import io

    import pandas as pd

    text = (out / "output_example.json").read_text(encoding="utf-8")
    return raw_input_example(root), pd.read_json(io.StringIO(text), orient="table")


def _predicted_example(root: Path, artifacts: dict[str, str]) -> tuple[Any, Any]:
    """The older way: rebuild the model here (imports torch) and predict the example."""
    import numpy as np

    from mlflowctl.mlops.pyfunc_model import ProjectPredictor

    predictor = ProjectPredictor(artifacts)
    example: Any
    if "preprocessing" in artifacts and (root / "outputs" / "input_example.json").is_file():
        example = raw_input_example(root)
    else:
        example_path = root / "outputs" / "input_example.npy"
        if not example_path.is_file():
            raise TrainingError(
                "the trained project lacks a file the model needs",
                hint="train the project to the end first (mlflowctl build)",
                location=str(example_path),
            )
        example = np.load(example_path, allow_pickle=False).astype(np.float32)
    return example, predictor.predict(example)


def warm_up() -> None:
    """Import and cache what ``log_pickle_free_model`` needs (MLflow's pyfunc saving, pandas,
    its installed-packages map) while the training still runs, so logging after it is quick."""
    import contextlib

    import mlflow.models
    import mlflow.pyfunc  # noqa: F401
    import pandas  # noqa: F401

    with contextlib.suppress(Exception):  # a private cache of MLflow's: only an optimisation
        from mlflow.utils.requirements_utils import _init_packages_to_modules_map

        _init_packages_to_modules_map()  # type: ignore[no-untyped-call]


def weights_artifact_uri(client: Any, model_id: str) -> str:
    """Where a logged model's weights file lives in the artifact store."""
    logged = client.get_logged_model(model_id)
    return f"{logged.artifact_location.rstrip('/')}/artifacts/weights.safetensors"
