"""The audited project: its Python files, parsed once with ``ast`` (never imported or executed).

Also the small AST helpers every check shares: dotted call names, identifier tokens, scopes
(a module body or one function body, without nested functions or classes) and enclosing nodes.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mlflowctl.errors import InvalidInputError

#: folders never audited: environments, caches, VCS data, and what a training run writes
SKIP_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".venv", "venv", "env", ".env", "__pycache__", "node_modules",
        "site-packages", ".tox", ".nox", ".mypy_cache", ".ruff_cache", ".pytest_cache",
        "checkpoints", "outputs", "mlruns", "lightning_logs",
    }
)  # fmt: skip
#: files larger than this are reported as unreadable rather than parsed (generated or vendored)
MAX_FILE_BYTES = 2_000_000

Scope = ast.Module | ast.FunctionDef | ast.AsyncFunctionDef
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_LOOPS = (
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)
_CACHE = "_mlflowctl_audit_nodes"
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


@dataclass
class SourceFile:
    """One Python file: its path relative to the project, its text and its tree (None if broken)."""

    rel: str
    text: str
    tree: ast.Module | None
    error: str | None = None
    error_line: int = 1
    parents: dict[ast.AST, ast.AST] = field(default_factory=dict)
    _scopes: list[Scope] = field(default_factory=list, repr=False)
    _nodes: list[ast.AST] = field(default_factory=list, repr=False)

    def line(self, lineno: int) -> str:
        lines = self.text.splitlines()
        return lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""

    def parent(self, node: ast.AST) -> ast.AST | None:
        return self.parents.get(node)

    def ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        current = self.parents.get(node)
        while current is not None:
            yield current
            current = self.parents.get(current)

    def function_of(self, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        for up in self.ancestors(node):
            if isinstance(up, _FUNCS):
                return up
        return None

    def scope_of(self, node: ast.AST) -> Scope:
        func = self.function_of(node)
        if func is not None:
            return func
        assert self.tree is not None
        return self.tree

    def loops_of(self, node: ast.AST) -> list[ast.AST]:
        """Loops (and comprehensions) around ``node`` inside its own function, innermost first."""
        found: list[ast.AST] = []
        for up in self.ancestors(node):
            if isinstance(up, _NESTED):
                break
            if isinstance(up, _LOOPS):
                found.append(up)
        return found

    def scopes(self) -> list[Scope]:
        """The module body and every function body (computed once)."""
        if self.tree is None:
            return []
        if not self._scopes:
            funcs = [n for n in self.nodes() if isinstance(n, _FUNCS)]
            self._scopes = [self.tree, *funcs]
        return self._scopes

    def nodes(self) -> list[ast.AST]:
        """Every node of the tree (``ast.walk`` order, computed once)."""
        if self.tree is not None and not self._nodes:
            self._nodes = list(ast.walk(self.tree))
        return self._nodes


@dataclass
class Project:
    """What ``mlflowctl audit PATH`` reviews: a folder of Python files (or one file)."""

    root: Path
    files: list[SourceFile]

    def parsed(self) -> Iterator[SourceFile]:
        return (f for f in self.files if f.tree is not None)

    def function_bodies(self) -> dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]]:
        """Project-defined functions and classes by name (for following a call into its body)."""
        out: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
        for src in self.parsed():
            for node in src.nodes():
                if isinstance(node, _FUNCS):
                    out.setdefault(node.name, []).append(node)
                elif isinstance(node, ast.ClassDef):
                    out.setdefault(node.name, []).extend(
                        n for n in node.body if isinstance(n, _FUNCS) and n.name == "__init__"
                    )
        return out


def load_project(path: Path) -> Project:
    """Find and parse the Python files under ``path``; exit 2 when it is not a Python project."""
    shown = str(path)
    if not path.exists():
        raise InvalidInputError(
            "path not found",
            hint="give the folder of a training project (or one .py file)",
            location=shown,
        )
    if path.is_file():
        if path.suffix != ".py":
            raise InvalidInputError(
                "not a Python file",
                hint="give the folder of a training project or a .py file",
                location=shown,
            )
        root, paths = path.parent, [path]
    else:
        root, paths = path, sorted(_python_files(path))
    if not paths:
        raise InvalidInputError(
            "no Python files found: not a Python project",
            hint="give the folder holding the project's train.py / model.py",
            location=shown,
        )
    return Project(root=root, files=[_read(p, root) for p in paths])


def _python_files(root: Path) -> Iterator[Path]:
    for folder, dirs, names in os.walk(root):  # does not follow links to folders
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in names:
            if name.endswith(".py"):
                yield Path(folder) / name


def _read(path: Path, root: Path) -> SourceFile:
    rel = path.relative_to(root).as_posix()
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return SourceFile(rel, "", None, f"file larger than {MAX_FILE_BYTES} bytes; not read")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return SourceFile(rel, "", None, f"cannot read: {exc}")
    try:
        tree = ast.parse(text, filename=rel)
    except (SyntaxError, ValueError) as exc:
        lineno = getattr(exc, "lineno", None) or 1
        message = getattr(exc, "msg", None) or str(exc)
        return SourceFile(rel, text, None, f"does not parse: {message}", lineno)
    parents: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    return SourceFile(rel, text, tree, parents=parents)


# --------------------------------------------------------------------------- AST helpers


def dotted(node: ast.AST) -> str:
    """``torch.nn.LSTM`` for an attribute chain, ``f`` for a name, ``""`` otherwise."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = dotted(node.value)
        return f"{inner}.{node.attr}" if inner else node.attr
    if isinstance(node, ast.Call):
        inner = dotted(node.func)
        return f"{inner}()" if inner else ""
    return ""


