"""Optuna storages from a ``--storage`` URL, and the lock file beside a local one."""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlflowctl.errors import InvalidInputError, LockHeldError, TrackingUnavailableError


def open_storage(url: str) -> Any:
    """Optuna storage from a URL: SQLite/PostgreSQL/MySQL (RDB) or a journal file path."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    scheme = url.split("://", 1)[0] if "://" in url else None
    if scheme is None:
        path = Path(url.removeprefix("journal:"))
        if not path.parent.is_dir():
            raise TrackingUnavailableError(
                f"the journal file's folder {path.parent} does not exist",
                hint="create the folder or pass another --storage",
                location="--storage",
            )
        try:
            return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
        except OSError as exc:
            raise TrackingUnavailableError(
                f"cannot open the journal file {path}: {exc}", location="--storage"
            ) from None
    if not scheme.startswith(("sqlite", "postgresql", "mysql")):
        raise InvalidInputError(
            f"unknown storage scheme {scheme!r}",
            hint="a journal file path, sqlite:///FILE, postgresql://... or mysql://...",
            location="--storage",
        )
    kwargs: dict[str, Any] = {}
    if scheme.startswith("postgresql"):
        kwargs = {"connect_args": {"connect_timeout": 10}}
        url = with_installed_driver(url)
    for attempt in range(SCHEMA_RACE_TRIES):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        except Exception as exc:
            if attempt + 1 < SCHEMA_RACE_TRIES and _schema_race(exc):
                time.sleep(0.5 * (attempt + 1))  # another worker is creating the tables
                continue
            raise _storage_error(exc, scheme) from None
    raise AssertionError("unreachable")


#: opening attempts when several workers create an empty database's tables at once
SCHEMA_RACE_TRIES = 5


def _schema_race(exc: BaseException) -> bool:
    """Optuna's CREATE TABLEs lost to a concurrent process's (PostgreSQL: a unique violation on
    ``pg_type``, or "already exists"): opening again finds the tables there."""
    text = f"{type(exc).__name__} {exc}"
    return "IntegrityError" in text or "UniqueViolation" in text or "already exists" in text


def _storage_error(exc: BaseException, scheme: str) -> Exception:
    """Why an RDB storage could not be opened, as the error the CLI reports."""
    if isinstance(exc, ImportError):
        return InvalidInputError(
            f"no database driver for {scheme}: {exc}",
            hint="install a driver: pip install 'mlflowctl[team]' (psycopg) or psycopg2-binary",
            location="--storage",
        )
    first = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
    return TrackingUnavailableError(  # sqlalchemy's OperationalError and kin
        f"cannot reach the study storage: {first}",
        hint="check the URL and that the database answers",
        location="--storage",
    )


def with_installed_driver(url: str) -> str:
    """``postgresql://`` means psycopg2 to SQLAlchemy; with only psycopg 3 installed (what
    ``mlflowctl[team]`` brings) name that driver instead. Explicit drivers are kept."""
    import importlib.util

    if not url.startswith("postgresql://") or importlib.util.find_spec("psycopg2") is not None:
        return url
    if importlib.util.find_spec("psycopg") is None:
        return url
    return "postgresql+psycopg://" + url.removeprefix("postgresql://")


def storage_lock_path(storage: str) -> Path | None:
    """A lock file beside a local storage (journal file or SQLite), None for a server."""
    if storage.startswith("sqlite:///"):
        return Path(storage.removeprefix("sqlite:///") + ".mlflowctl.lock")
    if "://" in storage:
        return None
    return Path(storage + ".mlflowctl.lock")


#: a setup lock held longer than this is a crashed holder's: taken over
STALE_SETUP_S = 300.0


@contextlib.contextmanager
def study_setup_lock(storage_url: str, storage: Any, study_name: str) -> Iterator[None]:
    """Exclusive while a process sets a study up (its first trial, its one parent MLflow run).

    A local storage (journal file, SQLite) has a file lock beside it; a database shared by
    several machines has none, so the lock is a marker study ``<name>.mlflowctl-setup`` that
    only one process can create (the database's unique study name decides) and that its holder
    deletes again; one left by a crashed process is taken over after ``STALE_SETUP_S``."""
    lock = storage_lock_path(storage_url)
    if lock is not None:
        from filelock import FileLock

        with FileLock(str(lock), timeout=600):
            yield
        return
    import optuna

    marker = f"{study_name}.mlflowctl-setup"
    deadline = time.monotonic() + 2 * STALE_SETUP_S
    while True:
        try:
            held = optuna.create_study(study_name=marker, storage=storage)
            held.set_user_attr("since", time.time())
            break
        except optuna.exceptions.DuplicatedStudyError:
            with contextlib.suppress(Exception):
                since = optuna.load_study(study_name=marker, storage=storage).user_attrs
                if time.time() - float(since.get("since", time.time())) > STALE_SETUP_S:
                    optuna.delete_study(study_name=marker, storage=storage)
                    continue
            if time.monotonic() > deadline:
                raise LockHeldError(
                    f"study {study_name!r} is being set up by another process",
                    hint=f"if none is running, delete the study {marker!r} from the storage",
                    location="--study",
                ) from None
            time.sleep(0.5)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            optuna.delete_study(study_name=marker, storage=storage)
