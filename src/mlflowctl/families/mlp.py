"""Tabular (or flattened) MLP: ``MLPParams`` below defines the architecture."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import Field

from mlflowctl.blueprint.types import Activation, FamilyParamsBase, FiniteFloat, LayerSpec, Norm
from mlflowctl.families._common import IO, FamilySpec, Hints, linear, row, widths


class MLPParams(FamilyParamsBase):
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


def layers(p: MLPParams, io: IO) -> list[LayerSpec]:
    rows = []
    prev = io.flat
    if len(io.shape) > 1:
        rows.append(row("flatten", "Flatten", f"{list(io.shape)} -> {prev}", 0))
    for i, h in enumerate(p.hidden):
        rows.append(row(f"hidden[{i}].linear", "Linear", f"{prev} -> {h}", linear(prev, h)))
        if p.norm != "none":
            kind = "BatchNorm1d" if p.norm == "batchnorm" else "LayerNorm"
            rows.append(row(f"hidden[{i}].norm", kind, f"{h}", 2 * h))
        rows.append(row(f"hidden[{i}].act", p.activation, f"{h}", 0))
        prev = h
    rows.append(row("head", "Linear", f"{prev} -> {io.output_dim}", linear(prev, io.output_dim)))
    return rows


def flops(p: MLPParams, io: IO) -> int:
    macs, prev = 0, io.flat
    for h in p.hidden:
        macs += prev * h
        prev = h
    macs += prev * io.output_dim
    return 2 * macs


def candidates(io: IO, *, depth: int = 2) -> Iterator[MLPParams]:
    """Widths 4..4096 in small steps, halving per layer (``[w, w/2]`` for depth 2)."""
    for w in widths(2, 8192):
        hidden = [max(1, w >> i) for i in range(depth)]
        yield MLPParams.model_construct(hidden=hidden, activation="gelu", norm="none", dropout=0.1)


def defaults(io: IO, h: Hints) -> tuple[MLPParams, dict[str, Any]]:
    """Width by data size (64 under 1,000 rows, else 128), halving per layer; two layers."""
    width = 32 if h.small else (256 if h.big else (64 if (h.rows or 0) < 1000 else 128))
    depth = 1 if h.scale in ("small", "compact") else (3 if h.big else 2)
    hidden = [max(8, width >> i) for i in range(depth)]
    dropout = 0.2 if (h.rows or 10_000) < 1000 else 0.1
    return MLPParams(hidden=hidden, activation="gelu", dropout=dropout), {"depth": depth}


def activations(p: MLPParams, io: IO) -> int:
    """Linear output, norm, activation and dropout mask per hidden unit."""
    return io.flat + 4 * sum(p.hidden) + io.output_dim


def set_knob(params: dict[str, Any], name: str, value: int) -> None:
    """``hidden``: every layer that wide; ``layers``: that many layers of the first width."""
    if name == "hidden":
        params["hidden"] = [value] * len(params["hidden"])
    elif name == "layers":
        params["hidden"] = [params["hidden"][0]] * value
    else:
        params[name] = value


def uses_batchnorm(params: Mapping[str, Any]) -> bool:
    return params.get("norm") == "batchnorm"


FAMILIES = (
    FamilySpec(
        name="mlp",
        params=MLPParams,
        template_kind="mlp",
        layers=layers,
        flops=flops,
        candidates=candidates,
        defaults=defaults,
        modalities=("tabular", "image", "sequence"),
        activations=activations,
        order=10,
        aliases=r"\bmlps?\b|multi[- ]?layer perceptron|feed[- ]?forward|fully[- ]connected",
        title="Multilayer perceptron",
        rationale="Dense layers over standardized features are the strong, cheap baseline for "
        "tabular data of this size; dropout and weight decay keep it from memorising small tables.",
        traits={
            "accuracy": ("medium", "strong on tabular data, ignores spatial or temporal order"),
            "training_cost": ("low", "seconds to minutes on a CPU"),
            "inference_latency": ("low", "a few matrix products"),
            "interpretability": ("medium", "feature attributions (SHAP) work well"),
        },
        fsdp=True,
        uses_batchnorm=uses_batchnorm,
        tune_knobs=frozenset({"hidden", "layers"}),
        set_knob=set_knob,
    ),
)
