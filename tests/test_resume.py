"""Resume (reliability plan §5b X12, X18, X19): what a build or pipeline recorded is what it
resumes with; a kill never makes a second version; a corrupt checkpoint is not a dead end. The
CLI in a subprocess, real trainings (tiny), a real SQLite store per test."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from blueprints import make_blueprint
from cli_helpers import run_cli, start_cli, wait_for

pytestmark = pytest.mark.integration


def _client(tmp_path: Path) -> Any:
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _all_runs(tmp_path: Path) -> list[Any]:
    client = _client(tmp_path)
    return client.search_runs(  # type: ignore[no-any-return]
        [e.experiment_id for e in client.search_experiments()]
    )


@pytest.fixture()
def bp(tmp_path: Path) -> Path:
    path = tmp_path / "bp.yaml"
    path.write_text(make_blueprint("mlp", "iris").to_yaml())
    return path


@pytest.mark.slow  # over ~20 s on 2 cores: make test-slow
@pytest.mark.fault
def test_x12_kill_between_version_and_alias_then_build_resume_reuses_the_version(
    tmp_path: Path, bp: Path
) -> None:
    from filelock import FileLock

    proc = start_cli(tmp_path, "build", str(bp), "--out", "b", "--max-epochs", "2",
                  "--accelerator", "cpu")  # fmt: skip
    try:
        wait_for(proc, "] epoch 1/")
        with FileLock(str(tmp_path / "mlflow.db.lock")):  # the alias step waits here
            client = _client(tmp_path)
            deadline = time.monotonic() + 120
            while not _versions(client):
                assert time.monotonic() < deadline, "no model version was created"
                time.sleep(0.2)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    [version] = _versions(client)
    assert list(version.aliases) == [], "killed before the alias was set"

    resumed = run_cli(tmp_path, "build", str(bp), "--out", "b", "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    doc = json.loads(resumed.stdout)
    versions = _versions(client)
    assert [v.version for v in versions] == [version.version], "one build, one version (F12)"
    assert doc["model_version"] == int(version.version)
    assert "champion" in doc["aliases"]
    # the first run had finished training before the kill; the resumed one finished too
    assert [r.info.status for r in _all_runs(tmp_path)] == ["FINISHED", "FINISHED"]


def _versions(client: Any) -> list[Any]:
    try:
        return list(client.search_model_versions("name='test-model'"))
    except Exception:  # the store is being created by the build
        return []


@pytest.mark.heavy
def test_x18_build_resume_keeps_the_max_epochs_override(tmp_path: Path, bp: Path) -> None:
    first = run_cli(tmp_path, "build", str(bp), "--out", "b", "--max-epochs", "1", "--no-track",
                 "--accelerator", "cpu", "--json")  # fmt: skip
    assert first.returncode == 0, first.stderr[-3000:]
    assert json.loads(first.stdout)["epochs"] == 1
    resumed = run_cli(tmp_path, "build", str(bp), "--out", "b", "--resume", "--no-track", "--json")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads(resumed.stdout)["epochs"] == 1, "the recorded --max-epochs 1 was kept"
    state = json.loads((tmp_path / "b" / ".mlflowctl" / "build.json").read_text())
    assert state["overrides"] == {"max_epochs": 1, "accelerator": "cpu"}
    starts = [
        json.loads(line)
        for line in (tmp_path / "b" / "events.jsonl").read_text().splitlines()
        if '"start"' in line
    ]
    assert [s["epochs"] for s in starts] == [1, 1]
    # given again, a flag wins
    again = run_cli(tmp_path, "build", str(bp), "--out", "b", "--resume", "--no-track",
                 "--max-epochs", "2", "--json")  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout)["epochs"] == 2


def _corrupt(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.heavy
def test_x19_corrupt_last_checkpoint_falls_back_to_one_that_verifies(
    tmp_path: Path, bp: Path
) -> None:
    first = run_cli(tmp_path, "build", str(bp), "--out", "b", "--max-epochs", "2", "--no-track",
                 "--accelerator", "cpu")  # fmt: skip
    assert first.returncode == 0, first.stderr[-3000:]
    ckpts = tmp_path / "b" / "checkpoints"
    _corrupt(ckpts / "last.ckpt")
    bad = (ckpts / "last.ckpt").read_bytes()
    resumed = run_cli(tmp_path, "build", str(bp), "--out", "b", "--resume", "--no-track", "--json")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "continuing from best.ckpt" in resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "finished"
    assert (ckpts / "last.ckpt.corrupt").read_bytes() == bad  # kept, not deleted

    # nothing verifies: exit 2 before the MLflow run is created. The store itself may exist (it is
    # checked first, so a dead one fails before anything is written); it holds no run.
    for name in ("last.ckpt", "best.ckpt"):
        _corrupt(ckpts / name)
    dead = run_cli(tmp_path, "build", str(bp), "--out", "b", "--resume")
    assert dead.returncode == 2, dead.stderr
    assert "corrupt" in next(x for x in dead.stderr.splitlines() if x.startswith("error:"))
    assert _all_runs(tmp_path) == []


@pytest.mark.fault
@pytest.mark.slow
def test_x19_run_resume_with_a_corrupt_last_checkpoint(tmp_path: Path) -> None:
    proc = start_cli(tmp_path, "run", "classify handwritten digits", "--data", "sklearn:digits",
                  "--workdir", "wd", "--max-epochs", "40")  # fmt: skip
    try:
        wait_for(proc, "] epoch ")  # the first epoch line (later ones are rate-limited)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    ckpts = tmp_path / "wd" / "build" / "checkpoints"
    _corrupt(ckpts / "last.ckpt")
    runs_before = len(_all_runs(tmp_path))
    resumed = run_cli(tmp_path, "run", "--resume", "wd", "--max-epochs", "40", "--json")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (ckpts / "last.ckpt.corrupt").is_file()
    assert len(_all_runs(tmp_path)) == runs_before + 1
    journal = tmp_path / "wd" / ".mlflowctl" / "pipeline.json"
    assert json.loads(journal.read_text())["status"] == "finished"

    # no checkpoint verifies: the error names --restart-phase train, which trains afresh
    for name in ("last.ckpt", "best.ckpt"):
        _corrupt(ckpts / name)
    journal_doc = json.loads(journal.read_text())
    journal_doc["phases"]["train"]["status"] = "failed"  # as after a second interruption
    journal.write_text(json.dumps(journal_doc))
    dead = run_cli(tmp_path, "run", "--resume", "wd")
    assert dead.returncode == 2 and "--restart-phase train" in dead.stderr
    fresh = run_cli(
        tmp_path, "run", "--resume", "wd", "--restart-phase", "train", "--max-epochs", "2"
    )
    assert fresh.returncode == 0, fresh.stderr[-3000:]
