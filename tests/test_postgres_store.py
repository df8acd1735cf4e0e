"""A team's tracking store: ``mlflow server`` on PostgreSQL with proxied artifacts, on loopback.

One PostgreSQL cluster and one server per session (tests use distinct model names); the CLI runs
in subprocesses as a user runs it. Without PostgreSQL the module skips, except under ``CI=true``
where it fails (``.ci/run`` installs PostgreSQL first). The L1 load case and the fault case are
``slow``; ``.ci/run`` runs them with ``-m postgres``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from blueprints import make_blueprint
from postgres_server import DB_PASSWORD, MlflowServer, PgCluster, require_postgres

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    cluster = PgCluster(require_postgres())
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def pg_server(
    pg_cluster: PgCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MlflowServer]:
    server = MlflowServer(pg_cluster.uri, tmp_path_factory.mktemp("pg-mlflow"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _cli(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlflowctl", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _blueprint_file(where: Path, model_name: str) -> Path:
    """The iris MLP test blueprint, registering to ``model_name``."""
    data: dict[str, Any] = yaml.safe_load(make_blueprint("mlp", "iris").to_yaml())
    for approach in data["approaches"]:
        approach["infrastructure"]["registry"]["model_name"] = model_name
        approach["infrastructure"]["tracking"]["experiment_name"] = f"pg-{model_name}"
    path = where / "bp.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _build_args(bp: Path, out: str, uri: str) -> list[str]:
    return ["build", str(bp), "--out", out, "--max-epochs", "1", "--accelerator", "cpu",
            "--tracking-uri", uri, "--json"]  # fmt: skip


def _client(uri: str) -> Any:
    from mlflowctl.mlops.store import client

    return client(uri)


def _versions(uri: str, name: str) -> list[Any]:
    found = _client(uri).search_model_versions(f"name = '{name}'")
    return sorted(found, key=lambda v: int(v.version))


def test_build_registers_a_champion_on_the_postgres_server(
    pg_server: MlflowServer, tmp_path: Path
) -> None:
    """(a) `mlflowctl build` against `mlflow server` on PostgreSQL: run, artifacts, @champion."""
    bp = _blueprint_file(tmp_path, "pg-build")
    proc = _cli(*_build_args(bp, "b", pg_server.url), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    assert doc["model_name"] == "pg-build" and doc["model_version"] == 1
    assert doc["aliases"] == ["champion"] and doc["promoted"] is True

    c = _client(pg_server.url)
    (mv,) = _versions(pg_server.url, "pg-build")
    assert c.get_registered_model("pg-build").aliases == {"champion": "1"}
    assert mv.tags["weights_sha256"] == doc["weights_sha256"]
    run = c.get_run(mv.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")  # proxied by the server
    # the weights went to the server's artifact destination, nothing to a local store
    assert list(pg_server.artifacts.rglob("weights.safetensors"))
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlartifacts").exists()
    # the database password never reaches the user
    assert DB_PASSWORD not in proc.stdout + proc.stderr


def _register_in_process(uri: str, root: Path, name: str, accuracy: float, build: str) -> int:
    """A tracked, registered build without training (the registry tests' helper)."""
    from mlflow_server import make_blueprint as tiny_blueprint
    from mlflow_server import make_project

    from mlflowctl.mlops.registry import register
    from mlflowctl.mlops.runs import Tracker

    bp = tiny_blueprint(model_name=name, experiment=f"pg-{name}")
    run = make_project(root, accuracy, seed=sum(map(ord, build)))  # other weights
    with Tracker(uri, bp, None, build_id=build, agent_digests={}) as tr:
        tr.log_training(run)
    assert tr.run_id is not None
    spec = bp.approach().infrastructure.registry
    return int(register(uri, tr.run_id, run, spec, build_id=build).version)


def test_registry_promote_rollback_verify_on_the_postgres_server(
    pg_server: MlflowServer, tmp_path: Path
) -> None:
    """(b) `registry promote/rollback/verify` through the CLI against the PostgreSQL server."""
    uri, name = pg_server.url, "pg-registry"
    assert _register_in_process(uri, tmp_path / "a", name, 0.80, "build-a") == 1
    assert _register_in_process(uri, tmp_path / "b", name, 0.70, "build-b") == 2
    c = _client(uri)
    assert c.get_registered_model(name).aliases == {"champion": "1", "challenger": "2"}

    refused = _cli("registry", "promote", name, "2", "--tracking-uri", uri, cwd=tmp_path)
    assert refused.returncode == 8, refused.stderr
    assert c.get_registered_model(name).aliases["champion"] == "1"

    forced = _cli("registry", "promote", name, "2", "--force", "--tracking-uri", uri, "--json",
                  cwd=tmp_path)  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    assert c.get_registered_model(name).aliases["champion"] == "2"
    assert c.get_model_version(name, "2").tags["previous_champion"] == "1"

    back = _cli("registry", "rollback", name, "--tracking-uri", uri, "--json", cwd=tmp_path)
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["version"] == 1
    assert c.get_registered_model(name).aliases["champion"] == "1"
    assert [v.version for v in _versions(uri, name)] == ["1", "2"]  # nothing deleted

    ok = _cli("registry", "verify", name, "2", "--tracking-uri", uri, cwd=tmp_path)
    assert ok.returncode == 0 and "ok:" in ok.stdout, ok.stderr
    # alter v2's weights where the server keeps them: verify must fail loudly (exit 7)
    v2 = c.get_model_version(name, "2")
    model_id = v2.model_id or str(v2.source).rsplit("/", 1)[-1]
    stored = [p for p in pg_server.artifacts.rglob("weights.safetensors") if model_id in str(p)]
    assert len(stored) == 1, stored
    stored[0].write_bytes(stored[0].read_bytes()[:-1] + b"\x01")
    bad = _cli("registry", "verify", name, "2", "--tracking-uri", uri, cwd=tmp_path)
    assert bad.returncode == 7
    assert bad.stderr.count("error:") == 1 and "do not match" in bad.stderr


@pytest.mark.load
@pytest.mark.slow
def test_l1_eight_concurrent_builds_register_contiguous_versions(
    pg_server: MlflowServer, tmp_path: Path
) -> None:
    """L1 on PostgreSQL: 8 `mlflowctl build` processes started together, one model name ->
    versions 1..8, one per build and run, exactly one @champion (the best), every run terminal."""
    uri, name, n = pg_server.url, "pg-l1", 8
    bp = _blueprint_file(tmp_path, name)
    t0 = time.monotonic()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "mlflowctl", *_build_args(bp, f"b{i}", uri)],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(n)
    ]
    outs = [p.communicate(timeout=1200) for p in procs]
    wall = time.monotonic() - t0
    print(f"L1 on PostgreSQL: {n} concurrent builds took {wall:.1f} s")
    assert [p.returncode for p in procs] == [0] * n, [e[-1500:] for _, e in outs]
    assert not any("Traceback" in e or "database is locked" in e for _, e in outs)
    docs = [json.loads(o) for o, _ in outs]
    assert sorted(d["model_version"] for d in docs) == list(range(1, n + 1))

    versions = _versions(uri, name)
    assert [int(v.version) for v in versions] == list(range(1, n + 1))
    assert len({v.run_id for v in versions}) == n
    assert len({v.tags["mlflowctl.build_id"] for v in versions}) == n
    by_version = {d["model_version"]: d for d in docs}
    for v in versions:  # what each build reported is what the registry holds
        assert by_version[int(v.version)]["weights_sha256"] == v.tags["weights_sha256"]

    c = _client(uri)
    aliases = c.get_registered_model(name).aliases
    champion = int(aliases["champion"])
    best = max(d["metrics"]["test_accuracy"] for d in docs)
    assert by_version[champion]["metrics"]["test_accuracy"] == best
    holders = [
        v.version for v in versions if "champion" in c.get_model_version(name, v.version).aliases
    ]
    assert holders == [str(champion)]  # (search results carry no aliases: ask each version)
    assert {c.get_run(v.run_id).info.status for v in versions} == {"FINISHED"}
    exp = c.get_experiment_by_name(f"pg-{name}")
    runs = c.search_runs([exp.experiment_id])
    assert len(runs) == n and {r.info.status for r in runs} == {"FINISHED"}


