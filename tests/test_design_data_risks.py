"""Issue 14 item 6: the design's risks come from the data profile, with figures.

Each test writes a CSV the way a user has one and drives ``mlflowctl design ... --data FILE
--json`` in a subprocess; the blueprint's ``data_profile`` holds the finding and
``envelope.uncertainty_factors`` the risk line a person reads.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cli_helpers import run_cli

pytestmark = pytest.mark.integration


def _series_csv(path: Path, values: Any) -> Path:
    start = dt.date(2001, 1, 1)
    lines = ["date,sales"] + [
        f"{start + dt.timedelta(days=i)},{v:.4f}" for i, v in enumerate(values)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _design(tmp_path: Path, prompt: str, *args: str) -> dict[str, Any]:
    proc = run_cli(tmp_path, "design", prompt, *args, "--json")
    assert proc.returncode == 0, proc.stderr
    bp: dict[str, Any] = json.loads(proc.stdout)
    return bp


def _risks(bp: dict[str, Any]) -> list[str]:
    return list(bp["envelope"]["uncertainty_factors"])


def test_a_level_shift_is_found_with_its_index_and_date(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    values = np.r_[rng.normal(50, 2, 130), rng.normal(62, 2, 170)]  # shift at point 130
    _series_csv(tmp_path / "sales.csv", values)
    bp = _design(tmp_path, "forecast daily sales a week ahead", "--data", "sales.csv")
    shift = bp["data_profile"]["level_shift"]
    assert shift is not None and abs(shift["index"] - 130) <= 2, shift
    assert shift["date"] == str(dt.date(2001, 1, 1) + dt.timedelta(days=shift["index"]))
    assert shift["before"] < 52 and shift["after"] > 60
    line = next(r for r in _risks(bp) if r.startswith("level shift"))
    assert f"point {shift['index']} ({shift['date']})" in line and "sd" in line


def test_a_trend_is_reported_with_its_slope_and_stationarity(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    values = 100 + 0.2 * np.arange(300) + rng.normal(0, 2, 300)
    _series_csv(tmp_path / "sales.csv", values)
    bp = _design(tmp_path, "forecast daily sales a week ahead", "--data", "sales.csv")
    profile = bp["data_profile"]
    assert profile["level_shift"] is None  # a steady climb is no step
    trend = profile["trend"]
    assert (
        trend["significant"] and abs(trend["slope"] - 0.2) < 0.03 and trend["stationary"] is False
    )
    line = next(r for r in _risks(bp) if r.startswith("trend in the training part"))
    assert "slope 0.2" in line and "not stationary" in line and "Dickey-Fuller" in line


def test_a_flat_noisy_series_has_neither_risk(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    _series_csv(tmp_path / "sales.csv", 40 + rng.normal(0, 3, 300))
    bp = _design(tmp_path, "forecast daily sales a week ahead", "--data", "sales.csv")
    profile = bp["data_profile"]
    assert profile["level_shift"] is None
    assert profile["trend"]["significant"] is False and profile["trend"]["stationary"] is True
    assert not [r for r in _risks(bp) if r.startswith(("level shift", "trend in"))]


def _table(path: Path, leak: bool, n: int = 400) -> Path:
    rng = np.random.default_rng(10)
    x = rng.normal(size=(n, 3))
    churned = x[:, 0] + rng.normal(size=n) > 0.5
    header = "tenure,spend,visits,account_closed_reason,churned"
    rows = [header]
    for r, t in zip(x, churned, strict=True):
        reason = ("moved" if r[1] > 0 else "price") if t else "none"
        if not leak:
            reason = ("moved", "price", "none")[int(abs(r[2]) * 10) % 3]
        rows.append(f"{r[0]:.3f},{r[1]:.3f},{r[2]:.3f},{reason},{'yes' if t else 'no'}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_a_leaking_column_is_named_and_flagged_not_dropped(tmp_path: Path) -> None:
    _table(tmp_path / "customers.csv", leak=True)
    bp = _design(
        tmp_path, "predict whether a customer churns", "--data", "customers.csv",
        "--target", "churned",
    )  # fmt: skip
    leaks = bp["data_profile"]["leaking_columns"]
    assert [k["column"] for k in leaks] == ["account_closed_reason"], leaks
    assert leaks[0]["measure"] == "accuracy" and leaks[0]["value"] >= 0.99
    line = next(r for r in _risks(bp) if "account_closed_reason" in r)
    assert "leak of 'churned'" in line and "flagged, not dropped" in line
    # flagged, not dropped: its one-hot columns are still model inputs
    assert any(f.startswith("account_closed_reason=") for f in bp["data_profile"]["feature_names"])


def test_an_honest_table_has_no_leak(tmp_path: Path) -> None:
    _table(tmp_path / "customers.csv", leak=False)
    bp = _design(
        tmp_path, "predict whether a customer churns", "--data", "customers.csv",
        "--target", "churned",
    )  # fmt: skip
    assert bp["data_profile"]["leaking_columns"] == []
    assert not [r for r in _risks(bp) if "leak" in r]


def test_a_regression_leak_by_correlation(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    x = rng.normal(size=(300, 2))
    price = 3 * x[:, 0] + rng.normal(size=300)
    rows = ["size,age,price_in_cents,price"] + [
        f"{a:.3f},{b:.3f},{p * 100 + rng.normal() * 0.5:.2f},{p:.4f}"
        for (a, b), p in zip(x, price, strict=True)
    ]
    (tmp_path / "houses.csv").write_text("\n".join(rows) + "\n")
    bp = _design(tmp_path, "predict the price", "--data", "houses.csv", "--target", "price")
    leaks = bp["data_profile"]["leaking_columns"]
    assert [(k["column"], k["measure"]) for k in leaks] == [("price_in_cents", "abs_corr")]
    assert any("|correlation| 1.000" in r for r in _risks(bp))


def test_identifier_and_constant_columns_small_data_and_imbalance(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    rows = ["customer_id,region,spend,fraud"] + [
        f"C{i:05d},EU,{rng.normal():.3f},{'1' if i % 10 == 0 else '0'}" for i in range(120)
    ]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    bp = _design(tmp_path, "flag fraud", "--data", "t.csv", "--target", "fraud")
    risks = "\n".join(_risks(bp))
    assert "dropped identifier-like columns: customer_id" in risks
    assert "dropped constant columns: region" in risks
    assert "only 120 rows to learn from" in risks
    assert "test split holds about 18 rows" in risks
    assert "class imbalance 9.0:1" in risks


def test_profiling_a_100k_row_table_stays_fast(tmp_path: Path) -> None:
    rng = np.random.default_rng(13)
    n = 100_000
    X = rng.normal(size=(n, 10))
    y = (X[:, 0] + rng.normal(size=n) > 0).astype(int)
    header = ",".join([f"f{i}" for i in range(10)] + ["y"])
    np.savetxt(tmp_path / "big.csv", np.c_[X, y], delimiter=",", header=header, comments="",
               fmt=["%.4f"] * 10 + ["%d"])  # fmt: skip
    start = time.monotonic()
    bp = _design(tmp_path, "classify y", "--data", "big.csv", "--target", "y")
    elapsed = time.monotonic() - start
    assert bp["data_profile"]["n_rows"] == n and bp["data_profile"]["leaking_columns"] == []
    assert elapsed < 20, f"design on 100k rows took {elapsed:.1f} s"  # ~1.3 s on a quiet box
