"""Pure checks on one approach that need no data and no device: what a build cannot honour yet,
and how much memory training it takes.

Nothing here imports torch, pandas or mlflow: ``build --dry-run`` and the offline architect use it.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlflowctl.blueprint.families import (
    CNNParams,
    MLPParams,
    RNNParams,
    TCNParams,
    TransformerParams,
)
from mlflowctl.blueprint.model import Approach

#: bytes per parameter while training with Adam in fp32: weights 4 + gradients 4 + moments 8
BYTES_PER_PARAM = 16
#: bytes per kept activation element: its fp32 value in the forward pass and its gradient
BYTES_PER_ACTIVATION = 8


#: families whose network FSDP can shard: a recurrent layer (LSTM, GRU) is one monolithic
#: cuDNN module whose weights must stay one contiguous block
FSDP_FAMILIES = ("mlp", "cnn", "tcn", "transformer")


def fsdp_problem(approach: Approach, strategy: str | None = None) -> str | None:
    """Why the approach cannot train with FSDP (``strategy`` overrides the blueprint's), or None."""
    wanted = strategy or approach.training.distributed.strategy
    family = approach.model.family
    if wanted != "fsdp" or family in FSDP_FAMILIES:
        return None
    return (
        f"FSDP cannot wrap the {family} family (its recurrent layer is one module that cannot "
        "be sharded)"
    )


def unhonoured_fields(approach: Approach) -> list[str]:
    """Blueprint settings the rendered project does not execute yet, one line each (issue 12.3).

    Each line names the field and what the build does instead, e.g.
    ``training.search_space (tpe, 30 trials) is not rendered yet: ...``. The distributed block
    (ddp/fsdp, devices, nodes, accumulation) and ``compile`` are rendered (issue 15); only a
    deepspeed strategy is not.
    """
    out: list[str] = []
    t = approach.training
    d = t.distributed
    if d.strategy == "deepspeed":
        out.append(
            f"training.distributed.strategy (deepspeed x{d.devices}) is not rendered: "
            "the project trains with ddp on the same devices"
        )
    s = t.search_space
    if s.enabled:
        out.append(
            f"training.search_space ({s.method}, {s.n_trials} trials) is searched by "
            "`mlflowctl tune`, not by build: this build trains the blueprint's values once"
        )
    if not approach.infrastructure.baselines:
        out.append(
            "infrastructure.baselines is empty: no classical baseline is trained and the gate "
            "compares with none (mlflowctl design names them for every task)"
        )
    return out  # infrastructure.monitoring: `mlflowctl monitor` (reference.py)


@dataclass(frozen=True)
class MemoryEstimate:
    """Training memory of one approach: parameters with gradients and Adam state, activations."""

    parameters: int
    batch_size: int
    activations_per_sample: int

    @property
    def state_bytes(self) -> int:
        return self.parameters * BYTES_PER_PARAM

    @property
    def activation_bytes(self) -> int:
        return self.batch_size * self.activations_per_sample * BYTES_PER_ACTIVATION

    @property
    def total_bytes(self) -> int:
        return self.state_bytes + self.activation_bytes

    def line(self) -> str:
        return (
            f"{gib(self.total_bytes)} = {self.parameters:,} params x {BYTES_PER_PARAM} B "
            f"(weights, grads, Adam) + batch {self.batch_size} x "
            f"{self.activations_per_sample:,} activations x {BYTES_PER_ACTIVATION} B"
        )


def gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def activations_per_sample(approach: Approach) -> int:
    """Activation elements one sample keeps for the backward pass (a family-wise estimate)."""
    p = approach.model.params
    shape = list(approach.model.input.shape)
    out = approach.model.output.dim
    inputs = 1
    for n in shape:
        inputs *= n
    steps = shape[0] if len(shape) == 2 else 1  # sequences: [lookback, n_features]
    if isinstance(p, MLPParams):
        # linear output, norm, activation, dropout mask per hidden unit
        return inputs + 4 * sum(p.hidden) + out
    if isinstance(p, CNNParams):
        height, width = (shape[1], shape[2]) if len(shape) == 3 else (1, 1)
        total = inputs + 3 * p.channels[0] * height * width  # stem conv, BN, ReLU
        for i, c in enumerate(p.channels):
            if i:
                height, width = max(1, (height + 1) // 2), max(1, (width + 1) // 2)
            # two convs, two BNs, two ReLUs and the residual sum per block
            total += 7 * p.blocks_per_stage * c * height * width
        return total + p.channels[-1] + out
    if isinstance(p, RNNParams):
        gates = 4 if p.family == "lstm" else 3
        # gate pre-activations, activations and the states per step and layer
        return inputs + steps * p.layers * p.hidden * (2 * gates + 2) + steps * out
    if isinstance(p, TCNParams):
        # two convs, two ReLUs, two dropouts and the sum per block and step
        return inputs + 7 * steps * sum(p.channels) + out
    assert isinstance(p, TransformerParams)
    seq = steps + p.memory_tokens
    per_layer = seq * (10 * p.d_model + 3 * p.ff_dim) + 2 * p.heads * seq * seq
    return inputs + seq * p.d_model * 2 + p.layers * per_layer + out


def memory_estimate(approach: Approach) -> MemoryEstimate:
    return MemoryEstimate(
        parameters=approach.model.parameter_count,
        batch_size=approach.training.batch_size,
        activations_per_sample=activations_per_sample(approach),
    )
