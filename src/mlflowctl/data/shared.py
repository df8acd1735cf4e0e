"""The rendered project's ``preprocessing.py``, loaded by mlflowctl itself (one implementation).

The template has no template variables, so the file a project gets is the template's text; the
profiler (``files``) and ``layout`` call its rules (identifier/constant columns, encodings).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
from functools import cache
from typing import Any


@cache
def shared_preprocessing() -> Any:
    """The rendered ``preprocessing.py`` module (loaded from its template, which it equals)."""
    from mlflowctl.resources import templates_dir

    path = templates_dir() / "_common" / "preprocessing.py.j2"
    loader = importlib.machinery.SourceFileLoader("mlflowctl_shared_preprocessing", str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module
