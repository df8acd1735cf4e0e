"""User data files (CSV, Parquet, NPZ): the tasks they yield, and every way they can be bad."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlflowctl.data import DATA_ROOTS_ENV, load, profile
from mlflowctl.errors import DataError

pytestmark = pytest.mark.unit


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory (the default data root) with no extra roots configured."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DATA_ROOTS_ENV, raising=False)
    return tmp_path


def _customers(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in range(n)],  # one value per row: dropped
            "age": rng.integers(18, 80, n).astype(float),
            "color": rng.choice(["red", "green", "blue"], n),
            "member": rng.choice([True, False], n),
            "churn": rng.choice(["no", "yes"], n, p=[0.7, 0.3]),
        }
    )
    frame.loc[3, "age"] = np.nan
    return frame


# --------------------------------------------------------------------------- good files


def test_csv_classification_with_text_labels_and_categories(work: Path) -> None:
    _customers().to_csv(work / "customers.csv", index=False)
    d = load("customers.csv", target="churn")
    assert d.kind == "tabular" and d.task_hint == "classification"
    assert d.class_names == ["no", "yes"]
    assert d.y is not None and d.y.dtype == np.int64 and set(np.unique(d.y)) == {0, 1}
    assert d.feature_names == ["age", "color=blue", "color=green", "color=red", "member"]
    assert d.X.shape == (60, 5) and d.X.dtype == np.float32
    assert d.missing_values == 1 and np.isnan(d.X[3, 0])
    assert any("one-hot encoded: color" in n for n in d.notes)
    assert any("dropped identifier-like columns: customer_id" in n for n in d.notes)
    p = profile("customers.csv", target="churn")
    assert p.source_kind == "file" and p.n_classes == 2 and p.missing_values == 1
    assert p.sha256 == hashlib.sha256((work / "customers.csv").read_bytes()).hexdigest()
    assert p.dtypes["churn"] in ("object", "str", "string")


@pytest.mark.parametrize(
    ("values", "task"),
    [
        ([0, 1, 2] * 20, "classification"),  # few integer values: classes
        ([1.0, 2.0, 3.0] * 20, "classification"),  # integer-valued floats: classes
        (list(range(60)), "regression"),  # many integers: a quantity
        ([0.5 * i for i in range(60)], "regression"),
    ],
)
def test_numeric_target_task_rule(work: Path, values: list[float], task: str) -> None:
    pd.DataFrame({"x": np.arange(60.0), "t": values}).to_csv(work / "t.csv", index=False)
    d = load("t.csv", target="t")
    assert d.task_hint == task
    assert d.y is not None
    assert d.y.dtype == (np.int64 if task == "classification" else np.float32)


def test_parquet_regression(work: Path) -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40)})
    frame["price"] = 3 * frame["a"] + rng.normal(size=40)
    frame.to_parquet(work / "houses.parquet")
    d = load("houses.parquet", target="price")
    assert d.task_hint == "regression" and d.X.shape == (40, 2)
    assert d.y is not None and np.allclose(d.y, frame["price"].to_numpy(), atol=1e-5)
    assert profile("houses.parquet", target="price").n_features == 2


def test_dated_csv_is_a_weekly_series_with_gaps_filled(work: Path) -> None:
    dates = pd.date_range("2020-01-05", periods=30, freq="W")
    values = np.arange(30, dtype=float)
    values[10] = np.nan
    pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "sales": values}).to_csv(
        work / "sales.csv", index=False
    )
    d = load("sales.csv")
    assert d.kind == "series" and d.task_hint == "forecasting" and d.y is None
    assert d.frequency == "W" and d.seasonal_period == 52
    assert d.series is not None and d.series[10] == pytest.approx(10.0)
    assert d.missing_values == 1 and d.target == "sales"
    assert d.index is not None and d.index[0] == "2020-01-05"


def test_monthly_and_yearly_series_files(work: Path) -> None:
    months = pd.date_range("2000-01-01", periods=36, freq="MS").strftime("%Y-%m-%d")
    pd.DataFrame({"month": months, "temp": np.sin(np.arange(36.0)), "other": 1.0}).to_csv(
        work / "m.csv", index=False
    )
    m = profile("m.csv", target="temp")
    assert m.kind == "series" and m.frequency == "M" and m.seasonal_period == 12
    assert m.series_length == 36
    pd.DataFrame({"year": range(1900, 1950), "flow": np.arange(50.0)}).to_csv(
        work / "y.csv", index=False
    )
    y = profile("y.csv")
    assert y.frequency == "A" and y.seasonal_period == 1 and y.target == "flow"


def test_npz_tabular_images_and_series(work: Path) -> None:
    rng = np.random.default_rng(2)
    np.savez(work / "tab.npz", X=rng.normal(size=(50, 4)), y=rng.integers(0, 3, 50))
    tab = load("tab.npz")
    assert tab.kind == "tabular" and tab.X.shape == (50, 4) and tab.task_hint == "classification"
    assert tab.class_names == ["0", "1", "2"]
    np.savez(work / "img.npz", X=rng.random((20, 16, 16)), y=rng.normal(size=20))
    img = profile("img.npz")
    assert img.kind == "image" and img.image_shape == (1, 16, 16)
    assert load("img.npz").task_hint == "regression"
    np.savez(work / "s.npz", np.array([1.0, np.nan, 3.0, 4.0]))
    s = load("s.npz")
    assert s.kind == "series" and s.series is not None
    assert s.series.tolist() == [1.0, 2.0, 3.0, 4.0] and s.missing_values == 1


def test_profile_of_a_table_without_target_is_allowed_but_load_is_not(work: Path) -> None:
    _customers().to_csv(work / "c.csv", index=False)
    p = profile("c.csv")
    assert p.kind == "tabular" and p.target is None and p.n_classes is None
    assert any("no --target" in n for n in p.notes)
    with pytest.raises(DataError) as exc:
        load("c.csv")
    assert "needs --target" in str(exc.value) and "churn" in str(exc.value)


# --------------------------------------------------------------------------- bad files


def test_missing_target_column_lists_the_columns(work: Path) -> None:
    _customers().to_csv(work / "c.csv", index=False)
    with pytest.raises(DataError) as exc:
        profile("c.csv", target="label")
    line = str(exc.value)
    assert "'label' not found" in line and "c.csv" in line
    for col in ("customer_id", "age", "color", "member", "churn"):
        assert col in line


def test_missing_file_is_named(work: Path) -> None:
    with pytest.raises(DataError) as exc:
        load("nope.csv", target="y")
    assert str(exc.value) == "nope.csv: data file not found"


def test_folder_or_pipe_instead_of_file(work: Path) -> None:
    (work / "dir.csv").mkdir()
    with pytest.raises(DataError, match=r"dir\.csv: data file is a folder"):
        load("dir.csv", target="y")
    os.mkfifo(work / "pipe.csv")  # reading it would block forever: refused before any read
    with pytest.raises(DataError, match=r"pipe\.csv: data file is not a regular file"):
        load("pipe.csv", target="y")


@pytest.mark.integration  # as root, a subprocess under another user
def test_unreadable_file_is_named(work: Path) -> None:
    if os.geteuid() != 0:
        f = work / "locked.csv"
        f.write_text("a,b\n1,2\n")
        f.chmod(0)
        with pytest.raises(DataError, match=r"locked\.csv: data file cannot be read"):
            load("locked.csv", target="b")
        return
    # root reads files whatever their mode: the same load runs in a user namespace (`unshare
    # -U`), where this process is an unprivileged user that the file's mode does stop
    import shutil
    import subprocess
    import sys

    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("root without unshare: nothing here is unreadable to this process")
    f = work / "locked.csv"
    f.write_text("a,b\n1,2\n")
    f.chmod(0)
    code = "from mlflowctl.data import load\nload('locked.csv', target='b')\n"
    done = subprocess.run(
        [unshare, "-U", sys.executable, "-c", code], cwd=work, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    if "unshare failed" in done.stderr:
        pytest.skip(f"root and no user namespaces here: {done.stderr.strip()[:200]}")
    assert done.returncode != 0
    assert "locked.csv: data file cannot be read" in done.stderr, done.stderr[-2000:]


@pytest.mark.parametrize(
    ("name", "content", "expect"),
    [
        ("ragged.csv", b"a,b\n1,2\n3,4,5,6\n", "malformed CSV"),
        ("latin.csv", b"a,b\n1,\xe9t\xe9\n", "not UTF-8"),
        ("empty.csv", b"", "malformed CSV"),
        ("header.csv", b"a,b\n", "no rows"),
        ("text.parquet", b"this is not parquet", "malformed Parquet"),
        ("junk.npz", b"not a zip archive", "malformed NPZ"),
    ],
)
def test_malformed_files_are_named(work: Path, name: str, content: bytes, expect: str) -> None:
    (work / name).write_bytes(content)
    with pytest.raises(DataError) as exc:
        load(name, target=None if name.endswith(".npz") else "b")
    line = str(exc.value)
    assert line.startswith(f"{name}: ") and expect in line
    assert "\n" not in line


def test_npz_refuses_pickles_and_mismatched_arrays(work: Path) -> None:
    np.savez(work / "pickled.npz", X=np.array([{"a": 1}], dtype=object), y=np.array([1]))
    with pytest.raises(DataError, match="pickled object arrays are refused"):
        load("pickled.npz")
    np.savez(work / "short.npz", X=np.zeros((5, 2)), y=np.zeros(4))
    with pytest.raises(DataError, match="X has 5 rows"):
        load("short.npz")
    np.savez(work / "many.npz", a=np.zeros(3), b=np.zeros(3))
    with pytest.raises(DataError, match=r"found \['a', 'b'\]"):
        load("many.npz")
    np.savez(work / "ok.npz", X=np.zeros((4, 2)), y=np.array([0, 1, 0, 1]))
    with pytest.raises(DataError, match="does not apply to NPZ"):
        load("ok.npz", target="label")


def test_single_valued_target_and_no_features(work: Path) -> None:
    pd.DataFrame({"x": [1.0, 2.0, 3.0], "t": ["a", "a", "a"]}).to_csv(work / "one.csv", index=False)
    with pytest.raises(DataError, match="single value"):
        load("one.csv", target="t")
    pd.DataFrame({"t": [0, 1, 0, 1]}).to_csv(work / "only.csv", index=False)
    with pytest.raises(DataError, match="no usable feature columns"):
        load("only.csv", target="t")
