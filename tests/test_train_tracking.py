"""What an MLflow run records about its training: the values that trained, not the design's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from blueprints import make_blueprint

pytestmark = pytest.mark.integration


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlflowctl", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_build_logs_the_effective_config_as_params(tmp_path: Path) -> None:
    bp = make_blueprint("mlp", "iris", training={"max_epochs": 60})
    assert not bp.approach(None).training.search_space.enabled
    (tmp_path / "bp.yaml").write_text(bp.to_yaml())
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    proc = _cli(
        "build", "bp.yaml", "--out", "b", "--max-epochs", "2", "--accelerator", "cpu",
        "--tracking-uri", uri, "--json", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert doc["epochs"] == 2

    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], max_results=10
    )
    assert len(runs) == 1
    params = runs[0].data.params
    assert params["training.max_epochs"] == "2"  # what trained, not the blueprint's budget
    assert params["blueprint_id"] == bp.provenance.blueprint_id
    assert params["trained.accelerator"] == "cpu"
    assert params["trained.precision"] == "32-true"
    assert not any("search_space" in key for key in params)  # nothing was searched
    # the blueprint itself stays an artifact
    artifacts = {f.path for f in client.list_artifacts(runs[0].info.run_id)}
    assert "blueprint.yaml" in artifacts
