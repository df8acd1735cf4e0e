"""The in-memory form of a data source (``load`` itself is in ``loaders``).

``LoadedData`` is what every consumer needs to reason about a data set (the profiler, the
benchmark baselines): arrays in the dtypes models want (float32 inputs; int64 class indices or
float32 regression targets) plus the facts a blueprint records. numpy is imported lazily.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlflowctl.data.sources import DataKind, SourceKind, TaskHint

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float32]
    AnyArray = npt.NDArray[Any]


@dataclass
class LoadedData:
    """One data set in memory.

    Shapes: tabular ``X[n, f]``; image ``X[n, C, H, W]``; series ``series[n]`` (and ``X[n, 1]``, the
    same values as a column). ``y`` holds int64 class indices into ``class_names`` for
    classification, float32 values for regression, and is ``None`` for series.
    """

    source: str
    source_kind: SourceKind
    kind: DataKind
    X: FloatArray
    y: AnyArray | None
    #: ``None`` only from ``profile`` of a table with no target given
    task_hint: TaskHint | None
    feature_names: list[str] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)
    series: FloatArray | None = None
    target: str | None = None
    #: pandas-style: A, Q, M, W, D, H ...; None when unknown
    frequency: str | None = None
    seasonal_period: int | None = None
    #: series: ISO dates of the points, when the source has a time index
    index: list[str] | None = None
    #: column -> dtype as read (before encoding)
    dtypes: dict[str, str] = field(default_factory=dict)
    target_dtype: str | None = None
    #: missing cells found in the source (series: filled by time interpolation; tables: left NaN)
    missing_values: int = 0
    sha256: str = ""
    notes: list[str] = field(default_factory=list)

    @classmethod
    def file_series(
        cls,
        label: str,
        column: str,
        series: FloatArray,
        *,
        dtype: str,
        missing: int,
        notes: list[str],
        frequency: str | None = None,
        seasonal_period: int = 1,
        index: list[str] | None = None,
        dtypes: dict[str, str] | None = None,
    ) -> LoadedData:
        """A univariate series read from a user file (CSV, Parquet or NPZ)."""
        return cls(
            source=label,
            source_kind="file",
            kind="series",
            X=series.reshape(-1, 1),
            y=None,
            task_hint="forecasting",
            feature_names=[column],
            series=series,
            target=column,
            frequency=frequency,
            seasonal_period=seasonal_period,
            index=index,
            dtypes=dtypes if dtypes is not None else {column: dtype},
            target_dtype=dtype,
            missing_values=missing,
            notes=notes,
        )

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        if self.kind != "image":
            return None
        c, h, w = (int(d) for d in self.X.shape[1:])
        return (c, h, w)


def arrays_sha256(*arrays: Any) -> str:
    """Digest of arrays' dtype, shape and bytes: a built-in's identity without a file to hash."""
    import numpy as np

    digest = hashlib.sha256()
    for arr in arrays:
        if arr is None:
            digest.update(b"none;")
            continue
        a = np.ascontiguousarray(arr)
        digest.update(f"{a.dtype.str}{a.shape};".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def feeds(column: str, feature_names: list[str]) -> bool:
    """Whether a table's raw ``column`` reaches the model: as itself (a number) or as its
    encoded features (``column=value`` of a category, ``column=<missing>`` of a flag)."""
    return any(f == column or f.startswith(column + "=") for f in feature_names)
