"""Store faults as one line each: a store that stops answering mid-command is exit 6, a full
disk or an unusable file is named (X13, X15, X16); ``tracking_errors`` wraps the mlops calls.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlflowctl.errors import (
    EnvironmentProblemError,
    MlflowctlError,
    TrackingUnavailableError,
)
from mlflowctl.mlops.uri import redact, sqlite_path

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
