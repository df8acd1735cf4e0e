"""Where the tracking store is and how to reach it safely.

MLflow's own defaults are hostile to a CLI: a dead server costs ~4 minutes of retries, eight
processes first-touching a fresh SQLite file race on schema creation and can leave it half
migrated, and credentials in a URI end up wherever the URI is printed. Everything here runs
before the first real MLflow call so those failure modes turn into one clear error instead.
Only this module, ``tracking`` and ``registry_ops`` import mlflow.
"""

from __future__ import annotations

import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from mlflowctl.errors import (
    EnvironmentProblemError,
    InvalidInputError,
    TrackingUnavailableError,
)
from mlflowctl.mlops.faults import _raise_store_error
from mlflowctl.mlops.faults import store_error as store_error
from mlflowctl.mlops.faults import tracking_errors as tracking_errors
from mlflowctl.mlops.faults import tracking_unavailable as tracking_unavailable
from mlflowctl.mlops.uri import artifact_root as artifact_root
from mlflowctl.mlops.uri import backend_kind as backend_kind
from mlflowctl.mlops.uri import check_uri_syntax as check_uri_syntax
from mlflowctl.mlops.uri import locate_tracking_store as locate_tracking_store
from mlflowctl.mlops.uri import redact as redact
from mlflowctl.mlops.uri import resolve_tracking_uri as resolve_tracking_uri
from mlflowctl.mlops.uri import sqlite_path as sqlite_path

#: retry budget for MLflow's HTTP client unless the user set one (F8: dead server fails fast)
HTTP_BUDGET = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}
PROBE_TIMEOUT_S = 5.0
PROBE_DEADLINE_S = 10.0


def lock_path(uri: str) -> Path:
    """A lock file beside the SQLite DB; for a remote store, one per URI in the temp dir.

    The temp dir (not the working directory) so every mlflowctl on this machine promoting to the
    same server is serialized, and no lock file litters the user's project.
    """
    path = sqlite_path(uri)
    if path is not None:
        return path.resolve().with_name(path.name + ".lock")
    import hashlib
    import tempfile

    digest = hashlib.sha256(uri.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / "mlflowctl-locks" / f"registry-{digest}.lock"


@contextmanager
def store_lock(uri: str, timeout: float = 120.0) -> Iterator[None]:
    """Serialize schema set-up and promotions across processes (F14, L4)."""
    from filelock import FileLock, Timeout

    path = lock_path(uri)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path), timeout=timeout)
        lock.acquire()
    except Timeout:  # an OSError too: first
        from mlflowctl.errors import LockHeldError

        raise LockHeldError(
            f"another mlflowctl process holds {path} for more than {timeout:.0f} s",
            hint="wait for it to finish, or remove the lock file if no mlflowctl is running",
            location=str(path),
        ) from None
    except OSError as exc:  # a read-only or missing folder: say which (X16)
        raise EnvironmentProblemError(
            f"cannot create the tracking store's lock file: {exc.strerror or exc}",
            hint="run from a writable folder, or point --tracking-uri / MLFLOW_TRACKING_URI "
            "at a writable place",
            location=str(path),
        ) from None
    try:
        yield
    finally:
        lock.release()


def _http_budget() -> None:
    for name, value in HTTP_BUDGET.items():
        os.environ.setdefault(name, value)


def probe_server(uri: str, deadline_s: float = PROBE_DEADLINE_S) -> None:
    """Fail fast (exit 6) when the server does not answer ``/health`` (F8)."""
    base = uri.rstrip("/")
    t0 = time.monotonic()
    last = "no answer"
    headers: dict[str, str] = {}
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    if user is not None:
        import base64

        token = f"{user}:{os.environ.get('MLFLOW_TRACKING_PASSWORD', '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
    while True:
        for endpoint in ("/health", "/version"):
            try:
                req = urllib.request.Request(base + endpoint, headers=headers)
                with urllib.request.urlopen(req, timeout=PROBE_TIMEOUT_S) as resp:
                    if resp.status == 200:
                        return
                    last = f"HTTP {resp.status}"
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
                if exc.code in (401, 403):
                    return  # the server is up; MLflow reports the auth problem itself
            except (OSError, ValueError) as exc:
                last = str(getattr(exc, "reason", exc))
        if time.monotonic() - t0 + 2.0 > deadline_s:
            break
        time.sleep(2.0)
    raise TrackingUnavailableError(
        f"tracking server {redact(uri)} does not answer ({redact(last)})",
        hint="start it (`mlflow server`), check --tracking-uri / MLFLOW_TRACKING_URI, "
        "or use the local default sqlite:///mlflow.db",
        location="--tracking-uri",
    )


