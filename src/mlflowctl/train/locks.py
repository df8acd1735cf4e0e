"""The build folder's training lock and the child's tie to its parent.

``folder_lock`` holds ``.train.lock`` (an ``flock``) in a build folder so that a second training
of the same folder is refused (exit 7, F18); it is reentrant within this process, and the lock's
fd is handed to the training child so the folder stays locked for as long as the process that
writes it lives. ``die_with_parent`` is the ``preexec_fn`` that makes that child get SIGTERM when
mlflowctl dies (Linux ``PR_SET_PDEATHSIG``, X10), so it checkpoints and stops instead of training
on unwatched.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mlflowctl.errors import LockHeldError

LOCK_NAME = ".train.lock"
_PR_SET_PDEATHSIG = 1
#: locks this process holds: real path of the lock file -> [fd, depth]
_HELD: dict[str, list[int]] = {}


@contextmanager
def folder_lock(root: Path) -> Iterator[int]:
    """Hold ``root/.train.lock`` (exit 7 when another process holds it); yields the lock's fd.

    An ``flock`` belongs to the open file, so a child given the fd (``pass_fds``) keeps the folder
    locked even when this process is killed; it is released when the last holder exits.
    Reentrant within this process (the build holds it around training, the trainer takes it).
    """
    key = os.path.realpath(root / LOCK_NAME)
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield _HELD[key][0]
        finally:
            _HELD[key][1] -= 1
        return
    try:
        import fcntl
    except ImportError:  # not POSIX: a plain lock file, not inherited by the child
        from filelock import FileLock, Timeout

        lock = FileLock(str(root / LOCK_NAME), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise _lock_held(root) from None
        try:
            yield -1
        finally:
            lock.release()
        return
    fd = os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise _lock_held(root) from None
    _HELD[key] = [fd, 1]
    try:
        yield fd
    finally:
        del _HELD[key]
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _lock_held(root: Path) -> LockHeldError:
    return LockHeldError(
        "another mlflowctl process is training this build folder",
        hint="wait for it to finish, or build into another --out",
        location=str(root),
    )


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGTERM when this process dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:  # runs in the child between fork and exec: no imports, no locks
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec
