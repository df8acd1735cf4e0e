"""Build overhead (issue 18 item 1): the build's own process never loads torch or Lightning,
opens the store while the child trains, and still records everything (params, per-epoch metrics,
artifacts, a logged model with its signature that loads and predicts, the registered version).

A ``sitecustomize`` on PYTHONPATH records, at exit, which heavy modules each Python process of
the build had loaded: the mlflowctl process and the ``train.py`` child it starts.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
from blueprints import make_blueprint
from cli_helpers import user_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # ~20 s on a quiet 2-core box

PROBE = """
import atexit, json, os, sys

def _record():
    names = ("torch", "lightning", "mlflow")
    doc = {"argv": sys.argv, "loaded": [n for n in names if n in sys.modules]}
    path = os.path.join(os.environ["MODULES_PROBE_DIR"], f"{os.getpid()}.json")
    with open(path, "w") as fh:
        json.dump(doc, fh)

atexit.register(_record)
"""


def _build(tmp_path: Path) -> tuple[int, str, list[dict[str, object]]]:
    import subprocess

    probe_dir = tmp_path / "probe"
    (probe_dir / "site").mkdir(parents=True)
    (probe_dir / "site" / "sitecustomize.py").write_text(textwrap.dedent(PROBE))
    (tmp_path / "bp.yaml").write_text(make_blueprint("mlp", "iris").to_yaml())
    env = {
        **user_env(),
        "PYTHONPATH": str(probe_dir / "site"),
        "MODULES_PROBE_DIR": str(probe_dir),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "mlflowctl", "build", "bp.yaml", "--out", "b", "--max-epochs", "3"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    records = [json.loads(p.read_text()) for p in sorted(probe_dir.glob("*.json"))]
    return proc.returncode, proc.stderr, records


def test_build_process_never_imports_torch_and_the_logged_model_predicts(tmp_path: Path) -> None:
    code, stderr, records = _build(tmp_path)
    assert code in (0, 8), stderr[-3000:]
    parent = [r for r in records if "mlflowctl" in " ".join(map(str, r["argv"]))]
    child = [r for r in records if str(r["argv"][0]).endswith("train.py")]
    assert len(parent) == 1 and len(child) == 1, records
    assert parent[0]["loaded"] == ["mlflow"], parent  # torch and lightning stay in the child
    assert {"torch", "lightning"} <= set(child[0]["loaded"])  # the probe sees real imports

    import mlflow
    import pandas as pd

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    (version,) = client.search_model_versions()
    run = client.get_run(version.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["training.max_epochs"] == "3"
    assert "trained.accelerator" in run.data.params  # the child's start event reached the run
    history = client.get_metric_history(run.info.run_id, "val_loss")
    assert {1, 2, 3} <= {m.step for m in history}  # every epoch (step = epoch)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"blueprint.yaml", "outputs", "project"} <= artifacts

    model_uri = run.data.tags["mlflowctl.model_uri"]
    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model(model_uri)
    inputs = model.metadata.get_input_schema().input_names()
    outputs = model.metadata.get_output_schema().input_names()
    assert len(inputs) == 4  # the iris columns by name, not a tensor
    assert outputs[0] == "prediction" and all(o.startswith("proba_") for o in outputs[1:]), outputs
    rows = pd.read_json(tmp_path / "b" / "outputs" / "input_example.json", orient="split")
    predicted = model.predict(rows)
    written = pd.read_json(tmp_path / "b" / "outputs" / "output_example.json", orient="table")
    assert list(predicted["prediction"]) == list(written["prediction"])
    assert predicted.filter(like="proba_").to_numpy() == pytest.approx(
        written.filter(like="proba_").to_numpy(), abs=1e-6
    )