_ready: set[str] = set()


def _quiet_mlflow() -> None:
    """MLflow's INFO chatter and its type-hint advice say nothing a user of mlflowctl can act on
    (our pyfunc leaves hints out on purpose: MLflow would read them as the input schema)."""
    import logging
    import warnings

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    # it logs a traceback for every failed DB write; ``tracking_errors`` reports them in one line
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message=r".*Add type hints to the `predict` method.*")


def prepare_store(uri: str) -> None:
    """Make ``uri`` usable once per process: HTTP budget + probe, or a locked SQLite set-up.

    SQLite: the schema is created by the first process under a file lock beside the DB, so N
    processes first-touching a fresh file all succeed (F14). An old schema is reported, never
    migrated (B28).
    """
    _quiet_mlflow()
    if uri in _ready:
        import mlflow

        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        return
    # stdout belongs to mlflowctl's results (--json): no progress bars or run links from MLflow
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    import mlflow

    if uri.startswith(("http://", "https://")):
        _http_budget()
        probe_server(uri)
    elif uri.startswith("sqlite:"):
        from mlflow.exceptions import MlflowException
        from mlflow.store.model_registry.sqlalchemy_store import (
            SqlAlchemyStore as RegistryStore,
        )
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore

        path = sqlite_path(uri)
        assert path is not None
        _make_store_folder(path)
        with store_lock(uri):
            try:
                TrackingStore(uri, artifact_root(uri))  # type: ignore[no-untyped-call]
                RegistryStore(uri)  # type: ignore[no-untyped-call]
            except MlflowException as exc:
                if "out-of-date database schema" in str(exc):
                    raise InvalidInputError(
                        f"{path} has an old MLflow schema",
                        hint=f"back it up, then run `mlflow db upgrade {uri}`",
                        location=str(path),
                    ) from None
                _raise_store_error(uri, exc, setup=True)
            except Exception as exc:
                _raise_store_error(uri, exc, setup=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    _ready.add(uri)


def _make_store_folder(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # sqlite:////proc/nope/x.db, a read-only parent (X16)
        raise EnvironmentProblemError(
            f"cannot create the folder of the tracking store: {exc.strerror or exc}",
            hint="point --tracking-uri / MLFLOW_TRACKING_URI at a writable place, "
            "e.g. sqlite:///mlflow.db",
            location=str(path.parent),
        ) from None


def check_store(uri: str) -> None:
    """The store checks that must come before a file is written (F8, X16, X20), without
    ``import mlflow`` for the two common stores so that a build starts training at once:

    * http(s): the ``/health`` probe (a dead server: exit 6);
    * SQLite: the folder can be created and an existing file is an SQLite database (exit 2).

    The rest (the schema, the old-schema check B28, the registry names B23) runs alongside the
    training (``train_tracked``); any other store is prepared here in full, as before.
    """
    if uri.startswith(("http://", "https://")):
        _http_budget()
        probe_server(uri)
        return
    path = sqlite_path(uri) if uri.startswith("sqlite:") else None
    if path is None:
        prepare_store(uri)
        return
    import sqlite3

    _make_store_folder(path)
    if not path.is_file() or path.stat().st_size == 0:
        return
    try:  # read only: the user's file is never changed here
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        _raise_store_error(uri, exc, setup=True)


def client(uri: str) -> Any:
    """An ``MlflowClient`` for a prepared store."""
    from mlflow import MlflowClient

    prepare_store(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def set_tags(c: Any, run_id: str, tags: dict[str, str]) -> None:
    """Several tags of one run in one store transaction (each ``set_tag`` commits, and a
    commit right after artifact writes can wait a third of a second for the disk)."""
    from mlflow.entities import RunTag

    c.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])


def get_or_create_experiment(uri: str, name: str) -> str:
    """The experiment's id; created with artifacts under ``mlartifacts/`` beside the DB."""
    from mlflow.exceptions import MlflowException

    c = client(uri)
    exp = c.get_experiment_by_name(name)
    if exp is not None:
        return str(exp.experiment_id)
    root = artifact_root(uri)
    location = None
    if root is not None:
        slug = re.sub(r"[^A-Za-z0-9_.\-]", "_", name)
        location = f"{root}/{slug}"
    ctx = store_lock(uri) if root is not None else _nolock()
    with ctx:
        exp = c.get_experiment_by_name(name)
        if exp is not None:
            return str(exp.experiment_id)
        try:
            return str(c.create_experiment(name, artifact_location=location))
        except MlflowException:
            exp = c.get_experiment_by_name(name)
            if exp is None:
                raise
            return str(exp.experiment_id)


@contextmanager
def _nolock() -> Iterator[None]:
    yield


@contextmanager
def mlflow_errors(uri: str) -> Iterator[None]:
    """MLflow's own exceptions as mlflowctl errors: one redacted line and an exit code.

    Connection failures after the start-up probe (server went away) become exit 6; anything
    else MLflow refuses (a missing resource, a conflicting write) becomes exit 7.
    """
    from mlflow.exceptions import MlflowException

    from mlflowctl.errors import RegistryConflictError

    try:
        yield
    except MlflowException as exc:
        first = (
            redact(str(exc.message)).splitlines()[0][:300] if exc.message else type(exc).__name__
        )
        if "API request to" in first or "Max retries exceeded" in first:
            raise TrackingUnavailableError(
                f"tracking server {redact(uri)} stopped answering: {first}",
                hint="check the server and retry; nothing was half-written by mlflowctl",
                location="--tracking-uri",
            ) from None
        raise RegistryConflictError(first, hint="see `mlflowctl registry show NAME`") from None


def backend_versions(uri: str, timeout_s: float = PROBE_TIMEOUT_S) -> dict[str, str | None]:
    """What the tracking store runs, for ``doctor``: its kind and versions, never credentials.

    ``http(s)``: the server's ``GET /version`` (the database behind it is not visible from here).
    A direct SQLAlchemy URI (``postgresql://``, ``mysql+pymysql://``, ...): the database server's
    version, asked over one short connection. ``sqlite``: the SQLite library's version (the file
    is not opened, so it is never created). ``error`` says why a version is missing.
    """
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    kind = scheme.split("+", 1)[0]
    out: dict[str, str | None] = {
        "kind": kind or "unknown",
        "server_version": None,
        "database_version": None,
        "error": None,
    }
    if kind in ("http", "https"):
        out["kind"] = "http"
        try:
            out["server_version"] = _server_version(uri, timeout_s)
        except (OSError, ValueError) as exc:
            out["error"] = redact(f"no answer from /version: {getattr(exc, 'reason', exc)}")
    elif kind == "sqlite":
        import sqlite3

        out["database_version"] = sqlite3.sqlite_version
    elif kind in ("postgresql", "postgres", "mysql", "mariadb", "mssql"):
        try:
            out["database_version"] = _database_version(uri, kind, timeout_s)
        except Exception as exc:  # any driver error: reported, never raised by doctor
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            out["error"] = redact(f"{type(exc).__name__}: {first}")[:300]
    return out


def _server_version(uri: str, timeout_s: float) -> str:
    import base64

    parts = urllib.parse.urlsplit(uri)
    host = parts.hostname or ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    url = urllib.parse.urlunsplit(
        (parts.scheme, netloc, parts.path.rstrip("/") + "/version", "", "")
    )
    user = urllib.parse.unquote(parts.username) if parts.username else None
    password = urllib.parse.unquote(parts.password or "") if user else None
    if user is None and os.environ.get("MLFLOW_TRACKING_USERNAME") is not None:
        user = os.environ["MLFLOW_TRACKING_USERNAME"]
        password = os.environ.get("MLFLOW_TRACKING_PASSWORD", "")
    headers = {}
    if user is not None:
        token = f"{user}:{password}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
    req = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(req, timeout=timeout_s) as resp:
        return str(resp.read(100).decode("utf-8", "replace").strip())


def _database_version(uri: str, kind: str, timeout_s: float) -> str:
    import sqlalchemy

    connect_args: dict[str, Any] = {}
    if kind in ("postgresql", "postgres", "mysql", "mariadb"):
        connect_args["connect_timeout"] = max(1, int(timeout_s))
    if kind == "postgres":  # SQLAlchemy knows only the long name
        uri = "postgresql" + uri[len("postgres") :]
    engine = sqlalchemy.create_engine(uri, connect_args=connect_args, poolclass=sqlalchemy.NullPool)
    try:
        with engine.connect() as conn:
            if kind.startswith("postgres"):
                return str(conn.execute(sqlalchemy.text("SHOW server_version")).scalar_one())
            info = engine.dialect.server_version_info or ()
            return ".".join(str(p) for p in info) or "unknown"
    finally:
        engine.dispose()
