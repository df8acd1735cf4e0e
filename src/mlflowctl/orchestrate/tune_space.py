"""The blueprint's ``search_space`` as Optuna sees it: check, sample, apply, budget.

A sampled configuration is an approach copy with changed values; the model part is recounted
with the catalog's exact formulas (the same the architect used), so the parameter budget is
checked before anything trains and the copy validates as a Blueprint like any other.
No optuna import at module level: ``trial`` is whatever ``optuna.Trial`` hands in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mlflowctl.blueprint.model import Approach, Blueprint, SearchParam
from mlflowctl.errors import BlueprintError, InvalidInputError
from mlflowctl.families import REGISTRY

INT_PARAMS = frozenset({"batch_size", "hidden", "layers", "d_model", "chunk_length", "lookback"})
#: closed bounds of the float knobs (the Blueprint's own field limits)
FLOAT_BOUNDS = {"lr": (0.0, 10.0), "weight_decay": (0.0, 1.0), "dropout": (0.0, 0.9)}


def _knobs(family: str) -> frozenset[str]:
    """The size knobs a family lets ``tune`` vary (``FamilySpec.tune_knobs``)."""
    spec = REGISTRY.get(family)
    return spec.tune_knobs if spec else frozenset()


@dataclass(frozen=True)
class Objective:
    """The validation metric the search optimizes, and which way."""

    metric: str
    direction: str  # "maximize" | "minimize"
    #: the metric the checkpoint keeps (its epoch is the one the objective is read at)
    monitor: str
    monitor_mode: str


def objective_of(approach: Approach) -> Objective:
    """The gate's metric on the validation split (``test_x`` -> ``val_x``), else the monitor.

    The test split is the gate's; the search only ever reads validation metrics.
    """
    infra = approach.infrastructure
    gate = infra.registry.gate
    ckpt = infra.checkpointing
    val = "val_" + gate.metric.removeprefix("test_").removeprefix("val_")
    if val in infra.tracking.metrics or val == ckpt.monitor:
        return Objective(val, gate.direction, ckpt.monitor, ckpt.mode)
    direction = "maximize" if ckpt.mode == "max" else "minimize"
    return Objective(ckpt.monitor, direction, ckpt.monitor, ckpt.mode)


def _where(i: int, p: SearchParam) -> str:
    return f"training.search_space.params[{i}] ({p.name})"


def check_space(blueprint: Blueprint, approach: Approach, source: str) -> list[SearchParam]:
    """Every problem of the space as one ``BlueprintError`` (exit 2), before anything starts."""
    space = approach.training.search_space
    at = f"{source}: approaches[{approach.name}]"
    if not space.params:
        raise BlueprintError(
            "training.search_space.params is empty: nothing to search",
            hint="add at least one parameter (lr, weight_decay, dropout, ...)",
            location=at,
        )
    family = approach.model.family
    seen: set[str] = set()
    for i, p in enumerate(space.params):
        where = f"{at}.{_where(i, p)}"
        if p.name in seen:
            raise BlueprintError(f"{p.name} is searched twice", location=where)
        seen.add(p.name)
        if p.name == "lookback":
            _check_lookback(approach, p, where)
        if p.name in INT_PARAMS - {
            "batch_size",
            "chunk_length",
            "lookback",
        } and p.name not in _knobs(family):
            have = sorted(_knobs(family) | set(FLOAT_BOUNDS) | {"batch_size"})
            raise BlueprintError(
                f"the {family} family has no parameter {p.name!r}",
                hint=f"{family} can search: {', '.join(have)}",
                location=where,
            )
        if p.name == "chunk_length" and not approach.training.tbptt.enabled:
            raise BlueprintError(
                "chunk_length is searched but this approach does not train with TBPTT",
                hint="enable training.tbptt or drop chunk_length from the search space",
                location=where,
            )
        _check_values(p, where)
    if space.method == "grid" and any(p.kind != "choice" for p in space.params):
        raise BlueprintError(
            "a grid search needs every parameter as a choice",
            hint="use method: tpe, or give each parameter a list of choices",
            location=f"{at}.training.search_space.method",
        )
    return list(space.params)


def _check_lookback(approach: Approach, p: SearchParam, where: str) -> None:
    """The window length: a forecaster's only, never below the horizon, within max_len."""
    model = approach.model
    if model.input.lookback is None or model.output.kind != "forecast":
        raise BlueprintError(
            "lookback (the window length) is searched but this approach is not a forecaster",
            hint="drop lookback from the search space",
            location=where,
        )
    values = [float(c) for c in p.choices] if p.kind == "choice" else [p.low or 0, p.high or 0]
    horizon = model.output.dim
    if min(values) < horizon:
        raise BlueprintError(
            f"lookback reaches down to {min(values):g}, below the horizon {horizon}",
            hint=f"start the range at {horizon} or above",
            location=where,
        )
    max_len = getattr(model.params, "max_len", None)
    if max_len is not None and max(values) > max_len:
        raise BlueprintError(
            f"lookback reaches {max(values):g}, beyond the transformer's max_len {max_len}",
            hint=f"end the range at {max_len} or raise model.params.max_len",
            location=where,
        )


