"""Small residual CNN for images: ``CNNParams`` below defines the architecture."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import Field

from mlflowctl.blueprint.types import FamilyParamsBase, FiniteFloat, LayerSpec
from mlflowctl.families._common import IO, FamilySpec, Hints, linear, row, widths


class CNNParams(FamilyParamsBase):
    """Small residual CNN for images, template kind ``cnn``.

    Stem: ``Conv2d(C, channels[0], 3, padding=1, bias=False)``, ``BatchNorm2d``, ReLU.
    Stage ``i`` with width ``c = channels[i]`` holds ``blocks_per_stage`` basic residual blocks;
    the first block of every stage after the first has stride 2. A block is
    ``conv3x3(cin, c, stride, bias=False)``, BN, ReLU, ``conv3x3(c, c, bias=False)``, BN, plus the
    shortcut (``Conv2d(cin, c, 1, stride, bias=False)`` + BN when stride != 1 or cin != c, else
    identity), then ReLU. Head: global average pool, ``Dropout(dropout)``,
    ``Linear(channels[-1], output_dim)``.
    """

    family: Literal["cnn"] = "cnn"
    channels: list[Annotated[int, Field(ge=1, le=2048)]] = Field(min_length=1, max_length=6)
    blocks_per_stage: Annotated[int, Field(ge=1, le=8)] = 1
    dropout: Annotated[FiniteFloat, Field(ge=0, le=0.9)] = 0.1


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


def activations(p: CNNParams, io: IO) -> int:
    """Stem conv, BN and ReLU, then two convs, two BNs, two ReLUs and the sum per block."""
    height, width = (io.shape[1], io.shape[2]) if len(io.shape) == 3 else (1, 1)
    total = io.flat + 3 * p.channels[0] * height * width
    for i, c in enumerate(p.channels):
        if i:
            height, width = max(1, (height + 1) // 2), max(1, (width + 1) // 2)
        total += 7 * p.blocks_per_stage * c * height * width
    return total + p.channels[-1] + io.output_dim


def uses_batchnorm(params: Mapping[str, Any]) -> bool:
    return True


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
        activations=activations,
        order=20,
        aliases=r"\bcnns?\b|convnet|convolutional|\bresnet",
        title="Small residual CNN",
        rationale="Residual 3x3 convolutions share weights across positions, so a few tens of "
        "thousands of parameters learn strokes and shapes that a dense model must learn per pixel.",
        traits={
            "accuracy": ("high", "best family for images"),
            "training_cost": ("medium", "convolutions dominate; fine on CPU for small images"),
            "inference_latency": ("low", "one pass, no recurrence"),
            "robustness": ("high", "translation-equivariant features"),
        },
        fsdp=True,
        uses_batchnorm=uses_batchnorm,
    ),
)
