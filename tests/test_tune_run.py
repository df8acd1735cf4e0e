"""``run --tune``, the window length as a search parameter, pruned trials stopped gracefully and
``run``'s scale flags (issues 15 and 16), driven like a user drives them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from blueprints import make_blueprint

IRIS = ("run", "classify iris flowers into their species", "--data", "sklearn:iris")


def _error(proc: Any) -> dict[str, Any]:
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


@pytest.mark.integration
@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (("--tune", "--trials", "0"), "--trials"),
        (("--tune", "--workers", "0"), "--workers"),
        (("--tune", "--tune-timeout", "-1"), "--tune-timeout"),
        (("--trials", "3"), "--trials"),  # without --tune
        (("--devices", "4096", "--accelerator", "cpu"), "--devices"),
        (("--strategy", "zero3"), "--strategy"),
    ],
)
def test_run_flag_validation_exit_2_as_json(
    tmp_path: Path, cli: Any, args: tuple[str, ...], flag: str
) -> None:
    proc = cli(*IRIS, *args, "--json")
    assert proc.returncode == 2, proc.stderr
    doc = _error(proc)
    assert flag in json.dumps(doc)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "mlflow.db").exists()


@pytest.mark.unit
def test_lookback_is_searchable_and_recounts_parameters() -> None:
    from mlflowctl.blueprint.model import SearchParam
    from mlflowctl.errors import BlueprintError
    from mlflowctl.orchestrate.tune_space import apply, check_space, defaults

    bp = make_blueprint("mlp", "sunspots")
    a = bp.approach(None)
    horizon, lookback = a.model.output.dim, a.model.input.lookback
    assert lookback is not None
    longer = apply(bp, a.name, {"lookback": lookback * 2}).approach(a.name)
    assert longer.model.input.lookback == lookback * 2
    assert longer.model.input.shape[0] == lookback * 2
    assert longer.model.parameter_count > a.model.parameter_count  # the mlp sees more inputs
    space = a.training.search_space.model_copy(
        update={"params": [SearchParam(name="lookback", kind="int", low=horizon, high=lookback)]}
    )
    ok = a.model_copy(update={"training": a.training.model_copy(update={"search_space": space})})
    assert [p.name for p in check_space(bp, ok, "bp.json")] == ["lookback"]
    assert defaults(ok, list(space.params)) == {"lookback": lookback}
    low = space.model_copy(
        update={"params": [SearchParam(name="lookback", kind="int", low=0.5, high=lookback)]}
    )
    bad = a.model_copy(update={"training": a.training.model_copy(update={"search_space": low})})
    if horizon > 0.5:
        with pytest.raises(BlueprintError, match="below the horizon"):
            check_space(bp, bad, "bp.json")
    tab = make_blueprint("mlp", "iris")
    t = tab.approach(None)
    tspace = t.training.search_space.model_copy(
        update={"params": [SearchParam(name="lookback", kind="int", low=2, high=8)]}
    )
    tbad = t.model_copy(update={"training": t.training.model_copy(update={"search_space": tspace})})
    with pytest.raises(BlueprintError, match="not a forecaster"):
        check_space(tab, tbad, "bp.json")


@pytest.mark.unit
def test_designed_forecaster_searches_its_window_within_bounds() -> None:
    from mlflowctl.blueprint.training import lookback_bounds

    assert lookback_bounds(36, 11, series_length=300) == (18, 72)
    # a short series: the training split leaves room for a shorter window only
    low, high = lookback_bounds(36, 3, series_length=100) or (0, 0)
    assert low == 18 and high == 100 - 15 - 15 - 3 - 10 + 1
    assert lookback_bounds(8, 8, series_length=30) is None
    assert lookback_bounds(24, 4, max_len=30) == (12, 30)


@pytest.mark.integration
def test_pruned_trial_stops_gracefully_no_orphans(tmp_path: Path) -> None:
    """A watcher that stops the training (as a pruned trial does): SIGTERM first, so train.py
    saves its checkpoint and ends with a 'killed' event; no process of it is left."""
    from mlflowctl.build import writer
    from mlflowctl.train import runner

    bp = make_blueprint("mlp", "iris")
    project = writer.build(bp, out=tmp_path / "p")
    pids: list[int] = []

    class Stop(Exception):
        pass

    def on_event(event: dict[str, Any]) -> None:
        if event.get("event") == "start":
            pids.append(os.getpid())
        if event.get("event") == "epoch" and int(event.get("epoch", 0)) >= 1:
            raise Stop()

    with pytest.raises(Stop):
        runner.train(project, max_epochs=50, accelerator="cpu", on_event=on_event)
    events = [
        json.loads(line)
        for line in (project.root / "events.jsonl").read_text().splitlines()
        if line.strip()
    ]
    assert events[-1]["event"] == "end" and events[-1]["status"] == "killed", events[-1]
    assert (project.root / "checkpoints" / "last.ckpt").is_file()
    log = (project.root / "outputs" / "train.log").read_text()
    assert "stopped by signal" in log
    import subprocess

    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    assert not [
        ln
        for ln in ps.splitlines()
        if str(project.root / "train.py") in ln or ("train.py" in ln and str(project.root) in ln)
    ]


@pytest.mark.slow  # a 3-trial search and a tuned retrain: over 20 s on 2 cores
@pytest.mark.integration
def test_run_tune_phase_journaled_registered_and_gated(tmp_path: Path, cli: Any) -> None:
    proc = cli(
        *IRIS, "--tune", "--trials", "3", "--max-epochs", "2", "--workdir", "wd", "--json",
        timeout=900,
    )  # fmt: skip
    assert proc.returncode in (0, 8), proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["phases"]["tune"]["status"] == "done"
    assert list(summary["phases"])[:3] == ["design", "tune", "build"]
    tune = summary["tune"]
    assert sum(tune["trials"].values()) == 3 and tune["metric"] == "val_accuracy"
    assert isinstance(tune["best_value"], float)
    journal = json.loads((tmp_path / "wd" / ".mlflowctl" / "pipeline.json").read_text())
    rec = journal["phases"]["tune"]
    assert rec["status"] == "done" and rec["outputs"]["best_trial"] == tune["best_trial"]
    assert journal["options"]["tune"]["trials"] == 3
    # the tuned configuration is what was built and registered (and gated)
    import yaml

    tuned = yaml.safe_load((tmp_path / "wd" / "blueprint.yaml").read_text())
    lr = tuned["approaches"][0]["training"]["optimizer"]["lr"]
    if "lr" in tune["best_params"]:
        assert lr == pytest.approx(tune["best_params"]["lr"])
    assert summary["model_version"] == 1
    assert "challenger" in summary["aliases"] or summary["promoted"]
    from mlflow import MlflowClient

    c = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exps = [e.experiment_id for e in c.search_experiments()]
    runs = c.search_runs(exps, max_results=100)
    trials = [r for r in runs if r.data.tags.get("mlflowctl.tune_role") == "trial"]
    assert len(trials) == 3
    assert not [r for r in trials if any(k.startswith("test_") for k in r.data.metrics)]


@pytest.mark.slow  # two gloo processes
@pytest.mark.integration
def test_run_ddp_two_processes_one_run_one_version(tmp_path: Path, cli: Any) -> None:
    proc = cli(
        *IRIS, "--devices", "2", "--strategy", "ddp", "--accelerator", "cpu",
        "--max-epochs", "2", "--workdir", "wd", "--json", timeout=900,
    )  # fmt: skip
    assert proc.returncode in (0, 8), proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["model_version"] == 1
    journal = json.loads((tmp_path / "wd" / ".mlflowctl" / "pipeline.json").read_text())
    assert journal["options"]["scale"]["devices"] == 2
    metrics = json.loads((tmp_path / "wd" / "build" / "outputs" / "metrics.json").read_text())
    assert metrics["devices"] == 2 and metrics["strategy"] == "ddp"
    events = (tmp_path / "wd" / "build" / "events.jsonl").read_text().splitlines()
    tests = [e for e in map(json.loads, events) if e.get("event") == "test"]
    assert len(tests) == 1 and "rank" not in tests[0]  # rank zero alone evaluated
    from mlflow import MlflowClient

    c = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    versions = c.search_model_versions()
    assert len(versions) == 1
    exps = [e.experiment_id for e in c.search_experiments()]
    trained = [
        r
        for r in c.search_runs(exps, max_results=100)
        if "mlflow.parentRunId" in r.data.tags and "test_accuracy" in r.data.metrics
    ]
    assert len(trained) == 1
