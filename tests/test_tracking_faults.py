"""Tracking-store faults during a build: the right exit code, one line, every run closed.

X13: the tracking server dies mid-training -> exit 6, the metrics stay in the build folder and
reach MLflow on ``build --resume``. X15: the disk fills while the SQLite store is written -> a clear
error naming the file, and every run terminal (or reapable by the next invocation). After each
fault the invariants hold: I1 every run terminal, I2 versions contiguous, I5 nothing written
outside the workdir and the store.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from blueprints import make_blueprint
from mlflow_server import _free_port

pytestmark = [pytest.mark.integration, pytest.mark.fault]

TERMINAL = ("FINISHED", "FAILED", "KILLED")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="1",
        MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR="1",
        MLFLOW_HTTP_REQUEST_TIMEOUT="5",
    )
    env.update(extra)
    return env


def _cli(
    *args: str, cwd: Path, preexec: Callable[[], None] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlflowctl", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=preexec,
    )


def _one_error(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-3000:]
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def _runs(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as con:
        return [(str(r[0]), str(r[1])) for r in con.execute("SELECT run_uuid, status FROM runs")]


def _versions(db: Path) -> list[int]:
    with sqlite3.connect(db) as con:
        return sorted(int(r[0]) for r in con.execute("SELECT version FROM model_versions"))


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture()
def blueprint_file(tmp_path: Path) -> Path:
    path = tmp_path / "bp.yaml"
    path.write_text(make_blueprint("mlp", "iris").to_yaml())
    return path


# --------------------------------------------------------------------------- X13


class Server:
    """A real ``mlflow server`` on loopback that a test can kill and restart on the same port
    and the same SQLite backend (the restart of a crashed server)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = home / "mlflow.db"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.home.mkdir(exist_ok=True)
        cmd = [
            sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1",
            "--port", str(self.port), "--workers", "1",
            "--backend-store-uri", f"sqlite:///{self.db}",
            "--artifacts-destination", str(self.home / "artifacts"),
        ]  # fmt: skip
        log = open(self.home / "server.log", "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(
            cmd, cwd=self.home, stdout=log, stderr=log, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((self.home / "server.log").read_text()[-2000:])
            time.sleep(0.3)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "server")
    srv.start()
    try:
        yield srv
    finally:
        srv.kill()


def _epoch_events(build: Path) -> list[dict[str, object]]:
    path = build / "events.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "epoch":
            out.append(event)
    return out


