"""Where the tracking store is and how to reach it safely.

MLflow's own defaults are hostile to a CLI: a dead server costs ~4 minutes of retries, eight
processes first-touching a fresh SQLite file race on schema creation and can leave it half
migrated, and credentials in a URI end up wherever the URI is printed. Everything here runs
before the first real MLflow call so those failure modes turn into one clear error instead.
Only this module, ``tracking`` and ``registry_ops`` import mlflow.
"""

from __future__ import annotations

import errno
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlflowctl import environ_snapshot
from mlflowctl.errors import (
    EnvironmentProblemError,
    InvalidInputError,
    MlflowctlError,
    TrackingUnavailableError,
)

#: retry budget for MLflow's HTTP client unless the user set one (F8: dead server fails fast)
HTTP_BUDGET = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}
PROBE_TIMEOUT_S = 5.0
PROBE_DEADLINE_S = 10.0

_CRED_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<cred>[^/@\s]+)@")
_SECRET_ENV_RE = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.IGNORECASE)
_extra_secrets: set[str] = set()


def redact(text: str) -> str:
    """Text safe to print or store: URI credentials and secret env values become ``***``."""
    text = _CRED_RE.sub(lambda m: f"{m.group('scheme')}***@", text)
    secrets = set(_extra_secrets)
    for name, value in environ_snapshot().items():  # never the live mapping (X9)
        if _SECRET_ENV_RE.search(name) and len(value) >= 6:
            secrets.add(value)
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _strip_credentials(uri: str) -> str:
    """Move ``user:pass@`` of an http(s) URI into MLflow's auth env vars (B25)."""
    parts = urllib.parse.urlsplit(uri)
    if not parts.username and not parts.password:
        return uri
    user = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password or "")
    for secret in (user, password, f"{user}:{password}"):
        if secret:
            _extra_secrets.add(secret)
    os.environ["MLFLOW_TRACKING_USERNAME"] = user
    os.environ["MLFLOW_TRACKING_PASSWORD"] = password
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def resolve_tracking_uri(
    flag: str | None = None,
    policy_uri: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> str:
    """``locate_tracking_store`` without the source."""
    return locate_tracking_store(flag, policy_uri, env=env, cwd=cwd)[0]


def locate_tracking_store(
    flag: str | None,
    policy_uri: str | None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> tuple[str, str]:
    """THE tracking-URI rule, as ``(uri, source)``: the ``--tracking-uri`` flag, else
    ``MLFLOW_TRACKING_URI`` (from ``env``, default ``os.environ``), else the mlops policy's
    ``tracking_uri``, else ``sqlite:///mlflow.db``. A relative SQLite path is made absolute
    against ``cwd`` (default: the process's working directory). ``mlflowctl.settings.Settings``
    is how commands call it.

    The answer has no credentials in it: they moved to ``MLFLOW_TRACKING_USERNAME/PASSWORD``.
    """
    source = "--tracking-uri"
    uri = flag
    if not uri:
        value = (os.environ if env is None else env).get("MLFLOW_TRACKING_URI")
        uri, source = value or None, "MLFLOW_TRACKING_URI"
    if not uri and policy_uri:
        uri, source = policy_uri, "mlops-architect policy"
    if not uri:
        uri, source = "sqlite:///mlflow.db", "default"
    uri = uri.strip()
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    if backend_kind(uri) == "databricks":
        return uri, source
    if scheme in {"", "file"}:
        raise InvalidInputError(
            f"file-store tracking URI {redact(uri)!r} is not supported",
            hint="use a database store, e.g. --tracking-uri sqlite:///mlflow.db",
            location=source,
        )
    if scheme == "sqlite":
        path = sqlite_path(uri)
        if path is None:
            raise InvalidInputError(
                f"sqlite URI {uri!r} names no file",
                hint="e.g. sqlite:///mlflow.db",
                location=source,
            )
        base = cwd if cwd is not None else Path.cwd()
        return f"sqlite:///{(base / path.expanduser()).resolve()}", source
    if scheme in {"http", "https"}:
        check_uri_syntax(uri, source)
        return _strip_credentials(uri), source
    if scheme in {"postgresql", "mysql", "mssql", "databricks"} or "+" in scheme:
        return uri, source
    raise InvalidInputError(
        f"unsupported tracking URI scheme {scheme!r}",
        hint="use sqlite:///mlflow.db or http(s)://host:port",
        location=source,
    )


_SQLALCHEMY_BACKENDS = {"postgresql": "postgresql", "postgres": "postgresql", "mysql": "mysql",
                        "mssql": "mssql", "sqlite": "sqlite"}  # fmt: skip


def backend_kind(uri: str) -> str:
    """What kind of store ``uri`` names: sqlite, file, http, https, postgresql, mysql, mssql,
    databricks, or unknown. Purely syntactic (no I/O, no MLflow import): ``doctor`` and the
    error messages classify backends with this one rule."""
    text = uri.strip()
    low = text.lower()
    if low == "databricks" or low.startswith(("databricks://", "databricks-uc")):
        return "databricks"
    scheme = low.split(":", 1)[0] if ":" in low else ""
    if not scheme or len(scheme) == 1 or scheme == "file":  # a path (C:\... too) or file:
        return "file"
    if scheme in ("http", "https"):
        return scheme
    return _SQLALCHEMY_BACKENDS.get(scheme.split("+", 1)[0], "unknown")


def check_uri_syntax(uri: str, source: str = "--tracking-uri") -> None:
    """Refuse (exit 2) an http(s) URI that names no host or a bad port, before any network
    call: ``http://`` alone must not cost the probe's 10 s deadline and then exit 6."""
    try:
        parts = urllib.parse.urlsplit(uri)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise InvalidInputError(
            f"tracking URI {redact(uri)!r} is malformed: {exc}",
            hint="e.g. http://127.0.0.1:5000",
            location=source,
        ) from None
    if not host:
        raise InvalidInputError(
            f"tracking URI {redact(uri)!r} names no host",
            hint="e.g. http://127.0.0.1:5000",
            location=source,
        )


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (relative to the cwd when relative)."""
    if not uri.lower().startswith("sqlite:///"):
        return None
    rest = uri[len("sqlite:///") :].split("?", 1)[0]
    if not rest or rest == ":memory:":
        return None
    return Path(rest)


def artifact_root(uri: str) -> str | None:
    """``mlartifacts`` beside the SQLite file, as a file URI; None for remote stores."""
    path = sqlite_path(uri)
    if path is None:
        return None
    return (path.resolve().parent / "mlartifacts").as_uri()


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
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # sqlite:////proc/nope/x.db, a read-only parent (X16)
            raise EnvironmentProblemError(
                f"cannot create the folder of the tracking store: {exc.strerror or exc}",
                hint="point --tracking-uri / MLFLOW_TRACKING_URI at a writable place, "
                "e.g. sqlite:///mlflow.db",
                location=str(path.parent),
            ) from None
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


def client(uri: str) -> Any:
    """An ``MlflowClient`` for a prepared store."""
    from mlflow import MlflowClient

    prepare_store(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


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


#: what MLflow says when the store went away mid-command (server down, or its database)
_UNAVAILABLE_MARKERS = ("API request to", "Max retries exceeded", "TEMPORARILY_UNAVAILABLE")


@contextmanager
def tracking_unavailable(uri: str) -> Iterator[None]:
    """A store that stops answering mid-command (the server, or the PostgreSQL behind it, which
    the server reports as 503) becomes exit 6 with one line; every other MLflow error passes.
    """
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        text = str(exc.message or "")
        code = str(getattr(exc, "error_code", "") or "")
        if code != "TEMPORARILY_UNAVAILABLE" and not any(m in text for m in _UNAVAILABLE_MARKERS):
            raise
        first = redact(text).splitlines()[0][:300] if text else type(exc).__name__
        raise TrackingUnavailableError(
            f"tracking store {redact(uri)} stopped answering: {first}",
            hint="check the server and its database, then rerun with --resume "
            "(a version is never registered twice)",
            location="--tracking-uri",
        ) from None


# --------------------------------------------------------------------------- store faults

_DISK_FULL = ("database or disk is full", "no space left on device", "file too large")
_NOT_A_DB = ("file is not a database", "file is encrypted or is not a database")
_CANNOT_OPEN = ("unable to open database file", "readonly database", "disk i/o error")
_UNREACHABLE = (
    "api request to",
    "max retries exceeded",
    "connection refused",
    "connection aborted",
    "connection reset",
    "remote end closed",
    "read timed out",
    "name or service not known",
)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen and len(seen) < 8:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


def _no_room(path: Path) -> bool:
    """SQLite reports a write past the disk or the file-size limit as ``disk I/O error``: tell
    whether that is what happened to ``path`` (ENOSPC: under 1 MiB free; EFBIG: the file is
    at this process's ``RLIMIT_FSIZE``)."""
    try:
        st = os.statvfs(path.parent)
        if st.f_bavail * st.f_frsize < 1 << 20:
            return True
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
        if soft == resource.RLIM_INFINITY:
            return False
        sizes = [p.stat().st_size for p in (path, Path(f"{path}-journal"), Path(f"{path}-wal"))
                 if p.exists()]  # fmt: skip
        return any(size + 65536 >= soft for size in sizes)
    except (OSError, ValueError, ImportError):
        return False


def _is_store_exception(exc: BaseException) -> bool:
    module = type(exc).__module__
    return module.split(".", 1)[0] in ("mlflow", "sqlalchemy", "requests", "urllib3", "sqlite3")


def store_error(uri: str, exc: BaseException, *, setup: bool = False) -> MlflowctlError | None:
    """The mlflowctl error for a fault of the store behind ``uri``; None when ``exc`` is not one.

    ``setup``: the fault happened while preparing the store, before any run exists. Local
    problems found then (unreachable path, read-only folder, full disk, a file that is not a
    database) are environment errors (exit 2); once runs exist, a store that stops accepting
    writes is exit 6 and the build resumes later (see ``errors``).
    """
    chain = _chain(exc)
    if not any(_is_store_exception(e) or isinstance(e, OSError) for e in chain):
        return None
    if not any(_is_store_exception(e) for e in chain) and not any(
        isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EFBIG, errno.EROFS)
        for e in chain
    ):
        return None  # a plain OSError of the caller's own files is not ours to classify
    text = " | ".join(str(e) for e in chain).lower()
    first = (
        redact(str(exc)).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
    )
    path = sqlite_path(uri)
    where = str(path) if path is not None else "--tracking-uri"
    suffix = "" if path is not None else f" {redact(uri)}"  # a file is named by location
    resume = "then continue with --resume (the results are kept in the build folder)"
    disk_full = any(
        isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EFBIG) for e in chain
    ) or any(s in text for s in _DISK_FULL)
    if not disk_full and path is not None and "disk i/o error" in text:
        disk_full = _no_room(path)
    if disk_full:
        cls: type[MlflowctlError] = EnvironmentProblemError if setup else TrackingUnavailableError
        return cls(
            f"disk full (ENOSPC/EFBIG) while writing the tracking store{suffix}",
            hint=f"free space on the disk or raise the file-size limit, {resume}",
            location=where,
            details={"cause": first},
        )
    if any(s in text for s in _NOT_A_DB):
        return EnvironmentProblemError(
            "the tracking store is not an SQLite database (file is not a database)",
            hint="move the file aside, or point --tracking-uri / MLFLOW_TRACKING_URI elsewhere",
            location=where,
            details={"cause": first},
        )
    if path is not None and any(s in text for s in _CANNOT_OPEN):
        cls = EnvironmentProblemError if setup else TrackingUnavailableError
        return cls(
            f"cannot write the tracking store{suffix} ({first})",
            hint="check that the file and its folder are writable"
            + ("" if setup else f", {resume}"),
            location=where,
        )
    if setup and path is not None:
        return EnvironmentProblemError(
            f"cannot use the tracking store: {first}",
            hint="point --tracking-uri / MLFLOW_TRACKING_URI at a writable SQLite file",
            location=where,
        )
    reason = "stopped answering" if any(s in text for s in _UNREACHABLE) else "refused a write"
    return TrackingUnavailableError(
        f"tracking store{suffix} {reason}: {first}",
        hint=f"check the store (`mlflowctl doctor`), {resume}",
        location=where,
    )


def _raise_store_error(uri: str, exc: BaseException, *, setup: bool = False) -> None:
    err = store_error(uri, exc, setup=setup)
    if err is None:
        raise exc
    raise err from None


@contextmanager
def tracking_errors(uri: str, *, setup: bool = False) -> Iterator[None]:
    """The mlops boundary: a store fault (``MlflowException``, SQLAlchemy ``OperationalError``,
    a ``requests`` connection error, ENOSPC/EFBIG) leaves as one mlflowctl error line with the
    exit code of the table, never as a traceback with exit 1. mlflowctl errors pass through."""
    try:
        yield
    except MlflowctlError:
        raise
    except Exception as exc:
        _raise_store_error(uri, exc, setup=setup)
