"""Tracking: URI resolution, one truthful run per training, pickle-free models, fault cases.

Every test uses a real SQLite store in tmp_path (or a real loopback ``mlflow server``); nothing
of MLflow is mocked.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow_server import make_blueprint, make_project, mlflow_server, write_tracked_script

from mlflowctl.cli.app import main
from mlflowctl.errors import InvalidInputError
from mlflowctl.mlops import store as tracking_store
from mlflowctl.mlops.liveness import reap_stale_runs
from mlflowctl.mlops.runs import Tracker
from mlflowctl.mlops.store import client, redact, resolve_tracking_uri
from mlflowctl.specs.policy import MlopsPolicy

__all__ = ["mlflow_server"]  # the fixture, imported for pytest

pytestmark = pytest.mark.unit


def _uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def _run(uri: str, run_id: str) -> object:
    return client(uri).get_run(run_id)


# ----------------------------------------------------------------------------- URI resolution


def test_uri_precedence_flag_env_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_tracking_uri(None) == f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///env.db")
    assert resolve_tracking_uri(None) == f"sqlite:///{tmp_path / 'env.db'}"
    assert resolve_tracking_uri("http://127.0.0.1:5999") == "http://127.0.0.1:5999"


def test_file_store_uri_points_to_sqlite(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError) as exc:
        resolve_tracking_uri(f"file://{tmp_path}/mlruns")
    assert exc.value.location == "--tracking-uri"
    assert "sqlite:///" in (exc.value.hint or "")
    assert not (tmp_path / "mlruns").exists()


def test_uri_credentials_move_to_env_and_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    # setenv first so monkeypatch removes what resolve_tracking_uri sets
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "")
    uri = resolve_tracking_uri("http://alice:s3cr3t-pw@127.0.0.1:5999/")
    assert uri == "http://127.0.0.1:5999/"
    assert os.environ["MLFLOW_TRACKING_PASSWORD"] == "s3cr3t-pw"
    assert redact("see http://alice:s3cr3t-pw@host and s3cr3t-pw") == "see http://***@host and ***"


# ----------------------------------------------------------------------------- one run per training


@pytest.mark.integration
def test_tracker_logs_params_tags_epoch_metrics_and_a_pickle_free_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = _uri(tmp_path)
    bp = make_blueprint()
    run = make_project(tmp_path / "proj", 0.8)
    run.epochs_completed = 3
    with Tracker(uri, bp, None, build_id="b-1", agent_digests={"ml-architect": "a" * 64}) as tr:
        for epoch in range(3):
            tr.on_event(
                {"event": "epoch", "epoch": epoch, "metrics": {"val_loss": 1.0 - epoch / 10}}
            )
        tr.log_training(run)
    c = client(uri)
    r = c.get_run(tr.run_id)
    assert r.info.status == "FINISHED"
    assert r.data.params["training.optimizer.lr"] == "0.01"
    assert r.data.params["model.params.hidden"] == "[8]"
    assert r.data.tags["mlflowctl.build_id"] == "b-1"
    assert r.data.tags["mlflowctl.blueprint_id"] == "bp-0123456789ab"
    assert r.data.tags["mlflowctl.agent.ml-architect.sha256"] == "a" * 64
    assert r.data.tags["mlflowctl.family"] == "mlp"
    history = c.get_metric_history(tr.run_id, "val_loss")
    assert sorted(m.step for m in history) == [0, 1, 2, 2]  # 3 epochs + the final value
    assert r.data.metrics["test_accuracy"] == pytest.approx(0.8)
    artifacts = {f.path for f in c.list_artifacts(tr.run_id)}
    assert {"blueprint.yaml", "project", "outputs"} <= artifacts
    # artifacts beside the DB, never ./mlruns
    assert (tmp_path / "mlartifacts").is_dir() and not Path("mlruns").exists()

    import mlflow.pyfunc
    import numpy as np

    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    model = mlflow.pyfunc.load_model(tr.model_uri)
    assert model.metadata.signature is not None
    x = np.load(tmp_path / "proj" / "outputs" / "input_example.npy")
    assert model.predict(x).shape == (2, 3)


@pytest.mark.integration
def test_fast_epochs_share_store_writes_and_keep_every_step(tmp_path: Path) -> None:
    uri = _uri(tmp_path)
    bp = make_blueprint()
    with Tracker(uri, bp, None, build_id="b-2", agent_digests={}) as tr:
        writes: list[int] = []
        real = tr._client.log_batch

        def counting(run_id: str, metrics: object = (), **kw: object) -> object:
            if metrics:
                writes.append(len(metrics))  # type: ignore[arg-type]
            return real(run_id, metrics=metrics, **kw)

        tr._client.log_batch = counting
        for epoch in range(40):  # 40 epochs in well under a second
            tr.on_event(
                {"event": "epoch", "epoch": epoch, "metrics": {"val_loss": 1.0 / (epoch + 1)}}
            )
    history = client(uri).get_metric_history(tr.run_id, "val_loss")
    assert sorted(m.step for m in history) == list(range(40))
    assert sum(writes) == 40 and len(writes) <= 4, writes


@pytest.mark.integration
def test_exception_marks_run_failed_with_redacted_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """F3: an exception in training -> FAILED + traceback artifact; nothing registered."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-canary-f3-0001")
    uri = _uri(tmp_path)
    with (
        pytest.raises(RuntimeError),
        Tracker(uri, make_blueprint(), None, build_id="b-f3", agent_digests={}) as tr,
    ):
        raise RuntimeError(f"model exploded at batch 3 (key {os.environ['OPENAI_API_KEY']})")
    c = client(uri)
    assert c.get_run(tr.run_id).info.status == "FAILED"
    text = Path(c.download_artifacts(tr.run_id, "traceback.txt", str(tmp_path))).read_text()
    assert "model exploded at batch 3" in text and "sk-canary-f3-0001" not in text
    assert c.search_registered_models() == []


