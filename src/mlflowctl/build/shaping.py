"""Design first, data later: fit a blueprint's shapes to the data a project will train on.

``render.context`` calls ``data_shaped`` before anything is rendered or written, so a blueprint
designed without data (or on other data) gets the input width and class count the rendered
project will really see, and a blueprint that cannot use the data is refused (exit 2).
"""

from __future__ import annotations

from mlflowctl.blueprint.model import Approach, Blueprint
from mlflowctl.errors import BlueprintError, DataError


def _check_kind(task: str, source: str, target: str | None) -> None:
    """A forecaster needs a series, a classifier or regressor a table or images (exit 2)."""
    from mlflowctl.data.sources import parse_source

    try:
        ref = parse_source(source)
        if ref.kind == "builtin":
            kind = "series" if source.startswith("statsmodels:") else "table"
        else:
            from mlflowctl.data.loaders import load_ref

            loaded = load_ref(ref, target, require_target=False)
            kind = "series" if loaded.kind == "series" else "table"
    except DataError:
        return  # unreadable data is build.preflight's to report, with its flag or field
    if (task == "forecasting") != (kind == "series"):
        raise DataError(
            f"a {task} blueprint cannot train on this data: it is a {kind}",
            hint="design a blueprint for this data (mlflowctl design --data ...)"
            if kind == "table"
            else "a series needs a forecasting blueprint (a dated first column makes a series)",
            location=source,
        )


def data_shaped(blueprint: Blueprint, approach: Approach, source: str) -> Approach:
    """The approach with input/output shapes re-derived from the data the project will train on.

    A tabular blueprint designed without data (or on other data) gets the width the rendered
    ``preprocessing.py`` produces on the training split (``mlflowctl.data.layout``), the class
    count of the target, and a parameter count recomputed with the design catalog; a budget the
    new count breaks is a ``BlueprintError`` (exit 2) before anything is written.
    """
    task, model = blueprint.requirements.task, approach.model
    profile = blueprint.data_profile
    target = blueprint.requirements.target or (profile.target if profile else None)
    designed_on = blueprint.requirements.data_source or (profile.source if profile else None)
    if profile is not None and source == designed_on:
        return approach  # designed on this very data: its shapes come from the same layout code
    _check_kind(task, source, target)
    if task == "forecasting" or len(model.input.shape) != 1:
        return approach
    from mlflowctl.data.layout import tabular_layout
    from mlflowctl.families import IO, count_params, flops_per_sample

    training = approach.training
    try:
        layout = tabular_layout(
            source,
            target,
            task,
            seed=training.seed,
            val=training.val_fraction,
            test=training.test_fraction,
        )
    except DataError:
        return approach  # no target or unreadable: build.preflight reports it before this
    if layout.n_features == model.input.shape[0] and layout.output_dim == model.output.dim:
        return approach
    io = IO((layout.n_features,), layout.output_dim)
    count = max(1, count_params(model.params, io))
    budget = blueprint.requirements.constraints
    if budget.param_budget_kind == "max" and budget.param_budget and count > budget.param_budget:
        raise BlueprintError(
            f"on this data ({layout.n_features} input features, {layout.output_dim} outputs) the "
            f"model has {count} parameters, over the budget of {budget.param_budget}",
            hint="design the blueprint with this data (mlflowctl design --data ... --target ...)",
            location="requirements.constraints.param_budget",
        )
    shaped = model.model_copy(
        update={
            "input": model.input.model_copy(update={"shape": [layout.n_features]}),
            "output": model.output.model_copy(update={"dim": layout.output_dim}),
            "parameter_count": count,
            "flops_per_sample": max(1, flops_per_sample(model.params, io)),
        }
    )
    return approach.model_copy(update={"model": shaped})
