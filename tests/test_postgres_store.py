"""A team's tracking store: ``mlflow server`` on PostgreSQL with proxied artifacts, on loopback.

One PostgreSQL cluster and one server per session (tests use distinct model names); the CLI runs
in subprocesses as a user runs it. Without PostgreSQL the module skips, except under ``CI=true``
where it fails (``.ci/run`` installs PostgreSQL first). The L1 load case and the fault case are
``slow``; ``.ci/run`` runs them with ``-m postgres``.
"""

from __future__ import annotations

import json
import subprocess
import sys
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
