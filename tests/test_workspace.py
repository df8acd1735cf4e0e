"""Writing a build folder: all or nothing, never over an existing folder without force, one
writer at a time."""

from __future__ import annotations

from pathlib import Path

import pytest
from blueprints import make_blueprint
from filelock import FileLock

from mlflowctl.build import writer as workspace
from mlflowctl.errors import LockHeldError, WorkspaceError

pytestmark = pytest.mark.unit


def _siblings(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if not p.name.endswith(".lock")}


@pytest.mark.integration
def test_build_writes_the_project_and_dry_run_writes_nothing(tmp_path: Path) -> None:
    bp = make_blueprint("mlp")
    out = tmp_path / "b"
    plan = workspace.build(bp, out=out, dry_run=True)
    assert not out.exists() and "model.py" in plan.files
    project = workspace.build(bp, out=out)
    assert project.root == out.absolute() and project.template_kind == "mlp"
    for rel, text in project.files.items():
        assert (out / rel).read_text() == text
    assert (out / "checkpoints").is_dir()
    assert _siblings(tmp_path) == {"b"}  # no temporary folder left behind
    reopened = workspace.open_project(out)
    assert reopened.approach == "main" and reopened.blueprint_id == "bp-0123456789ab"


@pytest.mark.integration
def test_existing_folder_needs_force(tmp_path: Path) -> None:
    bp = make_blueprint("mlp")
    out = tmp_path / "b"
    workspace.build(bp, out=out)
    (out / "mine.txt").write_text("user file")
    with pytest.raises(WorkspaceError) as info:
        workspace.build(bp, out=out)
    assert info.value.location == str(out.absolute()) and "--force" in (info.value.hint or "")
    assert (out / "mine.txt").exists()
    # --force replaces only what mlflowctl wrote: a user's file in the folder stops it (X1)
    with pytest.raises(WorkspaceError, match=r"mine\.txt"):
        workspace.build(bp, out=out, force=True)
    assert (out / "mine.txt").read_text() == "user file"
    (out / "mine.txt").unlink()
    (out / "outputs" / "metrics.json").write_text("{}")  # what training leaves is replaceable
    workspace.build(bp, out=out, force=True)
    assert not (out / "outputs" / "metrics.json").exists() and (out / "train.py").is_file()
    assert _siblings(tmp_path) == {"b"}


@pytest.mark.integration
def test_failed_write_leaves_no_half_written_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bp = make_blueprint("mlp")
    out = tmp_path / "b"
    written: list[str] = []
    real_write = Path.write_text

    def failing_write(self: Path, text: str, *args: object, **kwargs: object) -> int:
        if ".b.tmp-" in str(self):  # only the build's own temporary folder fails
            if len(written) == 3:
                raise OSError(28, "No space left on device")
            written.append(self.name)
        return real_write(self, text, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", failing_write)
    with pytest.raises(WorkspaceError, match="No space left"):
        workspace.build(bp, out=out)
    assert not out.exists() and _siblings(tmp_path) == set()
    # an existing build survives a failed --force rebuild untouched
    monkeypatch.undo()
    workspace.build(bp, out=out)
    before = (out / "model.py").read_text()
    written.clear()
    monkeypatch.setattr(Path, "write_text", failing_write)
    with pytest.raises(WorkspaceError):
        workspace.build(bp, out=out, force=True)
    assert (out / "model.py").read_text() == before and _siblings(tmp_path) == {"b"}


@pytest.mark.integration
def test_second_writer_gets_a_lock_error(tmp_path: Path) -> None:
    bp = make_blueprint("mlp")
    out = tmp_path / "b"
    lock = FileLock(str(workspace.lock_path(out.absolute())))
    with lock, pytest.raises(LockHeldError) as info:
        workspace.build(bp, out=out)
    assert info.value.exit_code == 7 and not out.exists()


@pytest.mark.integration
def test_data_file_must_exist_and_becomes_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bp = make_blueprint("mlp", "diabetes")
    with pytest.raises(WorkspaceError, match="data file not found"):
        workspace.build(bp, out=tmp_path / "b", data="nope.csv", dry_run=True)
    monkeypatch.chdir(tmp_path)
    Path("d.csv").write_text("a,b,y\n1,2,3\n")
    plan = workspace.build(bp, out=tmp_path / "b", data="d.csv", dry_run=True)
    assert str(tmp_path / "d.csv") in plan.files["config.yaml"]


def test_open_project_rejects_a_folder_that_is_not_a_build(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="not a build folder"):
        workspace.open_project(tmp_path)
