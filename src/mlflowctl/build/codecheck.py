"""Safety checks on a rendered project before anything is written (I6, S1).

Every ``.py`` file must compile, import only packages of the engineer's allowlist (plus the
project's own modules), have the same AST shape as the placeholder render of its template kind
once constants are masked (so a blueprint value can change a literal, never the code), and pass
``ruff check``. Any failure is a ``CodegenError`` (exit 4).
"""

from __future__ import annotations

import ast
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mlflowctl.errors import CodegenError

#: what a literal (or a sign applied to one) reads as in a shape
_LITERAL = ("<literal>",)


def _is_literal(node: object) -> bool:
    """A constant, or ``-1``/``+1``: one literal, not an operation on one."""
    if isinstance(node, ast.Constant):
        return True
    return (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, (ast.USub, ast.UAdd))
        and isinstance(node.operand, ast.Constant)
    )


def _parse(path: str, text: str) -> ast.Module:
    try:
        return ast.parse(text, filename=path)
    except SyntaxError as exc:
        raise CodegenError(
            f"generated code does not compile: {exc.msg}",
            hint="a template or a blueprint value broke the code; please report it",
            location=f"{path}:{exc.lineno}",
        ) from None


def shape(tree: ast.AST) -> tuple[object, ...]:
    """The tree with every literal masked, flattened in pre-order: each node's type, its fields'
    plain values (names, attributes) and the length of each list, so two trees have the same
    shape exactly when they differ in literals only (what ``ast.dump`` of the masked trees would
    compare, at a fraction of its cost)."""
    out: list[object] = []
    stack: list[object] = [tree]
    while stack:
        node = stack.pop()
        if _is_literal(node):
            out.append(_LITERAL)
        elif isinstance(node, ast.AST):
            out.append(type(node))
            stack.extend(getattr(node, name, None) for name in reversed(node._fields))
        elif isinstance(node, list):
            out.append(len(node))
            stack.extend(reversed(node))
        else:
            out.append(node)
    return tuple(out)


#: the fields that hold statements: an import is a statement, so only these are searched
_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")


def _statements(tree: ast.Module) -> Iterator[ast.AST]:
    """Every statement of the module, nested ones included (a fifth of ``ast.walk``'s nodes)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        yield node
        for name in _BODIES:
            children = getattr(node, name, None)
            if isinstance(children, list):
                stack.extend(children)


def check_imports(path: str, tree: ast.Module, allowed: set[str]) -> None:
    for node in _statements(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise CodegenError("relative import in generated code", location=path)
            names = [node.module or ""]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top not in allowed:
                raise CodegenError(
                    f"generated code imports {name!r}, which is not in the import allowlist",
                    hint="the ml-engineer policy.import_allowlist lists what may be imported",
                    location=f"{path}:{node.lineno}",
                )


def _ruff_command() -> list[str] | None:
    beside = Path(sys.executable).parent / "ruff"
    if beside.is_file():
        return [str(beside)]
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    found = shutil.which("ruff")
    return [found] if found else None


def run_ruff(files: dict[str, str]) -> str | None:
    """``ruff check`` on the project's Python files; the problems, or None when clean.

    Runs with ruff's own defaults (``--isolated``) in the project folder, as a user running
    ``ruff check`` there would. Returns ``"skipped"`` when ruff is not installed.
    """
    command = _ruff_command()
    if command is None:
        return "skipped"
    with tempfile.TemporaryDirectory(prefix="mlflowctl-ruff-") as tmp:
        for rel, text in files.items():
            if rel.endswith(".py"):
                target = Path(tmp, rel)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
        proc = subprocess.run(
            [*command, "check", "--isolated", "--no-cache", "--output-format", "concise", "."],
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if proc.returncode == 0:
        return None
    return (proc.stdout + proc.stderr).strip() or f"ruff exited with {proc.returncode}"


def check_project(
    files: dict[str, str],
    reference: dict[str, str],
    allowlist: tuple[str, ...],
    *,
    lint: bool = True,
) -> list[str]:
    """Raise ``CodegenError`` on the first problem; return notes (e.g. ruff skipped)."""
    local = {Path(rel).stem for rel in files if rel.endswith(".py") and "/" not in rel}
    allowed = set(allowlist) | local
    for rel, text in sorted(files.items()):
        if not rel.endswith(".py"):
            continue
        tree = _parse(rel, text)
        compile(tree, rel, "exec")
        check_imports(rel, tree, allowed)
        if rel not in reference:
            raise CodegenError("generated file has no placeholder counterpart", location=rel)
        if text != reference[rel] and shape(tree) != shape(_parse(rel, reference[rel])):
            raise CodegenError(
                "generated code differs in shape from its template's placeholder render",
                hint="a blueprint value changed the code, not only a literal; please report it",
                location=rel,
            )
    notes: list[str] = []
    if lint:
        problems = run_ruff(files)
        if problems == "skipped":
            notes.append("ruff is not installed: lint check skipped")
        elif problems:
            first = problems.splitlines()[0]
            raise CodegenError(
                f"generated code fails ruff check: {first}",
                hint="please report it with the blueprint",
                details={"ruff": problems},
            )
    return notes
