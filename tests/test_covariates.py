"""Covariates (issue 13 item 2): the extra numeric columns of a series file are input channels
of the window, scaled on the training split, required in the forecast input, and reported in the
blueprint. Driven through the CLI as a user would, on a real SQLite store in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from cli_helpers import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # three builds: about a minute


def _write_series(root: Path) -> None:
    """``load`` follows ``indicator`` four days later: the indicator's past foretells it."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    indicator = np.zeros(400)
    for t in range(1, 400):
        indicator[t] = 0.8 * indicator[t - 1] + rng.normal()
    load = 10 + 3 * np.roll(indicator, 4) + rng.normal(0, 0.2, 400)
    days = pd.date_range("2022-01-01", periods=400, freq="D").strftime("%Y-%m-%d")
    frame = pd.DataFrame({"day": days, "load": load, "indicator": indicator})
    frame.to_csv(root / "power.csv", index=False)
    frame[["day", "load"]].to_csv(root / "power_only.csv", index=False)
    frame.tail(40).to_csv(root / "history.csv", index=False)
    frame[["day", "load"]].tail(40).to_csv(root / "history_no_indicator.csv", index=False)


def _design_and_build(root: Path, data: str, name: str, *extra: str) -> dict:
    prompt = "forecast load 3 days ahead"
    proc = run_cli(root, "design", prompt, "--data", data, "--target", "load", "-o", f"{name}.yaml")
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = run_cli(
        root, "build", f"{name}.yaml", "--out", name, "--max-epochs", "2", "--json", *extra
    )
    assert proc.returncode in (0, 8), proc.stderr[-2000:]
    return json.loads((root / name / "outputs" / "metrics.json").read_text())["metrics"]


def test_a_leading_indicator_is_a_covariate_that_helps(tmp_path: Path) -> None:
    _write_series(tmp_path)
    with_cov = _design_and_build(tmp_path, "power.csv", "with")
    without = _design_and_build(tmp_path, "power_only.csv", "without", "--no-track")
    # the blueprint says what it did with the extra column
    profile = yaml.safe_load((tmp_path / "with.yaml").read_text())["data_profile"]
    assert any(n.startswith("covariates: indicator") for n in profile["notes"])
    assert profile["feature_names"] == ["load", "indicator"]
    prep = json.loads((tmp_path / "with" / "outputs" / "preprocessing.json").read_text())
    [cov] = prep["series"]["covariates"]
    assert cov["name"] == "indicator" and cov["std"] > 0  # fitted on the training split
    assert with_cov["test_mae"] < 0.5 * without["test_mae"]
    # the registered model forecasts from a history holding the covariate ...
    proc = run_cli(tmp_path, "forecast", "power-forecaster@champion", "-i", "history.csv")
    if proc.returncode != 0:  # not promoted (exit 8 build): the version itself still serves
        proc = run_cli(tmp_path, "forecast", "power-forecaster/1", "-i", "history.csv")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[0].split(",")[:2] == ["step", "forecast"]
    # ... and refuses one without it, in one line naming the column
    proc = run_cli(tmp_path, "forecast", "power-forecaster/1", "-i", "history_no_indicator.csv")
    assert proc.returncode == 2
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "covariate column 'indicator'" in errors[0]
    proc = run_cli(
        tmp_path, "forecast", "power-forecaster/1", "-i", "history_no_indicator.csv", "--json"
    )
    assert proc.returncode == 2
    assert "indicator" in json.loads(proc.stdout)["message"]
