"""``mlflowctl design`` and ``mlflowctl schema blueprint`` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlflowctl import console
from mlflowctl.blueprint.model import Blueprint
from mlflowctl.cli.app import main

pytestmark = pytest.mark.unit

DIGITS = "Classify handwritten digits from 8x8 grayscale images"


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    console.reset()
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # data files must live under the working directory
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("MLFLOWCTL_AGENTS_DIR", raising=False)


def test_design_prints_yaml_that_validates(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["design", DIGITS], capsys)
    assert code == 0
    bp = Blueprint.from_yaml(out)
    assert bp.approach().model.family == "cnn"


def test_output_file_round_trips_and_format_follows_the_suffix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(["design", DIGITS, "-o", "bp.yaml"], capsys)
    assert code == 0 and out == "" and "bp.yaml" in err
    text = (tmp_path / "bp.yaml").read_text()
    assert Blueprint.from_yaml(text).to_yaml() == text
    assert Blueprint.load(tmp_path / "bp.yaml") == Blueprint.from_yaml(text)
    assert run_cli(["design", DIGITS, "-o", "bp.json"], capsys)[0] == 0
    assert Blueprint.load(tmp_path / "bp.json").approach().model.family == "cnn"
    assert run_cli(["design", DIGITS, "-o", "proposal.md"], capsys)[0] == 0
    md = (tmp_path / "proposal.md").read_text()
    assert md.startswith("# Architecture Proposal") and "## Trade-offs" in md
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_format_md_and_json_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["design", DIGITS, "--format", "md"], capsys)
    assert code == 0 and "## Implementation plan" in out
    code, out, _ = run_cli(["design", DIGITS, "--json"], capsys)
    assert code == 0 and json.loads(out)["recommended"]["approach"] == "cnn"
    code, _, err = run_cli(["design", DIGITS, "--format", "toml"], capsys)
    assert code == 2 and "--format" in err


def test_schema_blueprint_prints_the_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["schema", "blueprint"], capsys)
    schema = json.loads(out)
    assert code == 0 and schema["title"] == "Blueprint"
    assert schema["additionalProperties"] is False and "approaches" in schema["required"]


def test_with_data_the_profile_is_recorded(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        ["design", "Tell the wine cultivars apart", "--data", "sklearn:wine"], capsys
    )
    bp = Blueprint.from_yaml(out)
    assert code == 0 and bp.data_profile is not None and bp.data_profile.n_classes == 3
    assert bp.requirements.data_source == "sklearn:wine"


def test_a_csv_file_with_a_target_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = ["a,b,c,label"] + [f"{i},{i % 7},{(i * 3) % 5},{i % 2}" for i in range(60)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    code, _, err = run_cli(
        ["design", "predict the label", "--data", "t.csv", "--target", "label", "-o", "bp.yaml"],
        capsys,
    )
    assert code == 0, err
    bp = Blueprint.load(tmp_path / "bp.yaml")
    assert bp.approach().model.input.shape == [3] and bp.requirements.target == "label"


# --------------------------------------------------------------------------- bad input


def _fails_cleanly(
    args: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path, *needles: str
) -> str:
    (tmp_path / "keep.yaml").write_text("previous content\n")
    code, out, err = run_cli([*args, "-o", "keep.yaml"], capsys)
    assert code == 2, err
    assert out == ""
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1
    for n in needles:
        assert n in err, err
    assert (tmp_path / "keep.yaml").read_text() == "previous content\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".csv") == ["keep.yaml"]
    return err


def test_empty_prompt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails_cleanly(["design", "  "], capsys, tmp_path, "PROMPT", "empty")


def test_unknown_data_source_lists_the_known_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fails_cleanly(
        ["design", DIGITS, "--data", "sklearn:mnist"], capsys, tmp_path, "sklearn:digits"
    )


def test_missing_target_column_lists_the_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "t.csv").write_text("a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
    err = _fails_cleanly(
        ["design", "classify rows", "--data", "t.csv", "--target", "z"], capsys, tmp_path, "z"
    )
    assert "y" in err


def test_malformed_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken.csv").write_bytes(b"\x00\x01\x02garbage\xff\xfe")
    _fails_cleanly(
        ["design", "classify rows", "--data", "broken.csv", "--target", "y"], capsys, tmp_path
    )


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails_cleanly(
        ["design", "classify rows", "--data", "absent.csv"], capsys, tmp_path, "absent.csv"
    )


def test_contradictory_constraints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails_cleanly(
        ["design", "classify ImageNet-size 224x224 images with 1,000 parameters"],
        capsys,
        tmp_path,
        "contradictory",
        "1,000",
    )


def test_output_folder_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["design", DIGITS, "-o", "nowhere/bp.yaml"], capsys)
    assert code == 2 and "-o/--output" in err and not (tmp_path / "nowhere").exists()


def test_json_error_object(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["design", "", "--json"], capsys)
    assert code == 2 and json.loads(out)["error"] == "invalid_input"


# --------------------------------------------------------------------------- imports


@pytest.mark.integration
def test_prompt_only_design_imports_nothing_heavy(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from mlflowctl.cli.app import main\n"
        f"code = main(['design', {DIGITS!r}, '-o', 'bp.yaml'])\n"
        "heavy = sorted({'torch', 'lightning', 'mlflow', 'sklearn', 'pandas', 'scipy'}"
        " & {m.split('.')[0] for m in sys.modules})\n"
        "print(code, heavy)\n"
    )
    env = {**os.environ, "CI": "true"}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert done.stdout.strip() == "0 []", done.stderr
    assert (tmp_path / "bp.yaml").is_file()
