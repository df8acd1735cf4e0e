"""The read-only tools an LLM architect may call, granted from its spec's effective tool set.

Only tools whose capability is ``read`` (``spec_tools.KNOWN_TOOLS``) are ever registered, so no
spec, however it is edited, gives the architect a write or execute tool. Paths are confined to
the project root; hidden files and folders (``.env``, ``.git``, ``.mlflowctl``) are refused,
so a key kept in a dotfile cannot be read into a prompt (I4). Answers are size-capped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mlflowctl.specs.permissions import capability

MAX_READ_BYTES = 64 * 1024
MAX_LIST_ENTRIES = 500


class ReadOnlyTools:
    """Tool functions bound to one project root and one data profile."""

    def __init__(self, root: Path, profile_json: dict[str, Any] | None) -> None:
        self.root = root.resolve()
        self.profile_json = profile_json

    def _inside(self, path: str) -> Path | str:
        """The resolved path, or the reason it is refused."""
        rel = Path(path or ".")
        if rel.is_absolute():
            return "refused: give a path relative to the project root"
        if any(part.startswith(".") and part not in (".", "..") for part in rel.parts):
            return "refused: hidden files and folders are not readable"
        target = (self.root / rel).resolve()
        if target != self.root and self.root not in target.parents:
            return "refused: the path leaves the project root"
        return target

    def read_file(self, path: str) -> str:
        """Read a text file under the project root (first 64 KiB)."""
        target = self._inside(path)
        if isinstance(target, str):
            return target
        if not target.is_file():
            return f"no such file: {path}"
        with target.open("rb") as fh:
            data = fh.read(MAX_READ_BYTES + 1)
        text = data[:MAX_READ_BYTES].decode("utf-8", "replace")
        return text + ("\n[truncated at 64 KiB]" if len(data) > MAX_READ_BYTES else "")

    def list_folder(self, path: str = ".") -> list[str]:
        """List a folder under the project root; folders end with '/'."""
        target = self._inside(path)
        if isinstance(target, str):
            return [target]
        if not target.is_dir():
            return [f"no such folder: {path}"]
        names = sorted(
            p.name + ("/" if p.is_dir() else "")
            for p in target.iterdir()
            if not p.name.startswith(".")
        )
        return names[:MAX_LIST_ENTRIES]

    def data_profile(self) -> str:
        """The profile mlflowctl computed for the data set (JSON; null without data)."""
        return json.dumps(self.profile_json, sort_keys=True)


#: spec tool name -> the method that implements it
_GRANTS = {
    "Read": "read_file",
    "LS": "list_folder",
    "Glob": "list_folder",
    "mlflowctl:profile_data": "data_profile",
}


def granted_tools(effective: Iterable[str], tools: ReadOnlyTools) -> list[Callable[..., Any]]:
    """The tool functions ``effective`` grants: read capabilities only, each at most once."""
    names: list[str] = []
    for tool in sorted(effective):
        method = _GRANTS.get(tool)
        if method and capability(tool) == "read" and method not in names:
            names.append(method)
    return [getattr(tools, n) for n in names]
