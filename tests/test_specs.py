"""The spec loader on real files (../shared seeds and corpus) and on the four bundled agents."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlflowctl.errors import SpecError
from mlflowctl.resources import agents_dir
from mlflowctl.specs.loader import ROLES, list_agents, load_agent, load_spec
from mlflowctl.specs.policy import ArchitectPolicy, EngineerPolicy, MlopsPolicy, OrchestratorPolicy

pytestmark = pytest.mark.unit

R, W, E, B, G, GL = "Read", "Write", "Edit", "Bash", "Grep", "Glob"
#: FORMATS.md section 7: file -> (name, declared tools: None = absent, tuple, or a count)
CORPUS: dict[str, tuple[str, object]] = {
    "0xfurai__claude-code-subagents__pytorch-expert.md": ("pytorch-expert", None),
    "6ogo__Tech-Skills__mlops-engineer-agent.md": ("MLOps Engineer", None),
    "TechDufus__oh-my-claude__librarian.9f1f58f.md": ("librarian", 8),
    "TechDufus__oh-my-claude__validator.9f1f58f.md": ("validator", (B, R, GL, G)),
    "VoltAgent__awesome-claude-code-subagents__ab-test-analysis.md": (
        "ab-test-analysis", (R, G, GL, "WebFetch", "WebSearch")),
    "VoltAgent__awesome-claude-code-subagents__data-scientist.4a9eae4.md": (
        "data-scientist", ("python", "jupyter", "pandas", "sklearn", "matplotlib", "statsmodels")),
    "VoltAgent__awesome-claude-code-subagents__data-scientist.ff9a245.md": (
        "data-scientist", (R, W, E, B, GL, G)),
    "VoltAgent__awesome-claude-code-subagents__mlops-engineer.md": (
        "mlops-engineer", (R, W, E, B, GL, G)),
    "Yeachan-Heo__oh-my-claudecode__scientist.md": ("scientist", None),
    "autohandai__awesome-sub-agents__mlops-engineer.md": ("mlops-engineer", (
        "read_file", "fff_grep", "fff_find", "apply_patch", "search_replace", "run_command")),
    "cushionA__Gold-price-forecast-By-Claude-Agents__builder_model.md": (
        "builder_model", (R, W, E, B, GL, G)),
    "davila7__claude-code-templates__bettoredge-value-finder.md": (
        "bettoredge-value-finder", ("mcp__bettoredge__*",)),
    "davila7__claude-code-templates__data-analyst.md": (
        "data-analyst", (R, W, E, "WebSearch", "WebFetch")),
    "davila7__claude-code-templates__llms-maintainer.md": ("llms-maintainer", (R, W, B, G, GL)),
    "davila7__claude-code-templates__ml-engineer.md": ("ml-engineer", (R, W, E, B, GL, G)),
    "davila7__claude-code-templates__model-evaluator.md": ("model-evaluator", 8),
    "davila7__claude-code-templates__monday-bug-fixer.md": ("monday-bug-fixer", ("*",)),
    "davila7__claude-code-templates__playwright-tester.md": ("playwright-tester", 15),
    "davila7__claude-code-templates__prompt-engineer.md": ("prompt-engineer", (R,)),
    "davila7__claude-code-templates__read-only-auditor.md": ("read-only-auditor", (R, G, GL)),
    "davila7__claude-code-templates__rootly-incident-responder.md": (
        "rootly-incident-responder", None),
    "davila7__claude-code-templates__unused-code-cleaner.md": (
        "unused-code-cleaner", (R, W, E, B, G, GL)),
    "j5hjun__awesome-opencode-subagents__mlops-engineer.md": ("mlops-engineer", 8),
    "lst97__claude-code-sub-agents__ml-engineer.md": ("ml-engineer", 13),
    "m13ha__awesome-code-subagents__reinforcement-learning-engineer.237dfdf.md": (
        "reinforcement-learning-engineer", None),
    "m13ha__awesome-code-subagents__reinforcement-learning-engineer.agent.md": (
        "reinforcement-learning-engineer",
        ("read", "edit", "create", "findFiles", "search", "runCommand")),
    "nathanielmaddox__saas_template__mlops-specialist.md": ("MLOps Specialist Agent", None),
    "rshah515__claude-code-subagents__ml-researcher.md": ("ml-researcher", 9),
    "stefan-stepzero__shipkit__shipkit-product-owner-agent.md": (
        "shipkit-product-owner", (R, GL, G, W, E, "Skill")),
    "turbobeest__atomic-claude__agent-selector-roster.md": ("roster-agent-selector", (R, G, GL)),
    "turbobeest__atomic-claude__data-scientist.md": ("data-scientist", (R, W, E, G, GL, B)),
    "turbobeest__atomic-claude__mlops-engineer.md": ("mlops-engineer", (R, W, E, G, GL, B)),
    "wahidyankf__open-sharia-enterprise__plan-executor.4127b10.md": (
        "plan-executor", (R, W, E, GL, G, B)),
    "wahidyankf__open-sharia-enterprise__plan-maker.md": ("plan-maker", 8),
    "wshobson__agents__arm-cortex-expert.md": ("arm-cortex-expert", ()),
    "wshobson__agents__image-generator.md": ("image-generator", ("mcp__meigen__generate_image",)),
    "wshobson__agents__mlops-engineer.md": ("mlops-engineer", None),
    "wshobson__agents__team-lead.md": ("team-lead", 12),
}  # fmt: skip
NOT_AGENTS = {
    "0xfurai__claude-code-subagents__sqs-expert.md": "indented `---` block",
    "6ogo__Tech-Skills__ROLE-REGISTRY.md": "no frontmatter",
    "FORMATS.md": "no frontmatter",
    "SOURCES.md": "no frontmatter",
}

#: effective tools of the bundled specs: a change here is a permission change, review it
EFFECTIVE = {
    "ml-architect": {R, G, GL, "LS", "mlflowctl:profile_data", "mlflowctl:read_history"},
    "ml-engineer": {R, G, GL, "LS", W, E, B, "TodoWrite", "mlflowctl:render", "mlflowctl:train",
                    "mlflowctl:write_tasks"},
    "mlops-architect": {R, G, GL, "LS", "mlflowctl:track", "mlflowctl:register",
                        "mlflowctl:promote"},
    "ml-orchestrator": {R, G, GL, "LS", W, "mlflowctl:run_phase", "mlflowctl:read_history"},
}  # fmt: skip


def test_corpus_covers_every_markdown_file(shared_dir: Path) -> None:
    files = {p.name for p in (shared_dir / "corpus" / "agent-specs").glob("*.md")}
    assert files == set(CORPUS) | set(NOT_AGENTS)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_agent_loads_as_formats_md_expects(shared_dir: Path, name: str) -> None:
    spec = load_spec(shared_dir / "corpus" / "agent-specs" / name)
    want_name, want_tools = CORPUS[name]
    assert spec.name == want_name
    if isinstance(want_tools, int):
        assert spec.tools is not None and len(spec.tools) == want_tools
    else:
        assert spec.tools == want_tools
    assert spec.effective_tools <= set(spec.tools or ())
    assert len(spec.sha256) == 64 and spec.body


@pytest.mark.parametrize("name", sorted(NOT_AGENTS))
def test_corpus_non_agent_file_fails_with_one_line(shared_dir: Path, name: str) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(shared_dir / "corpus" / "agent-specs" / name)
    assert NOT_AGENTS[name] in info.value.message
    assert "\n" not in info.value.line()


def test_seeds_all_load_with_their_roles(shared_dir: Path) -> None:
    seeds = sorted((shared_dir / "seeds").iterdir())
    specs = [load_spec(p) for p in seeds]
    assert [s.role for s in specs] == [
        "ml-architect", "ml-engineer", "ml-engineer", "mlops-architect", "ml-orchestrator"
    ]  # fmt: skip
    architect, _, tiered, xml_body, orchestrator = specs
    # comma skills and color are kept; the architect's write/execute tools are dropped
    assert architect.frontmatter["skills"].startswith("pytorch-patterns, pytorch-lightning")
    assert {"TodoWrite", "KillShell", "BashOutput"} & architect.effective_tools == set()
    assert any("dropped BashOutput, KillShell, TodoWrite" in w for w in architect.warnings)
    # nested maps kept as extras; the mode map gives the default mode's tools
    assert tiered.extras["model_selection"]["priorities"] == ["math", "reasoning", "quality"]
    assert tiered.extras["role"] == "executor"
    assert tiered.tools == ("Read", "Write", "Edit", "Grep", "Glob", "Bash")
    # a commented-out key is no key; an XML-ish body is kept verbatim
    assert "skills" not in xml_body.frontmatter
    assert xml_body.body.startswith("<agent_spec>")
    # literal \n and <example> blocks stay in the description (lenient path: `: ` inside)
    assert orchestrator.lenient and "\\n\\nExamples:" in (orchestrator.description or "")
    assert "<example>" in (orchestrator.description or "")


@pytest.mark.parametrize("role", ROLES)
def test_bundled_spec_is_clean_and_typed(role: str) -> None:
    spec = load_spec(agents_dir() / f"{role}.md", strict=True)
    assert spec.name == role and spec.role == role and spec.description
    assert set(spec.effective_tools) == EFFECTIVE[role]
    model = {
        "ml-architect": ArchitectPolicy,
        "ml-engineer": EngineerPolicy,
        "mlops-architect": MlopsPolicy,
        "ml-orchestrator": OrchestratorPolicy,
    }[role]
    # every policy field is written out, with the model's defaults
    assert set(spec.frontmatter["policy"]) == set(model.model_fields)
    assert spec.policy == model()
    assert spec.ref().name == role and spec.ref().sha256 == spec.sha256


def test_architect_prompt_states_the_output_contract() -> None:
    body = load_agent("ml-architect").body
    for needle in ("DesignDraft", "2 or 3", "recommended", "mlp", "transformer", "recomputes",
                   "tracking URI", "registered model name"):  # fmt: skip
        assert needle in body


def test_architect_never_holds_write_or_execute(tmp_path: Path) -> None:
    path = tmp_path / "ml-architect.md"
    tools = "Read, Write, Bash(git log:*), mlflowctl:train, WebSearch"
    path.write_text(f"---\nname: ml-architect\ndescription: d\ntools: {tools}\n---\nb\n")
    spec = load_spec(path)
    assert spec.effective_tools == {"Read", "WebSearch"}
    assert any("dropped Bash(git log:*), Write, mlflowctl:train" in w for w in spec.warnings)


def test_tool_shapes_normalize(tmp_path: Path) -> None:
    def tools_of(value: str) -> tuple[tuple[str, ...] | None, frozenset[str]]:
        path = tmp_path / "a.md"
        path.write_text(f"---\nname: a\ndescription: d\n{value}\n---\nb\n")
        spec = load_spec(path)
        return spec.tools, spec.effective_tools

    pattern = "Bash(git diff:*, git log:*)"
    assert tools_of(f"tools: {pattern}, Read") == ((pattern, "Read"), {pattern, "Read"})
    assert tools_of("tools: []") == ((), frozenset())
    assert tools_of("tools:\n  read: true\n  Read: true\n  Bash: false")[0] == ("read", "Read")
    assert tools_of("tools:\n  a: Read\n  b: Read, Bash\n  default_mode: b")[1] == {"Read", B}
    assert tools_of("tools: Read, Write\ndisallowedTools: Write")[1] == {"Read"}


def test_policy_errors_name_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "ml-architect.md"
    path.write_text(
        "---\nname: ml-architect\ndescription: d\npolicy:\n  warmup_fraction: 0.9\n---\n"
    )
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert info.value.line().startswith(f"{path}: policy.warmup_fraction: ")
    path.write_text("---\nname: ml-architect\ndescription: d\npolicy:\n  max_retry: 3\n---\n")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert "policy.max_retry" in info.value.message
    assert info.value.hint == "did you mean `policy.max_retries`?"


def test_role_contradicting_the_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ml-architect.md"
    path.write_text("---\nname: ml-architect\ndescription: d\nrole: ml-engineer\n---\n")
    with pytest.raises(SpecError, match="contradicts the agent name"):
        load_spec(path)


def test_user_folder_overrides_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mine.md").write_text(
        "---\nname: ml-architect\ndescription: mine\ntools: Read\nmodel: haiku\n"
        "policy:\n  max_retries: 5\n---\nMy prompt.\n"
    )
    (tmp_path / "README.md").write_text("# notes, not an agent\n")
    spec = load_agent("ml-architect", tmp_path)
    assert (spec.source, spec.model, spec.body) == (tmp_path / "mine.md", "haiku", "My prompt.\n")
    assert spec.policy_as(ArchitectPolicy).max_retries == 5
    assert load_agent("ml-engineer", tmp_path).source == agents_dir() / "ml-engineer.md"
    monkeypatch.setenv("MLFLOWCTL_AGENTS_DIR", str(tmp_path))
    assert load_agent("ml-architect").source == tmp_path / "mine.md"
    specs, errors = list_agents()
    assert len(specs) == 4 and errors == []


def test_broken_user_override_fails_closed(tmp_path: Path) -> None:
    (tmp_path / "ml-architect.md").write_text("---\nname: ml-architect\npolicy: 3\n---\n")
    with pytest.raises(SpecError, match="policy: must be a mapping"):
        load_agent("ml-architect", tmp_path)


def test_unknown_agent_and_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="agent `nope` not found") as info:
        load_agent("nope")
    assert "ml-architect" in (info.value.hint or "")
    with pytest.raises(SpecError, match="agents folder not found"):
        load_agent("ml-architect", tmp_path / "missing")


def test_fenced_yaml_in_body_is_not_metadata(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("---\nname: a\ndescription: d\n---\n\n```yaml\ntools: Bash\n---\n```\n")
    spec = load_spec(path)
    assert spec.tools is None and "tools: Bash" in spec.body
