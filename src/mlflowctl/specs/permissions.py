"""Tool permissions of an agent spec: normalize what a file declares, grant only what is known.

Deny by default: a spec with no ``tools`` gets no tools, a name mlflowctl does not know grants
nothing (a warning says so), ``*`` grants nothing, and the architect role never holds a write or
execute capability whatever its file lists. Every known tool is classified ``read``, ``write`` or
``execute`` so that rule is enforced in code rather than by convention.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any, Literal

Capability = Literal["read", "write", "execute"]

#: Claude Code's built-in tools and mlflowctl's own capabilities, each with what it can do
KNOWN_TOOLS: dict[str, Capability] = {
    # Claude Code: reading the workspace and the web
    "Read": "read",
    "Grep": "read",
    "Glob": "read",
    "LS": "read",
    "NotebookRead": "read",
    "WebFetch": "read",
    "WebSearch": "read",
    "TodoRead": "read",
    "ExitPlanMode": "read",
    # Claude Code: changing files
    "Write": "write",
    "Edit": "write",
    "MultiEdit": "write",
    "NotebookEdit": "write",
    "TodoWrite": "write",
    # Claude Code: running things
    "Bash": "execute",
    "BashOutput": "execute",
    "KillShell": "execute",
    "Task": "execute",
    "Agent": "execute",
    "Skill": "execute",
    "SlashCommand": "execute",
    # mlflowctl's own capabilities
    "mlflowctl:profile_data": "read",
    "mlflowctl:read_history": "read",
    "mlflowctl:render": "write",
    "mlflowctl:write_tasks": "write",
    "mlflowctl:train": "execute",
    "mlflowctl:track": "write",
    "mlflowctl:register": "write",
    "mlflowctl:promote": "write",
    "mlflowctl:run_phase": "execute",
}

#: spec modes mlflowctl implements itself, each by a command (not warned about as ignored)
IMPLEMENTED_MODES: dict[str, str] = {"audit": "mlflowctl audit PATH"}

#: roles that may hold only these capabilities
ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    "ml-architect": frozenset({"read"}),
}

_PATTERN = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)\((.+)\)$")  # Bash(git diff:*)


def split_tools(text: str) -> list[str]:
    """Split a comma string outside parentheses: ``Bash(a, b), Read`` is two tools."""
    items: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        if char == "," and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def normalize(value: Any, warnings: list[str], key: str = "tools") -> list[str] | None:
    """Any ``tools`` shape seen in real files -> a list of names, or None when absent.

    Shapes: comma string, single string, list, ``[]``, map of tool -> bool (OpenCode), map of mode
    -> tools with ``default_mode`` (that mode's tools are used).
    """
    if value is None:
        return None
    if isinstance(value, str):
        return split_tools(value)
    if isinstance(value, list):
        names: list[str] = []
        for item in value:
            if isinstance(item, str):
                names.extend(split_tools(item))
            else:
                warnings.append(f"{key}: item {item!r} is not a tool name; ignored")
        return names
    if isinstance(value, dict):
        if all(isinstance(v, bool) for v in value.values()):
            return [str(k) for k, v in value.items() if v]
        mode = value.get("default_mode")
        if isinstance(mode, str) and mode in value:
            # modes mlflowctl implements as commands are not ignored (IMPLEMENTED_MODES)
            skip = ("default_mode", mode, *IMPLEMENTED_MODES)
            others = ", ".join(str(k) for k in value if k not in skip)
            if others:
                warnings.append(
                    f"{key}: a map of modes; using default_mode `{mode}` ({others} ignored)"
                )
            return normalize(value[mode], warnings, key)
        warnings.append(f"{key}: a map without a usable default_mode; no tools granted")
        return []
    warnings.append(f"{key}: a {type(value).__name__} is not a tool list; no tools granted")
    return []


def base_name(tool: str) -> str:
    """``Bash(git diff:*)`` -> ``Bash``; other names unchanged."""
    match = _PATTERN.match(tool)
    return match.group(1) if match else tool


def capability(tool: str) -> Capability | None:
    return KNOWN_TOOLS.get(base_name(tool))


def _suggest(tool: str) -> str:
    base = base_name(tool)
    by_case = {name.lower(): name for name in KNOWN_TOOLS}
    if base.lower() in by_case:
        return f" (did you mean `{by_case[base.lower()]}`?)"
    close = difflib.get_close_matches(base, list(KNOWN_TOOLS), n=1, cutoff=0.75)
    return f" (did you mean `{close[0]}`?)" if close else ""


def effective(
    declared: list[str] | None,
    disallowed: Iterable[str],
    role: str | None,
    warnings: list[str],
) -> frozenset[str]:
    """The tools this agent actually holds: known, not disallowed, allowed for its role."""
    if declared is None:
        return frozenset()
    denied = {base_name(t) for t in disallowed} | set(disallowed)
    granted: set[str] = set()
    unknown: list[str] = []
    for tool in declared:
        if tool == "*":
            warnings.append("tools: `*` (every tool) grants nothing in mlflowctl; list the tools")
            continue
        if capability(tool) is None:
            unknown.append(tool)
            continue
        if tool in denied or base_name(tool) in denied:
            continue
        granted.add(tool)
    for tool in unknown:
        warnings.append(f"tools: unknown tool `{tool}` grants nothing{_suggest(tool)}")
    allowed = ROLE_CAPABILITIES.get(role or "")
    if allowed is not None:
        dropped = sorted(t for t in granted if capability(t) not in allowed)
        if dropped:
            warnings.append(
                f"tools: role {role} is read-only; dropped {', '.join(dropped)}"
                " (write/execute capabilities)"
            )
            granted -= set(dropped)
    return frozenset(granted)


def valid_names() -> str:
    return ", ".join(KNOWN_TOOLS)
