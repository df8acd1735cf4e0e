"""Temporal convolutional network: ``TCNParams`` below defines the architecture."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import Field

from mlflowctl.blueprint.types import FamilyParamsBase, FiniteFloat, LayerSpec
from mlflowctl.families._common import IO, FamilySpec, Hints, linear, row, widths


class TCNParams(FamilyParamsBase):
    """Temporal convolutional network, template kind ``tcn``.

    Block ``i`` (dilation ``2**i``, width ``c = channels[i]``): causal ``Conv1d(cin, c,
    kernel_size, dilation)``, ReLU, Dropout, causal ``Conv1d(c, c, kernel_size, dilation)``,
    ReLU, Dropout, plus a ``Conv1d(cin, c, 1)`` shortcut when cin != c. No weight norm. Head:
    ``Linear(channels[-1], output_dim)`` on the last time step.
    """

    family: Literal["tcn"] = "tcn"
    channels: list[Annotated[int, Field(ge=1, le=4096)]] = Field(min_length=1, max_length=12)
    kernel_size: Annotated[int, Field(ge=2, le=15)] = 3
    dropout: Annotated[FiniteFloat, Field(ge=0, le=0.9)] = 0.1


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


def activations(p: TCNParams, io: IO) -> int:
    """Two convs, two ReLUs, two dropouts and the sum per block and step."""
    return io.flat + 7 * io.steps * sum(p.channels) + io.output_dim


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
        activations=activations,
        order=50,
        aliases=r"\btcns?\b|temporal conv",
        title="Temporal convolutional network",
        rationale="Dilated causal convolutions see the whole window in parallel: fast to train, "
        "stable gradients, and a receptive field set by depth rather than by recurrence.",
        traits={
            "accuracy": ("medium", "good when the receptive field covers the seasonality"),
            "training_cost": ("low", "parallel over time"),
            "inference_latency": ("low", "one parallel pass"),
            "robustness": ("medium", "stable gradients, fixed receptive field"),
        },
        sequence=True,
        fsdp=True,
    ),
)