def _check_values(p: SearchParam, where: str) -> None:
    values = list(p.choices) if p.kind == "choice" else [p.low, p.high]
    if p.kind == "choice" and not values:
        raise BlueprintError("empty choice list", location=where)
    if p.kind != "choice":
        low, high = float(p.low or 0.0), float(p.high or 0.0)
        if not low < high:
            raise BlueprintError(
                f"empty or inverted range [{low:g}, {high:g}]",
                hint="low must be below high",
                location=where,
            )
        if p.name in INT_PARAMS and math.ceil(low) > math.floor(high):
            raise BlueprintError(
                f"no integer lies in [{low:g}, {high:g}]", hint="widen the range", location=where
            )
    for v in values:
        value = float(v or 0.0)
        if p.name in INT_PARAMS:
            if p.kind == "choice" and (value != int(value) or value < 1):
                raise BlueprintError(
                    f"{p.name} takes whole numbers of at least 1, got {value:g}", location=where
                )
        else:
            lo, hi = FLOAT_BOUNDS[p.name]
            if not lo <= value <= hi or (p.name == "lr" and value <= 0):
                raise BlueprintError(
                    f"{p.name}={value:g} is outside the allowed range [{lo:g}, {hi:g}]",
                    location=where,
                )
    if p.name in INT_PARAMS and p.kind != "choice" and math.floor(float(p.high or 0)) < 1:
        raise BlueprintError(f"{p.name} must reach at least 1", location=where)


def space_signature(params: list[SearchParam], objective: Objective, method: str) -> str:
    """A stable text of what the study searches (two studies with one name must agree on it)."""
    import json

    return json.dumps(
        {
            "params": [p.model_dump(mode="json") for p in params],
            "objective": objective.metric,
            "direction": objective.direction,
            "method": method,
        },
        sort_keys=True,
    )


def sample(trial: Any, params: list[SearchParam]) -> dict[str, Any]:
    """One configuration from the trial (Optuna's distributions, one per parameter)."""
    out: dict[str, Any] = {}
    for p in params:
        if p.kind == "choice":
            choices = [int(c) if p.name in INT_PARAMS else float(c) for c in p.choices]
            out[p.name] = trial.suggest_categorical(p.name, choices)
            continue
        low, high = float(p.low or 0.0), float(p.high or 0.0)
        log = p.kind == "log_uniform"
        if p.name in INT_PARAMS or p.kind == "int":
            lo, hi = max(1, math.ceil(low)), math.floor(high)
            out[p.name] = trial.suggest_int(p.name, lo, hi, log=log)
        else:
            out[p.name] = trial.suggest_float(p.name, low, high, log=log)
    return out


