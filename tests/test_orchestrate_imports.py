"""The orchestrator's modules import without a loop: pipeline -> phases -> context, never back."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ORCHESTRATE = Path(__file__).resolve().parent.parent / "src" / "mlflowctl" / "orchestrate"


def _imports(module: str) -> set[str]:
    tree = ast.parse((ORCHESTRATE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_phases_never_import_the_pipeline() -> None:
    assert "mlflowctl.orchestrate.pipeline" not in _imports("phases")
    assert "mlflowctl.orchestrate.pipeline" not in _imports("context")
    assert "mlflowctl.orchestrate.phases" not in _imports("context")


def test_pipeline_dispatches_through_the_phase_table() -> None:
    from mlflowctl.orchestrate import phases
    from mlflowctl.orchestrate.context import ALL_PHASES

    assert tuple(phases.PHASES) == ALL_PHASES
    source = (ORCHESTRATE / "pipeline.py").read_text()
    assert 'getattr(phase_impl, f"phase_' not in source and "PHASES[name](self)" in source
