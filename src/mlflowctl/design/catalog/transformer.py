"""Transformer encoder (optionally memory-augmented): ``TransformerParams`` in ``blueprint.py``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlflowctl.blueprint.model import LayerSpec, TransformerParams
from mlflowctl.design.catalog._common import IO, FamilySpec, Hints, linear, row, widths


def encoder_layer_params(d: int, ff: int) -> int:
    """One ``nn.TransformerEncoderLayer``: in/out projections, two linears, two LayerNorms."""
    return (3 * d * d + 3 * d) + (d * d + d) + linear(d, ff) + linear(ff, d) + 4 * d


def layers(p: TransformerParams, io: IO) -> list[LayerSpec]:
    d, n_in, steps = p.d_model, io.channels, io.steps
    rows = [row("input_proj", "Linear", f"{steps}x{n_in} -> {steps}x{d}", linear(n_in, d))]
    if p.memory_tokens:
        rows.append(row("memory", "MemoryTokens", f"{p.memory_tokens}x{d}", p.memory_tokens * d))
    pos = p.max_len + p.memory_tokens
    rows.append(row("pos_embedding", "Embedding", f"{pos}x{d}", pos * d))
    seq = steps + p.memory_tokens
    for i in range(p.layers):
        rows.append(
            row(
                f"encoder[{i}]",
                "EncoderLayer",
                f"{seq}x{d}, {p.heads} heads, ff {p.ff_dim}",
                encoder_layer_params(d, p.ff_dim),
            )
        )
    rows.append(row("norm", "LayerNorm", f"{d}", 2 * d))
    rows.append(
        row("head", "Linear", f"{d} -> {io.output_dim} (last position)", linear(d, io.output_dim))
    )
    return rows


def flops(p: TransformerParams, io: IO) -> int:
    d, ff, steps = p.d_model, p.ff_dim, io.steps
    seq = steps + p.memory_tokens
    per_layer = 4 * seq * d * d + 2 * seq * seq * d + 2 * seq * d * ff
    macs = steps * io.channels * d + p.layers * per_layer + d * io.output_dim
    return 2 * macs


def _heads(d: int) -> int:
    """Up to 8 heads of at least 16 dimensions each."""
    for h in (8, 4, 2):
        if d % h == 0 and d // h >= 16:
            return h
    return 1


def depth_for(d_model: int) -> int:
    """Depth grows with width (2 layers at d_model 64, 8 at 384, capped at 12)."""
    return max(2, min(12, d_model // 48))


def candidates(io: IO, *, memory_tokens: int = 0) -> Iterator[TransformerParams]:
    """One growing path: d_model (a multiple of 4), ff = 4 * d_model, depth from ``depth_for``."""
    for d in (w for w in widths(8, 4096) if w % 4 == 0):
        yield TransformerParams.model_construct(
            d_model=d,
            heads=_heads(d),
            layers=depth_for(d),
            ff_dim=4 * d,
            dropout=0.1,
            max_len=io.steps,
            memory_tokens=memory_tokens,
        )


def defaults(io: IO, h: Hints) -> tuple[TransformerParams, dict[str, Any]]:
    """d_model 64 with 4 heads, ff 4 x d_model, depth from ``depth_for``; memory slots if asked."""
    d = 32 if h.small else (128 if h.big else 64)
    default = TransformerParams(
        d_model=d,
        heads=4,
        layers=depth_for(d),
        ff_dim=4 * d,
        dropout=0.1,
        max_len=io.steps,
        memory_tokens=h.memory,
    )
    return default, {"memory_tokens": h.memory}


FAMILIES = (
    FamilySpec(
        name="transformer",
        params=TransformerParams,
        template_kind="transformer",
        layers=layers,
        flops=flops,
        candidates=candidates,
        defaults=defaults,
        modalities=("sequence", "text"),
        sequence=True,
    ),
)
