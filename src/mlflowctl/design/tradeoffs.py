"""The trade-offs table and rationale of an approach, from its family's ratings and its size."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlflowctl.families import REGISTRY


def _traits(family: str) -> Mapping[str, tuple[str, str]]:
    """aspect -> (rating, note): the family's standing ratings (``FamilySpec.traits``)."""
    return REGISTRY[family].traits


def rationale(family: str, *, tbptt_chunk: int | None = None, memory_tokens: int = 0) -> str:
    """The family's rationale, saying only what this approach's settings do (issue 12.3).

    ``tbptt_chunk`` is the TBPTT chunk length when truncated BPTT is on, else None.
    """
    text = REGISTRY[family].rationale
    if memory_tokens:
        carry = " carried across chunks" if tbptt_chunk else ""
        text += f" {memory_tokens} learned memory tokens hold context{carry}."
    if tbptt_chunk:
        text += (
            f" Truncated BPTT in chunks of {tbptt_chunk} steps keeps gradients bounded and "
            "activation memory flat."
        )
    elif REGISTRY[family].recurrent:
        text += " Gradients flow back through the whole window (no truncation)."
    return text


def tradeoffs(
    family: str, scale: str = "base", *, tbptt_chunk: int | None = None
) -> list[dict[str, Any]]:
    rows = [
        {"aspect": aspect, "rating": rating, "note": note}
        for aspect, (rating, note) in _traits(family).items()
    ]
    if tbptt_chunk:
        note = f"TBPTT bounds activation memory by the chunk length ({tbptt_chunk} steps)"
        rows = [r for r in rows if r["aspect"] != "memory"]
        rows.append({"aspect": "memory", "rating": "low", "note": note})
    if scale != "base":
        cost = "low" if scale == "small" else "high"
        rows.append({"aspect": "memory", "rating": cost, "note": f"{scale} variant of the family"})
    unique: dict[str, dict[str, Any]] = {}
    for r in rows:
        unique.setdefault(r["aspect"], r)
    return list(unique.values())


_LEVELS = ("low", "medium", "high")


@dataclass(frozen=True)
class Sizing:
    """What the ratings of one approach are computed from.

    ``rank``/``ranks``: the approach's place by parameter count among the design's approaches
    (0 = smallest), so the sizes of one design are rated against each other; ``samples``:
    training samples the data holds (None without data).
    """

    family: str
    scale: str
    params: int
    flops: int
    samples: int | None
    rank: int = 0
    ranks: int = 1


def _relative(s: Sizing) -> str:
    if s.ranks <= 1:
        return "medium"
    return _LEVELS[round(2 * s.rank / (s.ranks - 1))]


def _step(level: str, by: int) -> str:
    return _LEVELS[max(0, min(2, _LEVELS.index(level) + by))]


def grounded_tradeoffs(s: Sizing, *, tbptt_chunk: int | None = None) -> list[dict[str, Any]]:
    """Ratings computed from the approach's size and the data, each saying why."""
    traits = _traits(s.family)
    base = {aspect: rating for aspect, (rating, _) in traits.items()}
    rows: list[dict[str, Any]] = []
    accuracy, why = base["accuracy"], traits["accuracy"][1]
    if s.samples:
        ratio = s.params / s.samples
        if ratio > 10:
            accuracy = _step(accuracy, -1)
            why = f"{s.params:,} parameters for ~{s.samples:,} training samples ({ratio:.0f}x): " \
                  "prone to overfit"  # fmt: skip
        elif ratio < 0.01 and s.scale == "small":
            why = f"{s.params:,} parameters for {s.samples:,} samples: may underfit"
        else:
            why = f"{why}; {ratio:.2g} parameters per training sample"
    rows.append({"aspect": "accuracy", "rating": accuracy, "note": why})
    relative = _relative(s)
    per_epoch = 3 * s.flops * (s.samples or 10_000)
    rows.append(
        {
            "aspect": "training_cost",
            "rating": relative,
            "note": f"about {per_epoch / 1e9:.3g} GFLOP per epoch"
            + ("" if s.samples else " per 10,000 samples"),
        }
    )
    ms = 1000.0 * s.flops / 2e9
    rows.append(
        {
            "aspect": "inference_latency",
            "rating": relative,
            "note": f"{s.flops:,} FLOPs per sample, about {ms:.2g} ms on one CPU core",
        }
    )
    mb = s.params * 16 / 1e6
    if tbptt_chunk:
        note = f"TBPTT bounds activation memory by the chunk length ({tbptt_chunk} steps)"
        rows.append({"aspect": "memory", "rating": "low", "note": note})
    else:
        note = f"weights and optimizer state about {mb:.3g} MB"
        rows.append({"aspect": "memory", "rating": relative, "note": note})
    for aspect in ("interpretability", "robustness"):
        if aspect in traits:
            rating, text = traits[aspect]
            if aspect == "interpretability" and s.rank == 0 and s.ranks > 1:
                rating, text = _step(rating, 1), f"{text}; the smallest variant is the easiest"
            rows.append({"aspect": aspect, "rating": rating, "note": text})
    return rows


_SCALE_WHY = {
    "base": "the family's default size",
    "small": "a narrower, shallower variant: less to overfit and faster to run",
    "compact": "a compact variant at a fraction of the budget",
    "large": "a wider variant: more capacity when the data supports it",
}


def grounded_rationale(s: Sizing, *, tbptt_chunk: int | None = None, memory_tokens: int = 0) -> str:
    """The family's reasoning plus what this size means on this data."""
    text = rationale(s.family, tbptt_chunk=tbptt_chunk, memory_tokens=memory_tokens)
    why = _SCALE_WHY.get(s.scale, s.scale)
    size = f" {why[:1].upper()}{why[1:]}: {s.params:,} parameters"
    if s.samples:
        size += f", {s.params / s.samples:.2g} per training sample"
        if s.params > 10 * s.samples:
            size += " (far more than the data supports; rely on regularisation and early stopping)"
    return text + size + "."