def call_name(call: ast.Call) -> str:
    """The called name's last part: ``fit_transform`` for ``scaler.fit_transform(x)``."""
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def receiver(call: ast.Call) -> ast.expr | None:
    return call.func.value if isinstance(call.func, ast.Attribute) else None


def tokens(name: str) -> set[str]:
    """Lower-case words of an identifier: ``X_lagTrain`` -> {x, lag, train}."""
    return {m.group(0).lower() for part in name.split("_") for m in _CAMEL.finditer(part)}


def identifiers(node: ast.AST) -> set[str]:
    """Names, attribute names and string subscript keys used in an expression."""
    out: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            out.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            out.add(sub.attr)
        elif isinstance(sub, ast.arg):
            out.add(sub.arg)
        elif isinstance(sub, ast.Subscript):
            key = sub.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                out.add(key.value)
    return out


def word_set(node: ast.AST) -> set[str]:
    words: set[str] = set()
    for name in identifiers(node):
        words |= tokens(name)
    return words


def walk_scope(scope: Scope) -> Iterator[ast.AST]:
    """Every node of a module or function body, not entering nested functions or classes.

    The list is computed once per scope and kept on the node (checks walk scopes many times).
    """
    cached: list[ast.AST] | None = getattr(scope, _CACHE, None)
    if cached is None:
        cached = []
        stack: list[ast.AST] = list(reversed(scope.body))
        while stack:
            node = stack.pop()
            cached.append(node)
            if isinstance(node, _NESTED):
                continue
            stack.extend(reversed(list(ast.iter_child_nodes(node))))
        setattr(scope, _CACHE, cached)
    return iter(cached)


def calls_in(node: Scope | ast.AST) -> Iterator[ast.Call]:
    walker = walk_scope(node) if isinstance(node, (ast.Module, *_FUNCS)) else ast.walk(node)
    return (n for n in walker if isinstance(n, ast.Call))


def kwarg(call: ast.Call, name: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def is_const(node: ast.AST | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def arguments(call: ast.Call) -> list[ast.expr]:
    return [*call.args, *(kw.value for kw in call.keywords)]


def assignments(scope: Scope) -> dict[str, list[ast.expr]]:
    """Name -> the values assigned to it in a scope (tuple targets map to the whole value)."""
    cached: dict[str, list[ast.expr]] | None = getattr(scope, _CACHE + "_assign", None)
    if cached is None:
        cached = _assignments(scope)
        setattr(scope, _CACHE + "_assign", cached)
    return cached


def _assignments(scope: Scope) -> dict[str, list[ast.expr]]:
    out: dict[str, list[ast.expr]] = {}
    for node in walk_scope(scope):
        if isinstance(node, ast.Assign):
            targets: list[ast.expr] = list(node.targets)
            value: ast.expr | None = node.value
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets, value = [node.target], node.value
        else:
            continue
        if value is None:
            continue
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, (ast.Name, ast.Attribute)):
                    out.setdefault(dotted(sub), []).append(value)
    return out


def pos(node: ast.AST) -> tuple[int, int]:
    return (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))
