"""Bad spec inputs B1-B13 of the reliability plan: each one clear error or an identical parse."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mlflowctl.errors import EXIT_INVALID_INPUT, SpecError
from mlflowctl.specs.loader import load_spec

pytestmark = pytest.mark.unit

GOOD = """---
name: demo-agent
description: Looks at files and reports.
tools: Read, Grep
model: sonnet
---

You read files and report what you find.
"""


def write(tmp_path: Path, text: str | bytes, name: str = "demo-agent.md") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def same_parse(a: Path, b: Path) -> None:
    sa, sb = load_spec(a), load_spec(b)
    for attr in ("name", "description", "tools", "effective_tools", "model", "body", "warnings"):
        assert getattr(sa, attr) == getattr(sb, attr), attr


def test_b1_bom_parses_like_the_file_without_it(tmp_path: Path) -> None:
    plain = write(tmp_path, GOOD)
    bom = write(tmp_path, b"\xef\xbb\xbf" + GOOD.encode(), "bom.md")
    same_parse(plain, bom)
    assert load_spec(bom).effective_tools == {"Read", "Grep"}


def test_b2_crlf_parses_like_lf(tmp_path: Path) -> None:
    same_parse(write(tmp_path, GOOD), write(tmp_path, GOOD.replace("\n", "\r\n"), "crlf.md"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("---\nname: x\ndescription: y\n\nbody without a closing fence\n", "missing closing `---`"),
        ("# Title\n\n---\nname: x\n---\n", "no frontmatter"),
        ("Some notes.\n\n---\n\nMore notes after a rule.\n", "no frontmatter"),
        ("  ---\n  name: x\n  ---\n", "indented `---` block"),
    ],
)
def test_b3_frontmatter_missing_or_unclosed(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert expected in info.value.message
    assert info.value.line().startswith(f"{path}:1: ")
    assert info.value.exit_code == EXIT_INVALID_INPUT


def test_b4_duplicate_key_names_both_lines(tmp_path: Path) -> None:
    text = "---\nname: a\ntools: Read\ndescription: d\ntools: Read, Bash\n---\nbody\n"
    with pytest.raises(SpecError) as info:
        load_spec(write(tmp_path, text))
    assert "duplicate key `tools` on lines 3 and 5" in info.value.message


def test_b4_duplicate_key_also_refused_by_the_lenient_reader(tmp_path: Path) -> None:
    # `: ` in a plain scalar breaks strict YAML, so the line-based reader runs
    text = "---\nname: a\ndescription: Use it when: things break\ntools: Read\ntools: Bash\n---\n"
    with pytest.raises(SpecError, match="duplicate key `tools` on lines 4 and 5"):
        load_spec(write(tmp_path, text))


@pytest.mark.parametrize("key", ["allowedTools", "tool"])
def test_b5_unknown_key_suggests_tools_and_strict_rejects(tmp_path: Path, key: str) -> None:
    text = f"---\nname: a\ndescription: d\n{key}: Read\n---\nbody\n"
    path = write(tmp_path, text)
    spec = load_spec(path)
    assert any("did you mean `tools`?" in w for w in spec.warnings)
    with pytest.raises(SpecError) as info:
        load_spec(path, strict=True)
    assert "did you mean `tools`?" in info.value.message


def test_b5_tool_typo_grants_nothing(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, "---\nname: a\ndescription: d\ntool: Read, Bash\n---\n"))
    assert spec.tools is None and spec.effective_tools == frozenset()
    assert spec.extras == {"tool": "Read, Bash"}


def test_b6_no_tools_key_means_no_tools(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, "---\nname: a\ndescription: d\n---\nbody\n"))
    assert spec.tools is None
    assert spec.effective_tools == frozenset()


@pytest.mark.parametrize("tool", ["read", "Reed", "mcp__server__tool", "python"])
def test_b7_unknown_or_miscased_tool_grants_nothing(tmp_path: Path, tool: str) -> None:
    path = write(tmp_path, f"---\nname: a\ndescription: d\ntools: Grep, {tool}\n---\n")
    spec = load_spec(path)
    assert spec.effective_tools == {"Grep"}
    assert any(f"unknown tool `{tool}`" in w for w in spec.warnings)
    with pytest.raises(SpecError) as info:
        load_spec(path, strict=True)
    assert "Read, Grep, Glob, LS" in (info.value.hint or "")  # the valid names are listed


def test_b7_wrong_case_suggests_the_right_name(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, "---\nname: a\ndescription: d\ntools: bash\n---\n"))
    assert any("did you mean `Bash`?" in w for w in spec.warnings)


@pytest.mark.parametrize(("front", "kind"), [("just a string", "string"), ("- a\n- b", "list")])
def test_b8_frontmatter_must_be_a_mapping(tmp_path: Path, front: str, kind: str) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(write(tmp_path, f"---\n{front}\n---\nbody\n"))
    assert f"frontmatter must be a mapping of keys to values, not a {kind}" in info.value.message


def test_b9_python_tag_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = (
        "---\nname: a\ndescription: d\n"
        f"tools: !!python/object/apply:os.system ['touch {marker}']\n---\n"
    )
    with pytest.raises(
        SpecError,
        match=r"YAML tag `tag:yaml.org,2002:python/object/apply:os.system` is not allowed",
    ):
        load_spec(write(tmp_path, text))
    assert not marker.exists()


def test_b9_tag_refused_on_the_lenient_path_too(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = (
        "---\nname: a\ndescription: Use it when: x\n"  # forces the line-based reader
        f"tools: !!python/object/apply:os.system ['touch {marker}']\n---\n"
    )
    with pytest.raises(SpecError, match="tag"):
        load_spec(write(tmp_path, text))
    assert not marker.exists()


def test_b10_alias_bomb_rejected_fast(tmp_path: Path) -> None:
    lines = ["---", "name: a", "description: d", 'a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 9) + "]")
    path = write(tmp_path, "\n".join([*lines, "---", "body"]) + "\n")
    start = time.perf_counter()
    with pytest.raises(SpecError, match="anchor `&a` is not allowed"):
        load_spec(path)
    assert time.perf_counter() - start < 1.0


def test_b10_ten_megabyte_spec_rejected_by_the_size_cap(tmp_path: Path) -> None:
    path = tmp_path / "huge.md"
    with path.open("wb") as fh:
        fh.write(b"---\nname: a\ndescription: d\n---\n")
        fh.write(b"x" * (10 * 1024 * 1024))
    start = time.perf_counter()
    with pytest.raises(SpecError, match="agent specs are capped at"):
        load_spec(path)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(
    ("line", "field", "says"),
    [
        ("name: no", "name", 'quote it: "no"'),
        ("version: 3.10", "version", 'quote it: "3.10"'),
        ("model: 4", "model", 'quote it: "4"'),
    ],
)
def test_b11_yaml11_traps_on_fields_mlflowctl_reads(
    tmp_path: Path, line: str, field: str, says: str
) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(write(tmp_path, f"---\n{line}\ndescription: d\n---\nbody\n"))
    assert info.value.message.startswith(f"{field}: ")
    assert says in info.value.message
    assert info.value.location == f"{tmp_path / 'demo-agent.md'}:2"


@pytest.mark.parametrize(
    ("policy_line", "says"),
    [
        ("warmup_fraction: 5e-2", "text under YAML 1.1, not a number"),
        ("prefer_history: yes", "write true or false"),
        ("max_retries: 010", "integer 8"),
        ("default_optimizer: 3", 'quote it: "3"'),
    ],
)
def test_b11_yaml11_traps_in_the_policy(tmp_path: Path, policy_line: str, says: str) -> None:
    text = f"---\nname: ml-architect\ndescription: d\npolicy:\n  {policy_line}\n---\n"
    with pytest.raises(SpecError) as info:
        load_spec(write(tmp_path, text, "ml-architect.md"))
    assert info.value.message.startswith(f"policy.{policy_line.split(':')[0]}: ")
    assert says in info.value.message


@pytest.mark.parametrize("line", ["mode: 0755", "lr: 1e-3", "enabled: on"])
def test_b11_traps_in_extras_warn_and_strict_rejects(tmp_path: Path, line: str) -> None:
    path = write(tmp_path, f"---\nname: a\ndescription: d\n{line}\n---\n")
    spec = load_spec(path)
    key = line.split(":")[0]
    assert any(w.startswith(f"{key} (line 4): ") for w in spec.warnings)
    with pytest.raises(SpecError):
        load_spec(path, strict=True)


def test_b12_invalid_utf8_names_the_byte_offset(tmp_path: Path) -> None:
    raw = GOOD.encode()
    at = raw.index(b"Looks")
    path = write(tmp_path, raw[:at] + b"\xff\xfe" + raw[at:])
    with pytest.raises(SpecError, match=f"not valid UTF-8 at byte offset {at} "):
        load_spec(path)


def test_b12_nul_byte_names_the_byte_offset(tmp_path: Path) -> None:
    raw = GOOD.encode()
    path = write(tmp_path, raw[:20] + b"\x00" + raw[20:])
    with pytest.raises(SpecError, match="NUL byte at byte offset 20"):
        load_spec(path)


def test_b13_extends_inside_the_project_merges(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    agents = tmp_path / "agents"
    agents.mkdir()
    write(agents, "---\nname: base\ndescription: base d\ntools: Read\nmodel: haiku\n---\nBase.\n",
          "base.md")  # fmt: skip
    child = write(agents, "---\nextends: base.md\nname: child\ndescription: c\n---\n", "child.md")
    spec = load_spec(child)
    assert (spec.name, spec.model, spec.effective_tools, spec.body) == (
        "child", "haiku", frozenset({"Read"}), "Base.\n"
    )  # fmt: skip


def test_b13_extends_outside_the_project_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "agents").mkdir(parents=True)
    (project / "pyproject.toml").write_text("")
    secret = write(tmp_path, "---\nname: s\ndescription: secret\ntools: Bash\n---\n", "secret.md")
    child = write(
        project / "agents", "---\nname: c\ndescription: d\nextends: ../../secret.md\n---\n"
    )
    with pytest.raises(SpecError, match="resolves outside the project root"):
        load_spec(child)
    (project / "agents" / "link.md").symlink_to(secret)
    via_link = write(project / "agents", "---\nname: c\ndescription: d\nextends: link.md\n---\n")
    with pytest.raises(SpecError, match="resolves outside the project root"):
        load_spec(via_link)
