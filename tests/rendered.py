"""Import files of a rendered project in-process, the way the project's own scripts import them.

``data.py`` imports its sibling ``preprocessing.py`` and ``model.py`` defines dataclasses (looked
up by module name), so the folder goes on ``sys.path`` and the module into ``sys.modules`` while it
executes; both are undone afterwards so the next test imports its own copy.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any


def import_rendered(folder: Path, files: dict[str, str], name: str) -> Any:
    """Write ``files`` (file name -> text) into ``folder`` and import ``name`` (e.g. "data.py")."""
    for file_name, text in files.items():
        (folder / file_name).write_text(text)
    path = folder / name
    spec = importlib.util.spec_from_file_location(f"{path.stem}_{folder.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    sys.modules.pop("preprocessing", None)  # a sibling another test's project also has
    sys.path.insert(0, str(folder))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("preprocessing", None)
    return module
