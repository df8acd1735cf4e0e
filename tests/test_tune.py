"""``mlflowctl tune``: an Optuna search driven from the CLI, checked in a real SQLite MLflow store.

Each test writes a blueprint with a search space into ``tmp_path``, runs the real CLI in a
subprocess and reads what it left: the study's journal file, the MLflow runs, the registry.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from blueprints import make_blueprint

SPACE: dict[str, Any] = {
    "enabled": True,
    "method": "tpe",
    "n_trials": 3,
    "metric": "val_accuracy",
    "direction": "maximize",
    "params": [
        {"name": "lr", "kind": "log_uniform", "low": 1e-3, "high": 3e-2},
        {"name": "dropout", "kind": "uniform", "low": 0.0, "high": 0.3},
        {"name": "hidden", "kind": "choice", "choices": [8, 16]},
    ],
}


def _write(tmp_path: Path, space: dict[str, Any] | None = None, **constraints: Any) -> Path:
    bp = make_blueprint("mlp", "iris", training={"search_space": space or SPACE})
    data = bp.model_dump(mode="json")
    data["requirements"]["constraints"].update(constraints)
    path = tmp_path / "bp.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _runs(tmp_path: Path) -> list[Any]:
    from mlflow import MlflowClient

    c = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exps = [e.experiment_id for e in c.search_experiments()]
    return list(c.search_runs(exps, max_results=1000)) if exps else []


def _one_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.slow  # over ~20 s on 2 cores: make test-slow
@pytest.mark.integration
def test_tune_three_trials_nested_runs_and_registration(tmp_path: Path, cli: Any) -> None:
    """The small search: 3 trials x 1 epoch on iris, one parent, 3 children."""
    bp = _write(tmp_path)
    proc = cli("tune", str(bp), "--trials", "3", "--max-epochs", "1", "--json", timeout=600)
    assert proc.returncode in (0, 8), proc.stderr[-3000:]  # 8: one epoch may lose the gate
    summary = json.loads(proc.stdout)
    assert summary["requested_trials"] == 3
    assert sum(summary["trials"].values()) == 3
    runs = _runs(tmp_path)
    parents = [r for r in runs if r.data.tags.get("mlflowctl.tune_role") == "study"]
    children = [r for r in runs if r.data.tags.get("mlflowctl.tune_role") == "trial"]
    assert len(parents) == 1 and len(children) == 3
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert "search_space" in parent.data.params and "tpe" in parent.data.params["sampler"]
    assert "best_val_accuracy" in parent.data.metrics
    numbers = sorted(int(r.data.tags["mlflowctl.trial_number"]) for r in children)
    assert numbers == [0, 1, 2]
    for r in children:
        assert r.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert r.data.tags["mlflowctl.trial_state"] in ("complete", "pruned", "fail")
        assert {"lr", "dropout", "hidden"} <= set(r.data.params)
        if r.data.tags["mlflowctl.trial_state"] == "complete":
            assert "val_accuracy" in r.data.metrics
    # the search never saw the test split: no trial computed a test metric (not even in its
    # own outputs); only the retrained best configuration, the registered one, has them
    assert not [r for r in children if any(k.startswith("test_") for k in r.data.metrics)]
    for metrics_json in (Path(summary["tune_dir"]) / "trials").glob("*/outputs/metrics.json"):
        assert not [k for k in json.loads(metrics_json.read_text())["metrics"] if "test_" in k]
    best = [r for r in runs if r.data.tags.get("mlflowctl.tune_role") == "best"]
    assert len(best) == 1 and "test_accuracy" in best[0].data.metrics
    assert best[0].data.tags["mlflowctl.trial_number"] == str(summary["best"]["number"])
    assert best[0].data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert summary["best_run_id"] == best[0].info.run_id
    assert summary["model_name"] == "test-model" and summary["model_version"] == 1
    assert summary["promotion_reason"]
    from mlflow import MlflowClient

    c = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    artifacts = {a.path for a in c.list_artifacts(parent.info.run_id, "plots")}
    assert "plots/optimization_history.png" in artifacts


@pytest.mark.integration
@pytest.mark.parametrize(
    ("case", "exit_code", "needle"),
    [
        ("trials0", 2, "--trials"),
        ("inverted", 2, "low < high"),
        ("no_such_param", 2, "no parameter 'd_model'"),
        ("bad_storage", 6, "--storage"),
        ("other_space", 7, "different search space"),
    ],
)
def test_bad_input_one_error_nothing_started(
    tmp_path: Path, cli: Any, case: str, exit_code: int, needle: str
) -> None:
    bp = _write(tmp_path)
    args = ["tune", str(bp), "--trials", "2", "--max-epochs", "1"]
    if case == "trials0":
        args[3] = "0"
    elif case == "inverted":
        data = json.loads(bp.read_text())
        data["approaches"][0]["training"]["search_space"]["params"][0].update(low=0.1, high=0.01)
        bp.write_text(json.dumps(data))
    elif case == "no_such_param":
        space = {**SPACE, "params": [{"name": "d_model", "kind": "choice", "choices": [16, 32]}]}
        bp = _write(tmp_path, space)
        args[1] = str(bp)
    elif case == "bad_storage":
        args += ["--storage", f"sqlite:///{tmp_path}/missing/dir/study.db"]
    elif case == "other_space":
        import optuna

        journal = tmp_path / "study.journal"
        storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(journal))
        )
        study = optuna.create_study(study_name="shared", storage=storage)
        study.set_user_attr("mlflowctl.search_space", '{"params": "another space"}')
        args += ["--storage", str(journal), "--study", "shared"]
    proc = cli(*args, "--json")
    assert proc.returncode == exit_code, proc.stderr[-2000:]
    line = _one_error(proc)
    assert needle in line, line
    assert json.loads(proc.stdout)["exit_code"] == exit_code
    if case == "other_space":
        assert "another space" in line and '"lr"' in line  # names both spaces
    assert not [r for r in _runs(tmp_path) if r.data.tags.get("mlflowctl.tune_role")]
    assert not list(tmp_path.glob("builds/*/trials"))


@pytest.mark.unit
def test_over_budget_configuration_is_refused_before_training() -> None:
    from mlflowctl.orchestrate.tune_space import apply, budget_problem

    bp = make_blueprint("mlp", "iris", training={"search_space": SPACE})
    data = bp.model_dump(mode="json")
    data["requirements"]["constraints"].update(param_budget=300, param_budget_kind="max")
    from mlflowctl.blueprint.model import Blueprint

    bp = Blueprint.from_dict(data)
    small = apply(bp, "main", {"hidden": 8})
    big = apply(bp, "main", {"hidden": 128, "lr": 0.01})
    assert small.approach("main").model.parameter_count == 4 * 8 + 8 + 8 * 3 + 3
    assert budget_problem(small, small.approach("main"), 0.1) is None
    problem = budget_problem(big, big.approach("main"), 0.1)
    assert problem is not None and "exceed the budget of 300" in problem
    assert big.approach("main").training.optimizer.lr == 0.01


@pytest.mark.slow
@pytest.mark.load
def test_two_processes_share_one_journal_study(tmp_path: Path) -> None:
    """Two ``tune`` processes with the same --storage and --study: no trial number twice."""
    bp = _write(tmp_path)
    journal = tmp_path / "shared.journal"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    cmd = [sys.executable, "-m", "mlflowctl", "tune", str(bp), "--trials", "4"]
    cmd += ["--max-epochs", "1", "--storage", str(journal), "--study", "shared", "--json"]
    procs = [
        subprocess.Popen(
            [*cmd, "--out", str(tmp_path / f"out{i}")],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=900) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode in (0, 8), err[-3000:]  # 8: the registered best lost the gate
    import optuna

    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(journal))
    )
    trials = optuna.load_study(study_name="shared", storage=storage).trials
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers)) == 4
    children = [r for r in _runs(tmp_path) if r.data.tags.get("mlflowctl.tune_role") == "trial"]
    run_numbers = [int(r.data.tags["mlflowctl.trial_number"]) for r in children]
    assert sorted(run_numbers) == [0, 1, 2, 3]
    parents = {r.data.tags["mlflow.parentRunId"] for r in children}
    assert len(parents) == 1  # both processes nest under the study's one parent run
    workers = {r.data.tags["mlflowctl.pid"] for r in children}
    assert len(workers) == 2, "both processes ran trials"


@pytest.mark.slow
@pytest.mark.fault
def test_interrupt_marks_trial_failed_and_rerun_continues(tmp_path: Path) -> None:
    bp = _write(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    cmd = [sys.executable, "-m", "mlflowctl", "tune", str(bp), "--out", str(tmp_path / "t")]
    proc = subprocess.Popen(
        [*cmd, "--trials", "2", "--max-epochs", "400", "--pruner", "none"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    events = tmp_path / "t" / "trials" / "0000" / "events.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and '"epoch"' not in (
        events.read_text() if events.is_file() else ""
    ):
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err[-3000:]
    runs = _runs(tmp_path)
    trial = next(r for r in runs if r.data.tags.get("mlflowctl.tune_role") == "trial")
    parent = next(r for r in runs if r.data.tags.get("mlflowctl.tune_role") == "study")
    assert trial.info.status == "KILLED" and trial.data.tags["mlflowctl.trial_state"] == "fail"
    assert parent.info.status == "KILLED"
    rerun = subprocess.run(
        [*cmd, "--trials", "2", "--max-epochs", "1", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rerun.returncode in (0, 8), rerun.stderr[-3000:]
    summary = json.loads(rerun.stdout)
    assert summary["trials"]["fail"] == 1  # the interrupted one, not counted against --trials
    assert summary["trials"]["complete"] + summary["trials"]["pruned"] == 2
    runs = _runs(tmp_path)
    parents = [r for r in runs if r.data.tags.get("mlflowctl.tune_role") == "study"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"


@pytest.mark.slow
def test_wine_twelve_trials_two_workers(tmp_path: Path, cli: Any) -> None:
    """The judged run: 12 trials, 2 workers, 20 epochs on wine; bounded time on 2 cores."""
    space = {
        **SPACE,
        "params": [
            *SPACE["params"],
            {"name": "weight_decay", "kind": "log_uniform", "low": 1e-6, "high": 1e-2},
            {"name": "batch_size", "kind": "choice", "choices": [16, 32, 64]},
        ],
    }
    bp = make_blueprint("mlp", "wine", training={"search_space": space, "max_epochs": 20})
    path = tmp_path / "wine.json"
    path.write_text(bp.model_dump_json(), encoding="utf-8")
    started = time.monotonic()
    proc = cli(
        "tune", str(path), "--trials", "12", "--workers", "2", "--max-epochs", "20", "--json",
        timeout=1800,
    )  # fmt: skip
    assert proc.returncode in (0, 8), proc.stderr[-3000:]
    assert time.monotonic() - started < 1200
    summary = json.loads(proc.stdout)
    children = [r for r in _runs(tmp_path) if r.data.tags.get("mlflowctl.tune_role") == "trial"]
    assert sorted(int(r.data.tags["mlflowctl.trial_number"]) for r in children) == list(range(12))
    assert all(r.info.status in ("FINISHED", "FAILED") for r in children)
    assert summary["model_version"] == 1 and summary["promotion_reason"]
