"""Imports: `mlflowctl --help` and `agents ...` load no heavy ML module (run in a subprocess), and
three doors hold in the source (AST of every module, imports inside functions included): mlflow
only in ``mlflowctl/mlops/``, rich only in ``mlflowctl/console.py``, typer/click only in
``mlflowctl/cli/``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import srcgraph

pytestmark = pytest.mark.unit

#: top-level import name -> the module prefixes allowed to import it
DOORS = {
    "mlflow": ("mlflowctl.mlops",),
    "rich": ("mlflowctl.console",),
    "typer": ("mlflowctl.cli",),
    "click": ("mlflowctl.cli",),
}


def _inside(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def door_violations(imports: tuple[srcgraph.Import, ...]) -> list[str]:
    bad = []
    for imp in imports:
        allowed = DOORS.get(imp.target.split(".")[0])
        if allowed and not any(_inside(imp.module, p) for p in allowed):
            path = srcgraph.modules()[imp.module].relative_to(srcgraph.SRC)
            bad.append(f"{path}:{imp.line} imports {imp.target} (only {', '.join(allowed)} may)")
    return bad


@pytest.mark.parametrize("name", sorted(DOORS))
def test_each_heavy_or_ui_library_has_one_door(name: str) -> None:
    found = [i for i in srcgraph.imports() if i.target.split(".")[0] == name]
    assert door_violations(tuple(found)) == []


def test_mlflow_is_found_where_it_is_used() -> None:
    """The walker sees function-level imports (mlops imports mlflow inside functions)."""
    users = {i.module for i in srcgraph.imports() if i.target.split(".")[0] == "mlflow"}
    assert users and all(_inside(m, "mlflowctl.mlops") for m in users)
    assert {
        i.module for i in srcgraph.imports() if i.target == "rich" or i.target.startswith("rich.")
    } == {"mlflowctl.console"}


def test_a_door_violation_is_reported_with_file_and_line() -> None:
    fake = srcgraph.Import("mlflowctl.design.planner", "mlflow.tracking", 12, type_only=False)
    (line,) = door_violations((fake,))
    assert "design/planner.py:12 imports mlflow.tracking" in line
    inside = srcgraph.Import("mlflowctl.cli.app", "typer", 3, type_only=False)
    assert door_violations((inside,)) == []


HEAVY = ["torch", "lightning", "mlflow", "sklearn", "pandas", "scipy"]
SCRIPT = """
import json, sys
from mlflowctl.cli.app import main
code = main({argv!r})
heavy = {heavy!r}
loaded = sorted({{m.split('.')[0] for m in sys.modules if m.split('.')[0] in heavy}})
print("HEAVY=" + json.dumps({{"code": code, "loaded": loaded}}))
"""


@pytest.mark.integration
@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        ["agents", "list"],
        ["agents", "show", "ml-architect"],
        ["agents", "validate", "agents"],
    ],
    ids=lambda a: " ".join(a),
)
def test_command_imports_no_heavy_module(argv: list[str], repo_root: object) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(argv=argv, heavy=HEAVY)],
        capture_output=True,
        text=True,
        cwd=str(repo_root),
        env={"PATH": "/usr/bin:/bin", "CI": "true"},
        timeout=120,
    )
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("HEAVY="))
    result = json.loads(line.removeprefix("HEAVY="))
    assert result["code"] == 0, proc.stderr
    assert result["loaded"] == [], f"{' '.join(argv)} imported {result['loaded']}"
