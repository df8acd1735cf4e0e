"""The model families, one module each, and the catalog over them: counts, FLOPs, sizing.

A family is declared once, in ``families/<name>.py``: its ``*Params`` class (whose docstring is
the exact architecture the template implements), its layer table, FLOPs, sizes, defaults, words
and ratings, in a ``FamilySpec``. This package discovers the modules; the Blueprint's closed sets,
the architect, the renderer and the tuner read the registry. ``tests/test_catalog.py`` builds
each family in PyTorch and checks the count exactly. The parameter count is the sum of the layer
table, so the table a person reads and the count the budget check uses cannot drift apart.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from mlflowctl.blueprint.types import FamilyParamsBase, LayerSpec
from mlflowctl.families._common import IO, FamilySpec, Hints

__all__ = [
    "FAMILIES",
    "IO",
    "REGISTRY",
    "AnyParams",
    "FamilySpec",
    "Hints",
    "count_params",
    "family",
    "flops_per_sample",
    "layer_table",
    "register",
    "size_for_budget",
    "template_kind",
    "unregister",
]

AnyParams = FamilyParamsBase

#: every family, by name: each catalog module declares its own in a ``FAMILIES`` tuple
REGISTRY: dict[str, FamilySpec] = {}
#: which families can read which modality (the critic's consistency check)
FAMILIES_FOR_MODALITY: dict[str, tuple[str, ...]] = {}
FAMILIES: tuple[str, ...] = ()


def register(spec: FamilySpec) -> None:
    """Add (or replace) a family; the derived views are rebuilt so every consumer sees it."""
    REGISTRY[spec.name] = spec
    _rebuild()


def unregister(name: str) -> None:
    REGISTRY.pop(name, None)
    _rebuild()


def _rebuild() -> None:
    global FAMILIES
    FAMILIES = tuple(REGISTRY)
    FAMILIES_FOR_MODALITY.clear()
    for modality in ("tabular", "image", "sequence", "text"):
        FAMILIES_FOR_MODALITY[modality] = tuple(
            name for name, f in REGISTRY.items() if modality in f.modalities
        )


def _discover() -> None:
    """Import every family module and register what it declares, in ``FamilySpec.order``."""
    found: list[FamilySpec] = []
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            found.extend(getattr(module, "FAMILIES", ()))
    for spec in sorted(found, key=lambda f: (f.order, f.name)):
        register(spec)


def family(name: str) -> FamilySpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown family {name!r}; known: {', '.join(REGISTRY)}") from None


def families(*, sequence: bool | None = None, recurrent: bool | None = None) -> tuple[str, ...]:
    """Family names with the given flags, in registry order."""
    return tuple(
        name
        for name, f in REGISTRY.items()
        if (sequence is None or f.sequence == sequence)
        and (recurrent is None or f.recurrent == recurrent)
    )


def template_kind(family_name: str) -> str:
    return family(family_name).template_kind


def _spec_of(params: Any) -> FamilySpec:
    name = getattr(params, "family", None)
    if isinstance(name, str) and name in REGISTRY:
        return REGISTRY[name]
    for spec in REGISTRY.values():
        if isinstance(params, spec.params):
            return spec
    raise ValueError(f"no family takes {type(params).__name__}")


def layer_table(params: AnyParams, io: IO) -> list[LayerSpec]:
    return _spec_of(params).layers(params, io)


def count_params(params: AnyParams, io: IO) -> int:
    """Exact trainable parameter count (what ``sum(p.numel() ...)`` gives on the built model)."""
    return sum(r.params for r in layer_table(params, io))


def flops_per_sample(params: AnyParams, io: IO) -> int:
    """2 x the multiply-accumulates of one forward pass over one sample."""
    return _spec_of(params).flops(params, io)


def candidates(family_name: str, io: IO, **opts: Any) -> Iterable[AnyParams]:
    """Configurations of one family from small to large, the order sizing searches in."""
    return family(family_name).candidates(io, **opts)


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


_discover()
