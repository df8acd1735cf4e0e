"""A real PostgreSQL cluster and an ``mlflow server`` on it, on loopback, for the team-store tests.

* :func:`pg_bindir` finds ``initdb``/``pg_ctl`` (``/usr/lib/postgresql/*/bin``, then ``PATH``).
* :func:`require_postgres` skips with a reason when PostgreSQL or psycopg is missing, but fails
  under ``CI=true`` so a broken install in CI cannot hide behind a skip.
* :class:`PgCluster` is a throw-away cluster in a temp folder (owned by the ``postgres`` user when
  we run as root: PostgreSQL refuses to run as root), listening on 127.0.0.1 and a free port with
  its socket in the same folder, password authentication for TCP. ``start``/``stop`` can be called
  again (the fault test stops the database under a running build).
* :class:`MlflowServer` is ``mlflow server --backend-store-uri postgresql://... --serve-artifacts
  --artifacts-destination <dir>`` on a free loopback port, ready once ``/health`` answers.

Used as pytest fixtures by ``tests/test_postgres_store.py``; nothing here imports mlflow.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

DB_USER = "mlflow"
#: a canary: tests check it never appears in anything mlflowctl prints
DB_PASSWORD = "pg-Canary-7f3e91"
DB_NAME = "mlflow"


def pg_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<v>/bin`` with ``initdb`` and ``pg_ctl``, else PATH's.

    ``MLFLOWCTL_TEST_PG_BIN`` names the folder instead (a folder without them: no PostgreSQL).
    """
    forced = os.environ.get("MLFLOWCTL_TEST_PG_BIN")
    if forced is not None:
        found = (Path(forced) / "initdb").is_file() and (Path(forced) / "pg_ctl").is_file()
        return Path(forced) if found else None

    def version(path: str) -> float:
        try:
            return float(Path(path).parent.name)
        except ValueError:
            return 0.0

    for cand in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True):
        if (Path(cand) / "initdb").is_file() and (Path(cand) / "pg_ctl").is_file():
            return Path(cand)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    return None


def require_postgres() -> Path:
    """The PostgreSQL bin folder; skip (or fail under ``CI=true``) when it cannot be used."""
    reason = None
    bindir = pg_bindir()
    if bindir is None:
        reason = "PostgreSQL not installed (no initdb/pg_ctl; apt-get install postgresql)"
    elif os.geteuid() == 0 and not _has_user("postgres"):
        reason = "running as root and there is no 'postgres' user to run the cluster as"
    else:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            reason = "psycopg is not installed (pip install -e '.[dev]')"
    if reason is not None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true and the PostgreSQL tests cannot run: {reason}", pytrace=False)
        pytest.skip(reason)
    assert bindir is not None
    return bindir


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    """A PostgreSQL cluster in a temp folder; :meth:`start` creates it on first use."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.as_root = os.geteuid() == 0
        # not under pytest's tmp_path: that is 0700 root and the postgres user cannot enter it
        self.home = Path(tempfile.mkdtemp(prefix="mlflowctl-pg-"))
        self.data = self.home / "data"
        self.log = self.home / "postgres.log"
        self.port = free_port()
        try:
            if self.as_root:
                shutil.chown(self.home, "postgres", "postgres")
            self._initdb()
        except BaseException:
            self.destroy()
            raise

    @property
    def uri(self) -> str:
        """The SQLAlchemy URI of the test database (with its password)."""
        return f"postgresql://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{self.port}/{DB_NAME}"

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, check=False, cwd=self.home
        )
        if proc.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr[-2000:]}\n{log}")
        return proc

    def _initdb(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "-E", "UTF8", "--no-sync",
            "--auth-local=trust", "--auth-host=scram-sha-256", "--no-instructions",
        )  # fmt: skip
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.home}'\n"
                "max_connections = 200\nfsync = off\nsynchronous_commit = off\n"
                "full_page_writes = off\nshared_buffers = 32MB\n"
            )
        self.start()
        self.psql(f"CREATE ROLE {DB_USER} LOGIN PASSWORD '{DB_PASSWORD}'")
        self.psql(f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}")

    def psql(self, sql: str, db: str = "postgres") -> str:
        """Run ``sql`` as the superuser over the unix socket (trust auth)."""
        return self._run(
            "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", str(self.home),
            "-p", str(self.port), "-U", "postgres", "-d", db, "-c", sql,
        ).stdout  # fmt: skip

    def create_database(self, name: str) -> str:
        """A fresh database owned by the test role; its URI."""
        self.psql(f"CREATE DATABASE {name} OWNER {DB_USER}")
        return f"postgresql://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def destroy(self) -> None:
        try:
            if self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.home, ignore_errors=True)


class MlflowServer:
    """``mlflow server`` on a PostgreSQL backend with proxied artifacts, on 127.0.0.1."""

    def __init__(self, backend_uri: str, home: Path, workers: int = 2) -> None:
        self.backend_uri = backend_uri
        self.home = home
        self.home.mkdir(parents=True, exist_ok=True)
        self.artifacts = home / "artifacts"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 180) -> None:
        cmd = [
            sys.executable, "-m", "mlflow", "server",
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers),
            "--backend-store-uri", self.backend_uri,
            "--serve-artifacts", "--artifacts-destination", str(self.artifacts),
        ]  # fmt: skip
        log = open(self.home / "server.log", "ab")  # noqa: SIM115 - the child keeps it
        try:
            self.proc = subprocess.Popen(
                cmd, cwd=self.home, stdout=log, stderr=log, start_new_session=True
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = (self.home / "server.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"mlflow server did not start on PostgreSQL:\n{tail}")
            time.sleep(0.5)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=8)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
