"""Environment problems are bad input (exit 2), not bugs (X16), and URIs are checked first (X20).

Each case drives the real CLI in a subprocess from a real folder and asserts one ``error:`` line
naming the file, URI or folder, a hint, the exit code of ``errors.py``'s table, and that nothing
was written when the store is unusable.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from blueprints import make_blueprint

pytestmark = pytest.mark.integration


def _cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "mlflowctl", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _one_error(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr[-3000:])
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "hint:" in proc.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


@pytest.fixture()
def blueprint_file(tmp_path: Path) -> Path:
    path = tmp_path / "bp.yaml"
    path.write_text(make_blueprint("mlp", "iris").to_yaml())
    return path


# --------------------------------------------------------------------------- X16


def test_x16_garbage_mlflow_db_exits_2_and_writes_no_build_folder(
    blueprint_file: Path, tmp_path: Path
) -> None:
    garbage = os.urandom(8192)
    (tmp_path / "mlflow.db").write_bytes(garbage)
    proc = _cli("build", str(blueprint_file), "--max-epochs", "1", "--out", "b", cwd=tmp_path)
    _one_error(proc, 2, str(tmp_path / "mlflow.db"), "not an SQLite database")
    assert not (tmp_path / "b").exists()  # X20: the store is checked before the folder is written
    assert (tmp_path / "mlflow.db").read_bytes() == garbage  # the user's file is untouched
    as_json = _cli(
        "build", str(blueprint_file), "--max-epochs", "1", "--out", "b", "--json", cwd=tmp_path
    )
    doc = json.loads(as_json.stdout)
    assert as_json.returncode == 2 and doc["exit_code"] == 2 and doc["error"] == "environment"


def test_x20_run_checks_the_store_before_writing_its_workdir(tmp_path: Path) -> None:
    garbage = os.urandom(8192)
    (tmp_path / "mlflow.db").write_bytes(garbage)
    proc = _cli("run", "classify iris flowers", "--data", "sklearn:iris", cwd=tmp_path)
    _one_error(proc, 2, str(tmp_path / "mlflow.db"), "not an SQLite database")
    assert not (tmp_path / "runs").exists()
    assert (tmp_path / "mlflow.db").read_bytes() == garbage


def test_x16_unreachable_sqlite_path_exits_2(blueprint_file: Path, tmp_path: Path) -> None:
    proc = _cli(
        "build",
        str(blueprint_file),
        "--max-epochs",
        "1",
        "--out",
        "b",
        cwd=tmp_path,
        env={"MLFLOW_TRACKING_URI": "sqlite:////proc/nope/x.db"},
    )
    _one_error(proc, 2, "/proc/nope")
    assert "MLFLOW_TRACKING_URI" in proc.stderr  # the hint says where to fix it
    assert not (tmp_path / "b").exists()


def _read_only_runner(folder: Path) -> list[str] | None:
    """A command prefix that runs in ``folder`` made read-only, or None when impossible here.

    As a normal user ``chmod a-w`` does it; root ignores permissions, so as root the folder is
    bind-mounted read-only in a private mount namespace (``unshare -m``) for the command only.
    """
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return []
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    probe = subprocess.run(
        [unshare, "-m", "sh", "-c", f"mount --bind {folder} {folder} && "
         f"mount -o remount,bind,ro {folder} && ! touch {folder}/probe"],
        capture_output=True,
        timeout=30,
        check=False,
    )  # fmt: skip
    if probe.returncode != 0:
        return None
    return [unshare, "-m", "sh", "-c",
            'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && cd "$0" && exec "$@"',
            str(folder)]  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [
        ("build", "bp.yaml", "--max-epochs", "1", "--out", "b"),
        ("build", "bp.yaml", "--no-track", "--max-epochs", "1", "--out", "b"),
        ("run", "classify iris flowers", "--data", "sklearn:iris", "--max-epochs", "1"),
    ],
    ids=["build", "build-no-track", "run"],
)
def test_x16_read_only_cwd_exits_2(
    blueprint_file: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    shutil.copy(blueprint_file, ro / "bp.yaml")
    prefix = _read_only_runner(ro)
    if prefix is None:
        pytest.skip("cannot make a read-only folder here (root without unshare/mount)")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    try:
        proc = subprocess.run(
            [*prefix, sys.executable, "-m", "mlflowctl", *args],
            cwd=ro,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        ro.chmod(0o755)
    _one_error(proc, 2, str(ro))
    assert "Read-only file system" in proc.stderr or "Permission denied" in proc.stderr
    assert sorted(p.name for p in ro.iterdir()) == ["bp.yaml"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("[]", "expected a JSON object"),
        ('{"pipeline_id": "x"}', "missing key 'prompt'"),
        (
            '{"pipeline_id": "x", "prompt": "p", "options": {}, "phases": []}',
            "'phases' is not a JSON object",
        ),
        (
            '{"pipeline_id": "x", "prompt": "p", "options": {}, '
            '"phases": {"design": {"status": "weird"}}}',
            "phases.design.status",
        ),
        ("\udcff not json", "unreadable"),
    ],
    ids=["list", "missing-keys", "phases-list", "bad-status", "garbage"],
)
def test_x16_malformed_journal_on_run_resume_exits_2(
    tmp_path: Path, content: str, needle: str
) -> None:
    journal = tmp_path / "wd" / ".mlflowctl" / "pipeline.json"
    journal.parent.mkdir(parents=True)
    journal.write_bytes(content.encode("utf-8", "surrogateescape"))
    before = journal.read_bytes()
    proc = _cli("run", "--resume", "wd", cwd=tmp_path)
    _one_error(proc, 2, "pipeline.json", needle)
    assert journal.read_bytes() == before  # a damaged journal is reported, never rewritten
    as_json = _cli("run", "--resume", "wd", "--json", cwd=tmp_path)
    assert as_json.returncode == 2 and json.loads(as_json.stdout)["exit_code"] == 2


@pytest.mark.parametrize(
    ("config", "needle"),
    [(": : [\n", "config.yaml is corrupt"), ("foo: 1\n", "missing key 'model'"), ("", "corrupt")],
    ids=["yaml-syntax", "missing-keys", "empty"],
)
def test_x16_corrupt_config_on_build_resume_exits_2(
    blueprint_file: Path, tmp_path: Path, config: str, needle: str
) -> None:
    first = _cli("build", str(blueprint_file), "--no-train", "--out", "b", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    (tmp_path / "b" / "config.yaml").write_text(config)
    proc = _cli(
        "build", str(blueprint_file), "--resume", "--out", "b", "--max-epochs", "1", cwd=tmp_path
    )
    _one_error(proc, 2, str(tmp_path / "b" / "config.yaml"), needle)
    assert (tmp_path / "b" / "config.yaml").read_text() == config


# --------------------------------------------------------------------------- X20


@pytest.mark.parametrize("uri", ["http://", "https://:5000", "http://127.0.0.1:99999"])
def test_x20_malformed_http_uri_exits_2_at_once_and_writes_nothing(
    blueprint_file: Path, tmp_path: Path, uri: str
) -> None:
    t0 = time.monotonic()
    proc = _cli(
        "build", str(blueprint_file), "--max-epochs", "1", "--out", "b", "--tracking-uri", uri,
        cwd=tmp_path,
    )  # fmt: skip
    elapsed = time.monotonic() - t0
    _one_error(proc, 2, "--tracking-uri")
    assert elapsed < 8, f"a URI with no host must not wait for the probe ({elapsed:.1f}s)"
    assert not (tmp_path / "b").exists()


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_x20_dead_server_is_reported_before_the_build_folder_is_written(
    blueprint_file: Path, tmp_path: Path
) -> None:
    uri = f"http://127.0.0.1:{_dead_port()}"
    proc = _cli(
        "build", str(blueprint_file), "--max-epochs", "1", "--out", "b", "--tracking-uri", uri,
        cwd=tmp_path, timeout=120,
    )  # fmt: skip
    _one_error(proc, 6, "does not answer")
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize(
    ("uri", "kind"),
    [
        ("databricks", "databricks"),
        ("databricks://profile", "databricks"),
        ("postgresql+psycopg2://u@db.example/mlflow", "postgresql"),
        ("postgres://db.example/mlflow", "postgresql"),
        ("mysql://db.example/mlflow", "mysql"),
        ("mssql+pyodbc://db.example/mlflow", "mssql"),
        ("sqlite:///mlflow.db", "sqlite"),
        ("file:///tmp/mlruns", "file"),
        ("./mlruns", "file"),
        ("http://127.0.0.1:5000", "http"),
        ("https://mlflow.example", "https"),
    ],
)
def test_x20_backend_kind_classifies_every_backend(uri: str, kind: str) -> None:
    from mlflowctl.mlops.store import backend_kind

    assert backend_kind(uri) == kind


def test_x20_databricks_is_neither_a_file_store_in_errors_nor_in_doctor(tmp_path: Path) -> None:
    from mlflowctl.mlops.store import resolve_tracking_uri

    assert resolve_tracking_uri("databricks") == "databricks"
    assert resolve_tracking_uri("databricks://profile") == "databricks://profile"
    proc = _cli("doctor", "--tracking-uri", "databricks", "--json", cwd=tmp_path, timeout=120)
    assert json.loads(proc.stdout)["tracking"]["kind"] == "databricks"
