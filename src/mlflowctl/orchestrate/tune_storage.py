"""Optuna storages from a ``--storage`` URL, and the lock file beside a local one."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from mlflowctl.errors import InvalidInputError, TrackingUnavailableError


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
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
    except ImportError as exc:
        raise InvalidInputError(
            f"no database driver for {scheme}: {exc}",
            hint="install the driver (e.g. pip install psycopg2-binary)",
            location="--storage",
        ) from None
    except Exception as exc:  # sqlalchemy's OperationalError and kin
        first = str(exc).splitlines()[0][:300]
        raise TrackingUnavailableError(
            f"cannot reach the study storage: {first}",
            hint="check the URL and that the database answers",
            location="--storage",
        ) from None


def storage_lock_path(storage: str) -> Path | None:
    """A lock file beside a local storage (journal file or SQLite), None for a server."""
    if storage.startswith("sqlite:///"):
        return Path(storage.removeprefix("sqlite:///") + ".mlflowctl.lock")
    if "://" in storage:
        return None
    return Path(storage + ".mlflowctl.lock")