def _doctor(uri: str, cwd: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _cli("doctor", "--tracking-uri", uri, *extra, cwd=cwd, timeout=300)


def test_doctor_reports_the_server_version(pg_server: MlflowServer, tmp_path: Path) -> None:
    """`doctor` with the server: `backend: http (server <version of that server>)`."""
    import urllib.request

    with urllib.request.urlopen(pg_server.url + "/version", timeout=10) as resp:
        version = resp.read().decode().strip()
    text = _doctor(pg_server.url, tmp_path)
    assert text.returncode == 0, text.stderr
    assert f"http (server {version})" in " ".join(text.stdout.split())
    doc = json.loads(_doctor(pg_server.url, tmp_path, "--json").stdout)
    assert doc["backend"] == {
        "kind": "http", "server_version": version, "database_version": None, "error": None,
    }  # fmt: skip


def test_doctor_reports_the_postgresql_version_without_credentials(
    pg_cluster: PgCluster, tmp_path: Path
) -> None:
    """`doctor` with a direct postgresql:// URI: `backend: postgresql <server_version>`, and
    neither the right nor a wrong password is ever printed."""
    version = pg_cluster.psql("SHOW server_version").strip()
    text = _doctor(pg_cluster.uri, tmp_path)
    assert text.returncode == 0, text.stderr
    assert f"postgresql {version}" in " ".join(text.stdout.split())
    doc = json.loads(_doctor(pg_cluster.uri, tmp_path, "--json").stdout)
    assert doc["backend"]["kind"] == "postgresql" and doc["backend"]["error"] is None
    assert doc["backend"]["database_version"] == version
    wrong = pg_cluster.uri.replace(DB_PASSWORD, "Wrong-Secret-42")
    bad = _doctor(wrong, tmp_path, "--json")
    report = json.loads(bad.stdout)
    assert report["backend"]["database_version"] is None
    assert "password authentication failed" in report["backend"]["error"]
    for out in (text, bad):
        everything = out.stdout + out.stderr
        assert DB_PASSWORD not in everything and "Wrong-Secret-42" not in everything


@pytest.mark.fault
@pytest.mark.slow
def test_postgres_stopped_mid_build_exits_6_then_resumes_and_registers_once(
    tmp_path: Path,
) -> None:
    """PostgreSQL stops under a running build: exit 6 in bounded time; once it is back,
    `build --resume` registers exactly one version and every run is terminal."""
    cluster = PgCluster(require_postgres())  # its own: this test stops the database
    server = MlflowServer(cluster.uri, tmp_path / "server", workers=1)
    try:
        server.start()
        uri, name = server.url, "pg-fault"
        bp = _blueprint_file(tmp_path, name)
        args = _build_args(bp, "b", uri)
        args[args.index("--max-epochs") + 1] = "400"
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlflowctl", *args],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:  # wait until training (and the run) is under way
            seen.append(line)
            found = re.search(r"\] epoch (\d+)/", line)
            if found and int(found.group(1)) >= 3:  # epoch lines are rate-limited: 3 or later
                break
        else:
            pytest.fail("the build never reached epoch 3:\n" + "".join(seen)[-3000:])
        cluster.stop("fast")
        t0 = time.monotonic()
        out, err = proc.communicate(timeout=300)
        err = "".join(seen) + err
        elapsed = time.monotonic() - t0
        assert proc.returncode == 6, err[-3000:]
        assert elapsed < 120
        lines = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and "Traceback" not in err, err[-3000:]
        print(f"fault: exit 6 {elapsed:.1f} s after PostgreSQL stopped: {lines[0][:200]}")
        assert DB_PASSWORD not in out + err

        cluster.start()
        again = _cli(*args, "--resume", cwd=tmp_path)
        assert again.returncode == 0, again.stderr[-3000:]
        doc = json.loads(again.stdout)
        assert doc["model_version"] == 1 and doc["aliases"] == ["champion"]
        versions = _versions(uri, name)
        assert [int(v.version) for v in versions] == [1]
        c = _client(uri)
        runs = c.search_runs([c.get_experiment_by_name(f"pg-{name}").experiment_id])
        assert c.get_run(versions[0].run_id).info.status == "FINISHED"
        # the interrupted run is closed, by itself or reaped by the next invocation
        others = [r.info.status for r in runs if r.info.run_id != versions[0].run_id]
        assert others in (["FAILED"], ["KILLED"]), others
    finally:
        server.stop()
        cluster.destroy()


MISSING_PG_TEST = """\
from postgres_server import require_postgres


def test_needs_postgres():
    require_postgres()
"""


@pytest.mark.parametrize(("ci", "outcome"), [("", "1 skipped"), ("true", "1 failed")])
def test_missing_postgres_skips_on_a_laptop_and_fails_in_ci(
    tmp_path: Path, ci: str, outcome: str
) -> None:
    """Without PostgreSQL the tests skip with a reason, but under CI=true they fail."""
    (tmp_path / "test_needs_pg.py").write_text(MISSING_PG_TEST)
    env = {**os.environ, "CI": ci, "MLFLOWCTL_TEST_PG_BIN": str(tmp_path / "no-pg")}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rsf", "-p", "no:cacheprovider",
         "-o", "addopts=", str(tmp_path / "test_needs_pg.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert outcome in proc.stdout, proc.stdout[-2000:]
    assert "PostgreSQL not installed" in proc.stdout


def _tune_blueprint(where: Path) -> Path:
    """The iris MLP test blueprint with a small search space."""
    space = {
        "enabled": True, "method": "tpe", "n_trials": 4, "metric": "val_accuracy",
        "direction": "maximize",
        "params": [
            {"name": "lr", "kind": "log_uniform", "low": 1e-3, "high": 3e-2},
            {"name": "hidden", "kind": "choice", "choices": [8, 16]},
        ],
    }  # fmt: skip
    data = make_blueprint("mlp", "iris", training={"search_space": space}).model_dump(mode="json")
    path = where / "bp.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.load
@pytest.mark.slow
def test_two_tune_processes_share_one_study_on_postgresql(
    pg_cluster: PgCluster, tmp_path: Path
) -> None:
    """Issue 16: ``mlflowctl tune --storage postgresql://... --study NAME`` started twice (as on
    two machines) joins one study: 4 trials in all, no trial number twice, both processes ran
    trials, every trial's nested MLflow run under the study's one parent run."""
    import optuna

    storage = pg_cluster.create_database("optuna_shared")
    bp = _tune_blueprint(tmp_path)
    cmd = [sys.executable, "-m", "mlflowctl", "tune", str(bp), "--trials", "4", "--max-epochs",
           "1", "--storage", storage, "--study", "shared", "--json"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    procs = [
        subprocess.Popen(
            [*cmd, "--out", f"out{i}"],
            cwd=tmp_path,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=900) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode in (0, 8), err[-3000:]  # 8: the best trial did not pass the gate
        assert DB_PASSWORD not in err
    from mlflowctl.orchestrate.tune_storage import with_installed_driver

    study = optuna.load_study(study_name="shared", storage=with_installed_driver(storage))
    numbers = [t.number for t in study.trials]
    assert sorted(numbers) == [0, 1, 2, 3]
    client = _client(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exps = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(exps, max_results=1000)
    trials = [r for r in runs if r.data.tags.get("mlflowctl.tune_role") == "trial"]
    assert sorted(int(r.data.tags["mlflowctl.trial_number"]) for r in trials) == [0, 1, 2, 3]
    assert len({r.data.tags["mlflow.parentRunId"] for r in trials}) == 1
    assert len({r.data.tags["mlflowctl.pid"] for r in trials}) == 2, "both processes ran trials"
