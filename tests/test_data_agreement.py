"""The rendered ``data.py`` and ``mlflowctl.data`` cannot disagree on a series (issue 12 item 7).

Tables and the bundled sets are covered by
``tests/test_tabular_messy.py::test_rendered_data_py_and_mlflowctl_data_agree`` (same columns,
same rows in train/val/test, same scaled arrays for iris, wine, breast_cancer, diabetes, digits,
a messy CSV table, and the bundled sunspots series' values). Here: a CSV series with gaps reads to
the same values, and both sides accept and refuse exactly the same series lengths for a lookback,
horizon and split fractions (the build-time check ``data.trainable`` replays the split the
rendered ``data.py`` makes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from blueprints import make_blueprint
from rendered import import_rendered

from mlflowctl.build import render
from mlflowctl.data.loaders import load
from mlflowctl.data.trainable import _check_series
from mlflowctl.errors import DataError

pytestmark = pytest.mark.unit


def _rendered_data(tmp_path: Path, files: dict[str, str]) -> Any:
    return import_rendered(
        tmp_path, {n: files[n] for n in ("preprocessing.py", "data.py")}, "data.py"
    )


def _csv_series(tmp_path: Path) -> tuple[Path, Any, dict[str, Any]]:
    """A monthly CSV series with gaps, rendered into an LSTM forecaster's data.py."""
    n = 160
    values = 50 + 10 * np.sin(np.arange(n) / 4.0) + np.arange(n) * 0.1
    values[[5, 6, 40, 100]] = np.nan
    path = tmp_path / "load.csv"
    pd.DataFrame(
        {"month": pd.date_range("2001-01-01", periods=n, freq="MS").strftime("%Y-%m-%d"),
         "value": values}
    ).to_csv(path, index=False)  # fmt: skip
    bp = make_blueprint("lstm", "sunspots")
    bp.requirements.data_source = str(path)
    bp.requirements.target = "value"
    files = render.render(bp, data=str(path))
    return path, _rendered_data(tmp_path, files), yaml.safe_load(files["config.yaml"])


def test_a_csv_series_reads_to_the_same_values_on_both_sides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path, data, cfg = _csv_series(tmp_path)
    assert cfg["data"]["kind"] == "series" and cfg["data"]["target"] == "value"
    splits = data.load_splits(cfg)
    loaded = load(str(path), "value")
    assert loaded.series is not None
    assert np.allclose(splits["series"], loaded.series, atol=1e-4)
    # every window lies inside its own split, and together they cover the series' targets
    horizon = cfg["data"]["horizon"]
    assert splits["t_test"].max() + horizon == len(loaded.series)
    assert splits["t_train"].max() + horizon <= splits["t_val"].min()


def test_both_sides_accept_and_refuse_the_same_series_lengths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _, data, cfg = _csv_series(tmp_path)
    training, lookback = cfg["training"], cfg["data"]["lookback"]
    agreed = []
    for horizon in (1, 6):
        cfg["data"]["horizon"] = horizon
        for n in range(lookback, lookback + 80):
            series = np.linspace(0.0, 1.0, n)
            monkeypatch.setattr(data, "load_series", lambda _d, s=series: (s, None, "value", None))
            try:
                data.load_splits(cfg)
                rendered_ok = True
            except ValueError:
                rendered_ok = False
            try:
                _check_series(
                    n, "x", training["val_fraction"], training["test_fraction"], lookback, horizon
                )
                checked_ok = True
            except DataError:
                checked_ok = False
            assert rendered_ok == checked_ok, (n, horizon)
            agreed.append(rendered_ok)
    assert True in agreed and False in agreed  # the range crosses the boundary
