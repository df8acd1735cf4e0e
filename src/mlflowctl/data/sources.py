"""Which data a source string names, and whether we may read it.

A source is either a built-in data set that ships inside an installed package (nothing is ever
downloaded: scikit-learn's ``load_*`` and statsmodels' bundled data sets only) or a user file
under an allowed data root. Data sources may come from an LLM-written blueprint, so a path is
trusted only after it resolves (symlinks included) under the working directory or a folder named
in ``MLFLOWCTL_DATA_ROOTS`` (reliability plan B22).

This module imports nothing heavy: the offline architect's prompt-only path imports it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mlflowctl.errors import DataError

DATA_ROOTS_ENV = "MLFLOWCTL_DATA_ROOTS"
FILE_SUFFIXES: tuple[str, ...] = (".csv", ".parquet", ".pq", ".npz")

SourceKind = Literal["builtin", "file"]
Package = Literal["sklearn", "statsmodels"]
DataKind = Literal["tabular", "image", "series"]
TaskHint = Literal["classification", "regression", "forecasting"]


@dataclass(frozen=True)
class BuiltinSpec:
    """What we know about a bundled data set before loading it (kept static so parsing is free)."""

    package: Package
    name: str
    kind: DataKind
    task_hint: TaskHint
    description: str
    #: series only: the columns one may pick with ``statsmodels:NAME:COLUMN``; first is the default
    columns: tuple[str, ...] = ()
    frequency: str | None = None
    seasonal_period: int | None = None


BUILTINS: dict[str, BuiltinSpec] = {
    spec.package + ":" + spec.name: spec
    for spec in (
        BuiltinSpec("sklearn", "digits", "image", "classification", "8x8 handwritten digits"),
        BuiltinSpec("sklearn", "iris", "tabular", "classification", "iris flowers, 3 classes"),
        BuiltinSpec("sklearn", "wine", "tabular", "classification", "wine cultivars, 3 classes"),
        BuiltinSpec(
            "sklearn", "breast_cancer", "tabular", "classification", "breast cancer, binary"
        ),
        BuiltinSpec("sklearn", "diabetes", "tabular", "regression", "diabetes progression"),
        BuiltinSpec(
            "statsmodels",
            "sunspots",
            "series",
            "forecasting",
            "yearly sunspot activity 1700-2008",
            columns=("SUNACTIVITY",),
            frequency="A",
            seasonal_period=11,  # the solar cycle
        ),
        BuiltinSpec(
            "statsmodels",
            "co2",
            "series",
            "forecasting",
            "weekly Mauna Loa CO2 1958-2001 (has missing weeks)",
            columns=("co2",),
            frequency="W",
            seasonal_period=52,
        ),
        BuiltinSpec(
            "statsmodels",
            "elnino",
            "series",
            "forecasting",
            "monthly El Nino sea surface temperature 1950-2010",
            columns=("sst",),
            frequency="M",
            seasonal_period=12,
        ),
        BuiltinSpec(
            "statsmodels",
            "nile",
            "series",
            "forecasting",
            "yearly Nile river flow 1871-1970",
            columns=("volume",),
            frequency="A",
            seasonal_period=1,
        ),
        BuiltinSpec(
            "statsmodels",
            "macrodata",
            "series",
            "forecasting",
            "quarterly US macroeconomic data 1959-2009",
            columns=(
                "realgdp",
                "realcons",
                "realinv",
                "realgovt",
                "realdpi",
                "cpi",
                "m1",
                "tbilrate",
                "unemp",
                "pop",
                "infl",
                "realint",
            ),
            frequency="Q",
            seasonal_period=4,
        ),
    )
}


@dataclass(frozen=True)
class DataSourceRef:
    """A parsed, checked source: a built-in (package, name, column) or a file (resolved path)."""

    kind: SourceKind
    package: Package | None
    name: str
    column: str | None = None
    path: str | None = None
    #: the text the user gave, for messages and the blueprint
    text: str = ""

    @property
    def builtin(self) -> BuiltinSpec:
        """The registry entry of a built-in source (a bug to ask for it on a file source)."""
        if self.kind != "builtin":
            raise ValueError(f"{self.text!r} is a file source, not a built-in")
        return BUILTINS[f"{self.package}:{self.name}"]

    @property
    def suffix(self) -> str:
        return Path(self.path or self.name).suffix.lower()


def known_sources() -> list[str]:
    """Every built-in source string, in the order of the registry."""
    return list(BUILTINS)


_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:(//|/)")
_BUILTIN = re.compile(r"^([A-Za-z][A-Za-z0-9_]*):([A-Za-z0-9_]*)(?::(.*))?$")
_FLAG = "--data"


def _known_line() -> str:
    return ", ".join(known_sources())


def data_roots() -> list[Path]:
    """Folders data files may live under: the working directory, then ``$MLFLOWCTL_DATA_ROOTS``."""
    roots = [Path.cwd().resolve()]
    for entry in os.environ.get(DATA_ROOTS_ENV, "").split(os.pathsep):
        if entry.strip():
            roots.append(Path(entry).expanduser().resolve())
    return roots


def _roots_hint() -> str:
    return (
        "put the file under the working directory, or add its folder to "
        f"${DATA_ROOTS_ENV} (folders separated by {os.pathsep!r})"
    )


def parse_source(text: str) -> DataSourceRef:
    """Parse and check a ``--data`` value; raises ``DataError`` with a hint on anything unusable.

    Parsing reads no file: a missing file is reported by ``load``/``profile``, which name it.
    """
    raw = text.strip() if isinstance(text, str) else ""
    if not raw:
        raise DataError(
            "data source is empty",
            hint=f"use one of {_known_line()}, or a .csv/.parquet/.npz file",
            location=_FLAG,
        )
    if "\x00" in raw or len(raw) > 1024:
        raise DataError(
            "data source is not a usable name or path (NUL byte or over 1024 characters)",
            hint=f"use one of {_known_line()}, or a .csv/.parquet/.npz file",
            location=_FLAG,
        )
    if _URI.match(raw) or raw.lower().startswith("file:"):
        raise DataError(
            f"URIs are not accepted as data sources: {raw!r}",
            hint="download the file yourself, then " + _roots_hint(),
            location=_FLAG,
        )
    suffix = Path(raw).suffix.lower()
    match = _BUILTIN.match(raw)
    if match and suffix not in FILE_SUFFIXES and "/" not in raw and "\\" not in raw:
        return _parse_builtin(raw, match.group(1), match.group(2), match.group(3))
    return _parse_file(raw, suffix)


def _parse_builtin(raw: str, package: str, name: str, column: str | None) -> DataSourceRef:
    key = f"{package.lower()}:{name.lower()}"
    spec = BUILTINS.get(key)
    if spec is None:
        raise DataError(
            f"unknown data source {raw!r}; known sources: {_known_line()}",
            hint="or pass a .csv, .parquet or .npz file under the working directory",
            location=_FLAG,
        )
    if column is not None and spec.kind != "series":
        raise DataError(
            f"{key} takes no column choice (got {column!r})",
            hint=f"use {key}",
            location=_FLAG,
        )
    if column is not None and column not in spec.columns:
        raise DataError(
            f"{key} has no column {column!r}; columns: {', '.join(spec.columns)}",
            hint=f"use {key}:{spec.columns[0]} (the default) or another listed column",
            location=_FLAG,
        )
    chosen = column if column is not None else (spec.columns[0] if spec.columns else None)
    return DataSourceRef("builtin", spec.package, spec.name, column=chosen, path=None, text=raw)


def _parse_file(raw: str, suffix: str) -> DataSourceRef:
    path = Path(raw).expanduser()
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as exc:  # symlink loops
        raise DataError(
            f"data path cannot be resolved: {exc}", hint=_roots_hint(), location=raw
        ) from exc
    roots = data_roots()
    if not any(resolved.is_relative_to(root) for root in roots):
        raise DataError(
            f"data path is outside the allowed data roots ({', '.join(str(r) for r in roots)})",
            hint=_roots_hint(),
            location=raw,
        )
    if suffix not in FILE_SUFFIXES:
        looks_builtin = ":" in raw and "/" not in raw
        what = "unknown data source" if looks_builtin else "unsupported data file type"
        raise DataError(
            f"{what} {raw!r}; known sources: {_known_line()}",
            hint="data files must end in .csv, .parquet or .npz",
            location=_FLAG,
        )
    return DataSourceRef("file", None, resolved.name, column=None, path=str(resolved), text=raw)
