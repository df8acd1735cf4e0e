"""Registry: gated promotion, rollback, integrity, idempotence, races; SQLite and a live server.

Real MLflow stores throughout (a fresh SQLite file per test, or a loopback ``mlflow server``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from mlflow_server import make_blueprint, make_project, mlflow_server, write_tracked_script

from mlflowctl.blueprint.model import PromotionGate, RegistrySpec
from mlflowctl.blueprint.results import ModelVersion
from mlflowctl.cli.app import main
from mlflowctl.errors import GateFailedError, InvalidInputError, RegistryConflictError
from mlflowctl.mlops.registry import promote, register, rollback, validate_registry_spec
from mlflowctl.mlops.registry_query import show, verify
from mlflowctl.mlops.runs import Tracker
from mlflowctl.mlops.store import client

__all__ = ["mlflow_server"]  # the fixture, imported for pytest

pytestmark = pytest.mark.unit
NAME = "iris-clf"


def _build(uri: str, root: Path, accuracy: float, build: str, **gate: Any) -> ModelVersion:
    """One tracked build of the test blueprint, registered: what `mlflowctl build` does."""
    bp = make_blueprint(**gate)
    run = make_project(root, accuracy, seed=sum(map(ord, build)))  # other builds, other weights
    with Tracker(uri, bp, None, build_id=build, agent_digests={}) as tr:
        tr.log_training(run)
    assert tr.run_id is not None
    return register(uri, tr.run_id, run, bp.approach().infrastructure.registry, build_id=build)


def _aliases(uri: str) -> dict[str, int]:
    return dict(show(uri, NAME)["aliases"])


def _check_invariants(uri: str) -> None:
    """I2/I3: contiguous versions, audit tags on the champion, challenger != champion."""
    data = show(uri, NAME)
    versions = [v["version"] for v in data["versions"]]
    assert versions == list(range(1, len(versions) + 1))
    aliases = data["aliases"]
    assert aliases.get("challenger") is None or aliases["challenger"] != aliases.get("champion")
    for row in data["versions"]:  # each version row shows the aliases that point at it
        assert row["aliases"] == sorted(a for a, v in aliases.items() if v == row["version"])
    if "champion" in aliases:
        champ = client(uri).get_model_version(NAME, str(aliases["champion"]))
        assert {"previous_champion", "promoted_at", "promoted_by_build"} <= set(champ.tags)
        assert champ.tags["mlflowctl.build_id"] and champ.tags["run_id"] == champ.run_id


def _flow(uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = _build(uri, tmp_path / "a", 0.80, "build-a")
    assert first.promoted and first.version == 1 and first.aliases == ("champion",)
    second = _build(uri, tmp_path / "b", 0.90, "build-b")
    assert second.promoted and second.previous_champion == 1
    assert _aliases(uri) == {"champion": 2}
    tags = client(uri).get_model_version(NAME, "2").tags
    assert tags["previous_champion"] == "1" and tags["promoted_by_build"] == "build-b"
    assert "beats" in tags["promotion_reason"]
    _check_invariants(uri)

    assert main(["registry", "rollback", NAME, "--tracking-uri", uri, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == 1
    assert _aliases(uri)["champion"] == 1
    assert [v["version"] for v in show(uri, NAME)["versions"]] == [1, 2]  # nothing deleted
    _check_invariants(uri)

    assert main(["registry", "verify", NAME, "2", "--tracking-uri", uri]) == 0
    assert "ok:" in capsys.readouterr().out


@pytest.mark.integration
def test_better_second_build_becomes_champion_and_rollback_restores_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _flow(f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path, capsys)


@pytest.mark.integration
def test_verify_fails_loudly_after_weights_are_altered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mv = _build(uri, tmp_path / "a", 0.8, "build-a")
    assert verify(uri, NAME)["sha256"] == mv.weights_sha256
    stored = list((tmp_path / "mlartifacts").rglob("weights.safetensors"))
    assert len(stored) == 1
    stored[0].write_bytes(stored[0].read_bytes()[:-1] + b"\x01")
    assert main(["registry", "verify", NAME, "--tracking-uri", uri]) == 7
    err = capsys.readouterr().err
    assert "do not match" in err and str(mv.weights_sha256) in err


@pytest.mark.integration
def test_failed_gate_leaves_challenger_and_says_why(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    _build(uri, tmp_path / "a", 0.80, "build-a", min_improvement=0.05)
    worse = _build(uri, tmp_path / "b", 0.83, "build-b", min_improvement=0.05)
    assert not worse.promoted and "does not beat" in worse.reason
    assert _aliases(uri) == {"champion": 1, "challenger": 2}
    with pytest.raises(GateFailedError):
        promote(uri, NAME, 2)
    forced = promote(uri, NAME, 2, force=True)
    assert forced.promoted and forced.previous_champion == 1
    assert _aliases(uri) == {"champion": 2}
    _check_invariants(uri)


@pytest.mark.integration
def test_threshold_gate_without_champion_sets_no_champion(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mv = _build(uri, tmp_path / "a", 0.50, "build-a", threshold=0.9)
    assert not mv.promoted and "threshold" in mv.reason
    assert _aliases(uri) == {"challenger": 1}


@pytest.mark.integration
def test_registration_is_idempotent(tmp_path: Path) -> None:
    """F11/F12: a version created before a crash (or a lost ack) is reused, never duplicated."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    bp = make_blueprint()
    spec = bp.approach().infrastructure.registry
    run = make_project(tmp_path / "a", 0.8)
    with Tracker(uri, bp, None, build_id="b", agent_digests={}) as tr:
        tr.log_training(run)
    assert tr.run_id and tr.model_uri
    c = client(uri)
    c.create_registered_model(NAME)
    c.create_model_version(NAME, tr.model_uri, run_id=tr.run_id)  # created, then "killed"
    first = register(uri, tr.run_id, run, spec, build_id="b")
    again = register(uri, tr.run_id, run, spec, build_id="b")
    assert first.version == again.version == 1 and again.promoted
    assert len(c.search_model_versions(f"name = '{NAME}'")) == 1
    assert _aliases(uri) == {"champion": 1}


