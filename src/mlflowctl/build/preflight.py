"""What ``build`` (and the pipeline's build phase) checks before a file is written or a run made.

* the data source obeys the data-roots rule wherever it comes from: ``--data``, the blueprint's
  ``data_source``/profile, or an existing project's ``config.yaml`` on ``--resume`` (X7);
* a data file can be split and learned: enough rows for the splits, every class in each split,
  finite values (X17);
* the model, its gradients, Adam state and one batch of activations fit the device (X8);
* which blueprint settings the rendered project cannot honour yet (issue 12.3): returned as
  warning lines for the caller to print and report.

Raises ``InvalidInputError`` subclasses (exit 2). Heavy modules (pandas, sklearn) are imported
only to read a data *file*; built-in data sets are known good and are not loaded here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from mlflowctl.blueprint.checks import gib, memory_estimate, unhonoured_fields
from mlflowctl.blueprint.model import Approach, Blueprint
from mlflowctl.data.loaded import LoadedData, feeds
from mlflowctl.errors import BlueprintError, DataError


def preflight(
    blueprint: Blueprint,
    approach: str | None,
    *,
    data: str | None = None,
    accelerator: str = "auto",
    train: bool = True,
    project_root: Path | None = None,
) -> list[str]:
    """Run the checks; return the ``unhonoured_fields`` warnings of the approach."""
    chosen = blueprint.approach(approach)
    check_parameter_counts(blueprint)
    check_gate_directions(blueprint)
    if project_root is not None:
        source = _config_source(project_root)
        where = f"{project_root / 'config.yaml'}: data.source"
    else:
        source = _source(blueprint, data)
        where = "--data" if data else "requirements.data_source"
    loaded = None
    if source is not None:
        loaded = check_data(blueprint, chosen, source, where=where, load=project_root is None)
    if train:
        check_fits(chosen, accelerator)
    return unhonoured_fields(chosen) + named_inputs(blueprint, loaded)


def named_inputs(blueprint: Blueprint, data: LoadedData | None) -> list[str]:
    """The input columns the prompt named (``requirements.constraints.features_named``) that the
    model will not see: absent from this data, or dropped by its preprocessing (identifier-like
    or constant). Every other column of a table is an input, so a named one present is used."""
    named = blueprint.requirements.constraints.features_named
    if not named or data is None or data.kind != "tabular":
        return []
    out = []
    for name in named:
        if name not in data.dtypes or name == data.target:
            out.append(
                f"requirements.constraints.features_named: the prompt names '{name}' as an "
                f"input, but {data.source} has no such input column: the model does not see it"
            )
        elif not feeds(name, data.feature_names):
            out.append(
                f"requirements.constraints.features_named: '{name}' is dropped by the "
                "preprocessing (identifier-like or constant in this data): the model does not "
                "see it"
            )
    return out


def check_parameter_counts(blueprint: Blueprint) -> None:
    """Every approach's ``parameter_count`` equals the catalog's exact count of its params (X8)."""
    from mlflowctl.families import IO, count_params

    for i, a in enumerate(blueprint.approaches):
        m = a.model
        exact = max(1, count_params(m.params, IO(tuple(m.input.shape), m.output.dim)))
        if exact != m.parameter_count:
            raise BlueprintError(
                f"parameter_count is {m.parameter_count} but the architecture has {exact} "
                "parameters (recomputed from params, input and output with the catalog's formula)",
                hint="fix the layer sizes or the count (mlflowctl design recomputes it)",
                location=f"approaches.{i}.model.parameter_count",
            )


def check_gate_directions(blueprint: Blueprint) -> None:
    """A gate's direction agrees with its metric's (MASE is minimised, accuracy maximised)."""
    from mlflowctl.blueprint import metrics

    for i, a in enumerate(blueprint.approaches):
        gate = a.infrastructure.registry.gate
        if gate.metric in metrics.BY_NAME and metrics.direction(gate.metric) != gate.direction:
            raise BlueprintError(
                f"gate direction {gate.direction!r} contradicts {gate.metric}, which is "
                f"{metrics.direction(gate.metric)}d",
                hint=f"set direction: {metrics.direction(gate.metric)}",
                location=f"approaches.{i}.infrastructure.registry.gate.direction",
            )


def _source(blueprint: Blueprint, data: str | None) -> str | None:
    source = data or blueprint.requirements.data_source
    if not source and blueprint.data_profile is not None:
        source = blueprint.data_profile.source
    return source or None


def _config_source(root: Path) -> str | None:
    import yaml

    try:
        cfg = yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))
        source = cfg["data"]["source"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None  # open_project reports an unreadable config
    return source if isinstance(source, str) else None


def check_data(
    blueprint: Blueprint, approach: Approach, source: str, *, where: str, load: bool = True
) -> LoadedData | None:
    """The data-roots rule, then (for files, when ``load``) whether the data can be trained on;
    the loaded file, None for a built-in set or when not loaded."""
    from mlflowctl.data.sources import parse_source

    try:
        ref = parse_source(source)
    except DataError as exc:
        exc.location = f"{where} ({source})" if exc.location in (None, "--data") else exc.location
        raise
    if ref.kind != "file" or not load:
        return None
    from mlflowctl.data.trainable import check_trainable

    profile = blueprint.data_profile
    target = blueprint.requirements.target or (profile.target if profile else None)
    return check_trainable(
        ref,
        target,
        task=blueprint.requirements.task,
        val_fraction=approach.training.val_fraction,
        test_fraction=approach.training.test_fraction,
        seed=approach.training.seed,
        lookback=approach.model.input.lookback or approach.model.input.shape[0],
        horizon=approach.model.output.dim,
    )


def check_fits(approach: Approach, accelerator: str = "auto") -> None:
    """Refuse a model whose training state and one batch of activations exceed the device."""
    estimate = memory_estimate(approach)
    device, capacity = device_memory(accelerator)
    if capacity is None or estimate.total_bytes <= capacity:
        return
    raise BlueprintError(
        f"the model does not fit: training needs about {estimate.line()}; "
        f"the {device} is {gib(capacity)}",
        hint="choose a smaller model or batch (model.params, training.batch_size)",
        location="model.params",
        details={
            "estimate_bytes": estimate.total_bytes,
            "parameter_count": estimate.parameters,
            "device": device,
            "capacity_bytes": capacity,
        },
    )


def device_memory(accelerator: str = "auto") -> tuple[str, int | None]:
    """(what, bytes): the first GPU's memory when one is used, else the available RAM."""
    if accelerator != "cpu":
        gpu = _gpu_memory()
        if gpu is not None:
            return "GPU memory", gpu
    return "available RAM", _available_ram()


def _gpu_memory() -> int | None:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run(
            [smi, "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
        return int(out.split()[0]) * 2**20
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def _available_ram() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return None


def report(warnings: list[str]) -> dict[str, Any]:
    """The JSON summary's part: which blueprint fields the build did not honour."""
    return {"unhonoured": list(warnings)}
