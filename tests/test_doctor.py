"""``mlflowctl doctor``: real SQLite paths, a real HTTP server on loopback, a dead port."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mlflowctl import console
from mlflowctl.cli.app import main
from mlflowctl.errors import EXIT_TRACKING_UNAVAILABLE

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOWCTL_AGENTS_DIR", raising=False)
    console.reset()


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        ok = self.path == "/health"
        self.send_response(200 if ok else 404)
        self.end_headers()
        self.wfile.write(b"OK" if ok else b"no")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def doctor_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = main(["doctor", "--json", *argv])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_doctor_reports_python_torch_and_packages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = doctor_json(capsys, "--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db")
    assert code == 0
    torch = report["torch"]
    assert isinstance(torch, dict) and torch["version"] and torch["cuda"] in (True, False)
    packages = report["packages"]
    assert isinstance(packages, dict) and packages["mlflow"] and packages["typer"]
    tracking = report["tracking"]
    assert isinstance(tracking, dict) and tracking["ok"] is True
    assert "does not exist yet" in str(tracking["detail"])


def test_doctor_http_health_answers(health_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = doctor_json(capsys, "--tracking-uri", health_server)
    assert code == 0
    assert report["tracking"] == {
        "uri": health_server, "source": "--tracking-uri", "kind": "http", "ok": True,
        "detail": "200 OK",
    }  # fmt: skip


def test_doctor_dead_server_exits_6(
    health_server: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://user:secret@127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", dead)
    code, report = doctor_json(capsys)
    tracking = report["tracking"]
    assert code == EXIT_TRACKING_UNAVAILABLE
    assert isinstance(tracking, dict) and tracking["ok"] is False
    assert tracking["source"] == "MLFLOW_TRACKING_URI" and "secret" not in json.dumps(report)


def test_doctor_default_uri_comes_from_the_mlops_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "team.db"
    store.write_bytes(b"")
    (tmp_path / "mlops-architect.md").write_text(
        "---\nname: mlops-architect\ndescription: d\n"
        f"policy:\n  tracking_uri: sqlite:///{store}\n---\nbody\n"
    )
    monkeypatch.setenv("MLFLOWCTL_AGENTS_DIR", str(tmp_path))
    code, report = doctor_json(capsys)
    tracking = report["tracking"]
    assert code == 0 and isinstance(tracking, dict)
    assert (
        tracking["uri"] == f"sqlite:///{store}" and tracking["source"] == "mlops-architect policy"
    )
    assert tracking["detail"] == f"{store} exists, writable"


def test_doctor_reap_marks_a_dead_process_run_killed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket
    import subprocess
    import sys

    from mlflow.tracking import MlflowClient

    from mlflowctl.mlops.liveness import TAG_HEARTBEAT, TAG_HOST, TAG_PID

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("doctor", artifact_location=str(tmp_path / "artifacts"))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    tags = {
        TAG_HEARTBEAT: "2020-01-01T00:00:00+00:00",
        TAG_HOST: socket.gethostname(),
        TAG_PID: gone.stdout.strip(),
    }
    stale = client.create_run(exp, tags=tags).info.run_id
    foreign = client.create_run(exp).info.run_id  # no mlflowctl heartbeat: left alone
    code, report = doctor_json(capsys, "--tracking-uri", uri, "--reap")
    assert code == 0 and report["reaped_runs"] == [stale]
    assert client.get_run(stale).info.status == "KILLED"
    assert client.get_run(foreign).info.status == "RUNNING"
