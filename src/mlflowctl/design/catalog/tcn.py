"""Temporal convolutional network: ``TCNParams`` in ``blueprint.py`` defines the architecture."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlflowctl.blueprint.model import LayerSpec, TCNParams
from mlflowctl.design.catalog._common import IO, FamilySpec, Hints, linear, row, widths


def receptive_field(p: TCNParams) -> int:
    """Past steps the last output sees: two dilated convs per block."""
    return int(1 + 2 * (p.kernel_size - 1) * (2 ** len(p.channels) - 1))


def _walk(p: TCNParams, io: IO) -> Iterator[tuple[str, str, str, int, int]]:
    cin, steps, k = io.channels, io.steps, p.kernel_size
    for i, c in enumerate(p.channels):
        params = (cin * c * k + c) + (c * c * k + c)
        macs = (cin * c * k + c * c * k) * steps
        shape = f"{steps}x{cin} -> {steps}x{c} (dilation {2**i})"
        if cin != c:
            params += linear(cin, c)
            macs += cin * c * steps
            shape += " (+1x1 shortcut)"
        yield f"block[{i}]", "TemporalBlock", shape, params, macs
        cin = c
    out = io.output_dim
    yield "head", "Linear", f"{cin} -> {out} (last step)", linear(cin, out), cin * out


def layers(p: TCNParams, io: IO) -> list[LayerSpec]:
    return [row(n, k, s, prm) for n, k, s, prm, _ in _walk(p, io)]


def flops(p: TCNParams, io: IO) -> int:
    return 2 * sum(m for *_, m in _walk(p, io))


def blocks_for(lookback: int, kernel_size: int = 3) -> int:
    """Fewest blocks whose receptive field covers the lookback window (at most 12)."""
    n = 1
    while n < 12 and 1 + 2 * (kernel_size - 1) * (2**n - 1) < lookback:
        n += 1
    return n


def candidates(io: IO, *, kernel_size: int = 3) -> Iterator[TCNParams]:
    n = blocks_for(io.steps, kernel_size)
    for width in widths(2, 2048):
        yield TCNParams.model_construct(channels=[width] * n, kernel_size=kernel_size, dropout=0.1)


def defaults(io: IO, h: Hints) -> tuple[TCNParams, dict[str, Any]]:
    """Width 32, as many blocks as the receptive field needs to cover the window."""
    width = 16 if h.small else (64 if h.big else 32)
    return TCNParams(channels=[width] * blocks_for(io.steps), kernel_size=3, dropout=0.1), {}


FAMILIES = (
    FamilySpec(
        name="tcn",
        params=TCNParams,
        template_kind="tcn",
        layers=layers,
        flops=flops,
        candidates=candidates,
        defaults=defaults,
        modalities=("sequence", "text"),
        sequence=True,
    ),
)