def _start_tracked(tmp_path: Path, mode: str) -> tuple[subprocess.Popen[str], str]:
    script = write_tracked_script(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, str(script), _uri(tmp_path), str(tmp_path / "p"), "0.5", "b-sig", mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("ready"), line
    return proc, line.split()[1]


@pytest.mark.integration
@pytest.mark.fault
@pytest.mark.parametrize(
    ("sig", "code"),
    [(signal.SIGTERM, 143), pytest.param(signal.SIGINT, 130, marks=pytest.mark.slow)],
)
def test_signal_marks_run_killed(tmp_path: Path, sig: int, code: int) -> None:
    """F2: SIGTERM/SIGINT mid-training -> KILLED (never FINISHED or RUNNING), exit 143/130."""
    proc, run_id = _start_tracked(tmp_path, "sleep")
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == code
    assert client(_uri(tmp_path)).get_run(run_id).info.status == "KILLED"


@pytest.mark.integration
@pytest.mark.fault
def test_sigkill_leaves_running_until_reaped(tmp_path: Path) -> None:
    """F1: SIGKILL leaves RUNNING; the next reap marks it KILLED; live runs are left alone."""
    proc, run_id = _start_tracked(tmp_path, "sleep")
    uri = _uri(tmp_path)
    time.sleep(1.5)  # at least one heartbeat
    assert reap_stale_runs(uri) == []  # alive: not reaped
    proc.kill()
    proc.wait(timeout=30)
    assert client(uri).get_run(run_id).info.status == "RUNNING"
    assert reap_stale_runs(uri) == [run_id]
    assert client(uri).get_run(run_id).info.status == "KILLED"
    assert reap_stale_runs(uri) == []


@pytest.mark.integration
def test_stale_heartbeat_from_another_host_is_reaped(tmp_path: Path) -> None:
    uri = _uri(tmp_path)
    c = client(uri)
    run = c.create_run(
        "0",
        tags={
            "mlflowctl.heartbeat": "2020-01-01T00:00:00+00:00",
            "mlflowctl.host": "elsewhere",
            "mlflowctl.pid": "1",
        },
    )
    foreign = c.create_run("0")  # not an mlflowctl run: untouched
    assert reap_stale_runs(uri, policy=MlopsPolicy(stale_after_seconds=60)) == [run.info.run_id]
    assert c.get_run(foreign.info.run_id).info.status == "RUNNING"


# ----------------------------------------------------------------------------- store set-up


@pytest.mark.integration
@pytest.mark.fault
def test_dead_server_fails_fast_with_exit_6(capsys: pytest.CaptureFixture[str]) -> None:
    """F8: nothing listens on the port -> exit 6 in <= 30 s with a clear message."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    rc = main(["registry", "list", "--tracking-uri", f"http://u:pw-canary-f8@127.0.0.1:{port}"])
    elapsed = time.monotonic() - t0
    err = capsys.readouterr().err
    assert rc == 6 and elapsed <= 30
    assert "does not answer" in err and f"127.0.0.1:{port}" in err
    assert "pw-canary-f8" not in err


@pytest.mark.integration
def test_old_schema_asks_for_db_upgrade(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """B28: an out-of-date schema is reported, never migrated."""
    db = tmp_path / "old.db"
    uri = f"sqlite:///{db}"
    client(uri)  # create a current schema, then pretend it is old
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '451aebb31d03'")
    tracking_store._ready.discard(uri)  # as a new process would see it
    assert main(["registry", "list", "--tracking-uri", uri]) == 2
    err = capsys.readouterr().err
    assert "mlflow db upgrade" in err and "back it up" in err
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (
            "451aebb31d03",
        )


@pytest.mark.integration
@pytest.mark.load
@pytest.mark.slow
def test_eight_processes_first_touch_a_fresh_db(tmp_path: Path) -> None:
    """F14: eight mlflowctl commands at once on a fresh SQLite file all succeed."""
    uri = f"sqlite:///{tmp_path / 'fresh.db'}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "mlflowctl", "registry", "list", "--tracking-uri", uri],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    results = [(p.wait(timeout=180), p.stderr.read() if p.stderr else "") for p in procs]
    assert [rc for rc, _ in results] == [0] * 8, [err[-500:] for _, err in results]
    with sqlite3.connect(tmp_path / "fresh.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert client(uri).search_experiments()[0].name == "Default"


@pytest.mark.integration
@pytest.mark.slow
def test_canary_secrets_never_reach_store_artifacts_or_output(
    tmp_path: Path,
    mlflow_server: str,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """I4/B25: a tracking password and API keys never land in the DB, artifacts or output."""
    from mlflowctl.mlops.registry import register

    password, api_key = "pw-CANARY-7f3a9", "sk-CANARY-api-2b8c"
    monkeypatch.setenv("OPENAI_API_KEY", api_key)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "")
    flag = mlflow_server.replace("http://", f"http://alice:{password}@")
    uri = resolve_tracking_uri(flag)
    bp = make_blueprint()
    run = make_project(tmp_path / "ok", 0.8)
    with Tracker(uri, bp, None, build_id="b-ok", agent_digests={}) as tr:
        tr.log_training(run)
    assert tr.run_id is not None
    register(uri, tr.run_id, run, bp.approach().infrastructure.registry, build_id="b-ok")
    with (
        pytest.raises(RuntimeError),
        Tracker(uri, bp, None, build_id="b-fail", agent_digests={}),
    ):
        raise RuntimeError(f"failed talking to {flag} with key {api_key}")
    assert main(["registry", "show", "iris-clf", "--tracking-uri", flag, "--json"]) == 0
    captured = capfd.readouterr()
    server_home = tmp_path / "server"
    with sqlite3.connect(server_home / "mlflow.db") as conn:
        dump = "\n".join(conn.iterdump())
    assert "b-fail" in dump and "iris-clf" in dump  # the dump does hold what was logged
    blobs = [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]  # server.log too
    for canary in (password, api_key):
        assert canary not in dump
        assert canary not in captured.out + captured.err
        assert not any(canary.encode() in b for b in blobs)


@pytest.mark.integration
def test_parent_run_nests_builds_and_closes_with_the_report(tmp_path: Path) -> None:
    from mlflowctl.mlops.liveness import end_parent_run, start_parent_run

    uri = _uri(tmp_path)
    bp = make_blueprint()
    parent = start_parent_run(uri, "mlflowctl-tests", pipeline_id="p-1", prompt="classify iris")
    with Tracker(
        uri, bp, None, build_id="b", agent_digests={}, parent_run_id=parent,
        extra_tags={"mlflowctl.start": "fresh"},
    ) as tr:  # fmt: skip
        pass
    c = client(uri)
    child = c.get_run(tr.run_id)
    assert child.data.tags["mlflow.parentRunId"] == parent
    assert child.data.tags["mlflowctl.start"] == "fresh"
    assert c.get_run(parent).info.status == "RUNNING"
    end_parent_run(uri, parent, report_md="# done", report={"promoted": True})
    assert c.get_run(parent).info.status == "FINISHED"
    assert {f.path for f in c.list_artifacts(parent)} == {"report.md", "report.json"}
