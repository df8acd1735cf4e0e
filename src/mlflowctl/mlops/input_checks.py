"""Input checks for a loaded model: raw rows, images, legacy features and series history.

Each check compares an input frame with what training saw (the columns, categories and dtypes of
``preprocessing.json``, the model's input shape, the series window) before the model runs, and
returns the frame with numeric columns typed as the logged model's signature has them
(``model_input_dtype``), or raises one ``InvalidInputError``
naming the row, column or shape and what was expected (exit 2 on the CLI, HTTP 400 from
``serve``). ``series_column`` says which column holds the series a forecasting model continues.
``LoadedModel.check`` in ``mlops.inference`` picks the check; pandas is imported lazily here.
"""

from __future__ import annotations

import math
import re
from typing import Any

from mlflowctl.errors import InvalidInputError

_TIME_RE = re.compile(r"^(year|date|time|timestamp|ds|t|month|day)$", re.IGNORECASE)


def check_tabular(frame: Any, columns: list[dict[str, Any]], first_row: int, source: str) -> Any:
    """Raw rows against the training columns (``preprocessing.json``'s ``columns``)."""
    import pandas as pd

    missing = [c["name"] for c in columns if c["name"] not in frame.columns]
    if missing:
        expected = ", ".join(c["name"] for c in columns)
        raise InvalidInputError(
            f"missing column(s) {', '.join(map(repr, missing))}; the model was trained on "
            f"{expected}",
            hint="name the columns as in the training file (extra columns are ignored)",
            location=source,
        )
    out = frame[[c["name"] for c in columns]].copy()  # extra columns are not the model's
    for c in columns:
        name, col = c["name"], frame[c["name"]]
        if c.get("role") == "categorical":
            known = [str(k) for k in c.get("categories", [])]
            text = col.astype("string")
            bad = col.notna() & ~text.isin(known)
            if bad.any():
                row = int(bad.to_numpy().nonzero()[0][0])
                shown = ", ".join(known[:10]) + (" ..." if len(known) > 10 else "")
                raise InvalidInputError(
                    f"row {first_row + row}, column {name!r}: unseen category "
                    f"{str(text.iloc[row])!r} (training saw: {shown})",
                    hint="use a category the model was trained on",
                    location=source,
                )
            out[name] = col.astype(object).where(col.notna(), None)
            continue
        values = pd.to_numeric(col, errors="coerce")
        wrong = col.notna() & values.isna()
        if wrong.any():
            row = int(wrong.to_numpy().nonzero()[0][0])
            raise InvalidInputError(
                f"row {first_row + row}, column {name!r}: {str(col.iloc[row])!r} is not a "
                f"number (trained as {c.get('dtype', 'float64')})",
                hint="fix the value or drop the row",
                location=source,
            )
        if values.isna().any() and not c.get("indicator"):
            row = int(values.isna().to_numpy().nonzero()[0][0])
            raise InvalidInputError(
                f"row {first_row + row}, column {name!r}: missing value (NaN), but the "
                "training data had none in this column",
                hint="fill the value or drop the row",
                location=source,
            )
        want = model_input_dtype(str(c.get("dtype", "float64")))
        if want != "float64":
            bad = values.notna() & (
                values != values.round() if want == "int64" else ~values.isin([0, 1])
            )
            if bad.any():
                row = int(bad.to_numpy().nonzero()[0][0])
                kind = "a whole number" if want == "int64" else "true/false (1/0)"
                raise InvalidInputError(
                    f"row {first_row + row}, column {name!r}: {str(col.iloc[row])!r} is not "
                    f"{kind} (trained as {c.get('dtype')})",
                    hint="fix the value or drop the row",
                    location=source,
                )
            if values.isna().any():  # gaps where training had them: numbers with NaN
                want = "float64"
        out[name] = values.astype(want)
    return out


