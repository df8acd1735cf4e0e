"""The rendered project's plots (plots.py): written, linked from report.md, logged to MLflow, and
showing what a person needs: real time on a forecast's x axis, class names on a confusion matrix.

What each plot shows is read back from the figure by plots.py (tick labels after drawing) into
outputs/plots/plots.json, which these tests read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest
from blueprints import make_blueprint

pytestmark = pytest.mark.integration

Cli = Callable[..., CompletedProcess[str]]


def _build(root: Path, dataset: str) -> Path:
    from cli_helpers import run_cli

    (root / "bp.json").write_text(make_blueprint("mlp", dataset).model_dump_json())
    done = run_cli(root, "build", "bp.json", "--out", "b", "--max-epochs", "1")
    assert done.returncode in (0, 8), done.stderr[-3000:]  # 8: one epoch may not pass the gate
    return root / "b" / "outputs"


@pytest.fixture(scope="module")
def forecaster(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-epoch sunspots forecaster built and registered (test-model/1) in its own store."""
    root = tmp_path_factory.mktemp("sunspots")
    _build(root, "sunspots")
    return root


def _drawn(out: Path) -> dict[str, dict[str, Any]]:
    doc = json.loads((out / "plots" / "plots.json").read_text(encoding="utf-8"))
    return {d["file"]: d for d in doc}


def _linked(out: Path) -> set[str]:
    report = (out / "report.md").read_text(encoding="utf-8")
    return set(re.findall(r"!\[[^\]]*\]\((plots/[^)]+\.png)\)", report))


def _logged_plots(root: Path) -> set[str]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    (run,) = [r for r in runs if client.list_artifacts(r.info.run_id, "outputs")]
    return {Path(a.path).name for a in client.list_artifacts(run.info.run_id, "outputs/plots")}


def test_forecast_plot_has_years_a_zoom_full_horizons_and_the_next_horizon(
    forecaster: Path,
) -> None:
    out = forecaster / "b" / "outputs"
    drawn = _drawn(out)
    plot = drawn["forecast_vs_actual.png"]
    for name in drawn:
        assert (out / "plots" / name).stat().st_size > 5_000
    assert _linked(out) == {f"plots/{name}" for name in drawn}
    assert plot["time_axis"] and plot["xlabel"] == "time"
    # sunspots are yearly, 1700-2008: both panels are labelled in years; the zoom is the test part
    for key in ("xticklabels", "zoom_xticklabels"):
        assert plot[key] and all(re.fullmatch(r"1[6-9]\d\d|20\d\d", t) for t in plot[key]), plot
    assert int(plot["zoom_xticklabels"][0]) >= 1900 > int(plot["xticklabels"][0])
    assert plot["test_start"] > "1900"
    # every horizon-th test window's whole trajectory, and the next horizon after 2008 with dates
    assert plot["trajectories"] >= 1
    assert plot["next"]["time"][0] == "2009-01-01"
    assert len(plot["next"]["forecast"]) == plot["horizon"]
    assert _logged_plots(forecaster) == set(drawn)


def test_confusion_matrix_names_every_class_and_counts_the_test_rows(
    cli: Cli, tmp_path: Path
) -> None:
    out = _build(tmp_path, "iris")
    drawn = _drawn(out)
    matrix = drawn["confusion_matrix.png"]
    names = ["setosa", "versicolor", "virginica"]
    assert matrix["xticklabels"] == names and matrix["yticklabels"] == names
    counts = matrix["counts"]
    accuracy = json.loads((out / "metrics.json").read_text())["metrics"]["test_accuracy"]
    assert sum(counts[i][i] for i in range(3)) / sum(map(sum, counts)) == pytest.approx(accuracy)
    assert _linked(out) == {f"plots/{name}" for name in drawn}
    assert _logged_plots(tmp_path) == set(drawn)


@pytest.mark.slow  # ~25 s on 2 cores: make test-slow
def test_forecast_command_plots_the_next_horizon_on_the_time_axis(
    forecaster: Path, cli: Cli
) -> None:
    """``mlflowctl forecast --plot``: years from the history's ``year`` column, the forecast's
    dates after the last one; without a time column, step numbers."""
    import pandas as pd
    import statsmodels.api as sm

    root = forecaster
    data = sm.datasets.sunspots.load_pandas().data
    history = pd.DataFrame({"year": data["YEAR"].astype(int), "value": data["SUNACTIVITY"]})
    history.to_csv(root / "history.csv", index=False)
    args = ("forecast", "test-model/1", "--input", "history.csv", "--horizon", "5", "--json")
    done = cli(*args, "--plot", "f.png", cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    plot = json.loads(done.stdout)["plot"]
    assert (root / "f.png").read_bytes()[:4] == b"\x89PNG"
    assert plot["xlabel"] == "time"
    assert all(re.fullmatch(r"1[6-9]\d\d|20\d\d", t) for t in plot["xticklabels"]), plot
    assert plot["forecast_times"] == [f"{y}-01-01" for y in range(2009, 2014)]

    history[["value"]].to_csv(root / "values.csv", index=False)
    done = cli(*args[:3], "values.csv", *args[4:], "--plot", "g.png", cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["plot"]["xlabel"] == "step"
    bad = cli(*args, "--plot", "no/such/dir/f.png", cwd=root)
    assert bad.returncode == 2 and "--plot" in bad.stderr