@pytest.mark.parametrize(
    ("field", "value"),
    [("model_name", "a/b"), ("model_name", "x:y"), ("champion_alias", "v3"),
     ("challenger_alias", "latest"), ("champion_alias", "has space")],
)  # fmt: skip
def test_invalid_registry_names_rejected_before_any_run(
    tmp_path: Path, field: str, value: str
) -> None:
    """B23: MLflow's own rules, applied without touching a store."""
    good = make_blueprint().approach().infrastructure.registry.model_dump()
    spec = RegistrySpec.model_construct(**{**good, field: value})
    with pytest.raises(InvalidInputError) as exc:
        validate_registry_spec(spec)
    assert exc.value.location == f"infrastructure.registry.{field}"
    assert not list(tmp_path.iterdir())


@pytest.mark.integration
def test_deleted_champion_is_reported_clearly(tmp_path: Path) -> None:
    """F17: the champion's version deleted outside mlflowctl."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    _build(uri, tmp_path / "a", 0.80, "build-a")
    _build(uri, tmp_path / "b", 0.90, "build-b")
    client(uri).delete_model_version(NAME, "1")  # the previous champion
    with pytest.raises(RegistryConflictError, match=r"previous champion v1 .* no longer exists"):
        rollback(uri, NAME)
    client(uri).delete_model_version(NAME, "2")  # now the champion itself
    with pytest.raises(RegistryConflictError, match="has no @champion"):
        rollback(uri, NAME)
    with pytest.raises(RegistryConflictError, match="has no version 2"):
        promote(uri, NAME, 2)


@pytest.mark.integration
def test_cli_list_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    _build(uri, tmp_path / "a", 0.80, "build-a")
    assert main(["registry", "list", "--tracking-uri", uri, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == [{"name": NAME, "latest_version": 1, "aliases": {"champion": 1}}]
    assert main(["registry", "show", NAME, "--tracking-uri", uri]) == 0
    out = capsys.readouterr().out
    assert "@champion=v1" in out and "test_accuracy=0.8" in out
    assert main(["registry", "show", "nope", "--tracking-uri", uri]) == 2


@pytest.mark.integration
@pytest.mark.slow
def test_remote_server_build_register_promote_rollback_verify(
    tmp_path: Path, mlflow_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same flow against a real `mlflow server` on loopback."""
    _flow(mlflow_server, tmp_path, capsys)
    assert not (tmp_path / "mlflow.db").exists()  # nothing went to a local store


