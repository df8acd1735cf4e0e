"""Model families (the ``*Params`` classes) and the model part of an approach.

Each ``*Params`` docstring is the exact architecture: the catalog computes parameter counts
from these definitions and the templates implement them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    StringConstraints,
    model_validator,
)

from mlflowctl.blueprint.types import (
    FAMILY_TEMPLATE_KIND,
    Activation,
    Family,
    FiniteFloat,
    Norm,
    ShortText,
    Strict,
    TemplateKind,
)

# --------------------------------------------------------------------------- model families


class MLPParams(Strict):
    """Tabular (or flattened-window) MLP, template kind ``mlp``.

    For each width ``h`` in ``hidden``: ``Linear(prev, h)``, then ``BatchNorm1d(h)`` or
    ``LayerNorm(h)`` when ``norm`` says so, the activation, ``Dropout(dropout)``.
    Head: ``Linear(prev, output_dim)``. Parameters: ``sum(prev*h + h) + 2*h per norm +
    prev*out + out``.
    """

    family: Literal["mlp"] = "mlp"
    hidden: list[Annotated[int, Field(ge=1, le=65_536)]] = Field(min_length=1, max_length=8)
    activation: Activation = "gelu"
    norm: Norm = "none"
    dropout: Annotated[FiniteFloat, Field(ge=0, le=0.9)] = 0.1


class CNNParams(Strict):
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


class RNNParams(Strict):
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


class TCNParams(Strict):
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


class TransformerParams(Strict):
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


FamilyParams = Annotated[
    MLPParams | CNNParams | RNNParams | TCNParams | TransformerParams,
    Field(discriminator="family"),
]


class InputSpec(Strict):
    """What one sample looks like going in."""

    #: tabular: [n_features]; image: [C, H, W]; sequence: [lookback, n_features]
    shape: list[Annotated[int, Field(ge=1, le=10**7)]] = Field(min_length=1, max_length=4)
    #: forecasting only: how many past steps one sample sees
    lookback: Annotated[int, Field(ge=1, le=100_000)] | None = None
    description: ShortText = ""


class OutputSpec(Strict):
    kind: Literal["class_logits", "regression", "forecast"]
    #: number of classes, 1 for regression, horizon for a univariate forecast
    dim: Annotated[int, Field(ge=1, le=100_000)]
    description: ShortText = ""


class LayerSpec(Strict):
    """One row of the layer table (for people; the code follows the family definition)."""

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\[\]]{1,80}$")]
    kind: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,40}$")]
    shape: ShortText
    params: Annotated[int, Field(ge=0)]


class ModelSpec(Strict):
    family: Family
    template_kind: TemplateKind
    input: InputSpec
    output: OutputSpec
    params: FamilyParams
    layers: list[LayerSpec] = Field(min_length=1, max_length=200)
    #: exact, from the catalog's formula
    parameter_count: Annotated[int, Field(ge=1, le=100_000_000_000)]
    flops_per_sample: Annotated[int, Field(ge=1)]

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        if self.params.family != self.family:
            raise ValueError(
                f"params.family ({self.params.family}) differs from family ({self.family})"
            )
        if FAMILY_TEMPLATE_KIND[self.family] != self.template_kind:
            raise ValueError(
                f"template_kind for family {self.family} must be "
                f"{FAMILY_TEMPLATE_KIND[self.family]}, got {self.template_kind}"
            )
        return self
