"""LSTM and GRU forecasters: ``RNNParams`` in ``blueprint.py`` defines the architecture."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any, Literal

from mlflowctl.blueprint.model import LayerSpec, RNNParams
from mlflowctl.design.catalog._common import IO, FamilySpec, Hints, linear, row, widths

_GATES = {"lstm": 4, "gru": 3}


def _layer_params(family: str, n_in: int, hidden: int) -> int:
    # weight_ih, weight_hh, bias_ih, bias_hh per gate (PyTorch keeps both biases)
    return _GATES[family] * (n_in * hidden + hidden * hidden + 2 * hidden)


def layers(p: RNNParams, io: IO) -> list[LayerSpec]:
    rows = []
    n_in, steps = io.channels, io.steps
    kind = "LSTM" if p.family == "lstm" else "GRU"
    for i in range(p.layers):
        shape = f"{steps}x{n_in} -> {steps}x{p.hidden}"
        rows.append(row(f"rnn.layer[{i}]", kind, shape, _layer_params(p.family, n_in, p.hidden)))
        n_in = p.hidden
    out = io.output_dim
    rows.append(row("head", "Linear", f"{p.hidden} -> {out} (every step)", linear(p.hidden, out)))
    return rows


def flops(p: RNNParams, io: IO) -> int:
    macs, n_in = 0, io.channels
    for _ in range(p.layers):
        macs += _GATES[p.family] * (n_in * p.hidden + p.hidden * p.hidden)
        n_in = p.hidden
    macs += p.hidden * io.output_dim
    return 2 * macs * io.steps


def candidates(io: IO, *, family: Literal["lstm", "gru"], layers: int = 2) -> Iterator[RNNParams]:
    for hidden in widths(2, 4096):
        yield RNNParams.model_construct(
            family=family, hidden=hidden, layers=layers, dropout=0.1 if layers > 1 else 0.0
        )


def defaults(
    io: IO, h: Hints, *, family: Literal["lstm", "gru"]
) -> tuple[RNNParams, dict[str, Any]]:
    """Two layers of 64 units; one of 32 for a short series or a small model."""
    # a series of a few hundred steps overfits two layers of 64 within a few epochs:
    # sunspots test MASE 0.87-1.07 over four seeds with 2x64, 0.86-0.91 with 1x32
    n_layers = 1 if h.small or h.short_series else 2
    units = 32 if h.small or h.short_series else (128 if h.big else 64)
    if h.short_series and h.small:
        units = 16
    default = RNNParams(
        family=family, hidden=units, layers=n_layers, dropout=0.1 if n_layers > 1 else 0.0
    )
    return default, {"layers": n_layers}


FAMILIES = tuple(
    FamilySpec(
        name=name,
        params=RNNParams,
        template_kind="rnn",
        layers=layers,
        flops=flops,
        candidates=partial(candidates, family=name),
        defaults=partial(defaults, family=name),
        modalities=("sequence", "text"),
        sequence=True,
        recurrent=True,
    )
    for name in ("lstm", "gru")
)