@pytest.mark.integration
@pytest.mark.load
@pytest.mark.slow
def test_eight_concurrent_builds_register_contiguous_versions(tmp_path: Path) -> None:
    """L1: 8 builds at once on a fresh SQLite file -> versions 1..8, no lock errors."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    script = write_tracked_script(tmp_path)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(script),
                uri,
                str(tmp_path / f"p{i}"),
                str(0.5 + i / 100),
                f"b{i}",
                "register",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(8)
    ]
    time.sleep(5)  # let every child import and wait at the barrier
    (tmp_path / "go").touch()
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [e[-800:] for _, e in outs]
    assert not any("database is locked" in o + e for o, e in outs)
    versions = sorted(int(o.split()[1]) for o, _ in outs)
    assert versions == list(range(1, 9))
    data = show(uri, NAME)
    assert len({v["run_id"] for v in data["versions"]}) == 8
    _check_invariants(uri)
    statuses = {r.info.status for r in client(uri).search_runs(["1"])}
    assert statuses == {"FINISHED"}


@pytest.mark.integration
def test_failed_training_is_never_registered(tmp_path: Path) -> None:
    """F3: a failed TrainingRun cannot become a version; the champion stays."""
    from mlflowctl.errors import TrainingError

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    _build(uri, tmp_path / "a", 0.80, "build-a")
    bp = make_blueprint()
    run = make_project(tmp_path / "b", 0.99)
    run.status, run.failure = "failed", "nan_loss"
    with pytest.raises(TrainingError, match="nan_loss"):
        register(uri, "any-run", run, bp.approach().infrastructure.registry, build_id="b")
    assert _aliases(uri) == {"champion": 1}
    assert [v["version"] for v in show(uri, NAME)["versions"]] == [1]


@pytest.mark.integration
@pytest.mark.load
@pytest.mark.slow
def test_promotion_storm_is_serialized_and_keeps_the_best(tmp_path: Path) -> None:
    """L4: concurrent `registry promote` calls: the best candidate ends @champion, every
    outcome matches the audit tags, losers exit 8 (gate) without side effects."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    accuracies = [0.70, 0.81, 0.95, 0.76, 0.88]
    for i, acc in enumerate(accuracies):
        _build(uri, tmp_path / f"p{i}", acc, f"b{i}", threshold=0.99)  # none promoted yet
    assert "champion" not in _aliases(uri)
    gate = PromotionGate(metric="test_accuracy", direction="maximize")  # the blueprint relaxed
    client(uri).set_registered_model_tag(NAME, "mlflowctl.gate", gate.model_dump_json())
    promote(uri, NAME, 1, force=True)
    procs = {
        v: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflowctl",
                "registry",
                "promote",
                NAME,
                str(v),
                "--tracking-uri",
                uri,
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for v in range(2, 6)
    }
    codes = {v: p.wait(timeout=300) for v, p in procs.items()}
    assert set(codes.values()) <= {0, 8}, {v: p.stderr.read() for v, p in procs.items()}
    assert _aliases(uri)["champion"] == 3  # 0.95, the best
    c = client(uri)
    for v, code in codes.items():
        tags = c.get_model_version(NAME, str(v)).tags
        assert ("promoted_at" in tags) == (code == 0)
    _check_invariants(uri)


@pytest.mark.integration
def test_promote_prints_aliases_as_names_not_a_tuple(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    _build(uri, tmp_path / "a", 0.80, "build-a")
    done = subprocess.run(
        [sys.executable, "-m", "mlflowctl", "registry", "promote", NAME, "1", "--force",
         "--tracking-uri", uri],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "('" not in done.stdout and "@champion" in done.stdout, done.stdout


@pytest.mark.integration
def test_identical_retrain_is_already_champion_not_a_gate_failure(tmp_path: Path) -> None:
    """README walk-through run twice: a deterministic retrain ties the champion byte for byte."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    bp = make_blueprint()
    versions = []
    for build in ("build-a", "build-b"):  # two builds, identical weights (same seed)
        run = make_project(tmp_path / build, 0.80, seed=7)
        with Tracker(uri, bp, None, build_id=build, agent_digests={}) as tr:
            tr.log_training(run)
        assert tr.run_id is not None
        registry = bp.approach().infrastructure.registry
        versions.append(register(uri, tr.run_id, run, registry, build_id=build))
    first, second = versions
    assert first.version == 1 and first.promoted
    assert second.version == 2 and second.promoted  # exit 0, not 8
    assert "already champion" in second.reason and "v1" in second.reason
    assert _aliases(uri)["champion"] == 1
