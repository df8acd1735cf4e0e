"""Built-in data sets, source parsing and its refusals (B22), and the cheap-import promise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlflowctl.data import BUILTINS, DATA_ROOTS_ENV, known_sources, load, parse_source, profile
from mlflowctl.errors import EXIT_INVALID_INPUT, DataError

pytestmark = pytest.mark.unit


# --------------------------------------------------------------------------- built-ins


def test_digits_is_a_ten_class_image_set() -> None:
    d = load("sklearn:digits")
    assert d.kind == "image" and d.task_hint == "classification"
    assert d.X.shape == (1797, 1, 8, 8) and d.X.dtype == np.float32
    assert d.y is not None and d.y.dtype == np.int64 and d.y.shape == (1797,)
    assert d.class_names == [str(i) for i in range(10)]
    p = profile("sklearn:digits")
    assert p.image_shape == (1, 8, 8) and p.n_features == 64 and p.n_classes == 10
    assert sum(c.count for c in p.class_counts) == 1797


def test_breast_cancer_is_binary_with_its_imbalance() -> None:
    d = load("sklearn:breast_cancer")
    assert d.kind == "tabular" and d.X.shape == (569, 30)
    assert d.class_names == ["malignant", "benign"]
    p = profile("sklearn:breast_cancer")
    assert p.n_classes == 2 and p.n_features == 30 and p.n_rows == 569
    assert {c.label: c.count for c in p.class_counts} == {"malignant": 212, "benign": 357}
    assert p.imbalance_ratio == pytest.approx(357 / 212, abs=1e-6)
    assert p.imbalance_ratio == pytest.approx(1.68, abs=0.01)
    assert p.feature_names[0] == "mean radius" and p.target_dtype == "int64"


@pytest.mark.parametrize(
    ("source", "shape", "classes"),
    [("sklearn:wine", (178, 13), 3), ("sklearn:iris", (150, 4), 3)],
)
def test_small_tabular_classification_sets(
    source: str, shape: tuple[int, int], classes: int
) -> None:
    d = load(source)
    assert d.X.shape == shape and d.task_hint == "classification"
    assert d.y is not None and set(np.unique(d.y)) == set(range(classes))
    assert profile(source).n_classes == classes


def test_diabetes_is_regression() -> None:
    d = load("sklearn:diabetes")
    assert d.task_hint == "regression" and d.X.shape == (442, 10)
    assert d.y is not None and d.y.dtype == np.float32 and not d.class_names
    p = profile("sklearn:diabetes")
    assert p.n_classes is None and p.class_counts == [] and p.imbalance_ratio is None


def test_sunspots_yearly_with_the_solar_cycle() -> None:
    d = load("statsmodels:sunspots")
    assert d.kind == "series" and d.task_hint == "forecasting" and d.y is None
    assert d.series is not None and d.series.shape == (309,) and d.series.dtype == np.float32
    assert d.series[:3].tolist() == [5.0, 11.0, 16.0]
    assert d.frequency == "A" and d.seasonal_period == 11
    assert d.index is not None and d.index[0] == "1700-01-01" and d.index[-1] == "2008-01-01"
    p = profile("statsmodels:sunspots")
    assert p.series_length == 309 and p.target == "SUNACTIVITY"


def test_co2_weekly_missing_weeks_are_interpolated_and_recorded() -> None:
    import statsmodels.datasets.co2 as co2

    raw = co2.load_pandas().data["co2"]
    d = load("statsmodels:co2")
    assert d.series is not None and d.series.shape == (2284,)
    assert not np.isnan(d.series).any()
    assert d.missing_values == int(raw.isna().sum()) == 59
    assert d.frequency == "W" and d.seasonal_period == 52
    # an interpolated week lies between its observed neighbours
    gap = int(np.flatnonzero(raw.isna().to_numpy())[0])
    lo, hi = sorted((raw.iloc[gap - 1], raw.iloc[gap + 1]))
    assert lo - 1e-3 <= d.series[gap] <= hi + 1e-3
    p = profile("statsmodels:co2")
    assert p.missing_values == 59 and any("interpolation" in n for n in p.notes)


def test_nile_and_elnino() -> None:
    nile = load("statsmodels:nile")
    assert nile.series is not None and nile.series.shape == (100,)
    assert nile.frequency == "A" and nile.seasonal_period == 1 and nile.target == "volume"
    el = load("statsmodels:elnino")
    assert el.series is not None and el.series.shape == (61 * 12,)
    assert el.frequency == "M" and el.seasonal_period == 12
    # read row by row: Jan 1950, Feb 1950, ...
    assert el.series[:2].tolist() == pytest.approx([23.11, 24.20])
    assert el.index is not None and el.index[:2] == ["1950-01-01", "1950-02-01"]


def test_macrodata_quarterly_with_a_column_choice() -> None:
    gdp = load("statsmodels:macrodata")
    # quarterly, but seasonally adjusted: the data shows no period 4 (tests/test_seasonality.py)
    assert gdp.target == "realgdp" and gdp.frequency == "Q" and gdp.seasonal_period == 1
    assert gdp.index is not None and gdp.index[:2] == ["1959-01-01", "1959-04-01"]
    unemp = load("statsmodels:macrodata:unemp")
    assert unemp.target == "unemp" and unemp.series is not None
    assert unemp.series[:2].tolist() == pytest.approx([5.8, 5.1])
    assert load("statsmodels:macrodata", target="unemp").series.tolist() == unemp.series.tolist()  # type: ignore[union-attr]
    assert parse_source("statsmodels:macrodata:cpi").column == "cpi"
    with pytest.raises(DataError, match="contradicts"):
        load("statsmodels:macrodata:unemp", target="cpi")


def test_registry_columns_match_the_bundled_files() -> None:
    import importlib

    for key, spec in BUILTINS.items():
        if spec.package == "statsmodels" and spec.name != "elnino":
            frame = importlib.import_module(f"statsmodels.datasets.{spec.name}").load_pandas().data
            assert set(spec.columns) <= set(frame.columns), key


def test_builtin_hash_is_stable_and_distinguishes_sets() -> None:
    a, b = profile("sklearn:iris").sha256, profile("sklearn:iris").sha256
    assert a == b and a is not None and len(a) == 64
    assert profile("statsmodels:macrodata:unemp").sha256 != profile("statsmodels:macrodata").sha256


# --------------------------------------------------------------------------- parsing, refusals


def test_known_sources_lists_every_builtin() -> None:
    known = known_sources()
    for name in ("digits", "iris", "wine", "breast_cancer", "diabetes"):
        assert f"sklearn:{name}" in known
    for name in ("sunspots", "co2", "elnino", "nile", "macrodata"):
        assert f"statsmodels:{name}" in known


def test_parse_builtin_ref() -> None:
    ref = parse_source("  sklearn:digits ")
    assert (ref.kind, ref.package, ref.name, ref.column, ref.path) == (
        "builtin",
        "sklearn",
        "digits",
        None,
        None,
    )
    assert parse_source("statsmodels:co2").column == "co2"
    assert parse_source("SKLearn:Breast_Cancer").name == "breast_cancer"


@pytest.mark.parametrize("text", ["sklearn:mnist", "torchvision:mnist", "sklearn:"])
def test_unknown_source_lists_the_known_ones(text: str) -> None:
    with pytest.raises(DataError) as exc:
        parse_source(text)
    line = str(exc.value)
    assert "unknown data source" in line and text in line
    assert all(k in line for k in known_sources())
    assert exc.value.exit_code == EXIT_INVALID_INPUT


def test_bad_column_choices() -> None:
    with pytest.raises(DataError, match=r"no column 'foo'; columns: co2"):
        parse_source("statsmodels:co2:foo")
    with pytest.raises(DataError, match="takes no column"):
        parse_source("sklearn:iris:petal")
    with pytest.raises(DataError, match="fixed target"):
        load("sklearn:iris", target="species")


@pytest.mark.parametrize(
    "text",
    ["http://example.com/x.csv", "https://h/d.parquet", "file:///etc/passwd", "s3://b/k.csv"],
)
def test_uris_are_refused(text: str) -> None:
    with pytest.raises(DataError) as exc:
        parse_source(text)
    assert "URIs are not accepted" in str(exc.value)
    assert exc.value.hint is not None and DATA_ROOTS_ENV in exc.value.hint


@pytest.mark.parametrize("text", ["../../.ssh/id_rsa", "/etc/passwd", "../outside.csv"])
def test_paths_outside_the_data_roots_are_refused(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.delenv(DATA_ROOTS_ENV, raising=False)
    with pytest.raises(DataError) as exc:
        parse_source(text)
    assert "outside the allowed data roots" in str(exc.value)
    assert exc.value.location == text
    assert exc.value.hint is not None and DATA_ROOTS_ENV in exc.value.hint


def test_symlink_escaping_the_root_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "secret.csv"
    outside.write_text("a,b\n1,2\n")
    work = tmp_path / "work"
    work.mkdir()
    (work / "link.csv").symlink_to(outside)
    monkeypatch.chdir(work)
    monkeypatch.delenv(DATA_ROOTS_ENV, raising=False)
    with pytest.raises(DataError, match="outside the allowed data roots"):
        parse_source("link.csv")


def test_extra_data_roots_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared_data"
    shared.mkdir()
    rows = "".join(f"{i},{'ab'[i % 2]}\n" for i in range(12))  # at least MIN_ROWS labelled rows
    (shared / "t.csv").write_text("x,label\n" + rows)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv(DATA_ROOTS_ENV, os.pathsep.join([str(tmp_path / "nowhere"), str(shared)]))
    ref = parse_source(str(shared / "t.csv"))
    assert ref.kind == "file" and ref.path == str((shared / "t.csv").resolve())
    assert load(ref, target="label").class_names == ["a", "b"]


@pytest.mark.parametrize("text", ["", "   ", "a\x00b.csv"])
def test_empty_or_binary_source_text(text: str) -> None:
    with pytest.raises(DataError) as exc:
        parse_source(text)
    assert exc.value.location == "--data"


def test_unsupported_file_type(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.xlsx").write_bytes(b"PK")
    with pytest.raises(DataError, match="unsupported data file type") as exc:
        parse_source("data.xlsx")
    assert exc.value.hint is not None and ".csv" in exc.value.hint


# --------------------------------------------------------------------------- import cost


@pytest.mark.integration
def test_importing_the_package_stays_light(repo_root: Path) -> None:
    code = (
        "import sys, json\n"
        "import mlflowctl.data as d\n"
        "d.parse_source('sklearn:iris'); d.parse_source('statsmodels:macrodata:cpi')\n"
        "d.known_sources()\n"
        "heavy = ['numpy', 'pandas', 'sklearn', 'statsmodels', 'scipy', 'torch', 'mlflow',"
        " 'pyarrow']\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=repo_root,
        env={**os.environ, "PYTHONPATH": str(repo_root / "src")},
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
