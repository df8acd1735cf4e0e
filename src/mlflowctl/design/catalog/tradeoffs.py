"""What each family is good and bad at: the trade-offs table and rationale of an approach."""

from __future__ import annotations

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
