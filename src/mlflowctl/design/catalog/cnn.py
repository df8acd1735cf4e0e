"""Small residual CNN for images: ``CNNParams`` in ``blueprint.py`` defines the architecture."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlflowctl.blueprint.model import CNNParams, LayerSpec
from mlflowctl.design.catalog._common import IO, FamilySpec, Hints, linear, row, widths


def _down(n: int) -> int:
    """Spatial size after a stride-2 3x3 conv with padding 1 (and the 1x1 stride-2 shortcut)."""
    return (n - 1) // 2 + 1


def _walk(p: CNNParams, io: IO) -> Iterator[tuple[str, str, str, int, int]]:
    """(name, kind, shape, params, multiply-accumulates) for every layer, in order."""
    c_in, h, w = io.shape
    c0 = p.channels[0]
    yield (
        "stem.conv",
        "Conv2d",
        f"{c_in}x{h}x{w} -> {c0}x{h}x{w}",
        c_in * c0 * 9,
        c_in * c0 * 9 * h * w,
    )
    yield "stem.bn", "BatchNorm2d", f"{c0}", 2 * c0, 0
    cin = c0
    for s, c in enumerate(p.channels):
        for b in range(p.blocks_per_stage):
            stride = 2 if (s > 0 and b == 0) else 1
            ho, wo = (_down(h), _down(w)) if stride == 2 else (h, w)
            name = f"stage[{s}].block[{b}]"
            conv = cin * c * 9 + c * c * 9
            macs = (cin * c * 9 + c * c * 9) * ho * wo
            params = conv + 4 * c
            shape = f"{cin}x{h}x{w} -> {c}x{ho}x{wo}"
            if stride != 1 or cin != c:
                params += cin * c + 2 * c
                macs += cin * c * ho * wo
                shape += " (+1x1 shortcut)"
            yield name, "ResidualBlock", shape, params, macs
            cin, h, w = c, ho, wo
    yield "pool", "AdaptiveAvgPool2d", f"{cin}x{h}x{w} -> {cin}", 0, 0
    out = io.output_dim
    yield "head", "Linear", f"{cin} -> {out}", linear(cin, out), cin * out


def layers(p: CNNParams, io: IO) -> list[LayerSpec]:
    return [row(n, k, s, prm) for n, k, s, prm, _ in _walk(p, io)]


def flops(p: CNNParams, io: IO) -> int:
    return 2 * sum(m for *_, m in _walk(p, io))


def candidates(io: IO, *, stages: int = 2) -> Iterator[CNNParams]:
    """Base widths 4..512, doubling per stage; stages are capped by the image size."""
    side = min(io.shape[1], io.shape[2])
    n_stages = max(1, min(stages, side.bit_length() - 2))
    for base in widths(4, 512):
        yield CNNParams.model_construct(
            channels=[base << i for i in range(n_stages)], blocks_per_stage=1
        )


def defaults(io: IO, h: Hints) -> tuple[CNNParams, dict[str, Any]]:
    """Base width 24 doubling per stage; two stages (three from 32 pixels a side)."""
    base = 16 if h.small else (32 if h.big else 24)
    side = min(io.shape[1], io.shape[2])
    stages = max(1, min(3 if side >= 32 else 2, side.bit_length() - 2))
    return CNNParams(channels=[base << i for i in range(stages)], dropout=0.1), {"stages": stages}


FAMILIES = (
    FamilySpec(
        name="cnn",
        params=CNNParams,
        template_kind="cnn",
        layers=layers,
        flops=flops,
        candidates=candidates,
        defaults=defaults,
        modalities=("image",),
    ),
)
