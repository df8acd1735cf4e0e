"""Transformer encoder (optionally memory-augmented): ``TransformerParams`` below."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from mlflowctl.blueprint.types import FamilyParamsBase, FiniteFloat, LayerSpec
from mlflowctl.families._common import IO, FamilySpec, Hints, linear, row, widths


class TransformerParams(FamilyParamsBase):
    """Transformer encoder for sequences, template kind ``transformer``.

    ``Linear(n_features, d_model)`` input projection; a learned positional embedding of shape
    ``(max_len + memory_tokens, d_model)``; ``memory_tokens`` learned memory slots prepended to
    the sequence (the memory-augmented variant; 0 disables it; with TBPTT the memory output of one
    chunk is the memory input of the next, detached at chunk boundaries); ``layers`` pre-norm
    ``nn.TransformerEncoderLayer(d_model, heads, ff_dim, dropout, batch_first=True,
    norm_first=True)``; a final ``LayerNorm(d_model)``; head ``Linear(d_model, output_dim)`` on the
    last position.
    """

    family: Literal["transformer"] = "transformer"
    d_model: Annotated[int, Field(ge=8, le=16_384)]
    heads: Annotated[int, Field(ge=1, le=128)]
    layers: Annotated[int, Field(ge=1, le=96)]
    ff_dim: Annotated[int, Field(ge=8, le=65_536)]
    dropout: Annotated[FiniteFloat, Field(ge=0, le=0.9)] = 0.1
    max_len: Annotated[int, Field(ge=1, le=65_536)]
    memory_tokens: Annotated[int, Field(ge=0, le=1024)] = 0

    @model_validator(mode="after")
    def _heads_divide(self) -> TransformerParams:
        if self.d_model % self.heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by heads ({self.heads})")
        return self


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


def activations(p: TransformerParams, io: IO) -> int:
    """Projections, attention maps and feed-forward activations per layer and position."""
    seq = io.steps + p.memory_tokens
    per_layer = seq * (10 * p.d_model + 3 * p.ff_dim) + 2 * p.heads * seq * seq
    return io.flat + seq * p.d_model * 2 + p.layers * per_layer + io.output_dim


def set_knob(params: dict[str, Any], name: str, value: int) -> None:
    """``d_model`` keeps the feed-forward width's ratio to it."""
    if name == "d_model":
        ratio = params["ff_dim"] / params["d_model"]
        params["ff_dim"] = max(8, round(ratio * value))
    params[name] = value


def problems(p: TransformerParams, io: IO) -> list[str]:
    """The positional table must cover the window."""
    return [f"max_len: {p.max_len} < lookback {io.steps}"] if p.max_len < io.steps else []


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
        activations=activations,
        order=60,
        aliases=r"transformer|self[- ]attention|\battention\b",
        title="Transformer encoder",
        rationale="Self-attention relates every step to every other. Scales best with parameters "
        "and data.",
        traits={
            "accuracy": ("high", "best with enough data and parameters"),
            "training_cost": ("high", "quadratic attention in the window length"),
            "inference_latency": ("medium", "one pass; cost grows with the window squared"),
            "memory": ("high", "attention maps and optimizer state"),
        },
        sequence=True,
        fsdp=True,
        tune_knobs=frozenset({"d_model", "layers"}),
        set_knob=set_knob,
        problems=problems,
        lr_cap=5e-4,
        tbptt_carry="memory-token outputs carried to the next chunk, detached at its boundary",
    ),
)
