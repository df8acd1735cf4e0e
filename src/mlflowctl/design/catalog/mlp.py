"""Tabular (or flattened) MLP: ``MLPParams`` in ``blueprint.py`` defines the architecture."""

from __future__ import annotations

from collections.abc import Iterator

from mlflowctl.blueprint.model import LayerSpec, MLPParams
from mlflowctl.design.catalog._common import IO, FamilySpec, linear, row, widths


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


FAMILIES = (
    FamilySpec(
        name="mlp",
        params=MLPParams,
        template_kind="mlp",
        layers=layers,
        flops=flops,
        candidates=candidates,
        modalities=("tabular", "image", "sequence"),
    ),
)
