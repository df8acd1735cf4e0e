"""Batch files for ``predict``/``forecast``: read CSV/Parquet/.npy in chunks, write atomically.

Memory stays bounded by the chunk size (pandas ``chunksize`` for CSV, pyarrow record batches for
Parquet). Output goes to a temporary file in the destination's folder and is renamed into place
only when every chunk succeeded, so an error leaves ``--output`` untouched.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from mlflowctl.errors import InvalidInputError

CHUNK_ROWS = 10_000
PARQUET_SUFFIXES = (".parquet", ".pq")


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in PARQUET_SUFFIXES


def precheck(path: Path) -> None:
    """The input's cheap checks, before the model is loaded (seconds of imports): the file
    exists, is not empty and, for a CSV, holds a data row after its header."""
    where = str(path)
    if not path.is_file():
        raise InvalidInputError(
            "input file not found", hint="check the --input path", location=where
        )
    if path.stat().st_size == 0:
        raise InvalidInputError(
            "input file is empty", hint="give a CSV with a header and rows", location=where
        )
    if _is_parquet(path) or is_array_file(path):
        return
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        lines = (line for line in fh if line.strip())
        if next(lines, None) is not None and next(lines, None) is None:
            raise InvalidInputError(
                "input file has a header but no rows",
                hint="add at least one data row",
                location=where,
            )


def iter_frames(
    path: Path, *, chunk_rows: int = CHUNK_ROWS, text_columns: list[str] | None = None
) -> Iterator[tuple[int, Any]]:
    """``(first_row, frame)`` per chunk; row numbers count data rows from 1 (header excluded)."""
    where = str(path)
    if not path.is_file():
        raise InvalidInputError(
            "input file not found", hint="check the --input path", location=where
        )
    if path.stat().st_size == 0:
        raise InvalidInputError(
            "input file is empty", hint="give a CSV with a header and rows", location=where
        )
    frames = (
        _parquet(path, chunk_rows)
        if _is_parquet(path)
        else _csv(path, chunk_rows, text_columns or [])
    )
    first, seen = 1, False
    for frame in frames:
        if len(frame) == 0:
            continue
        seen = True
        yield first, frame.reset_index(drop=True)
        first += len(frame)
    if not seen:
        raise InvalidInputError(
            "input file has a header but no rows",
            hint="add at least one data row",
            location=where,
        )


def _csv(path: Path, chunk_rows: int, text_columns: list[str]) -> Iterator[Any]:
    import pandas as pd

    try:
        reader = pd.read_csv(
            path, chunksize=chunk_rows, dtype={c: "string" for c in text_columns} or None
        )
        yield from reader
    except pd.errors.EmptyDataError:
        raise InvalidInputError(
            "input file is empty (no header)",
            hint="give a CSV with a header and rows",
            location=str(path),
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            f"not a readable CSV file: {str(exc).splitlines()[0]}",
            hint="CSV (UTF-8, comma-separated, header row) or Parquet (.parquet)",
            location=str(path),
        ) from None


def _parquet(path: Path, chunk_rows: int) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInputError(
            f"not a readable Parquet file: {exc}",
            hint="a .parquet file written by pandas/pyarrow",
            location=str(path),
        ) from None
    for batch in pf.iter_batches(batch_size=chunk_rows):
        yield batch.to_pandas()


def is_array_file(path: Path) -> bool:
    return path.suffix.lower() == ".npy"


def iter_image_arrays(
    path: Path, names: list[str], input_shape: list[int], *, chunk_rows: int = CHUNK_ROWS
) -> Iterator[tuple[int, Any]]:
    """``(first_row, frame)`` per chunk of a ``.npy`` of images in their original value range:
    shape (N, H, W), (N, C, H, W) or (N, H*W) as the model's pixels, as pixel-column frames.

    Memory-mapped (``allow_pickle=False``), so only one chunk is in memory at a time.
    """
    import numpy as np
    import pandas as pd

    where = str(path)
    if not path.is_file():
        raise InvalidInputError(
            "input file not found", hint="check the --input path", location=where
        )
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise InvalidInputError(
            f"not a readable .npy array: {str(exc).splitlines()[0]}",
            hint="save the images with numpy.save(path, array) (a numeric array, no objects)",
            location=where,
        ) from None
    shape = "x".join(str(d) for d in input_shape)
    if arr.ndim < 2 or math.prod(arr.shape[1:]) != len(names) or arr.dtype.kind not in "biuf":
        raise InvalidInputError(
            f"image array of the wrong shape {tuple(arr.shape)} ({arr.dtype}): the model takes "
            f"(N, {', '.join(map(str, input_shape))}) or (N, {len(names)}) numbers ({shape})",
            hint="one image per row, pixels in their original value range",
            location=where,
        )
    if len(arr) == 0:
        raise InvalidInputError(
            "input array holds no images", hint="save at least one", location=where
        )
    for first in range(0, len(arr), chunk_rows):
        chunk = np.asarray(arr[first : first + chunk_rows], dtype=np.float64)
        yield first + 1, pd.DataFrame(chunk.reshape(len(chunk), -1), columns=names)


class AtomicTable:
    """Write frames to ``dest`` (CSV or Parquet by suffix), or to a buffer file for stdout."""

    def __init__(self, dest: Path | None) -> None:
        self.dest = dest
        self.parquet = dest is not None and _is_parquet(dest)
        folder = dest.parent if dest is not None else Path(tempfile.gettempdir())
        if dest is not None and not folder.is_dir():
            raise InvalidInputError(
                "the output's folder does not exist", hint="create it first", location=str(dest)
            )
        prefix = f".{dest.name}." if dest is not None else "mlflowctl-predict-"
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
        os.close(fd)
        self.tmp = Path(tmp)
        self.rows = 0
        self._writer: Any = None
        self._first = True

    def write(self, frame: Any) -> None:
        if self.parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._writer is None:
                self._writer = pq.ParquetWriter(self.tmp, table.schema)
            self._writer.write_table(table.cast(self._writer.schema))
        else:
            frame.to_csv(self.tmp, mode="w" if self._first else "a", header=self._first,
                         index=False)  # fmt: skip
        self._first = False
        self.rows += len(frame)

    def commit(self, stdout: IO[str] | None = None) -> None:
        """Rename into place, or copy to ``stdout`` when there is no destination."""
        if self._writer is not None:
            self._writer.close()
        if self.dest is None:
            with self.tmp.open(encoding="utf-8") as fh:
                shutil.copyfileobj(fh, stdout or __import__("sys").stdout)
            self.tmp.unlink(missing_ok=True)
            return
        os.replace(self.tmp, self.dest)

    def abort(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):  # the half-written file is removed below
                self._writer.close()
        self.tmp.unlink(missing_ok=True)
