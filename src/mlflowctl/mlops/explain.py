"""Per-row reasons for a table model's answer (``mlflowctl predict --explain``).

For each row and each input column, the column is set to a typical training value (the median
of a number, the most frequent category) with the other columns as they are, and the model is
asked again: the change in its answer (the probability of the class it predicted, or the
predicted value) is that column's effect for this row. The columns with the largest effects are
the row's reasons ("tenure=2 (+0.31)": a tenure of 2 rather than the typical one raises the
predicted class's probability by 0.31). Model-agnostic, one extra prediction per column and
chunk; it reads what the model does, not why the world is so.
"""

from __future__ import annotations

import json
import math
from typing import Any

from mlflowctl.errors import InvalidInputError


def typical_values(loaded: Any) -> dict[str, Any]:
    """Each input column's typical training value: ``fill`` (the training median) of a number,
    the most frequent category (reference profile) of a category, else its first category."""
    from mlflowctl.mlops.inference import artifact_path

    prep = loaded.prep or {}
    if loaded.task == "forecasting" or prep.get("kind") not in (None, "tabular") or not prep:
        raise InvalidInputError(
            "--explain reads table models only",
            hint="per-row reasons need named input columns (an image or a series has none)",
            location="--explain",
        )
    freq: dict[str, dict[str, float]] = {}
    ref_path = artifact_path(loaded, "reference_profile")
    if ref_path is not None and ref_path.is_file():
        features = json.loads(ref_path.read_text(encoding="utf-8")).get("features") or {}
        freq = {k: v.get("frequencies") or {} for k, v in features.items()}
    out: dict[str, Any] = {}
    for col in prep.get("columns") or []:
        name = str(col["name"])
        if col.get("role") == "categorical":
            counts = freq.get(name) or {}
            cats = [str(c) for c in col.get("categories") or []]
            seen = [c for c in counts if c in cats]
            out[name] = max(seen, key=lambda c: counts[c]) if seen else (cats[0] if cats else None)
        elif col.get("role") == "numeric" and col.get("fill") is not None:
            out[name] = float(col["fill"])
    return out


def _score(loaded: Any, result: Any, picked: Any) -> Any:
    """The answer a reason moves: the probability of each row's ``picked`` class, or the
    predicted value."""
    import numpy as np

    if loaded.task != "classification":
        return result["prediction"].to_numpy(dtype=np.float64)
    proba = result[[f"proba_{c}" for c in loaded.classes]].to_numpy(dtype=np.float64)
    return proba[np.arange(len(proba)), picked]


def _shown(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def reasons(loaded: Any, checked: Any, result: Any, typical: dict[str, Any], top: int) -> Any:
    """``why_1`` ... ``why_<top>`` columns: the row's largest effects, as
    ``column=value (+effect)``, largest first (fewer when fewer columns move the answer);
    ``typical``: ``typical_values(loaded)``, read once per model, not per chunk."""
    import numpy as np
    import pandas as pd

    classes = list(loaded.classes)
    picked = (
        np.asarray([classes.index(str(v)) for v in result["prediction"]])
        if loaded.task == "classification"
        else None
    )
    base = _score(loaded, result, picked)
    names = [n for n in typical if n in checked.columns]
    effects = np.zeros((len(checked), len(names)))
    for j, name in enumerate(names):
        moved = checked.copy()
        moved[name] = pd.Series([typical[name]] * len(moved), index=moved.index).astype(
            checked[name].dtype, errors="ignore"
        )
        effects[:, j] = base - _score(loaded, loaded.predict(moved), picked)
    out = pd.DataFrame(index=range(len(checked)))
    order = np.argsort(-np.abs(effects), axis=1, kind="stable")
    for k in range(min(top, len(names))):
        texts = []
        for i in range(len(checked)):
            j = int(order[i, k])
            effect = effects[i, j]
            texts.append(
                "" if abs(effect) < 1e-9
                else f"{names[j]}={_shown(checked[names[j]].iloc[i])} ({effect:+.3g})"
            )  # fmt: skip
        out[f"why_{k + 1}"] = texts
    return out
