"""The LLM architect's read-only tools, granted from its spec and confined to the project."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from llm_server import LLMServer, Reply, valid_draft

from mlflowctl.cli.app import main
from mlflowctl.design.draft import DesignDraft
from mlflowctl.design.llm.llm import ask_structured
from mlflowctl.design.llm.providers import Connection, parse_backend
from mlflowctl.design.llm.tools import ReadOnlyTools, granted_tools

pytestmark = pytest.mark.unit

CANARY = "sk-CANARY-tools-93c1"
EVERY_KIND = [
    "Read",
    "LS",
    "Glob",
    "mlflowctl:profile_data",
    "Write",
    "Edit",
    "Bash",
    "Task",
    "mlflowctl:train",
    "mlflowctl:register",
    "WebFetch",
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "notes.txt").write_text("the churn labels are in column y\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("x,y\n1,0\n")
    (tmp_path / ".env").write_text(f"OPENAI_API_KEY={CANARY}\n")
    return tmp_path


def test_only_read_tools_are_ever_granted(project: Path) -> None:
    tools = granted_tools(EVERY_KIND, ReadOnlyTools(project, None))
    assert sorted(t.__name__ for t in tools) == ["data_profile", "list_folder", "read_file"]
    assert granted_tools(["Write", "Bash", "mlflowctl:promote"], ReadOnlyTools(project, None)) == []


def test_paths_stay_inside_the_project_and_out_of_dotfiles(project: Path) -> None:
    t = ReadOnlyTools(project, {"n_rows": 2})
    assert t.read_file("notes.txt").startswith("the churn labels")
    assert t.read_file(".env").startswith("refused")
    assert t.read_file("data/../.env").startswith("refused")
    assert t.read_file("../" + project.name + "/notes.txt").startswith("the churn")
    assert t.read_file("../../etc/passwd").startswith("refused")
    assert t.read_file("/etc/passwd").startswith("refused")
    (project / "etc_link").symlink_to("/etc")
    assert t.read_file("etc_link/passwd").startswith("refused: the path leaves")
    assert t.list_folder(".") == ["data/", "etc_link/", "notes.txt"]
    assert json.loads(t.data_profile()) == {"n_rows": 2}


def test_the_model_reads_files_then_answers(project: Path) -> None:
    tools = granted_tools(["Read", "LS"], ReadOnlyTools(project, None))
    with LLMServer() as srv:
        srv.queue(
            Reply.tool({"path": "."}, name="list_folder"),
            Reply.tool({"path": "notes.txt"}, name="read_file"),
            Reply.tool({"path": ".env"}, name="read_file"),
            Reply.tool(valid_draft()),
        )
        conn = Connection(parse_backend("openai:m"), "sk-test-key", srv.base_url, timeout_s=5)
        out = ask_structured(
            conn,
            system="s",
            user="u",
            output_type=DesignDraft,
            check=lambda d: d,
            max_retries=0,  # tool rounds are not failed answers
            failures_dir=project / ".failures",
            tools=tools,
        )
        bodies = [json.dumps(r.body) for r in srv.requests]
    assert out.attempts == 1 and out.value.recommended == "mlp_small"
    offered = {t["function"]["name"] for t in srv.requests[0].body["tools"]}
    assert offered == {"list_folder", "read_file", "design_draft"}
    assert "notes.txt" in bodies[1] and "data/" in bodies[1]
    assert "the churn labels are in column y" in bodies[2]
    assert "refused: hidden files" in bodies[3]
    assert all(CANARY not in b for b in bodies)


def test_a_design_offers_the_spec_tools_and_nothing_that_writes(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with LLMServer() as srv:
        monkeypatch.chdir(project)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        srv.queue(Reply.tool(valid_draft()))
        prompt = "Classify tabular customer records into 3 churn classes with a small MLP"
        assert main(["design", prompt, "--backend", "openai:m", "-o", "bp.yaml"]) == 0
        offered: Any = {t["function"]["name"] for t in srv.requests[0].body["tools"]}
    assert offered == {"read_file", "list_folder", "data_profile", "design_draft"}
