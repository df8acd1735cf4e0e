"""Reading an agent spec file: bytes -> text -> (frontmatter mapping, body).

Spec files come from anywhere (the corpus of public agents, a user's folder, a pull request), so the
reader is defensive before it is clever: a size cap before reading, strict UTF-8 with the byte
offset of the first bad byte, no NUL bytes, and a YAML loader that refuses what an agent spec never
needs (explicit tags such as ``!!python/object``, anchors and aliases, duplicate keys). About 2 % of
real files are not valid YAML (a ``: `` inside a plain scalar, a bare ``*``); those are read by a
line-based fallback and carry a warning with the YAML error's position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionStartEvent, NodeEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode

from mlflowctl.errors import SpecError

#: the largest spec accepted; real files reach ~50 kB, so 1 MiB leaves room and stops a 10 MB file
MAX_SPEC_BYTES = 1024 * 1024
_BOM = b"\xef\xbb\xbf"
_STR_TAG = "tag:yaml.org,2002:str"


@dataclass
class Frontmatter:
    """What the reader found: the raw mapping, the body, and where things are in the file."""

    data: dict[str, Any]
    body: str
    body_line: int
    #: top-level key -> the scalar node it was read from (strict YAML only), for B11 checks
    nodes: dict[str, Node] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    lenient: bool = False


def read_bytes(path: Path) -> bytes:
    """The file's bytes, refusing anything over the cap before reading it (B10)."""
    try:
        size = path.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise SpecError(
                f"file is {size:,} bytes; agent specs are capped at {MAX_SPEC_BYTES:,}",
                hint="an agent spec is a short markdown file; check the path",
                location=str(path),
            )
        with path.open("rb") as fh:
            raw = fh.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError(
            f"cannot read: {exc.strerror or exc}", hint="check the path", location=str(path)
        ) from None
    if len(raw) > MAX_SPEC_BYTES:  # grew between stat and read, or a device file
        raise SpecError(f"file exceeds {MAX_SPEC_BYTES:,} bytes", location=str(path))
    return raw


