"""``mlflowctl build`` as a user runs it: a real subprocess, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from blueprints import make_blueprint

pytestmark = pytest.mark.integration

HEAVY = ("torch", "lightning", "mlflow", "sklearn", "pandas", "scipy")
#: a dry run reads the data to fit the model's shapes to it (pandas/sklearn), but never trains
#: or tracks: no torch, lightning or mlflow
TRAINING_STACK = ("torch", "lightning", "mlflow")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlflowctl", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture()
def blueprint_file(tmp_path: Path) -> Path:
    path = tmp_path / "bp.yaml"
    path.write_text(make_blueprint("mlp", "iris").to_yaml())
    return path


def test_dry_run_prints_the_plan_writes_nothing_and_imports_nothing_heavy(
    blueprint_file: Path, tmp_path: Path
) -> None:
    probe = (
        "import sys; from mlflowctl.cli.app import main; "
        f"rc = main(['build', {str(blueprint_file)!r}, '--dry-run', '--json']); "
        f"print('HEAVY', [m for m in {TRAINING_STACK!r} if m in sys.modules]); sys.exit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[0].startswith("build: loading")
    summary, heavy = proc.stdout.rsplit("HEAVY", 1)
    assert heavy.strip() == "[]"
    doc = json.loads(summary)
    assert doc["written"] is False and "model.py" in doc["files"]
    assert doc["build_dir"].endswith("builds/bp-0123456789ab-main")
    assert not (tmp_path / "builds").exists()


def test_existing_folder_is_refused_without_force(blueprint_file: Path, tmp_path: Path) -> None:
    first = _cli("build", str(blueprint_file), "--no-train", "--out", "b", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "b" / "train.py").is_file()
    second = _cli("build", str(blueprint_file), "--no-train", "--out", "b", cwd=tmp_path)
    assert second.returncode == 2
    errors = [line for line in second.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "build folder already exists" in errors[0]
    assert str(tmp_path / "b") in errors[0] and "--force" in second.stderr
    forced = _cli("build", str(blueprint_file), "--no-train", "--out", "b", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr


def test_bad_inputs_exit_2_with_one_line(blueprint_file: Path, tmp_path: Path) -> None:
    missing = _cli("build", "nope.yaml", cwd=tmp_path)
    assert missing.returncode == 2 and "nope.yaml: blueprint file not found" in missing.stderr
    approach = _cli("build", str(blueprint_file), "--approach", "zzz", "--dry-run", cwd=tmp_path)
    assert approach.returncode == 2 and "--approach: no approach named 'zzz'" in approach.stderr
    resume = _cli("build", str(blueprint_file), "--resume", "--out", "none", cwd=tmp_path)
    assert resume.returncode == 2 and "not a build folder" in resume.stderr
    accel = _cli("build", str(blueprint_file), "--accelerator", "tpu", cwd=tmp_path)
    assert accel.returncode == 2 and "--accelerator" in accel.stderr


@pytest.mark.slow  # the design -> build test below trains through the CLI in the default suite
def test_build_trains_and_reports_metrics(blueprint_file: Path, tmp_path: Path) -> None:
    proc = _cli(
        "build",
        str(blueprint_file),
        "--out",
        "b",
        "--max-epochs",
        "2",
        "--accelerator",
        "cpu",
        "--json",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert doc["status"] == "finished" and doc["epochs"] == 2
    assert 0.0 <= doc["metrics"]["test_accuracy"] <= 1.0
    assert len([line for line in proc.stderr.splitlines() if "] epoch " in line]) == 2
    assert (tmp_path / "b" / "outputs" / "weights.safetensors").is_file()


@pytest.mark.heavy
def test_design_then_build_for_digits(tmp_path: Path) -> None:
    """The path a user takes: the offline architect's blueprint, built and trained briefly."""
    pytest.importorskip("mlflowctl.design")
    design = _cli(
        "design",
        "classify images of handwritten digits",
        "--data",
        "sklearn:digits",
        "-o",
        "bp.yaml",
        cwd=tmp_path,
    )
    assert design.returncode == 0, design.stderr
    build = _cli("build", "bp.yaml", "--max-epochs", "2", "--out", "b", "--json", cwd=tmp_path)
    # two epochs rarely beat the blueprint's baselines: exit 8 (stays @challenger) is the gate's
    # truthful answer, not a failure of the path
    assert build.returncode in (0, 8), build.stderr[-2000:]
    doc = json.loads(build.stdout)
    assert doc["epochs"] == 2 and doc["metrics"]["test_accuracy"] > 0.3
    assert doc["model_version"] == 1 and doc["promoted"] is (build.returncode == 0)
    if build.returncode == 8:
        assert doc["aliases"] == ["challenger"], doc
        assert "baseline hist_gradient_boosting" in doc["promotion_reason"], doc
