"""Write a rendered project to its build folder, all or nothing.

The files are rendered and checked in memory, written into a temporary sibling folder, and only
then renamed into place: a failure at any point leaves no half-written build folder. An existing
folder is replaced only with ``force``, and only when mlflowctl made it: ``.mlflowctl-build.json``
in the folder names every file the build wrote, and a folder holding anything else (or without
the marker, or the current directory or one of its parents) is refused (X1, X2). A lock file
beside the folder keeps two builds from writing the same folder at once (F18), and the folder's
training lock is taken before anything in it is touched, so a live training is never replaced
(X3).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from mlflowctl.blueprint.model import FAMILY_TEMPLATE_KIND, Blueprint
from mlflowctl.blueprint.results import RenderedProject
from mlflowctl.build import codecheck, render
from mlflowctl.errors import LockHeldError, WorkspaceError
from mlflowctl.specs.policy import EngineerPolicy

_BUILTIN_PREFIXES = ("sklearn:", "statsmodels:")


def engineer_policy() -> EngineerPolicy:
    """The ml-engineer policy for a library caller that passes none (commands pass
    ``Settings.engineer``, which honours ``--agents``)."""
    from mlflowctl.settings import Settings

    return Settings.from_environment().engineer


def default_out(blueprint: Blueprint, approach: str | None = None) -> Path:
    return (
        Path("builds") / f"{blueprint.provenance.blueprint_id}-{blueprint.approach(approach).name}"
    )


def _absolute_source(source: str) -> str:
    """File sources become absolute paths, so the project runs from its own folder."""
    if source.startswith(_BUILTIN_PREFIXES):
        return source
    path = Path(source).expanduser()
    if not path.is_file():
        raise WorkspaceError(
            "data file not found",
            hint="pass --data with an existing CSV, Parquet or NPZ file, or a built-in source",
            location=source,
        )
    return str(path.resolve())


def lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}.lock"


MARKER = ".mlflowctl-build.json"
#: what a build folder gains after the render: training outputs, state, locks, caches
RUNTIME_ENTRIES = frozenset(
    {
        MARKER,
        "checkpoints",
        "outputs",
        "events.jsonl",
        ".mlflowctl",
        ".train.lock",
        ".claude",
        "__pycache__",
        "lightning_logs",
    }
)


def _marker_text(project: RenderedProject) -> str:
    doc = {
        "tool": "mlflowctl",
        "blueprint_id": project.blueprint_id,
        "approach": project.approach,
        "files": sorted(project.files),
    }
    return json.dumps(doc, indent=2) + "\n"


def read_marker(root: Path) -> dict[str, object] | None:
    """The folder's build marker if mlflowctl wrote it (parsed and well-formed), else None."""
    try:
        doc = json.loads((root / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("tool") != "mlflowctl":
        return None
    files = doc.get("files")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return doc


def check_replaceable(root: Path) -> None:
    """Refuse (exit 2) unless ``root`` is a folder mlflowctl built and holds nothing else.

    Never the current directory or one of its parents; never a folder without a valid
    ``.mlflowctl-build.json``; never one holding a file the marker does not account for.
    """
    here = Path.cwd().resolve()
    resolved = root.resolve()
    if resolved == here or resolved in here.parents:
        raise WorkspaceError(
            "refusing to replace the current directory or one of its parents",
            hint="build into a new folder with --out DIR",
            location=str(root),
        )
    if not resolved.is_dir():
        raise WorkspaceError(
            "not a folder, refusing to replace it",
            hint="choose another --out",
            location=str(root),
        )
    marker = read_marker(resolved)
    if marker is None:
        raise WorkspaceError(
            f"not a build folder mlflowctl wrote (no valid {MARKER}); --force replaces only those",
            hint="move your files away or choose another --out; nothing was changed",
            location=str(root),
        )
    files = marker["files"]
    assert isinstance(files, list)
    ours = RUNTIME_ENTRIES | {Path(f).parts[0] for f in files if Path(f).parts}
    foreign = sorted(p.name for p in resolved.iterdir() if p.name not in ours)
    if foreign:
        shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise WorkspaceError(
            f"build folder holds files mlflowctl did not write ({shown}); refusing to replace it",
            hint="move those files out of the folder, or choose another --out; nothing was changed",
            location=str(root),
        )


def build(
    blueprint: Blueprint,
    *,
    approach: str | None = None,
    out: str | Path,
    data: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    policy: EngineerPolicy | None = None,
) -> RenderedProject:
    """Render, check and (unless ``dry_run``) write the project for one approach."""
    policy = policy or engineer_policy()
    root = Path(out).absolute()
    source = _absolute_source(render.data_source(blueprint, data))
    ctx = render.context(blueprint, approach, data=source, policy=policy)
    files = render.render_files(ctx)
    reference = render.render_files(render.placeholder_context(ctx))
    codecheck.check_project(files, reference, policy.import_allowlist)
    project = RenderedProject(
        root=root,
        blueprint_id=ctx.blueprint_id,
        approach=ctx.approach,
        template_kind=ctx.template_kind,
        files=files,
    )
    if dry_run:
        return project
    if root.exists() or root.is_symlink():
        if not force:
            raise WorkspaceError(
                "build folder already exists",
                hint="pass --force to replace it, --resume to continue its training, or --out DIR",
                location=str(root),
            )
        check_replaceable(root)
    _write_locked(root, {**files, MARKER: _marker_text(project)})
    return project


def _write_locked(root: Path, files: dict[str, str]) -> None:
    from filelock import FileLock, Timeout

    from mlflowctl.train.locks import folder_lock

    try:
        root.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(f"cannot create the build folder: {exc}", location=str(root)) from None
    lock = FileLock(str(lock_path(root)), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise LockHeldError(
            "another mlflowctl build is writing this folder",
            hint="wait for it to finish or choose another --out",
            location=str(root),
        ) from None
    except OSError as exc:  # a read-only folder (X16)
        raise WorkspaceError(
            f"cannot create the build folder's lock file: {exc.strerror or exc}",
            hint="build into a writable folder (--out DIR)",
            location=str(lock_path(root)),
        ) from None
    try:
        if not root.exists():
            _swap_in(root, files)
            return
        # X3: the training lock first; a folder that is training now is never touched
        with folder_lock(root):
            check_replaceable(root)  # again, under the locks: it may have changed meanwhile
            _swap_in(root, files)
    finally:
        lock.release()


def _swap_in(root: Path, files: dict[str, str]) -> None:
    """Write into ``.<name>.tmp-<pid>``, then rename; the old folder goes once it is replaced."""
    tmp = root.parent / f".{root.name}.tmp-{os.getpid()}"
    old = root.parent / f".{root.name}.old-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        for rel, text in files.items():
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        (tmp / "checkpoints").mkdir()
        (tmp / "outputs").mkdir()
        if root.exists():
            root.rename(old)
        tmp.rename(root)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not root.exists():
            old.rename(root)
        raise WorkspaceError(f"cannot write the build folder: {exc}", location=str(root)) from None
    shutil.rmtree(old, ignore_errors=True)


def open_project(root: str | Path) -> RenderedProject:
    """An already written build folder (for ``--resume`` or ``--no-train`` followed by train)."""
    import yaml

    path = Path(root).absolute()
    config = path / "config.yaml"
    if not config.is_file():
        raise WorkspaceError(
            "not a build folder (no config.yaml)",
            hint="build it first with `mlflowctl build BLUEPRINT`",
            location=str(path),
        )
    try:
        cfg = yaml.safe_load(config.read_text(encoding="utf-8"))
        family = cfg["model"]["family"]
        blueprint_id = cfg["project"]["blueprint_id"]
        approach = cfg["project"]["approach"]
        template_kind = FAMILY_TEMPLATE_KIND[family]
        if not (isinstance(blueprint_id, str) and isinstance(approach, str)):
            raise TypeError("project.blueprint_id/approach are not strings")
        files = {
            str(p.relative_to(path)): p.read_text(encoding="utf-8")
            for p in sorted(path.iterdir())
            if p.is_file() and p.suffix in (".py", ".yaml", ".md", ".txt")
        }
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError) as exc:
        # a corrupt config.yaml on --resume is bad input (exit 2), not a traceback (X16)
        reason = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0]
        raise WorkspaceError(
            f"config.yaml is corrupt: {reason}",
            hint="rebuild the folder with `mlflowctl build BLUEPRINT --force`",
            location=str(config),
        ) from None
    return RenderedProject(
        root=path,
        blueprint_id=blueprint_id,
        approach=approach,
        template_kind=template_kind,
        files=files,
    )