def apply(blueprint: Blueprint, approach_name: str, values: dict[str, Any]) -> Blueprint:
    """A blueprint whose approach carries ``values``, recounted; ``InvalidInputError`` if the
    combination is not a valid architecture (e.g. d_model not divisible by heads)."""
    from mlflowctl.families import IO, count_params, flops_per_sample, layer_table
    from mlflowctl.families import family as family_spec

    data = blueprint.model_dump(mode="json")
    idx = [a["name"] for a in data["approaches"]].index(approach_name)
    a = data["approaches"][idx]
    model, training, fam = a["model"], a["training"], a["model"]["params"]
    for name, value in values.items():
        if name == "lr":
            training["optimizer"]["lr"] = float(value)
        elif name == "weight_decay":
            training["optimizer"]["weight_decay"] = float(value)
        elif name == "batch_size":
            training["batch_size"] = int(value)
        elif name == "lookback":  # the window: the input shape, hence the parameter count
            model["input"]["shape"][0] = int(value)
            model["input"]["lookback"] = int(value)
            model["input"]["description"] = (
                f"{int(value)} past steps x {model['input']['shape'][1]}"
            )
        elif name == "chunk_length":
            training["tbptt"]["chunk_length"] = int(value)
        elif name == "dropout":
            fam["dropout"] = float(value)
        elif name in ("hidden", "layers", "d_model"):  # the family knows its own shape
            family_spec(model["family"]).set_knob(fam, name, int(value))
    try:
        approach = blueprint.approach(approach_name)
        params_model = type(approach.model.params).model_validate(fam)
        io = IO(tuple(model["input"]["shape"]), int(model["output"]["dim"]))
        model["layers"] = [r.model_dump(mode="json") for r in layer_table(params_model, io)]
        model["parameter_count"] = max(1, count_params(params_model, io))
        model["flops_per_sample"] = max(1, flops_per_sample(params_model, io))
        return Blueprint.from_dict(data, source="sampled configuration")
    except (ValueError, BlueprintError) as exc:
        raise InvalidInputError(f"sampled configuration is not valid: {exc}") from None


def budget_problem(blueprint: Blueprint, approach: Approach, tolerance: float) -> str | None:
    """Why the configuration breaks the requirement's parameter budget, or None."""
    c = blueprint.requirements.constraints
    count = approach.model.parameter_count
    if c.param_budget is None:
        return None
    if c.param_budget_kind == "target":
        if abs(count - c.param_budget) > tolerance * c.param_budget:
            return f"{count} parameters, not within {tolerance:.0%} of the target {c.param_budget}"
        return None
    if count > c.param_budget:
        return f"{count} parameters exceed the budget of {c.param_budget}"
    return None


def defaults(approach: Approach, params: list[SearchParam]) -> dict[str, Any]:
    """The blueprint's own values of the searched parameters that lie in the space: trial 0 of
    a new study, so the search never ends below the designed configuration on validation."""
    fam: Any = approach.model.params
    hidden = getattr(fam, "hidden", None)
    known: dict[str, Any] = {
        "lr": approach.training.optimizer.lr,
        "weight_decay": approach.training.optimizer.weight_decay,
        "batch_size": approach.training.batch_size,
        "dropout": getattr(fam, "dropout", None),
        "hidden": hidden[0] if isinstance(hidden, list) and hidden else hidden,
        "layers": len(hidden) if isinstance(hidden, list) else getattr(fam, "layers", None),
        "d_model": getattr(fam, "d_model", None),
        "chunk_length": approach.training.tbptt.chunk_length,
        "lookback": approach.model.input.lookback,
    }
    out: dict[str, Any] = {}
    for p in params:
        value = known.get(p.name)
        if value is None:
            continue
        if p.name in INT_PARAMS:
            value = int(value)
        if p.kind == "choice":
            if float(value) in [float(c) for c in p.choices]:
                out[p.name] = value if p.name in INT_PARAMS else float(value)
        elif float(p.low or 0.0) <= float(value) <= float(p.high or 0.0):
            out[p.name] = value if p.name in INT_PARAMS else float(value)
    return out
