"""``--allow-baseline-champion``: when the network loses the gate to the best classical baseline,
that baseline is registered in its place and serves raw rows like the network (issue 14, item 7).

Driven through the installed CLI: ``run`` and ``build`` with the flag, then ``predict``,
``forecast``, ``registry show``/``verify`` and ``export`` on what was registered.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from cli_helpers import run_cli

pytestmark = pytest.mark.integration


def _seasonal_csv(path: Path, n: int = 240) -> Path:
    """A monthly series that repeats exactly every 12 months: seasonal naive forecasts it with
    zero error, so no network trained for one epoch can beat it on validation."""
    rows = ["month,sales"]
    for t in range(n):
        value = 10 + 5 * math.sin(2 * math.pi * t / 12) + 2 * math.cos(2 * math.pi * t / 6)
        rows.append(f"{2000 + t // 12}-{t % 12 + 1:02d}-01,{value:.6f}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_network_beaten_by_a_baseline_says_how_to_use_the_baseline(tmp_path: Path) -> None:
    prompt = "classify tumours as malignant or benign"
    args = ["run", prompt, "--data", "sklearn:breast_cancer", "--max-epochs", "1", "--json"]
    proc = run_cli(tmp_path, *args, "--workdir", "wd")
    assert proc.returncode == 8, proc.stderr[-3000:]
    reason = json.loads(proc.stdout)["promotion_reason"]
    assert "< baseline logistic_regression" in reason
    assert reason.endswith(
        "; --allow-baseline-champion puts baseline logistic_regression through the gate in the "
        "network's place (it takes the same raw rows)"
    ), reason


@pytest.mark.heavy
def test_run_registers_the_winning_baseline_and_it_predicts_raw_rows(tmp_path: Path) -> None:
    import numpy as np
    from sklearn.datasets import load_breast_cancer

    prompt = "classify tumours as malignant or benign"
    args = ["run", prompt, "--data", "sklearn:breast_cancer", "--max-epochs", "1", "--json"]
    proc = run_cli(tmp_path, *args, "--workdir", "wd", "--allow-baseline-champion")
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    reason = summary["promotion_reason"]
    assert summary["promoted"] and summary["aliases"] == ["champion"], reason
    assert "< baseline logistic_regression" in reason  # why the network lost, with both figures
    assert "registered as v2 and promoted" in reason
    name = summary["model_name"]
    report = (tmp_path / "wd" / "report.md").read_text(encoding="utf-8")
    assert "| metric | network | baseline logistic_regression |" in report

    # raw rows in, the network's output columns out: the baseline is as usable as the net
    data = load_breast_cancer(as_frame=True)
    rows = data.frame.drop(columns=["target"]).iloc[::20]
    rows.to_csv(tmp_path / "rows.csv", index=False)
    pred = run_cli(tmp_path, "predict", f"{name}@champion", "--input", "rows.csv", "--json")
    assert pred.returncode == 0, pred.stderr[-2000:]
    out = json.loads(pred.stdout)
    labels = [r["prediction"] for r in out["predictions"]]
    truth = data.target_names[data.target.iloc[::20].to_numpy()]
    assert float(np.mean(np.asarray(labels) == truth)) >= 0.9
    assert {"proba_malignant", "proba_benign"} <= set(out["predictions"][0])

    shown = run_cli(tmp_path, "registry", "show", name, "--json")
    versions = json.loads(shown.stdout)["versions"]
    assert [v["baseline"] for v in versions] == [None, "logistic_regression"]


@pytest.mark.slow
def test_build_lets_seasonal_naive_stand_in_and_forecast(tmp_path: Path) -> None:
    csv = _seasonal_csv(tmp_path / "sales.csv")
    design = run_cli(
        tmp_path, "design", "forecast monthly sales 6 months ahead", "--data", "sales.csv",
        "--output", "bp.yaml",
    )  # fmt: skip
    assert design.returncode == 0, design.stderr[-2000:]
    build = ["build", "bp.yaml", "--data", "sales.csv", "--max-epochs", "1", "--json"]
    without = run_cli(tmp_path, *build, "--out", "b0")
    assert without.returncode == 8, without.stderr[-2000:]  # the network alone loses the gate
    proc = run_cli(tmp_path, *build, "--out", "b1", "--allow-baseline-champion")
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert (
        summary["promoted"] and "baseline seasonal_naive registered" in summary["promotion_reason"]
    )
    name = summary["model_name"]
    lines = csv.read_text(encoding="utf-8").splitlines()
    (tmp_path / "history.csv").write_text("\n".join(lines[:229]) + "\n", encoding="utf-8")
    fc = run_cli(
        tmp_path, "forecast", f"{name}@champion", "--input", "history.csv", "--horizon", "6",
        "--json",
    )  # fmt: skip
    assert fc.returncode == 0, fc.stderr[-2000:]
    got = [row["forecast"] for row in json.loads(fc.stdout)["predictions"]]
    want = [float(line.split(",")[1]) for line in lines[229:235]]
    assert got == pytest.approx(want, abs=1e-6)
    verified = run_cli(tmp_path, "registry", "verify", name)  # the digest of its fitted files
    assert verified.returncode == 0, verified.stderr[-2000:]
    assert "fitted baseline sha256" in verified.stdout
    exported = run_cli(tmp_path, "export", f"{name}@champion", "--out", "ex", "--json")
    assert exported.returncode == 2
    assert "classical baseline" in json.loads(exported.stdout)["message"]
    # the same baseline fitted again ties the champion: "already champion", exit 0, not 8
    again = run_cli(tmp_path, *build, "--out", "b2", "--allow-baseline-champion")
    assert again.returncode == 0, again.stderr[-2000:]
    reason = json.loads(again.stdout)["promotion_reason"]
    assert "already champion" in reason and "left @champion where it is" in reason


def test_the_same_fitted_estimator_has_one_digest_across_dumps(tmp_path: Path) -> None:
    """skops names array files by object id and stamps the time: the registry digest reads
    through that, so a retrain fitting the same baseline ties the champion ("already champion")
    while a different fit does not."""
    import skops.io
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from mlflowctl.mlops.model_logging import baseline_digest

    x, y = load_iris(return_X_y=True)
    digests = []
    for i, c in enumerate([1.0, 1.0, 0.5]):
        folder = tmp_path / str(i)
        folder.mkdir()
        (folder / "baseline.json").write_text('{"name": "logistic_regression"}')
        skops.io.dump(LogisticRegression(C=c, max_iter=2000).fit(x, y), folder / "model.skops")
        digests.append(baseline_digest(folder))
    assert (tmp_path / "0" / "model.skops").read_bytes() != (
        tmp_path / "1" / "model.skops"
    ).read_bytes()
    assert digests[0] == digests[1] != digests[2]


@pytest.mark.heavy
def test_climatology_stands_in_and_finds_the_season_from_the_dates(tmp_path: Path) -> None:
    """Climatology (each month's mean) beats the one-epoch network on a noisy seasonal series; in
    the network's place it forecasts from a short history whose dates say where the year is.
    (15 years: the network's window holds under three years, too few for the same months' mean
    to settle as climatology's does.)"""
    import numpy as np

    rng = np.random.default_rng(0)
    months = 180
    season = 5 * np.sin(2 * np.pi * np.arange(12) / 12) + 2 * np.cos(2 * np.pi * np.arange(12) / 3)
    values = 20 + season[np.arange(months) % 12] + rng.normal(0, 1.5, months)
    rows = ["month,level"] + [
        f"{1990 + t // 12}-{t % 12 + 1:02d}-01,{v:.6f}" for t, v in enumerate(values)
    ]
    (tmp_path / "levels.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    design = run_cli(
        tmp_path, "design", "forecast the monthly level 6 months ahead", "--data", "levels.csv",
        "--output", "bp.yaml",
    )  # fmt: skip
    assert design.returncode == 0, design.stderr[-2000:]
    proc = run_cli(
        tmp_path, "build", "bp.yaml", "--data", "levels.csv", "--max-epochs", "1", "--out", "b",
        "--allow-baseline-champion", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    if "baseline climatology registered" not in summary["promotion_reason"]:
        pytest.fail(f"climatology did not win validation: {summary['promotion_reason']}")
    saved = json.loads((tmp_path / "b" / "outputs" / "baseline" / "baseline.json").read_text())
    fit_end = int(saved["state"]["fit_end"])
    month_means = [float(values[:fit_end][np.arange(fit_end) % 12 == m].mean()) for m in range(12)]
    # the last 40 rows only: the season of the next step comes from the last date, not the length
    (tmp_path / "recent.csv").write_text("\n".join([rows[0], *rows[-40:]]) + "\n", "utf-8")
    fc = run_cli(
        tmp_path, "forecast", f"{summary['model_name']}@champion", "--input", "recent.csv",
        "--horizon", "6", "--json",
    )  # fmt: skip
    assert fc.returncode == 0, fc.stderr[-2000:]
    got = [row["forecast"] for row in json.loads(fc.stdout)["predictions"]]
    assert got == pytest.approx([month_means[(months + k) % 12] for k in range(6)], abs=1e-6)


@pytest.mark.slow
def test_tune_lets_the_baseline_stand_in_for_the_tuned_network(tmp_path: Path) -> None:
    """``tune --allow-baseline-champion``: the best trial's retrained network loses to seasonal
    naive on an exactly seasonal series, so the baseline is registered and promoted instead."""
    _seasonal_csv(tmp_path / "sales.csv")
    design = run_cli(
        tmp_path, "design", "forecast monthly sales 6 months ahead", "--data", "sales.csv",
        "--output", "bp.yaml",
    )  # fmt: skip
    assert design.returncode == 0, design.stderr[-2000:]
    tune = ["tune", "bp.yaml", "--data", "sales.csv", "--trials", "2", "--max-epochs", "1"]
    lost = run_cli(tmp_path, *tune, "--out", "t0", "--json", timeout=600)
    assert lost.returncode == 8, lost.stderr[-3000:]  # the gate refused the tuned network
    assert (
        "< baseline" in json.loads(lost.stdout)["promotion_reason"]
        or "> baseline" in (json.loads(lost.stdout)["promotion_reason"])
    )
    proc = run_cli(
        tmp_path, *tune, "--out", "t1", "--allow-baseline-champion", "--json", timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert "baseline seasonal_naive registered" in summary["promotion_reason"]
    assert summary["aliases"] == ["champion"]


def _separable_csv(path: Path, n: int = 400) -> Path:
    """Two classes six standard deviations apart: the network and every baseline classify the
    validation rows perfectly, and gradient boosting's probabilities are far sharper."""
    import numpy as np

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    x = (y[:, None] * 2 - 1) * 3 + rng.normal(0, 0.5, (n, 2))
    rows = ["a,b,label"] + [
        f"{a:.4f},{b:.4f},{'yes' if t else 'no'}" for (a, b), t in zip(x, y, strict=True)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.heavy
def test_a_tie_on_the_gate_metric_goes_to_the_lower_log_loss_only_when_allowed(
    tmp_path: Path,
) -> None:
    _separable_csv(tmp_path / "sep.csv")
    proc = run_cli(
        tmp_path, "design", "predict the label", "--data", "sep.csv", "--target", "label", "-o",
        "bp.yaml",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    common = ["build", "bp.yaml", "--max-epochs", "3", "--json"]
    plain = run_cli(tmp_path, *common, "--out", "b1", "--tracking-uri", "sqlite:///plain.db")
    assert plain.returncode == 0, plain.stderr[-2000:]
    found = json.loads(plain.stdout)
    assert found["model_version"] == 1 and found["promoted"], found  # a tie passes the gate
    assert "ties baseline" in found["promotion_reason"]

    allowed = run_cli(
        tmp_path, *common, "--out", "b2", "--tracking-uri", "sqlite:///allowed.db",
        "--allow-baseline-champion",
    )  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr[-2000:]
    found = json.loads(allowed.stdout)
    reason = found["promotion_reason"]
    assert found["model_version"] == 2 and found["promoted"], reason
    assert "val_accuracy 1 ties baseline hist_gradient_boosting 1 and the baseline's " in reason
    assert "val_log_loss" in reason and "registered as v2 and promoted" in reason
    metrics = json.loads((tmp_path / "b2" / "outputs" / "metrics.json").read_text())
    assert metrics["baseline_best"] == "hist_gradient_boosting"  # the tie-break evaluate.py used
    assert metrics["baseline_saved"]["name"] == "hist_gradient_boosting"
