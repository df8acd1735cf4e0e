"""``mlflowctl export --format onnx``: the network with its numeric scaling folded in, checked.

The exported graph is ``Folded``: ``(x - mean) / std`` as a first layer (the per-feature scaling
of ``preprocessing.json``: numeric columns for tabular data, one scalar for images, the series'
statistics for forecasting), the trained network, then ``y * std + mean`` for regression and
forecasting so outputs are in original units (classifiers output logits). Categorical one-hot
encoding and missing-value filling stay outside ONNX: the input is the ``features`` vector of
``preprocessing.json`` in raw units. Export uses ``torch.onnx.export(dynamo=True)`` (the
TorchScript exporter has no ``aten::diff``, which the recurrent families use) with a dynamic batch.

Parity: onnxruntime and PyTorch on the project's test rows (``test_inputs.npz``, saved at build
and logged with the model; seeded inputs for older models); the max absolute difference and the
number of rows are reported and the difference must be <= 1e-4 (float32). The file is logged as
an artifact of the version's run (``onnx/``) and the version gets tags pointing at it.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from pathlib import Path
from typing import Any

from mlflowctl.errors import CodegenError, InvalidInputError
from mlflowctl.mlops.inference import LoadedModel, artifact_path

TOLERANCE = 1e-4
N_SEEDED = 256
TAG_ONNX = "onnx_artifact"
TAG_ONNX_DIFF = "onnx_max_abs_diff"


def scaling(model: LoadedModel) -> dict[str, Any]:
    """Input and output affine maps to fold, and what stays outside the graph."""
    import numpy as np

    n = math.prod(model.input_shape)
    in_mean, in_std = np.zeros(n), np.ones(n)
    out_mean, out_std = 0.0, 1.0
    prep = model.prep
    outside: list[str] = []
    features: list[str] = []
    if prep is None:
        outside.append("none folded: the model was logged before preprocessing.json")
    elif model.kind == "image":
        img = prep.get("image") or {}
        in_mean[:], in_std[:] = float(img.get("mean", 0.0)), float(img.get("std", 1.0))
    elif model.kind == "series":
        s = prep.get("series") or {}
        in_mean[:], in_std[:] = float(s.get("mean", 0.0)), float(s.get("std", 1.0))
        out_mean, out_std = float(s.get("mean", 0.0)), float(s.get("std", 1.0))
    else:
        features = [str(f) for f in prep.get("features", [])]
        for c in prep.get("columns", []):
            if c.get("role") == "numeric" and c["name"] in features:
                i = features.index(c["name"])
                in_mean[i], in_std[i] = float(c.get("mean", 0.0)), float(c.get("std", 1.0) or 1.0)
            elif c.get("role") == "categorical":
                outside.append(f"one-hot encoding of {c['name']!r}")
        if any(c.get("indicator") for c in prep.get("columns", [])):
            outside.append("missing-value filling and <col>=<missing> indicators")
        target = prep.get("target") or {}
        if model.task == "regression" and "std" in target:
            out_mean, out_std = float(target.get("mean", 0.0)), float(target["std"])
    return {
        "in_mean": in_mean.reshape(model.input_shape),
        "in_std": in_std.reshape(model.input_shape),
        "out_mean": out_mean,
        "out_std": out_std,
        "features": features,
        "outside": outside,
    }


def _folded(net: Any, fold: dict[str, Any]) -> Any:
    import torch

    class Folded(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net
            self.register_buffer("in_mean", torch.tensor(fold["in_mean"], dtype=torch.float32))
            self.register_buffer("in_std", torch.tensor(fold["in_std"], dtype=torch.float32))
            self.out_mean, self.out_std = float(fold["out_mean"]), float(fold["out_std"])

        def forward(self, x: Any) -> Any:
            y = self.net((x - self.in_mean) / self.in_std)
            if self.out_mean != 0.0 or self.out_std != 1.0:
                y = y * self.out_std + self.out_mean
            return y

    return Folded().eval()


def load_network(model: LoadedModel) -> Any:
    """``build_model(cfg)`` from the logged ``model.py`` with the logged safetensors weights."""
    import importlib.util

    from safetensors.torch import load_file

    code, weights = artifact_path(model, "model_py"), artifact_path(model, "weights")
    if artifact_path(model, "baseline") is not None:
        raise InvalidInputError(
            f"{model.ref.text} is a classical baseline registered in the network's place "
            "(--allow-baseline-champion); ONNX export covers the trained networks",
            hint="serve or predict it with mlflowctl, or export a network version",
            location="MODEL",
        )
    if code is None or weights is None:
        raise InvalidInputError(
            f"{model.ref.text} has no model.py/weights artifacts",
            hint="export works on models that mlflowctl build registered",
            location="MODEL",
        )
    spec = importlib.util.spec_from_file_location(f"mlflowctl_export_{id(model)}", code)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net = module.build_model(model.cfg)
    net.load_state_dict(load_file(str(weights)))
    return net.eval()


def test_inputs(model: LoadedModel, fold: dict[str, Any]) -> tuple[Any, str]:
    """The inputs parity is checked on, in the graph's (raw) units, and where they come from.

    The project's own test rows when the model carries them (``test_inputs.npz``: the first test
    inputs, model-ready, saved at build and logged with the model; unscaled here with the same
    statistics the graph folds in), else seeded draws at the training scale (older models).
    """
    import numpy as np

    saved = artifact_path(model, "test_inputs")
    if saved is not None and saved.is_file():
        with np.load(saved, allow_pickle=False) as arrays:
            x = np.asarray(arrays["x"], dtype=np.float64).reshape(-1, *model.input_shape)
        if len(x):
            raw = x * fold["in_std"] + fold["in_mean"]
            return raw.astype(np.float32), f"{len(x)} rows of the project's test split"
    rng = np.random.default_rng(0)
    z = rng.standard_normal((N_SEEDED, *model.input_shape))
    xs = [z * fold["in_std"] + fold["in_mean"]]
    example = model.local / "input_example.json"
    if model.legacy and example.is_file():
        try:
            data = np.asarray(json.loads(example.read_text(encoding="utf-8")), dtype=np.float64)
            xs.append(data.reshape(-1, *model.input_shape))
        except (ValueError, TypeError):
            pass
    x = np.concatenate(xs).astype(np.float32)
    return x, f"{len(x)} seeded inputs at the training scale (the model has no test_inputs.npz)"


def export_onnx(model: LoadedModel, out_dir: Path, *, tracking_uri: str | None) -> dict[str, Any]:
    """Write ``out_dir/model.onnx`` + ``onnx.json``, check parity, log to the version's run."""
    import numpy as np
    import onnxruntime as ort
    import torch

    out_dir.mkdir(parents=True, exist_ok=True)
    fold = scaling(model)
    module = _folded(load_network(model), fold)
    x, source = test_inputs(model, fold)
    target = out_dir / "model.onnx"
    tmp = out_dir / f".model.onnx.{os.getpid()}.tmp"
    batch = torch.export.Dim("batch", min=1, max=1_000_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module,
            (torch.from_numpy(x[:2]),),
            input_names=["input"],
            output_names=["output"],
            dynamic_shapes=({0: batch},),
            dynamo=True,
            verbose=False,
        )
    assert program is not None
    program.save(str(tmp))
    os.replace(tmp, target)
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x})[0]
    with torch.no_grad():
        want = module(torch.from_numpy(x)).numpy()
    diff = float(np.abs(got - want).max())
    latency = _latency_ms(session, x[:1])
    manifest = {
        "model": model.ref.text,
        "name": model.ref.name,
        "version": model.ref.version,
        "file": str(target),
        "input": {"name": "input", "shape": ["batch", *model.input_shape], "dtype": "float32"},
        "features": fold["features"],
        "folded": "(x - mean) / std first layer"
        + ("; y * std + mean last layer" if fold["out_std"] != 1.0 else ""),
        "outside_onnx": fold["outside"],
        "output": "logits" if model.task == "classification" else "original units",
        "parity": {
            "inputs": len(x),
            "source": source,
            "max_abs_diff": diff,
            "tolerance": TOLERANCE,
        },
        "onnxruntime_single_row_ms_p50": latency,
    }
    (out_dir / "onnx.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    if not diff <= TOLERANCE:
        raise CodegenError(
            f"ONNX output differs from PyTorch by {diff:.3g} (> {TOLERANCE:g})",
            hint="report it with the model family; the file was not logged",
            location=str(target),
            details={"max_abs_diff": diff},
        )
    if tracking_uri and model.ref.run_id and model.ref.name and model.ref.version:
        manifest["logged"] = _log(tracking_uri, model, out_dir, diff)
    return manifest


def _latency_ms(session: Any, row: Any, repeats: int = 50) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        session.run(None, {"input": row})
        times.append((time.perf_counter() - t0) * 1000.0)
    return float(sorted(times)[len(times) // 2])


def _log(tracking_uri: str, model: LoadedModel, out_dir: Path, diff: float) -> str:
    from mlflowctl.mlops.store import client, mlflow_errors

    assert model.ref.run_id and model.ref.name and model.ref.version
    with mlflow_errors(tracking_uri):
        c = client(tracking_uri)
        c.log_artifact(model.ref.run_id, str(out_dir / "model.onnx"), "onnx")
        c.log_artifact(model.ref.run_id, str(out_dir / "onnx.json"), "onnx")
        uri = f"runs:/{model.ref.run_id}/onnx/model.onnx"
        version = str(model.ref.version)
        c.set_model_version_tag(model.ref.name, version, TAG_ONNX, uri)
        c.set_model_version_tag(model.ref.name, version, TAG_ONNX_DIFF, f"{diff:.3g}")
    return uri
