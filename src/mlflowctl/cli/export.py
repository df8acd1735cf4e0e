"""``mlflowctl export MODEL --format onnx --out DIR``."""

from __future__ import annotations


def export() -> None:
    """Export a registered model (work in progress)."""
