"""YAML 1.1 traps (B11): values YAML silently turns into something the author did not write.

PyYAML reads YAML 1.1, where ``no`` is ``False``, ``3.10`` is the float ``3.1``, ``0755`` is the
octal integer 493 and ``1e-3`` (no dot) is a *string*. On the fields mlflowctl acts on (name,
role, model, version, description and every ``policy`` value) such a value is an error that says
which field and how to write it; anywhere else in the frontmatter it is a warning.
"""

from __future__ import annotations

import re
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mlflowctl.errors import SpecError
from mlflowctl.specs.frontmatter import Frontmatter

_P = "tag:yaml.org,2002:"
#: top-level keys mlflowctl reads as text
TEXT_KEYS = ("name", "description", "model", "role", "version", "extends")
_BOOL_WORDS = {"yes", "no", "on", "off", "y", "n"}
_NUMBER_12 = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)$")  # YAML 1.2 float without dot
_OCTAL_ISH = re.compile(r"^[-+]?(0[0-9_]+|0[oObBxX][0-9a-fA-F_]+|\d+(:[0-5]?\d)+|\d[\d_]*_\d*)$")


def _kind(tag: str) -> str:
    return {
        _P + "bool": "a boolean",
        _P + "int": "an integer",
        _P + "float": "a number",
        _P + "null": "null",
        _P + "timestamp": "a date",
    }.get(tag, tag.removeprefix(_P))


def trap(node: ScalarNode, expect: str) -> str | None:
    """Why this plain scalar is a trap for a field expecting ``expect`` (text/number/bool/any)."""
    if node.style is not None:  # quoted or block scalars are read as written
        return None
    raw, tag = str(node.value), node.tag
    if expect == "text" and tag != _P + "str" and raw != "":
        return f'`{raw}` is read by YAML as {_kind(tag)}, not text; quote it: "{raw}"'
    if tag == _P + "bool" and raw.lower() in _BOOL_WORDS:
        return f"`{raw}` is read by YAML 1.1 as a boolean; write true or false (or quote it)"
    if tag == _P + "int" and _OCTAL_ISH.match(raw):
        return (
            f"`{raw}` is read by YAML 1.1 as the integer {_as_int(raw)}; write the plain"
            " decimal value (or quote it)"
        )
    if (
        expect == "any"
        and tag == _P + "float"
        and "." in raw
        and raw.rstrip("0") != raw
        and "e" not in raw.lower()
    ):
        return f"`{raw}` is read by YAML as the number {float(raw)!r}; quote it if it is a version"
    if tag == _P + "str" and expect in ("number", "any") and _NUMBER_12.match(raw):
        return f"`{raw}` is text under YAML 1.1, not a number; write it with a dot (e.g. 1.0e-3)"
    if tag == _P + "timestamp" and expect != "any":
        return f"`{raw}` is read by YAML as a date; quote it"
    return None


def _as_int(raw: str) -> str:
    try:
        import yaml

        return str(yaml.safe_load(raw))
    except Exception:  # pragma: no cover - display only
        return "?"


def walk(node: Node, path: str) -> list[tuple[str, int, str]]:
    """Every trap under ``node`` as (field path, 0-based line, reason), for warnings."""
    found: list[tuple[str, int, str]] = []
    if isinstance(node, ScalarNode):
        why = trap(node, "any")
        if why:
            found.append((path, node.start_mark.line, why))
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            found.extend(walk(item, f"{path}[{index}]"))
    elif isinstance(node, MappingNode):
        for key, value in node.value:
            found.extend(walk(value, f"{path}.{key.value}"))
    return found


def expected_kind(default: Any) -> str:
    """What a policy field holds, judged from its default value."""
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, (int, float)) or default is None:
        return "number"
    if isinstance(default, str):
        return "text"
    return "any"


def check_front(front: Frontmatter, source: str) -> None:
    """Raise on traps in the text fields mlflowctl reads; warn on traps anywhere else."""
    for key, node in front.nodes.items():
        line = node.start_mark.line + 2
        if key in TEXT_KEYS and isinstance(node, ScalarNode):
            why = trap(node, "text")
            if why:
                raise SpecError(
                    f"{key}: {why}", hint="quote the value", location=f"{source}:{line}"
                )
        elif key == "policy" and isinstance(node, MappingNode):
            continue  # checked against the policy model once the role is known
        else:
            for path, at, why in walk(node, key):
                front.warnings.append(f"{path} (line {at + 2}): {why}")
