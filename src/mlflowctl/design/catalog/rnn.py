"""LSTM and GRU forecasters: ``RNNParams`` in ``blueprint.py`` defines the architecture."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Literal

from mlflowctl.blueprint.model import LayerSpec, RNNParams
from mlflowctl.design.catalog._common import IO, FamilySpec, linear, row, widths

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


FAMILIES = tuple(
    FamilySpec(
        name=name,
        params=RNNParams,
        template_kind="rnn",
        layers=layers,
        flops=flops,
        candidates=partial(candidates, family=name),
        modalities=("sequence", "text"),
        sequence=True,
        recurrent=True,
    )
    for name in ("lstm", "gru")
)
