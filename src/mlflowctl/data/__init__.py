"""Data sources for mlflowctl: bundled sklearn/statsmodels data sets and user files.

``parse_source`` checks a ``--data`` value (known built-in, or a file under an allowed data root);
``load`` reads it into ``LoadedData``; ``profile`` gives the Blueprint's read-only ``DataProfile``.
Importing this package is cheap (no numpy, pandas, sklearn or statsmodels until data is loaded):
the architect's prompt-only path imports it.
"""

from __future__ import annotations

from mlflowctl.data.loaded import LoadedData
from mlflowctl.data.loaders import load
from mlflowctl.data.profile import profile
from mlflowctl.data.sources import (
    BUILTINS,
    DATA_ROOTS_ENV,
    BuiltinSpec,
    DataSourceRef,
    data_roots,
    known_sources,
    parse_source,
)

__all__ = [
    "BUILTINS",
    "DATA_ROOTS_ENV",
    "BuiltinSpec",
    "DataSourceRef",
    "LoadedData",
    "data_roots",
    "known_sources",
    "load",
    "parse_source",
    "profile",
]
