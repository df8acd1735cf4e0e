"""What a family module declares (``FamilySpec``), the I/O it is sized for, and table helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlflowctl.blueprint.types import LayerSpec


@dataclass(frozen=True)
class IO:
    """What one sample looks like going in and coming out, as the formulas need it.

    ``shape`` follows ``InputSpec.shape``: ``[n_features]`` (tabular), ``[C, H, W]`` (image) or
    ``[lookback, n_features]`` (sequence).
    """

    shape: tuple[int, ...]
    output_dim: int

    @property
    def flat(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def steps(self) -> int:
        """Time steps of a sequence sample (1 for non-sequences)."""
        return self.shape[0] if len(self.shape) == 2 else 1

    @property
    def channels(self) -> int:
        """Features per time step of a sequence, channels of an image."""
        return self.shape[-1] if len(self.shape) == 2 else self.shape[0]


def row(name: str, kind: str, shape: str, params: int) -> LayerSpec:
    """A layer-table row; unvalidated here (sizing builds thousands), the Blueprint checks it."""
    return LayerSpec.model_construct(name=name, kind=kind, shape=shape, params=params)


def linear(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def widths(low: int, high: int) -> list[int]:
    """Sizes to search: every integer up to 128, then steps of 4 to 512, then steps of 16.

    Counts grow with the square of a width, so the grid must be finest where a step of one is
    still a large relative change.
    """
    out = list(range(low, min(high, 128) + 1))
    out += range(max(low, 132), min(high, 512) + 1, 4)
    out += range(max(low, 528), high + 1, 16)
    return out


@dataclass(frozen=True)
class Hints:
    """What the planner knows when it picks a family's default size (before any budget)."""

    #: ``small``, ``compact``, ``base`` or ``large``
    scale: str = "base"
    #: a small model is wanted (a small/compact variant, or a latency bound)
    small: bool = False
    #: training rows (or series length), when profiled
    rows: int | None = None
    #: memory slots asked for (a memory-based requirement)
    memory: int = 0
    #: a forecast on a series shorter than 1,000 steps
    short_series: bool = False

    @property
    def big(self) -> bool:
        return self.scale == "large"


def _no_batchnorm(params: Mapping[str, Any]) -> bool:
    return False


def _no_problems(params: Any, io: IO) -> list[str]:
    return []


def _set_knob(params: dict[str, Any], name: str, value: int) -> None:
    params[name] = value


@dataclass(frozen=True)
class FamilySpec:
    """Everything mlflowctl knows about one model family, declared once in its module.

    The Blueprint's closed sets (names, template kinds, the ``FamilyParams`` union), the catalog
    (counts, FLOPs, sizing), the requirement reader (``aliases``), the critic (modality fit,
    TBPTT), the planner (defaults, title, rationale, ratings), the renderer (template folder,
    BatchNorm, FSDP) and the tuner (``tune_knobs``) read these fields instead of naming families.
    """

    name: str
    #: the family's ``*Params`` class (a ``FamilyParamsBase`` whose docstring is the architecture)
    params: type[Any]
    #: folder under ``templates/`` holding its ``model.py.j2``
    template_kind: str
    layers: Callable[[Any, IO], list[LayerSpec]]
    flops: Callable[[Any, IO], int]
    #: configurations from small to large (what budget sizing searches)
    candidates: Callable[..., Iterable[Any]]
    #: modalities it reads, in order of preference
    modalities: tuple[str, ...]
    #: activation elements one sample keeps for the backward pass, for this I/O
    activations: Callable[[Any, IO], int]
    #: place in the Blueprint's family list (and the order designs offer ties in)
    order: int = 100
    #: what the prompt calls it (a regular expression over the lower-cased prompt)
    aliases: str = ""
    #: the Architecture Proposal's name for it, and why it suits its modalities
    title: str = ""
    rationale: str = ""
    #: its standing ratings: aspect -> (low/medium/high, why)
    traits: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    #: reads windows of time steps (sequence defaults: gradient clipping)
    sequence: bool = False
    #: carries a hidden state across chunks, so truncated BPTT applies without extra memory
    recurrent: bool = False
    #: FSDP can shard it (its large blocks are separate submodules)
    fsdp: bool = False
    #: whether a configuration holds BatchNorm layers (DDP then syncs their statistics)
    uses_batchnorm: Callable[[Mapping[str, Any]], bool] = _no_batchnorm
    #: size knobs ``tune`` may vary (``hidden``, ``layers``, ``d_model``), and how one is set on
    #: the params as JSON (the default assigns the field of that name)
    tune_knobs: frozenset[str] = frozenset()
    set_knob: Callable[[dict[str, Any], str, int], None] = _set_knob
    #: the highest Adam learning rate the planner gives it (None: the task's default)
    lr_cap: float | None = None
    #: what truncated BPTT carries from one chunk to the next (empty: it carries nothing)
    tbptt_carry: str = ""
    #: what the critic reports about a configuration for this input: ``"<params field>: why"``
    problems: Callable[[Any, IO], list[str]] = _no_problems
    #: the planner's default configuration for an input and its hints, and the options
    #: ``candidates`` takes to search the same shape of model under a parameter budget (None:
    #: the smallest catalog configuration)
    defaults: Callable[[IO, Hints], tuple[Any, dict[str, Any]]] | None = None

    #: ``count_params`` = sum of the layer table
    def count(self, params: Any, io: IO) -> int:
        return sum(r.params for r in self.layers(params, io))
