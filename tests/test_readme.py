"""README.md works as written: its `mlflowctl` lines parse, the cheap quick-start lines run for
real in a fresh folder, its .gitignore block covers what mlflowctl writes, and `make bench` does
what it says."""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"

Cli = Callable[..., subprocess.CompletedProcess[str]]


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.S | re.M)


def command_lines(text: str, program: str = "mlflowctl") -> list[list[str]]:
    """Every shell line of the ```bash blocks that runs ``program`` (continuations joined,
    comments and leading ``VAR=value`` assignments dropped), as argv after the program name."""
    found = []
    for block in blocks(text, "bash"):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
                words = words[1:]
            if words and words[0] in (program, f".venv/bin/{program}"):
                found.append(words[1:])
    return found


README_COMMANDS = command_lines(README.read_text(encoding="utf-8"))


def test_the_readme_shows_the_main_commands() -> None:
    firsts = {argv[0] for argv in README_COMMANDS if argv and not argv[0].startswith("-")}
    assert {"design", "build", "run", "registry", "agents", "schema", "doctor"} <= firsts


def test_the_extractor_reads_continuations_comments_and_assignments() -> None:
    text = '```bash\nX=1 mlflowctl design "a b" \\\n    --data d   # note\ncd x && y\n```\n'
    assert command_lines(text) == [["design", "a b", "--data", "d"]]


@pytest.mark.parametrize("argv", README_COMMANDS, ids=lambda a: " ".join(a)[:60])
def test_every_readme_command_line_parses(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Each line with ``--help`` appended: an unknown command or option fails with exit 2."""
    from mlflowctl.cli.app import main

    code = main([*argv, "--help"])
    out, err = capsys.readouterr()
    assert code == 0, f"mlflowctl {shlex.join(argv)}: {err.strip() or out[-300:]}"


def test_a_wrong_option_would_be_caught(capsys: pytest.CaptureFixture[str]) -> None:
    from mlflowctl.cli.app import main

    assert main(["design", "x", "--no-such-flag", "--help"]) == 2
    assert main(["no-such-command", "--help"]) == 2
    capsys.readouterr()


def _readme_line(*starts: str) -> list[str]:
    """The one README command line that begins with these words."""
    (argv,) = [a for a in README_COMMANDS if a[: len(starts)] == list(starts)][:1]
    return argv


@pytest.mark.integration
def test_quick_start_design_and_build_lines_run_for_real(tmp_path: Path, cli: Cli) -> None:
    """The cheap README lines, as written, in an empty folder: design to a file, the proposal,
    an alternative approach rendered only, the schema and the agents."""
    design = _readme_line("design", "Classify handwritten digits from 8x8 grayscale images")
    done = cli(*design)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "bp.yaml").is_file()

    proposal = cli(*next(a for a in README_COMMANDS if "--format" in a))
    assert proposal.returncode == 0, proposal.stderr
    assert proposal.stdout.lstrip().startswith("#")

    render_only = _readme_line("build", "bp.yaml", "--approach")
    assert "--no-train" in render_only
    built = cli(*render_only)
    assert built.returncode == 0, built.stderr
    out = tmp_path / render_only[render_only.index("--out") + 1]
    assert (out / "train.py").is_file() and (out / "model.py").is_file()

    for argv in (_readme_line("schema"), _readme_line("agents", "list")):
        ran = cli(*argv)
        assert ran.returncode == 0, (argv, ran.stderr)
    assert not (tmp_path / "mlflow.db").exists()  # none of these touched a tracking store


def _what_mlflowctl_writes() -> list[str]:
    """Paths mlflowctl creates in the folder it runs in, named from the code where it can be."""
    from mlflowctl.mlops.store import lock_path
    from mlflowctl.orchestrate.journal import JOURNAL_NAME, LOCK_NAME, STATE_DIR
    from mlflowctl.specs.policy import OrchestratorPolicy

    db = Path("mlflow.db")
    return [
        str(db),
        f"{db}-journal",
        lock_path(f"sqlite:///{db}").name,
        "mlartifacts/1/abc/artifacts/model/weights.safetensors",
        "builds/bp-0123456789ab-mlp_base/model.py",
        "builds/.bp-0123456789ab-mlp_base.lock",
        "runs/digits/blueprint.yaml",
        f"{STATE_DIR}/{JOURNAL_NAME}",
        f"{STATE_DIR}/{LOCK_NAME}",
        OrchestratorPolicy().history_file,
    ]


@pytest.mark.integration
def test_readme_gitignore_block_ignores_everything_mlflowctl_writes(tmp_path: Path) -> None:
    (block,) = blocks(README.read_text(encoding="utf-8"), "gitignore")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text(block, encoding="utf-8")
    paths = _what_mlflowctl_writes()
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin", "-v", "-n"],
        input="\n".join(paths) + "\n",
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    not_ignored = [ln.split("\t")[-1] for ln in done.stdout.splitlines() if ln.startswith("::")]
    assert not_ignored == [], f"add to README's .gitignore block: {not_ignored}"
    assert ".claude/memory/" in block and "mlflow.db.lock" in block


def test_make_bench_runs_the_script_that_writes_results_md() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^bench: .*\n\t(.*)$", makefile, flags=re.M)
    assert recipe and "benchmarks/all.py" in recipe.group(1)
    script = (REPO / "benchmarks" / "all.py").read_text(encoding="utf-8")
    assert "RESULTS.md" in script
    readme = README.read_text(encoding="utf-8")
    assert re.search(r"make bench .*RESULTS\.md", readme)


def test_quick_start_says_how_to_reach_the_command_and_the_cpu_torch() -> None:
    readme = README.read_text(encoding="utf-8")
    quick = readme[readme.index("## Quick start") : readme.index("## The commands")]
    assert "source .venv/bin/activate" in quick
    assert "--index-url https://download.pytorch.org/whl/cpu" in quick
    assert "MLFLOWCTL_DATA_ROOTS" in readme
    assert " build/" not in readme.replace("`build/`", "")  # builds/<blueprint>-<approach>/


def _section_lines(title: str) -> list[str]:
    """The shell lines (continuations joined, comments dropped) of the bash block under a
    README heading."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"### {title}")
    (block,) = blocks(text[start : text.index("\n## ", start)], "bash")[:1]
    lines = [ln.split(" #")[0].strip() for ln in block.replace("\\\n", " ").splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]


@pytest.mark.integration
@pytest.mark.slow
def test_forecasting_walk_through_runs_as_written(tmp_path: Path, cli: Cli) -> None:
    """Design/train/register a forecaster of a bundled series, write the history, forecast the
    next 24 steps with a plot: every line of the README's forecasting block, as written."""
    import sys

    lines = _section_lines("Forecasting walk-through")
    assert [shlex.split(ln)[0] for ln in lines] == ["mlflowctl", "python", "mlflowctl"]
    for line in lines:
        argv = shlex.split(line)
        if argv[0] == "python":
            done = subprocess.run(
                [sys.executable, *argv[1:]], cwd=tmp_path, capture_output=True, text=True
            )
        else:
            done = cli(*argv[1:], timeout=900)
        assert done.returncode == 0, (line, done.stderr[-3000:])
    rows = done.stdout.strip().splitlines()
    assert rows[0].split(",")[:2] == ["step", "forecast"] and len(rows) == 1 + 24
    png = tmp_path / "forecast.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = README.read_text(encoding="utf-8")
    committed = REPO / "docs" / "img" / "forecast-sunspots.png"
    assert "](docs/img/forecast-sunspots.png)" in text and committed.stat().st_size <= 150_000
