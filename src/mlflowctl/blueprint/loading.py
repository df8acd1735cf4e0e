"""Reading a blueprint file strictly (issue 11.20): a size cap, no duplicate keys, and no strings
where the schema wants a number or a boolean (``lr: "0.001"`` is an error naming the field, not
silently coerced). Used by ``Blueprint.load`` / ``from_yaml`` / ``from_dict``.
"""

from __future__ import annotations

import json
from typing import Any

from mlflowctl.errors import BlueprintError

#: the largest blueprint file read: real ones are a few kB
MAX_BLUEPRINT_BYTES = 1 << 20


def check_size(n_bytes: int, source: str) -> None:
    if n_bytes > MAX_BLUEPRINT_BYTES:
        raise BlueprintError(
            f"blueprint file is {n_bytes} bytes; the limit is {MAX_BLUEPRINT_BYTES} (1 MiB)",
            hint="blueprints written by `mlflowctl design` are a few kB; check the file",
            location=source,
        )


def parse_yaml(text: str, source: str) -> Any:
    """Safe YAML that refuses a key given twice in one mapping, naming both lines."""
    import yaml

    base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class _NoDuplicates(base):  # type: ignore[misc]
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the base constructor reports it
                    continue
                if first is not None:
                    raise BlueprintError(
                        f"duplicate key {key!r} on lines {first} and {line}",
                        hint="give every key once; the second would silently win",
                        location=f"{source}:{line}",
                    )
                seen[key] = line
            return super().construct_mapping(node, deep=deep)

    try:
        return yaml.load(text, Loader=_NoDuplicates)  # a safe loader (C parser if available)
    except yaml.YAMLError as exc:
        raise BlueprintError(
            f"not valid YAML: {str(exc).splitlines()[0]}",
            hint="blueprints are written by `mlflowctl design -o FILE`",
            location=source,
        ) from None


def parse_json(text: str, source: str) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise BlueprintError(
                    f"duplicate key {key!r} in one JSON object",
                    hint="give every key once; the second would silently win",
                    location=source,
                )
            out[key] = value
        return out

    try:
        return json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise BlueprintError(f"not valid JSON: {exc}", location=source) from None


def string_for_number(raw: Any, validated: Any, path: str = "") -> str | None:
    """The first field path where the file has a string and the model a number or boolean."""
    if isinstance(raw, str):
        if isinstance(validated, bool | int | float):
            return path or "<root>"
        return None
    if isinstance(raw, dict) and isinstance(validated, dict):
        for key, value in raw.items():
            if key in validated:
                found = string_for_number(value, validated[key], f"{path}.{key}" if path else key)
                if found:
                    return found
    elif isinstance(raw, list | tuple) and isinstance(validated, list | tuple):
        for i, (a, b) in enumerate(zip(raw, validated, strict=False)):
            found = string_for_number(a, b, f"{path}.{i}" if path else str(i))
            if found:
                return found
    return None


def refuse_strings_for_numbers(raw: Any, validated: Any, source: str) -> None:
    path = string_for_number(raw, validated)
    if path is not None:
        raise BlueprintError(
            f"{path}: a quoted string where a number or boolean is required",
            hint="write numbers and true/false without quotes",
            location=source,
        )
