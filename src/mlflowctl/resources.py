"""Where the shipped data lives: ``agents/`` and ``templates/``.

In a wheel they are ``mlflowctl/_data/{agents,templates}``; in a source checkout (editable
install, tests) they are the repository's top-level folders.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def data_dir(name: str) -> Path:
    """The folder holding the shipped ``name`` (``agents`` or ``templates``)."""
    installed = _PACKAGE_DIR / "_data" / name
    if installed.is_dir():
        return installed
    checkout = _PACKAGE_DIR.parent.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"mlflowctl data folder {name!r} not found (broken install?)")


def agents_dir() -> Path:
    return data_dir("agents")


def templates_dir() -> Path:
    return data_dir("templates")
