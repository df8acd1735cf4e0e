"""``mlflowctl agents list | show | validate | export``.

Cheap to import: the spec loader (pydantic, yaml) loads inside the functions, so ``--help`` stays
fast. ``--agents DIR`` on the root command (or ``MLFLOWCTL_AGENTS_DIR``) layers a user's folder of
specs over the built-in ones; every command here sees the result.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlflowctl import console
from mlflowctl.errors import EXIT_INVALID_INPUT

if TYPE_CHECKING:
    from mlflowctl.specs.loader import AgentSpec

app = typer.Typer(no_args_is_help=True, add_completion=False)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


@app.command("list")
def list_cmd(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the agents: built-in ones, overridden by name from --agents DIR."""
    from mlflowctl.specs.loader import list_agents

    specs, errors = list_agents(_agents_dir(ctx))
    for exc in errors:
        console.warn(f"skipped {exc.line()}")
    if as_json:
        console.print_json([_without_body(s) for s in specs])
        return
    rows = [
        (s.name, s.role or "-", s.model or "-", len(s.effective_tools), _short(s.source))
        for s in specs
    ]
    console.table("agents", ["name", "role", "model", "tools", "source"], rows)


@app.command("show")
def show_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Agent name, or the path of a spec file.")],
    as_json: JsonFlag = False,
) -> None:
    """Show one agent: frontmatter, effective tools, policy and instructions."""
    spec = _resolve(name, _agents_dir(ctx))
    for warning in spec.warnings:
        console.warn(f"{spec.source}: {warning}")
    if as_json:
        console.print_json({**spec.summary(), "frontmatter": spec.frontmatter, "body": spec.body})
        return
    console.key_values(
        f"agent {spec.name}",
        {
            "name": spec.name,
            "role": spec.role or "-",
            "model": spec.model or "-",
            "description": spec.description or "-",
            "declared tools": ", ".join(spec.tools) if spec.tools is not None else "(absent)",
            "effective tools": ", ".join(sorted(spec.effective_tools)) or "(none)",
            "source": str(spec.source),
            "sha256": spec.sha256,
            **{f"extra: {k}": json.dumps(v) for k, v in spec.extras.items()},
        },
    )
    if spec.policy is not None:
        policy = spec.policy.model_dump(mode="json")
        console.table(
            f"policy ({spec.role})",
            ["field", "value"],
            [(k, json.dumps(v) if not isinstance(v, str) else v) for k, v in policy.items()],
        )
    console.rule("instructions")
    console.result(spec.body or "(empty)")


@app.command("validate")
def validate_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Spec files or folders of .md specs.")],
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Check spec files: one line per file (ok, warnings or error); exit 2 if any error."""
    from mlflowctl.errors import SpecError
    from mlflowctl.specs.loader import load_spec, spec_files

    files = [f for p in paths for f in (spec_files(p) if p.is_dir() else [p])]
    report: list[dict[str, Any]] = []
    for path in files:
        try:
            spec = load_spec(path, strict=strict)
        except SpecError as exc:
            report.append({"path": str(path), "status": "error", "error": exc.to_dict()})
            if not as_json:
                console.result(f"error    {exc.line()}")
            continue
        status = "warnings" if spec.warnings else "ok"
        report.append(
            {
                "path": str(path),
                "status": status,
                "name": spec.name,
                "role": spec.role,
                "effective_tools": sorted(spec.effective_tools),
                "warnings": list(spec.warnings),
            }
        )
        if not as_json:
            what = f"{spec.name}" + (f" ({spec.role})" if spec.role else "")
            line = f"{status:<8} {path}: {what}, {len(spec.effective_tools)} tools"
            if spec.warnings:
                more = f" (+{len(spec.warnings) - 1} more)" if len(spec.warnings) > 1 else ""
                line += f"; {spec.warnings[0]}{more}"
            console.result(line)
    counts = {s: sum(r["status"] == s for r in report) for s in ("ok", "warnings", "error")}
    if as_json:
        console.print_json({"files": report, **counts})
    else:
        console.status(
            f"{len(report)} files: {counts['ok']} ok, {counts['warnings']} with warnings,"
            f" {counts['error']} errors"
        )
    if counts["error"]:
        raise typer.Exit(EXIT_INVALID_INPUT)


@app.command("export")
def export_cmd(
    ctx: typer.Context,
    claude: Annotated[
        Path, typer.Option("--claude", help="Folder to write Claude Code agent files into.")
    ],
) -> None:
    """Write the four agents as Claude Code subagent files (e.g. into .claude/agents)."""
    from mlflowctl.specs.loader import ROLES, load_agent

    claude.mkdir(parents=True, exist_ok=True)
    for role in ROLES:
        spec = load_agent(role, _agents_dir(ctx))
        target = claude / f"{role}.md"
        _write_atomic(target, claude_text(spec))
        console.status(f"wrote {target}")


def claude_text(spec: AgentSpec) -> str:
    """The spec as Claude Code reads it: its keys only, Claude Code tools only, one-line
    description (a folded multi-line one is not read by every Claude Code version)."""
    from mlflowctl.specs.permissions import KNOWN_TOOLS

    tools = [
        t
        for t in (spec.tools or ())
        if t in spec.effective_tools and not t.startswith("mlflowctl:") and t in KNOWN_TOOLS
    ]
    lines = [
        "---",
        f"# Generated from agents/{spec.slug}.md by `mlflowctl agents export --claude`.",
        "# Edit that file instead; a test keeps this copy in step.",
        f"name: {spec.slug}",
        f"description: {json.dumps(' '.join((spec.description or '').split()))}",
        f"tools: {', '.join(tools)}",
    ]
    if spec.model:
        lines.append(f"model: {spec.model}")
    lines.append("---")
    return "\n".join(lines) + "\n\n" + spec.body


def _agents_dir(ctx: typer.Context) -> str | Path:
    """``--agents DIR`` from the command's settings; ``""``: the built-in specs only."""
    from mlflowctl.settings import current

    return current(ctx).agents_arg


def _resolve(name: str, agents_dir: str | Path) -> AgentSpec:
    from mlflowctl.specs.loader import load_agent, load_spec

    if name.endswith(".md") or os.sep in name:
        return load_spec(Path(name))
    return load_agent(name, agents_dir)


def _without_body(spec: AgentSpec) -> dict[str, Any]:
    return spec.summary()


def _short(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
