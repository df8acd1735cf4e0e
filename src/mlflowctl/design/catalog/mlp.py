"""Tabular (or flattened) MLP: ``MLPParams`` in ``blueprint.py`` defines the architecture."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlflowctl.blueprint.model import LayerSpec, MLPParams
from mlflowctl.design.catalog._common import IO, FamilySpec, Hints, linear, row, widths


def layers(p: MLPParams, io: IO) -> list[LayerSpec]:
    rows = []
    prev = io.flat
    if len(io.shape) > 1:
        rows.append(row("flatten", "Flatten", f"{list(io.shape)} -> {prev}", 0))
    for i, h in enumerate(p.hidden):
        rows.append(row(f"hidden[{i}].linear", "Linear", f"{prev} -> {h}", linear(prev, h)))
        if p.norm != "none":
            kind = "BatchNorm1d" if p.norm == "batchnorm" else "LayerNorm"
            rows.append(row(f"hidden[{i}].norm", kind, f"{h}", 2 * h))
        rows.append(row(f"hidden[{i}].act", p.activation, f"{h}", 0))
        prev = h
    rows.append(row("head", "Linear", f"{prev} -> {io.output_dim}", linear(prev, io.output_dim)))
    return rows


def flops(p: MLPParams, io: IO) -> int:
    macs, prev = 0, io.flat
    for h in p.hidden:
        macs += prev * h
        prev = h
    macs += prev * io.output_dim
    return 2 * macs


def candidates(io: IO, *, depth: int = 2) -> Iterator[MLPParams]:
    """Widths 4..4096 in small steps, halving per layer (``[w, w/2]`` for depth 2)."""
    for w in widths(2, 8192):
        hidden = [max(1, w >> i) for i in range(depth)]
        yield MLPParams.model_construct(hidden=hidden, activation="gelu", norm="none", dropout=0.1)


def defaults(io: IO, h: Hints) -> tuple[MLPParams, dict[str, Any]]:
    """Width by data size (64 under 1,000 rows, else 128), halving per layer; two layers."""
    width = 32 if h.small else (256 if h.big else (64 if (h.rows or 0) < 1000 else 128))
    depth = 1 if h.scale in ("small", "compact") else (3 if h.big else 2)
    hidden = [max(8, width >> i) for i in range(depth)]
    dropout = 0.2 if (h.rows or 10_000) < 1000 else 0.1
    return MLPParams(hidden=hidden, activation="gelu", dropout=dropout), {"depth": depth}


FAMILIES = (
    FamilySpec(
        name="mlp",
        params=MLPParams,
        template_kind="mlp",
        layers=layers,
        flops=flops,
        candidates=candidates,
        defaults=defaults,
        modalities=("tabular", "image", "sequence"),
    ),
)
