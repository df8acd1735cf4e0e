"""`mlflowctl --help` and `agents ...` must not import the heavy ML stack (run in a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

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