def decode(raw: bytes, source: str) -> str:
    """UTF-8 text with the BOM dropped and CRLF made LF (B1, B2, B12)."""
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise SpecError(
            f"NUL byte at byte offset {nul}",
            hint="agent specs are UTF-8 text; is this a binary file?",
            location=source,
        )
    skip = len(_BOM) if raw.startswith(_BOM) else 0
    try:
        text = raw[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(
            f"not valid UTF-8 at byte offset {exc.start + skip} (0x{raw[exc.start + skip]:02x})",
            hint="save the file as UTF-8",
            location=source,
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def split(text: str, source: str) -> tuple[str, str, int]:
    """Frontmatter text, body, and the body's first line number (B3, FORMATS.md section 5 #4-5)."""
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        hint = "an agent spec starts with a `---` line, YAML keys, and a closing `---` line"
        for number, line in enumerate(lines[:50], start=1):
            if line.strip() == "---" and line != "---":
                raise SpecError(
                    f"no frontmatter on line 1 (an indented `---` block starts at line {number}:"
                    " a broken agent?)",
                    hint=hint,
                    location=f"{source}:1",
                )
        raise SpecError(
            "no frontmatter: line 1 is not `---` (not an agent spec)",
            hint=hint,
            location=f"{source}:1",
        )
    for index in range(1, len(lines)):
        if lines[index].rstrip() == "---":
            front = "\n".join(lines[1:index])
            body = "\n".join(lines[index + 1 :])
            return front, body, index + 2
    raise SpecError(
        "frontmatter: missing closing `---`",
        hint="end the YAML block with a line holding only `---`",
        location=f"{source}:1",
    )


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that also refuses explicit tags, anchors, aliases and duplicate keys."""

    source = "<spec>"
    line_offset = 1  # frontmatter line 1 is file line 2

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        where = f"{self.source}:{event.start_mark.line + self.line_offset + 1}"
        if isinstance(event, AliasEvent):
            raise SpecError(
                f"YAML alias `*{event.anchor}` is not allowed in agent specs",
                hint="write the value out; anchors and aliases are refused (alias bombs)",
                location=where,
            )
        if isinstance(event, NodeEvent) and event.anchor is not None:
            raise SpecError(
                f"YAML anchor `&{event.anchor}` is not allowed in agent specs",
                hint="write the value out; anchors and aliases are refused (alias bombs)",
                location=where,
            )
        if isinstance(event, (ScalarEvent, CollectionStartEvent)):
            tag = event.tag
            if tag is not None and tag not in ("!", _STR_TAG, "!!str"):
                raise SpecError(
                    f"YAML tag `{tag}` is not allowed in agent specs",
                    hint="remove the tag; specs hold plain strings, numbers, lists and maps",
                    location=where,
                )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + self.line_offset + 1
            if key in seen:
                raise SpecError(
                    f"duplicate key `{key}` on lines {seen[key]} and {line}",
                    hint="keep one of them; mlflowctl never lets the last one silently win",
                    location=f"{self.source}:{line}",
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _strict(front: str, source: str) -> tuple[Any, dict[str, Node]]:
    loader = _StrictLoader(front)
    loader.source = source
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        nodes: dict[str, Node] = {}
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, ScalarNode):
                    nodes[str(key_node.value)] = value_node
        return loader.construct_document(node), nodes
    finally:
        loader.dispose()


_KEY_LINE = re.compile(r"^([A-Za-z_][\w.-]*)[ \t]*:(?:[ \t]+(.*)|[ \t]*)$")


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        inner = value[1:-1]
        return inner.replace("''", "'") if value[0] == "'" else inner.replace('\\"', '"')
    return value


def _lenient(front: str, source: str) -> dict[str, Any]:
    """Line-based reading: a ``key:`` at column 0 starts a field; indented lines continue it."""
    fields: dict[str, tuple[int, str, list[str]]] = {}
    current: str | None = None
    for number, line in enumerate(front.split("\n"), start=2):
        if line.startswith("#"):
            continue
        match = _KEY_LINE.match(line)
        if match:
            key = match.group(1)
            if key in fields:
                raise SpecError(
                    f"duplicate key `{key}` on lines {fields[key][0]} and {number}",
                    hint="keep one of them; mlflowctl never lets the last one silently win",
                    location=f"{source}:{number}",
                )
            value = (match.group(2) or "").strip()
            if value.startswith("!"):
                raise SpecError(
                    f"YAML tag in `{key}` is not allowed in agent specs",
                    hint="remove the tag",
                    location=f"{source}:{number}",
                )
            fields[key] = (number, value, [])
            current = key
        elif current is not None:
            fields[current][2].append(line)
        elif line.strip():
            raise SpecError(
                "frontmatter: text before the first key",
                hint="start the frontmatter with `key: value` lines",
                location=f"{source}:{number}",
            )
    data: dict[str, Any] = {}
    for key, (_, head, rest) in fields.items():
        items = [ln.strip() for ln in rest if ln.strip()]
        if head in ("", ">", ">-", "|", "|-") and items and all(i.startswith("- ") for i in items):
            data[key] = [_unquote(i[2:].strip()) for i in items]
        elif head in (">", ">-"):
            data[key] = " ".join(items)
        elif head in ("|", "|-"):
            data[key] = "\n".join(items)
        else:
            data[key] = _unquote(" ".join([head, *items]).strip()) or None
    return data


def parse(text: str, source: str) -> Frontmatter:
    """Split and read the frontmatter; strict YAML first, the line-based fallback second."""
    front, body, body_line = split(text, source)
    warnings: list[str] = []
    lenient = False
    try:
        data, nodes = _strict(front, source)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 2}, column {mark.column + 1}" if mark else "unknown position"
        problem = str(exc.problem or exc.context).replace("'\\x00'", "the end of the line")
        warnings.append(
            f"not valid YAML ({problem} at {where}); read line by line instead"
            " (quote values that contain `: ` or start with `*`)"
        )
        data, nodes, lenient = _lenient(front, source), {}, True
    except yaml.YAMLError as exc:  # reader errors: control characters and the like
        raise SpecError(f"frontmatter: {exc}", location=source) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError(
            f"frontmatter must be a mapping of keys to values, not a {_yaml_kind(data)}",
            hint="write `name: ...`, `description: ...` lines between the `---` fences",
            location=f"{source}:2",
        )
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise SpecError(
            f"frontmatter key {bad[0]!r} is not a string", hint="quote the key", location=source
        )
    return Frontmatter(
        data=data,
        body=body.strip("\n").rstrip() + "\n" if body.strip() else "",
        body_line=body_line,
        nodes=nodes,
        warnings=warnings,
        lenient=lenient,
    )


def _yaml_kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def json_safe(value: Any) -> Any:
    """Dates as ISO strings, tuples as lists: frontmatter values as JSON can hold them."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [json_safe(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


# --------------------------------------------------------------------------- names and roots


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "agent"


def stem_name(path: Path) -> str:
    """Name for a file without ``name:``: the stem without ``.agent``, a ``owner__repo__`` mirror
    prefix, or a ``.<commit>`` suffix (FORMATS.md section 5 #8)."""
    stem = path.name.removesuffix(".md").removesuffix(".txt").removesuffix(".agent")
    stem = stem.rsplit("__", 1)[-1]
    return re.sub(r"\.[0-9a-f]{7,40}$", "", stem)


def project_root(path: Path) -> Path:
    """The folder ``extends:`` may not leave: nearest ancestor with .git or pyproject.toml."""
    here = path.resolve().parent
    for folder in (here, *here.parents):
        if (folder / ".git").exists() or (folder / "pyproject.toml").is_file():
            return folder
    return here
