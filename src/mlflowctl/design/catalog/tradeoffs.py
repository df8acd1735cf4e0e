"""What each family is good and bad at: the trade-offs table and rationale of an approach."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TITLES = {
    "mlp": "Multilayer perceptron",
    "cnn": "Small residual CNN",
    "lstm": "LSTM forecaster",
    "gru": "GRU forecaster",
    "tcn": "Temporal convolutional network",
    "transformer": "Transformer encoder",
}

RATIONALE = {
    "mlp": "Dense layers over standardized features are the strong, cheap baseline for tabular "
    "data of this size; dropout and weight decay keep it from memorising small tables.",
    "cnn": "Residual 3x3 convolutions share weights across positions, so a few tens of thousands "
    "of parameters learn strokes and shapes that a dense model must learn per pixel.",
    "lstm": "Gated recurrence keeps a cell state across long windows.",
    "gru": "Two gates instead of three: fewer parameters and faster steps than an LSTM, with "
    "similar accuracy on short univariate series.",
    "tcn": "Dilated causal convolutions see the whole window in parallel: fast to train, stable "
    "gradients, and a receptive field set by depth rather than by recurrence.",
    "transformer": "Self-attention relates every step to every other. Scales best with parameters "
    "and data.",
}

#: aspect -> (rating, note) per family
_TABLE: dict[str, dict[str, tuple[str, str]]] = {
    "mlp": {
        "accuracy": ("medium", "strong on tabular data, ignores spatial or temporal order"),
        "training_cost": ("low", "seconds to minutes on a CPU"),
        "inference_latency": ("low", "a few matrix products"),
        "interpretability": ("medium", "feature attributions (SHAP) work well"),
    },
    "cnn": {
        "accuracy": ("high", "best family for images"),
        "training_cost": ("medium", "convolutions dominate; fine on CPU for small images"),
        "inference_latency": ("low", "one pass, no recurrence"),
        "robustness": ("high", "translation-equivariant features"),
    },
    "lstm": {
        "accuracy": ("high", "strong on long-memory series"),
        "training_cost": ("medium", "sequential over time steps"),
        "inference_latency": ("medium", "one step per input step"),
        "memory": ("medium", "activations kept for every step of the window"),
    },
    "gru": {
        "accuracy": ("medium", "close to LSTM on short series"),
        "training_cost": ("low", "25% fewer weights than an LSTM"),
        "inference_latency": ("medium", "one step per input step"),
        "memory": ("low", "small hidden state"),
    },
    "tcn": {
        "accuracy": ("medium", "good when the receptive field covers the seasonality"),
        "training_cost": ("low", "parallel over time"),
        "inference_latency": ("low", "one parallel pass"),
        "robustness": ("medium", "stable gradients, fixed receptive field"),
    },
    "transformer": {
        "accuracy": ("high", "best with enough data and parameters"),
        "training_cost": ("high", "quadratic attention in the window length"),
        "inference_latency": ("medium", "one pass; cost grows with the window squared"),
        "memory": ("high", "attention maps and optimizer state"),
    },
}


def rationale(family: str, *, tbptt_chunk: int | None = None, memory_tokens: int = 0) -> str:
    """The family's rationale, saying only what this approach's settings do (issue 12.3).

    ``tbptt_chunk`` is the TBPTT chunk length when truncated BPTT is on, else None.
    """
    text = RATIONALE[family]
    if family == "transformer" and memory_tokens:
        carry = " carried across chunks" if tbptt_chunk else ""
        text += f" {memory_tokens} learned memory tokens hold context{carry}."
    if tbptt_chunk:
        text += (
            f" Truncated BPTT in chunks of {tbptt_chunk} steps keeps gradients bounded and "
            "activation memory flat."
        )
    elif family in ("lstm", "gru"):
        text += " Gradients flow back through the whole window (no truncation)."
    return text


def tradeoffs(
    family: str, scale: str = "base", *, tbptt_chunk: int | None = None
) -> list[dict[str, Any]]:
    rows = [
        {"aspect": aspect, "rating": rating, "note": note}
        for aspect, (rating, note) in _TABLE[family].items()
    ]
    if tbptt_chunk and family in ("lstm", "gru", "transformer"):
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
    base = {aspect: rating for aspect, (rating, _) in _TABLE[s.family].items()}
    rows: list[dict[str, Any]] = []
    accuracy, why = base["accuracy"], _TABLE[s.family]["accuracy"][1]
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
    if tbptt_chunk and s.family in ("lstm", "gru", "transformer"):
        note = f"TBPTT bounds activation memory by the chunk length ({tbptt_chunk} steps)"
        rows.append({"aspect": "memory", "rating": "low", "note": note})
    else:
        note = f"weights and optimizer state about {mb:.3g} MB"
        rows.append({"aspect": "memory", "rating": relative, "note": note})
    for aspect in ("interpretability", "robustness"):
        if aspect in _TABLE[s.family]:
            rating, text = _TABLE[s.family][aspect]
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
    size = f" {_SCALE_WHY.get(s.scale, s.scale)}: {s.params:,} parameters"
    if s.samples:
        size += f", {s.params / s.samples:.2g} per training sample"
        if s.params > 10 * s.samples:
            size += " (far more than the data supports; rely on regularisation and early stopping)"
    return text + size + "."
