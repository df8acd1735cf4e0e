"""The catalog of model families: exact parameter counts, FLOPs, layer tables, sizing.

Every number here follows the architecture written on the family's ``*Params`` class in
``blueprint.py`` (the templates implement the same definition); ``tests/test_catalog.py`` builds
each family in PyTorch and checks the count exactly. The parameter count is the sum of the layer
table, so the table a person reads and the count the budget check uses cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from mlflowctl.blueprint.model import (
    FAMILY_TEMPLATE_KIND,
    CNNParams,
    LayerSpec,
    MLPParams,
    RNNParams,
    TCNParams,
    TransformerParams,
)
from mlflowctl.design.catalog import cnn, mlp, rnn, tcn, transformer
from mlflowctl.design.catalog._common import IO

__all__ = [
    "FAMILIES",
    "IO",
    "AnyParams",
    "count_params",
    "flops_per_sample",
    "layer_table",
    "size_for_budget",
    "template_kind",
]

AnyParams = MLPParams | CNNParams | RNNParams | TCNParams | TransformerParams
FAMILIES = ("mlp", "cnn", "lstm", "gru", "tcn", "transformer")
#: which families can read which modality (the critic's consistency check)
FAMILIES_FOR_MODALITY: dict[str, tuple[str, ...]] = {
    "tabular": ("mlp",),
    "image": ("cnn", "mlp"),
    "sequence": ("lstm", "gru", "tcn", "transformer", "mlp"),
    "text": ("transformer", "lstm", "gru", "tcn"),
}


def template_kind(family: str) -> str:
    return FAMILY_TEMPLATE_KIND[family]


def layer_table(params: AnyParams, io: IO) -> list[LayerSpec]:
    if isinstance(params, MLPParams):
        return mlp.layers(params, io)
    if isinstance(params, CNNParams):
        return cnn.layers(params, io)
    if isinstance(params, RNNParams):
        return rnn.layers(params, io)
    if isinstance(params, TCNParams):
        return tcn.layers(params, io)
    return transformer.layers(params, io)


def count_params(params: AnyParams, io: IO) -> int:
    """Exact trainable parameter count (what ``sum(p.numel() ...)`` gives on the built model)."""
    return sum(r.params for r in layer_table(params, io))


def flops_per_sample(params: AnyParams, io: IO) -> int:
    """2 x the multiply-accumulates of one forward pass over one sample."""
    if isinstance(params, MLPParams):
        return mlp.flops(params, io)
    if isinstance(params, CNNParams):
        return cnn.flops(params, io)
    if isinstance(params, RNNParams):
        return rnn.flops(params, io)
    if isinstance(params, TCNParams):
        return tcn.flops(params, io)
    return transformer.flops(params, io)


def candidates(family: str, io: IO, **opts: Any) -> Iterable[AnyParams]:
    """Configurations of one family from small to large, the order sizing searches in."""
    if family == "mlp":
        return mlp.candidates(io, **opts)
    if family == "cnn":
        return cnn.candidates(io, **opts)
    if family in ("lstm", "gru"):
        return rnn.candidates(io, family="lstm" if family == "lstm" else "gru", **opts)
    if family == "tcn":
        return tcn.candidates(io, **opts)
    if family == "transformer":
        return transformer.candidates(io, **opts)
    raise ValueError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")


def size_for_budget(
    family: str,
    io: IO,
    budget: int,
    kind: Literal["max", "target"] = "target",
    **opts: Any,
) -> AnyParams | None:
    """The configuration that best meets a parameter budget, or None when none can.

    ``max``: the largest configuration whose count stays at or under ``budget``; ``target``: the
    configuration whose count is closest to ``budget`` (ties go to the smaller model).
    """
    best: AnyParams | None = None
    best_key: tuple[int, int] | None = None
    for p in candidates(family, io, **opts):
        n = count_params(p, io)
        if kind == "max":
            if n <= budget and (best_key is None or n > best_key[1]):
                best, best_key = p, (0, n)
        else:
            key = (abs(n - budget), n)
            if best_key is None or key < best_key:
                best, best_key = p, key
    # candidates are built unvalidated for speed; the chosen one is checked here
    return None if best is None else type(best).model_validate(best.model_dump())


def smallest(family: str, io: IO, **opts: Any) -> int:
    """Parameter count of the family's smallest catalog configuration for this I/O."""
    return min(count_params(p, io) for p in _first(candidates(family, io, **opts), 1))


def _first(items: Iterable[AnyParams], n: int) -> Sequence[AnyParams]:
    out: list[AnyParams] = []
    for p in items:
        out.append(p)
        if len(out) >= n:
            break
    return out