@pytest.mark.slow
def test_x13_server_killed_mid_training_exits_6_and_resume_sends_the_metrics(
    blueprint_file: Path, tmp_path: Path, server: Server
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    before = _tree(tmp_path) - {str(p.relative_to(tmp_path)) for p in server.home.rglob("*")}
    args = ("build", str(blueprint_file), "--out", "b", "--tracking-uri", server.url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflowctl", *args, "--max-epochs", "40"],
        cwd=work,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 180
    while not _epoch_events(work / "b"):  # the first epoch reached the store's queue
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no epoch event"
        time.sleep(0.05)
    server.kill()
    out, err = proc.communicate(timeout=300)
    failed = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    _one_error(failed, 6, "--tracking-uri", "tracking store")
    assert "--resume" in err  # the hint says how to continue
    epochs = _epoch_events(work / "b")
    assert epochs, "the metrics are kept locally"
    assert (work / "b" / "outputs" / "metrics.json").is_file()

    server.start()  # same port, same backend
    resumed = _cli(*args, "--resume", "--max-epochs", "40", "--json", cwd=work)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads(resumed.stdout)
    assert str(summary["model_version"]) == "1"

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=server.url)
    state = json.loads((work / "b" / ".mlflowctl" / "build.json").read_text())
    new_run = state["run_ids"][-1]
    metric = next(iter(epochs[0]["metrics"]))  # type: ignore[call-overload]
    steps = {m.step for m in client.get_metric_history(new_run, metric)}
    assert {int(e["epoch"]) for e in epochs} <= steps  # type: ignore[call-overload]
    statuses = dict(_runs(server.db))
    assert all(s in TERMINAL for s in statuses.values()), statuses  # I1
    assert _versions(server.db) == [1]  # I2
    after = _tree(tmp_path) - {str(p.relative_to(tmp_path)) for p in server.home.rglob("*")}
    assert {p for p in after - before if not p.startswith("work")} == set()  # I5


# --------------------------------------------------------------------------- X15


def _file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:  # in the CLI child: a write past ``limit`` bytes fails with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.slow
def test_x15_disk_full_while_logging_gives_one_clear_line_and_closes_every_run(
    blueprint_file: Path, tmp_path: Path
) -> None:
    first = _cli("build", str(blueprint_file), "--max-epochs", "1", "--out", "b1", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    db = tmp_path / "mlflow.db"
    with sqlite3.connect(db) as con:  # no free pages left: the next rows must grow the file
        con.execute("VACUUM")
    full = _cli(
        "build", str(blueprint_file), "--max-epochs", "3", "--out", "b2", "--json",
        cwd=tmp_path, preexec=_file_size_limit(db.stat().st_size),
    )  # fmt: skip
    line = _one_error(full, 6, str(db), "disk full")
    assert "ENOSPC/EFBIG" in line
    doc = json.loads(full.stdout)
    assert doc["exit_code"] == 6 and doc["error"] == "tracking_unavailable"
    # I1: closed now when the store still took the status, else reaped by the next invocation
    statuses = dict(_runs(db))
    if not all(s in TERMINAL for s in statuses.values()):
        reap = _cli("doctor", "--reap", "--json", cwd=tmp_path)
        assert reap.returncode == 0, reap.stderr[-3000:]
        statuses = dict(_runs(db))
    assert all(s in TERMINAL for s in statuses.values()), statuses
    assert _versions(db) == [1]  # I2: the failed build registered nothing
    # with space again, the build resumes and its version follows on contiguously
    resumed = _cli(
        "build", str(blueprint_file), "--out", "b2", "--resume", "--max-epochs", "3", cwd=tmp_path
    )
    if (tmp_path / "b2" / "checkpoints" / "last.ckpt").exists():
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert _versions(db) == [1, 2]


#: the fast X15 variant: a Tracker in a child process whose SQLite store cannot grow any more
DISK_FULL_SCRIPT = """\
import json, resource, signal, sqlite3, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from mlflow_server import make_blueprint, make_project
from mlflowctl.errors import MlflowctlError
from mlflowctl.mlops.runs import Tracker

uri, root = sys.argv[1], Path(sys.argv[2])
bp = make_blueprint()
run = make_project(root, 0.9)
with Tracker(uri, bp, None, build_id="first", agent_digests={{}}) as tr:
    tr.log_training(run)
db = uri[len("sqlite:///"):]
with sqlite3.connect(db) as con:
    con.execute("VACUUM")
size = Path(db).stat().st_size
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
try:
    with Tracker(uri, bp, None, build_id="full", agent_digests={{}}) as tr:
        for epoch in range(20):
            tr.on_event({{"event": "epoch", "epoch": epoch,
                         "metrics": {{f"m{{i}}": float(i) for i in range(40)}}}})
        tr.log_training(run)
except MlflowctlError as exc:
    print(json.dumps(exc.to_dict()), flush=True)
    sys.exit(exc.exit_code)
"""


def test_x15_fast_tracker_on_a_full_sqlite_store_raises_one_clear_error(tmp_path: Path) -> None:
    script = tmp_path / "disk_full.py"
    script.write_text(DISK_FULL_SCRIPT.format(tests=str(Path(__file__).resolve().parent)))
    db = tmp_path / "store" / "mlflow.db"
    proc = subprocess.run(
        [sys.executable, str(script), f"sqlite:///{db}", str(tmp_path / "project")],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 6, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    assert doc["error"] == "tracking_unavailable" and doc["location"] == str(db)
    assert "disk full (ENOSPC/EFBIG)" in doc["message"]
    statuses = dict(_runs(db))
    assert sorted(statuses.values()) == ["FAILED", "FINISHED"], statuses  # I1: closed FAILED
