"""Checkpoint integrity: sha256 sidecars, ``--resume`` verification and recovery.

Every checkpoint the rendered project saves has a ``<name>.sha256`` sidecar. ``sha256_file``
digests a file, ``verify_last_checkpoint`` accepts ``checkpoints/last.ckpt`` only when it matches
its sidecar (F15, F16), and ``recover_checkpoint`` makes ``last.ckpt`` usable for ``--resume``
from the newest checkpoint that verifies, keeping the bad file beside it (X19).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from mlflowctl import console
from mlflowctl.errors import WorkspaceError


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_last_checkpoint(root: Path) -> Path:
    """``checkpoints/last.ckpt`` if it exists and matches its sidecar (F15, F16), else an error."""
    last = root / "checkpoints" / "last.ckpt"
    sidecar = last.with_name("last.ckpt.sha256")
    if not last.is_file():
        raise WorkspaceError(
            "--resume: no checkpoint to resume from",
            hint="train without --resume first; nothing was started",
            location=str(last),
        )
    if not sidecar.is_file() or sha256_file(last) != sidecar.read_text().strip():
        raise WorkspaceError(
            "--resume: checkpoint is truncated or corrupt (sha256 does not match its sidecar)",
            hint="train again without --resume",
            location=str(last),
        )
    return last


def _verifies(path: Path) -> bool:
    sidecar = path.with_name(path.name + ".sha256")
    try:
        return path.is_file() and sha256_file(path) == sidecar.read_text().strip()
    except OSError:
        return False


def recover_checkpoint(root: Path) -> Path:
    """``checkpoints/last.ckpt`` made usable for ``--resume``, before any run is created (X19).

    If ``last.ckpt`` does not match its sidecar, the newest other checkpoint that does (e.g.
    ``best.ckpt``, a full Lightning checkpoint) becomes ``last.ckpt``; the bad file is kept
    beside it as ``last.ckpt.corrupt`` (nothing is deleted). Without any checkpoint that
    verifies, a ``WorkspaceError`` says how to start the training over.
    """
    last = root / "checkpoints" / "last.ckpt"
    if _verifies(last):
        return last
    candidates = sorted(
        (p for p in last.parent.glob("*.ckpt") if p.name != last.name and _verifies(p)),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    if not candidates:
        return verify_last_checkpoint(root)  # raises, naming what is wrong
    good = candidates[0]
    if last.exists():
        os.replace(last, last.with_name("last.ckpt.corrupt"))
        sidecar = last.with_name("last.ckpt.sha256")
        if sidecar.exists():
            os.replace(sidecar, last.with_name("last.ckpt.corrupt.sha256"))
    tmp = last.with_name("last.ckpt.tmp")
    shutil.copyfile(good, tmp)
    os.replace(tmp, last)
    side_tmp = last.with_name("last.ckpt.sha256.tmp")
    side_tmp.write_text(sha256_file(last) + "\n")
    os.replace(side_tmp, last.with_name("last.ckpt.sha256"))
    console.status(f"resume: {last.name} did not verify; continuing from {good.name}")
    return last
