"""LSTM and GRU forecasters: ``RNNParams`` below defines the architecture."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Annotated, Any, Literal

from pydantic import Field

from mlflowctl.blueprint.types import FamilyParamsBase, FiniteFloat, LayerSpec
from mlflowctl.families._common import IO, FamilySpec, Hints, linear, row, widths


class RNNParams(FamilyParamsBase):
    """LSTM or GRU forecaster, template kind ``rnn``.

    ``nn.LSTM``/``nn.GRU(input_size=n_features, hidden_size=hidden, num_layers=layers,
    batch_first=True, dropout=dropout if layers > 1 else 0)``; head ``Linear(hidden, output_dim)``
    applied at every time step (sequence-to-sequence training, so truncated BPTT has a loss in
    every chunk); the forecast is the head's output at the last step.
    """

    family: Literal["lstm", "gru"]
    hidden: Annotated[int, Field(ge=1, le=16_384)]
    layers: Annotated[int, Field(ge=1, le=8)] = 1
    dropout: Annotated[FiniteFloat, Field(ge=0, le=0.9)] = 0.0


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


def activations(p: RNNParams, io: IO) -> int:
    """Gate pre-activations, activations and the states per step and layer."""
    gates = _GATES[p.family]
    return io.flat + io.steps * (p.layers * p.hidden * (2 * gates + 2) + io.output_dim)


_ABOUT: dict[str, dict[str, Any]] = {
    "lstm": {
        "order": 30,
        "aliases": r"\blstms?\b|long short[- ]term memory",
        "title": "LSTM forecaster",
        "tbptt_carry": "hidden and cell state (h, c) at every chunk boundary",
        "rationale": "Gated recurrence keeps a cell state across long windows.",
        "traits": {
            "accuracy": ("high", "strong on long-memory series"),
            "training_cost": ("medium", "sequential over time steps"),
            "inference_latency": ("medium", "one step per input step"),
            "memory": ("medium", "activations kept for every step of the window"),
        },
    },
    "gru": {
        "order": 40,
        "aliases": r"\bgrus?\b|gated recurrent",
        "title": "GRU forecaster",
        "tbptt_carry": "hidden state h at every chunk boundary",
        "rationale": "Two gates instead of three: fewer parameters and faster steps than an "
        "LSTM, with similar accuracy on short univariate series.",
        "traits": {
            "accuracy": ("medium", "close to LSTM on short series"),
            "training_cost": ("low", "25% fewer weights than an LSTM"),
            "inference_latency": ("medium", "one step per input step"),
            "memory": ("low", "small hidden state"),
        },
    },
}

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
        activations=activations,
        sequence=True,
        recurrent=True,
        tune_knobs=frozenset({"hidden", "layers"}),
        **_ABOUT[name],
    )
    for name in ("lstm", "gru")
)
