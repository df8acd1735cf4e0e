"""``mlflowctl agents ...`` through ``cli.main`` (the function that maps errors to exit codes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlflowctl import console
from mlflowctl.cli.agents import claude_text
from mlflowctl.cli.app import main
from mlflowctl.specs.loader import ROLES, load_agent

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("MLFLOWCTL_AGENTS_DIR", raising=False)
    console.reset()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_the_four_agents(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "agents", "list")
    assert code == 0
    for role in ROLES:
        assert role in out
    code, out, _ = run(capsys, "agents", "list", "--json")
    rows = json.loads(out)
    assert [r["name"] for r in rows] == sorted(ROLES)
    assert {r["role"] for r in rows} == set(ROLES)


def test_show_prints_effective_tools_policy_and_body(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "agents", "show", "ml-architect")
    assert code == 0
    assert "effective tools" in out and "mlflowctl:profile_data" in out
    assert "warmup_fraction" in out and "max_retries" in out
    assert "DesignDraft" in out
    code, out, _ = run(capsys, "agents", "show", "ml-engineer", "--json")
    data = json.loads(out)
    assert data["policy"]["seed"] == 42 and "Bash" in data["effective_tools"]
    assert data["body"].startswith("# ml-engineer")


def test_show_without_tools_prints_empty_effective_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "no-tools.md"
    spec.write_text("---\nname: no-tools\ndescription: d\n---\nbody\n")
    code, out, _ = run(capsys, "agents", "show", str(spec))
    assert code == 0
    assert "effective tools │ (none)" in out or "(none)" in out.split("effective tools")[1]
    code, out, _ = run(capsys, "agents", "show", str(spec), "--json")
    assert json.loads(out)["effective_tools"] == []


def test_agents_flag_override_wins_in_show(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ml-architect.md").write_text(
        "---\nname: ml-architect\ndescription: user's own\ntools: Read\nmodel: haiku\n---\nMine.\n"
    )
    code, out, _ = run(capsys, "--agents", str(tmp_path), "agents", "show", "ml-architect",
                       "--json")  # fmt: skip
    data = json.loads(out)
    assert code == 0 and data["source"] == str(tmp_path / "ml-architect.md")
    assert data["model"] == "haiku" and data["body"] == "Mine.\n"


def test_unknown_agent_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "agents", "show", "nope")
    assert code == 2
    assert "error: agent `nope` not found" in err and "Traceback" not in err
    code, out, _ = run(capsys, "agents", "show", "nope", "--json")
    assert json.loads(out)["error"] == "invalid_spec"


def test_validate_seeds_and_corpus(shared_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = sorted((shared_dir / "corpus" / "agent-specs").glob("*.md"))
    seeds = sorted((shared_dir / "seeds").iterdir())
    code, out, err = run(capsys, "agents", "validate", *map(str, seeds + corpus))
    lines = out.strip().splitlines()
    assert code == 2  # the four non-agent files
    assert len(lines) == len(seeds) + len(corpus)
    errors = [ln for ln in lines if ln.startswith("error")]
    assert {Path(ln.split()[1].split(":")[0]).name for ln in errors} == {
        "0xfurai__claude-code-subagents__sqs-expert.md",
        "6ogo__Tech-Skills__ROLE-REGISTRY.md",
        "FORMATS.md",
        "SOURCES.md",
    }
    assert "4 errors" in err


def test_validate_bundled_strict_is_clean(
    repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "agents", "validate", "--strict", str(repo_root / "agents"))
    assert code == 0
    assert out.count("ok ") == 4


def test_validate_strict_turns_warnings_into_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "a.md"
    spec.write_text("---\nname: a\ndescription: d\nallowedTools: Read\n---\nbody\n")
    code, out, _ = run(capsys, "agents", "validate", str(spec))
    assert code == 0 and out.startswith("warnings")
    code, out, _ = run(capsys, "agents", "validate", "--strict", str(spec), "--json")
    data = json.loads(out)
    assert code == 2 and data["error"] == 1
    assert "did you mean `tools`?" in data["files"][0]["error"]["message"]


def test_claude_agents_folder_is_in_step(repo_root: Path) -> None:
    for role in ROLES:
        exported = claude_text(load_agent(role))
        on_disk = (repo_root / ".claude" / "agents" / f"{role}.md").read_text(encoding="utf-8")
        assert on_disk == exported, f"run: mlflowctl agents export --claude .claude/agents ({role})"


def test_export_writes_claude_code_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run(capsys, "agents", "export", "--claude", str(tmp_path / "out"))
    assert code == 0
    from mlflowctl.specs.loader import load_spec

    spec = load_spec(tmp_path / "out" / "ml-architect.md")
    assert spec.warnings == ("no `policy` block; using the built-in defaults",)
    # Claude Code keys only; mlflowctl's own capabilities and policy stay in agents/
    assert spec.tools == ("Read", "Grep", "Glob", "LS") and spec.role == "ml-architect"
    assert "policy" not in spec.frontmatter
    assert spec.body == load_agent("ml-architect").body
