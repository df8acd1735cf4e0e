"""Every policy field the agent specs document changes what mlflowctl does.

Each test copies a shipped spec into a folder, changes one ``policy:`` value, passes the folder
with ``--agents DIR`` (or builds ``Settings`` from it) and checks the behaviour moved.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from blueprints import make_blueprint

from mlflowctl.resources import agents_dir
from mlflowctl.settings import Settings, environ_snapshot
from mlflowctl.specs.policy import EngineerPolicy

ENV_VARS = ("MLFLOW_TRACKING_URI", "MLFLOWCTL_AGENTS_DIR")


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in environ_snapshot().items() if k not in ENV_VARS}
    return subprocess.run(
        [sys.executable, "-m", "mlflowctl", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def override(tmp_path: Path, role: str, key: str, value: str) -> Path:
    """``agents/<role>.md`` copied into a folder with ``policy.<key>`` set to ``value`` (YAML)."""
    folder = tmp_path / "agents-override"
    folder.mkdir(exist_ok=True)
    lines = (agents_dir() / f"{role}.md").read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  {key}:"))
    end = start + 1
    while end < len(lines) and lines[end].startswith("    - "):  # a block list's items
        end += 1
    lines[start:end] = [f"  {key}: {value}\n"]
    (folder / f"{role}.md").write_text("".join(lines), encoding="utf-8")
    return folder


def blueprint_file(tmp_path: Path) -> Path:
    """An iris mlp blueprint keeping the schema's defaults for seed (42) and patience (10)."""
    text = make_blueprint("mlp", "iris").to_yaml().replace("patience: 20", "patience: 10")
    path = tmp_path / "bp.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def rendered_config(tmp_path: Path, *root: str) -> dict[str, Any]:
    bp = blueprint_file(tmp_path)
    out = tmp_path / ("build-" + str(len(list(tmp_path.glob("build-*")))))
    proc = cli(tmp_path, *root, "build", str(bp), "--no-train", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    config = yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8"))
    assert isinstance(config, dict)
    return config


def _get(config: dict[str, Any], dotted: str) -> Any:
    value: Any = config
    for part in dotted.split("."):
        value = value[part]
    return value


ENGINEER_FIELDS = [
    # (policy field, new value in YAML, config.yaml key, expected value there)
    ("seed", "7", "training.seed", 7),
    ("early_stopping_patience", "33", "training.early_stopping.patience", 33),
    ("precision_cpu", "bf16-mixed", "training.precision_cpu", "bf16-mixed"),
    ("precision_gpu", "16-mixed", "training.precision_gpu", "16-mixed"),
    ("device_resident_data", "false", "data.device_resident", False),
]


@pytest.mark.integration
@pytest.mark.parametrize(("field", "value", "key", "expected"), ENGINEER_FIELDS)
def test_engineer_policy_field_reaches_the_rendered_config(
    tmp_path: Path, field: str, value: str, key: str, expected: Any
) -> None:
    default = getattr(EngineerPolicy(), field)
    assert default != expected  # the change is a change
    folder = override(tmp_path, "ml-engineer", field, value)
    assert _get(rendered_config(tmp_path, "--agents", str(folder)), key) == expected


@pytest.mark.integration
def test_engineer_defaults_and_a_blueprint_seed_of_its_own(tmp_path: Path) -> None:
    config = rendered_config(tmp_path)
    assert _get(config, "training.seed") == 42
    assert _get(config, "training.early_stopping.patience") == 10
    assert _get(config, "training.precision_cpu") == "32-true"
    assert _get(config, "training.precision_gpu") == "bf16-mixed"
    assert _get(config, "data.device_resident") is True
    # a blueprint that picked its own seed keeps it whatever the policy says
    folder = override(tmp_path, "ml-engineer", "seed", "7")
    bp = blueprint_file(tmp_path)
    bp.write_text(bp.read_text(encoding="utf-8").replace("seed: 42", "seed: 5"), encoding="utf-8")
    proc = cli(tmp_path, "--agents", str(folder), "build", str(bp), "--no-train", "--out", "own")
    assert proc.returncode == 0, proc.stderr
    own = yaml.safe_load((tmp_path / "own" / "config.yaml").read_text(encoding="utf-8"))
    assert own["training"]["seed"] == 5


@pytest.mark.integration
def test_cpu_precision_and_host_resident_data_train(tmp_path: Path) -> None:
    """The rendered train.py and data.py honour precision_cpu and device_resident_data."""
    folder = override(tmp_path, "ml-engineer", "precision_cpu", "bf16-mixed")
    text = (folder / "ml-engineer.md").read_text(encoding="utf-8")
    (folder / "ml-engineer.md").write_text(
        text.replace("device_resident_data: true", "device_resident_data: false"),
        encoding="utf-8",
    )
    bp = blueprint_file(tmp_path)
    proc = cli(tmp_path, "--agents", str(folder), "build", str(bp), "--max-epochs", "1",
               "--accelerator", "cpu", "--no-track", "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["status"] == "completed" or summary["epochs"] == 1
    assert summary["precision"] == "bf16-mixed"


@pytest.mark.integration
def test_orchestrator_phases_is_the_default_of_run(tmp_path: Path) -> None:
    folder = override(tmp_path, "ml-orchestrator", "phases", "[design]")
    proc = cli(tmp_path, "--agents", str(folder), "run", "classify iris flowers", "--data",
               "sklearn:iris", "--workdir", "wd", "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert list(json.loads(proc.stdout)["phases"]) == ["design"]
    assert (tmp_path / "wd" / "blueprint.yaml").is_file()
    assert not (tmp_path / "wd" / "build").exists()


@pytest.mark.integration
@pytest.mark.parametrize(("stale_after", "reaped"), [(None, False), ("10", True)])
def test_stale_after_seconds_decides_what_doctor_reaps(
    tmp_path: Path, stale_after: str | None, reaped: bool
) -> None:
    from datetime import datetime, timedelta, timezone

    from mlflow.tracking import MlflowClient

    from mlflowctl.mlops.liveness import TAG_HEARTBEAT, TAG_HOST, TAG_PID

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    exp = client.create_experiment("e")
    beat = (datetime.now(timezone.utc) - timedelta(seconds=60)).isoformat(timespec="seconds")
    run = client.create_run(exp, tags={TAG_HEARTBEAT: beat, TAG_HOST: "elsewhere", TAG_PID: "1"})
    root = [] if stale_after is None else ["--agents", str(
        override(tmp_path, "mlops-architect", "stale_after_seconds", stale_after))]  # fmt: skip
    proc = cli(tmp_path, *root, "doctor", "--reap", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["reaped_runs"] == ([run.info.run_id] if reaped else [])
    status = client.get_run(run.info.run_id).info.status
    assert status == ("KILLED" if reaped else "RUNNING")


def _tracker(tmp_path: Path, key: str, value: str) -> tuple[Any, Settings]:
    from mlflowctl.blueprint.model import Blueprint
    from mlflowctl.mlops.runs import Tracker

    folder = override(tmp_path, "mlops-architect", key, value)
    settings = Settings.from_environment(agents_dir=folder, cwd=tmp_path, env={})
    bp = Blueprint.from_yaml(blueprint_file(tmp_path).read_text(encoding="utf-8"))
    tracker = Tracker(
        settings.tracking.uri, bp, None, build_id="b1", agent_digests={}, policy=settings.mlops
    )
    return tracker, settings


@pytest.mark.integration
@pytest.mark.parametrize(("seconds", "beats"), [("30", False), ("1", True)])
def test_heartbeat_seconds_is_the_trackers_beat(tmp_path: Path, seconds: str, beats: bool) -> None:
    from mlflowctl.mlops.liveness import TAG_HEARTBEAT
    from mlflowctl.mlops.store import client

    tracker, settings = _tracker(tmp_path, "heartbeat_seconds", seconds)
    assert settings.mlops.heartbeat_seconds == int(seconds)
    with tracker:
        c = client(settings.tracking.uri)
        first = c.get_run(tracker.run_id).data.tags[TAG_HEARTBEAT]
        time.sleep(2.5)
        later = c.get_run(tracker.run_id).data.tags[TAG_HEARTBEAT]
    assert (later != first) is beats


@pytest.mark.integration
@pytest.mark.parametrize(("size", "most"), [("10", 10), ("3", 3)])
def test_log_batch_size_bounds_params_and_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: str, most: int
) -> None:
    from mlflowctl.mlops import runs

    sizes: list[int] = []
    real_client = runs.client

    def counting_client(uri: str) -> Any:
        c = real_client(uri)
        real_log_batch = c.log_batch

        def log_batch(run_id: str, metrics: Any = (), params: Any = (), tags: Any = ()) -> Any:
            sizes.append(len(metrics) + len(params) + len(tags))
            return real_log_batch(run_id, metrics=metrics, params=params, tags=tags)

        c.log_batch = log_batch
        return c

    monkeypatch.setattr(runs, "client", counting_client)
    tracker, _ = _tracker(tmp_path, "log_batch_size", size)
    with tracker:
        metrics = {f"val_m{i}": float(i) for i in range(7)}
        tracker.on_event({"event": "epoch", "epoch": 0, "metrics": metrics})
    assert max(sizes) == most  # params fill whole batches of the policy's size
    assert sizes[(-7) // most :] == [most] * (7 // most) + ([7 % most] if 7 % most else [])
