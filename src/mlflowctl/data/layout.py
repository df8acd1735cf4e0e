"""The model's input width as the rendered project will see it, from the data itself.

One implementation: the rendered project's ``preprocessing.py`` is a template without template
variables, so mlflowctl loads that very file (``templates/_common/preprocessing.py.j2``) and
fits it on the same training split the rendered ``data.py`` makes (same ``train_test_split``
calls, seed and fractions). ``build`` uses this to re-derive a blueprint's input and output
shapes from the data it is given (a blueprint designed without data, or on other data).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlflowctl.data.shared import shared_preprocessing
from mlflowctl.errors import DataError


@dataclass
class Layout:
    """Input width, output size and what preprocessing drops, for a tabular source."""

    n_features: int
    output_dim: int
    task: str
    features: list[str] = field(default_factory=list)
    dropped: list[dict[str, str]] = field(default_factory=list)


def split_train(n: int, y: Any, *, seed: int, val: float, test: float, stratify: bool) -> Any:
    """Training-split row positions, exactly as the rendered ``data.split_indices`` makes them."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    rest, _ = train_test_split(
        idx, test_size=test, random_state=seed, stratify=y if stratify else None
    )
    train, _ = train_test_split(
        rest,
        test_size=val / (1.0 - test),
        random_state=seed,
        stratify=y[rest] if stratify else None,
    )
    return train


def raw_table(source: str, target: str | None) -> tuple[Any, Any]:
    """(feature frame, target values) as the rendered ``data.load_table`` reads them."""
    import numpy as np
    import pandas as pd

    from mlflowctl.data.sources import parse_source

    ref = parse_source(source)
    if ref.kind == "builtin" or ref.suffix == ".npz":
        from mlflowctl.data.loaders import load

        data = load(ref, target)
        flat = data.X.reshape(len(data.X), -1).astype(np.float64)
        names = list(data.feature_names)
        if len(names) != flat.shape[1]:
            names = [f"x{i}" for i in range(flat.shape[1])]
        return pd.DataFrame(flat, columns=names), data.y
    from pathlib import Path

    from mlflowctl.data.files import checked_sha256, read_table

    path = Path(ref.path or ref.text)
    checked_sha256(path, ref.text)
    frame = read_table(path, ref.text, ref.suffix)
    if target is None or target not in frame.columns:
        raise DataError(
            f"a table needs --target; columns: {', '.join(map(str, frame.columns[:30]))}",
            hint="design the blueprint with --target COLUMN",
            location=ref.text,
        )
    frame = frame[frame[target].notna()].reset_index(drop=True)
    return frame.drop(columns=[target]), frame[target].to_numpy()


def tabular_layout(
    source: str, target: str | None, task: str, *, seed: int, val: float, test: float
) -> Layout:
    """Fit the shared preprocessing on the training split and count what comes out."""
    import numpy as np

    frame, y = raw_table(source, target)
    classify = task == "classification"
    n_out = 1
    if classify:
        _, y = np.unique(np.asarray(y), return_inverse=True)
        n_out = int(y.max()) + 1
    train = split_train(len(frame), y, seed=seed, val=val, test=test, stratify=classify)
    prep = shared_preprocessing()
    columns, dropped = prep.fit_columns(frame.iloc[train])
    names = list(prep.feature_names(columns))
    return Layout(len(names), n_out, task, names, list(dropped))
