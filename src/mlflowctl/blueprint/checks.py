"""Pure checks on one approach that need no data and no device: what a build cannot honour yet,
and how much memory training it takes.

Nothing here imports torch, pandas or mlflow: ``build --dry-run`` and the offline architect use it.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlflowctl.blueprint.model import Approach
from mlflowctl.families import IO, REGISTRY

#: bytes per parameter while training with Adam in fp32: weights 4 + gradients 4 + moments 8
BYTES_PER_PARAM = 16
#: bytes per kept activation element: its fp32 value in the forward pass and its gradient
BYTES_PER_ACTIVATION = 8


#: families whose network FSDP can shard (``FamilySpec.fsdp``): a recurrent layer (LSTM, GRU) is
#: one monolithic cuDNN module whose weights must stay one contiguous block
FSDP_FAMILIES = tuple(name for name, spec in REGISTRY.items() if spec.fsdp)


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
    """Activation elements one sample keeps for the backward pass (the family's estimate)."""
    model = approach.model
    spec = REGISTRY[model.family]
    return int(spec.activations(model.params, IO(tuple(model.input.shape), model.output.dim)))


def memory_estimate(approach: Approach) -> MemoryEstimate:
    return MemoryEstimate(
        parameters=approach.model.parameter_count,
        batch_size=approach.training.batch_size,
        activations_per_sample=activations_per_sample(approach),
    )