def model_input_dtype(trained: str) -> str:
    """The type the logged model's signature gives a numeric training column (``trained``, its
    pandas dtype in ``preprocessing.json``): whole numbers stay ``int64`` (MLflow will not read
    int64 input as double, nor double as int64), booleans ``bool``, the rest ``float64``. The
    signature (``model_logging.raw_input_example``) and these checks both use it."""
    if trained == "bool":
        return "bool"
    if trained.startswith(("int", "uint")):
        return "int64"
    return "float64"


def check_image(frame: Any, names: list[str], input_shape: list[int], source: str) -> Any:
    """One row per image: every pixel column ``names`` lists must be there."""
    shape = "x".join(str(d) for d in input_shape)
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise InvalidInputError(
            f"image of the wrong size: {len(names)} pixel columns expected ({shape}: "
            f"{names[0]} ... {names[-1]}), input has {len(frame.columns)} columns, "
            f"missing {missing[0]!r}",
            hint="send one row per image with every pixel column",
            location=source,
        )
    return frame


def check_legacy(frame: Any, input_shape: list[int], kind: str, source: str) -> Any:
    """Model-ready features of a model logged before preprocessing.json: its numeric columns."""
    numeric = frame.select_dtypes("number")
    need = math.prod(input_shape)
    if numeric.shape[1] != need:
        what = "pixels" if kind == "image" else "numeric feature columns"
        raise InvalidInputError(
            f"expected {need} {what} (input shape {input_shape}), the input has "
            f"{numeric.shape[1]}: {', '.join(map(str, numeric.columns[:8]))}",
            hint="pass exactly the model's features (mark key columns with --key)",
            location=source,
        )
    if numeric.isna().to_numpy().any():
        rows, cols = numeric.isna().to_numpy().nonzero()
        raise InvalidInputError(
            f"row {int(rows[0]) + 1}, column {numeric.columns[cols[0]]!r}: missing value (NaN)",
            hint="fill the value or drop the row",
            location=source,
        )
    return numeric


def series_column(frame: Any, prep: dict[str, Any] | None, cfg: dict[str, Any]) -> str:
    """The series column: as logged, else config.yaml's target, else the one numeric column."""
    s = (prep or {}).get("series") or {}
    name = s.get("column") or cfg["data"].get("target")
    if name:
        return str(name)
    source = str(cfg["data"].get("source") or "")
    if source.count(":") == 2:  # statsmodels:<set>:<column>
        return source.rsplit(":", 1)[1]
    numeric = [c for c in frame.select_dtypes("number").columns if not _TIME_RE.match(str(c))]
    if len(numeric) != 1:
        raise InvalidInputError(
            f"cannot tell the series column among {len(numeric)} numeric columns",
            hint="give the history as one numeric column",
            location="input",
        )
    return str(numeric[0])


def check_series(frame: Any, name: str, lookback: int, source: str) -> Any:
    """A history of at least ``lookback`` numbers, no gap, in column ``name``."""
    import pandas as pd

    if name not in frame.columns:
        raise InvalidInputError(
            f"missing column {name!r}: the model forecasts that series",
            hint=f"give the history as a column named {name!r}, oldest first",
            location=source,
        )
    values = pd.to_numeric(frame[name], errors="coerce")
    wrong = frame[name].notna() & values.isna()
    if wrong.any():
        row = int(wrong.to_numpy().nonzero()[0][0])
        raise InvalidInputError(
            f"row {row + 1}, column {name!r}: {str(frame[name].iloc[row])!r} is not a number",
            location=source,
        )
    if values.isna().any():
        row = int(values.isna().to_numpy().nonzero()[0][0])
        raise InvalidInputError(
            f"row {row + 1}, column {name!r}: missing value (NaN) in the history",
            hint="fill the gap (e.g. interpolate) first",
            location=source,
        )
    if len(values) < lookback:
        raise InvalidInputError(
            f"series of {len(values)} values is shorter than the model's window "
            f"(lookback {lookback})",
            hint=f"give at least the last {lookback} observations, oldest first",
            location=source,
        )
    out = frame.copy()
    out[name] = values.astype("float64")
    return out
