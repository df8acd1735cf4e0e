"""``mlflowctl export --format onnx``: parity with PyTorch <= 1e-4 per family, logged to a version.

Tiny builds (``make_blueprint(family)``, ``--max-epochs 1``) registered in a real SQLite store;
mlp runs in the default suite, the other five families are ``slow``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_predict import build_registered, mlflowctl

from mlflowctl.mlops.store import client


def _export_and_check(root: Path) -> dict[str, object]:
    proc = mlflowctl(
        "export", "test-model@champion", "--format", "onnx", "--out", "onnx", "--json", cwd=root
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads(proc.stdout)
    parity = manifest["parity"]
    assert parity["max_abs_diff"] <= 1e-4
    # the project's own test rows (saved at build, logged with the model), not seeded draws
    with np.load(root / "b" / "outputs" / "test_inputs.npz", allow_pickle=False) as saved:
        assert parity["inputs"] == len(saved["x"]) > 0
    assert "test split" in str(parity["source"])
    assert (root / "onnx" / "model.onnx").stat().st_size > 0
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mv = client(uri).get_model_version("test-model", "1")
    assert mv.tags["onnx_artifact"] == f"runs:/{mv.run_id}/onnx/model.onnx"
    logged = {f.path for f in client(uri).list_artifacts(mv.run_id, "onnx")}
    assert logged == {"onnx/model.onnx", "onnx/onnx.json"}
    return manifest


@pytest.mark.integration
def test_export_mlp_parity_logged_and_never_overwrites(tmp_path: Path) -> None:
    root = build_registered(tmp_path)
    _export_and_check(root)
    proc = mlflowctl("export", "test-model@champion", "--out", "onnx", cwd=root)
    assert proc.returncode == 2 and "does not overwrite" in proc.stderr
    proc = mlflowctl("export", "test-model@champion", "--format", "tflite", "--out", "x", cwd=root)
    assert proc.returncode == 2 and "--format" in proc.stderr


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("family", ["cnn", "lstm", "gru", "tcn", "transformer"])
def test_export_parity_every_family(tmp_path: Path, family: str) -> None:
    _export_and_check(build_registered(tmp_path, family))
