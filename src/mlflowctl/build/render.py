"""Blueprint -> typed render context -> ``{relative path: text}``. Pure: nothing is written here.

Blueprint values may come from an LLM, so they reach generated code only in three checked ways:
``pylit`` (the ``ascii()``/``repr()`` of a checked scalar), ``pyident`` (an ASCII identifier) and
``token`` (a strict ASCII word, for Markdown and requirements). Everything else the project needs
goes into ``config.yaml``, written by ``yaml.safe_dump`` of a checked dict and read at run time;
free text (titles, summaries) never reaches a ``.py`` file at all.
"""

from __future__ import annotations

import keyword
import math
import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

from mlflowctl.blueprint import metrics
from mlflowctl.blueprint.checks import FSDP_FAMILIES
from mlflowctl.blueprint.model import Approach, Blueprint, EarlyStoppingSpec, TrainingSpec
from mlflowctl.build.shaping import data_shaped
from mlflowctl.design.catalog import family as family_spec
from mlflowctl.errors import BlueprintError, CodegenError
from mlflowctl.specs.policy import EngineerPolicy

#: rendered path -> template (``{kind}`` is the approach's template kind)
TEMPLATE_FILES: dict[str, str] = {
    "model.py": "{kind}/model.py.j2",
    "data.py": "_common/data.py.j2",
    "preprocessing.py": "_common/preprocessing.py.j2",
    "predict.py": "_common/predict.py.j2",
    "train.py": "_common/train.py.j2",
    "evaluate.py": "_common/evaluate.py.j2",
    "baselines.py": "_common/baselines.py.j2",
    "reference.py": "_common/reference.py.j2",
    "README.md": "_common/README.md.j2",
    "requirements.txt": "_common/requirements.txt.j2",
    ".claude/tasks/ml-engineer-tasks.md": "_common/tasks.md.j2",
}
#: validation metrics each task logs (the metrics table); a monitor outside these -> val_loss
VAL_METRICS: dict[str, tuple[str, ...]] = {
    task: tuple(metrics.names(task, stage="val")) for task in metrics.TASKS
}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,79}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,79}$")
_BUILTIN = re.compile(r"^(sklearn|statsmodels):")


# --------------------------------------------------------------------------- filters


def pylit(value: object) -> str:
    """A Python literal of a checked scalar; strings come out pure ASCII."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CodegenError(f"refusing to render a non-finite number ({value!r})")
        return repr(value)
    if isinstance(value, str):
        literal = ascii(value)
        if literal.startswith("'") and '"' not in value:  # no quote inside: use double quotes
            literal = f'"{literal[1:-1]}"'
        return literal
    raise CodegenError(f"refusing to render a {type(value).__name__} as a literal")


def pyident(value: object) -> str:
    """An ASCII Python identifier (closed-set names: families, approaches, tasks)."""
    if not isinstance(value, str) or not _IDENT.match(value) or keyword.iskeyword(value):
        raise CodegenError(f"refusing to render {value!r} as an identifier")
    return value


def token(value: object) -> str:
    """A strict ASCII word for Markdown and requirements (ids, dates, package names)."""
    if not isinstance(value, str) or not _TOKEN.match(value):
        raise CodegenError(f"refusing to render {value!r} as a token")
    return value


@cache
def environment() -> Any:
    """The one jinja2 Environment: strict undefined, no autoescape, only our filters."""
    import jinja2

    from mlflowctl.resources import templates_dir

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    env.filters.clear()
    env.filters.update({"pylit": pylit, "pyident": pyident, "token": token})
    return env


# --------------------------------------------------------------------------- context


@dataclass(frozen=True)
class RenderContext:
    """Everything the templates may see; every field is checked before it gets here."""

    blueprint_id: str
    approach: str
    family: str
    template_kind: str
    task: str
    parameter_count: int
    max_epochs: int
    rendered_on: str
    extra_requirements: tuple[str, ...]
    config: dict[str, Any] = field(default_factory=dict)

    def variables(self) -> dict[str, Any]:
        return {
            "blueprint_id": self.blueprint_id,
            "approach": self.approach,
            "family": self.family,
            "template_kind": self.template_kind,
            "task": self.task,
            "parameter_count": self.parameter_count,
            "max_epochs": self.max_epochs,
            "rendered_on": self.rendered_on,
            "extra_requirements": list(self.extra_requirements),
            "distributed": self._distributed(),
        }

    def _distributed(self) -> dict[str, Any]:
        """README's scale section: the devices, strategy and batches config.yaml states."""
        dist = self.config.get("training", {}).get("distributed")
        if not dist:  # a bare context (tests): one device
            return {"strategy": "auto", "devices": 1, "num_nodes": 1, "accumulate": 1,
                    "effective_batch_size": 1}  # fmt: skip
        return {
            "strategy": dist["strategy"],
            "devices": dist["devices"],
            "num_nodes": dist["num_nodes"],
            "accumulate": dist["accumulate_grad_batches"],
            "effective_batch_size": dist["effective_batch_size"],
        }


def data_source(blueprint: Blueprint, data: str | None = None) -> str:
    """The source to train on: ``--data``, else the requirement's, else the profiled one."""
    source = data or blueprint.requirements.data_source
    if not source and blueprint.data_profile is not None:
        source = blueprint.data_profile.source
    if not source:
        raise BlueprintError(
            "the blueprint names no data source",
            hint="pass --data SOURCE (e.g. sklearn:digits or a CSV file)",
            location="requirements.data_source",
        )
    return source


def _requirements(source: str) -> tuple[str, ...]:
    if source.startswith("statsmodels:"):
        return ("statsmodels",)
    lowered = source.lower()
    if lowered.endswith(".parquet"):
        return ("pyarrow",)
    return ()


#: below this many FLOPs per batch a CPU step is too small to gain from a second thread
_ONE_THREAD_FLOPS = 2e9


def cpu_threads(flops_per_sample: int, batch_size: int) -> int | None:
    """1 for small models (thread synchronisation costs more than it saves), else torch's default.

    Measured on the 2-core CI box: a 44k-parameter CNN on 8x8 digits took 0.66 s per epoch on
    one thread and 0.9-20 s on two, depending on how busy the other core was.
    """
    return 1 if flops_per_sample * batch_size < _ONE_THREAD_FLOPS else None


#: collectives (all-reduce, broadcast) wait this long for a missing rank before the job fails
COLLECTIVE_TIMEOUT_S = 600
#: FSDP wraps every submodule with at least this many parameters as one shard unit
FSDP_WRAP_MIN_PARAMS = 1_000_000
#: blueprint strategy -> Lightning strategy the project runs (deepspeed is not rendered: ddp)
LIGHTNING_STRATEGY = {"none": "auto", "ddp": "ddp", "fsdp": "fsdp", "deepspeed": "ddp"}


def has_batchnorm(family: str, params: dict[str, Any]) -> bool:
    """Whether the family's network holds BatchNorm layers (then DDP syncs their statistics)."""
    return family == "cnn" or (family == "mlp" and params.get("norm") == "batchnorm")


def distributed_config(approach: Approach) -> dict[str, Any]:
    """config.yaml ``training.distributed``: what the Trainer gets (flags may override it)."""
    d, training = approach.training.distributed, approach.training
    params = approach.model.params.model_dump(mode="json")
    return {
        "strategy": LIGHTNING_STRATEGY[d.strategy],
        "devices": d.devices,
        "num_nodes": d.num_nodes,
        "accumulate_grad_batches": d.gradient_accumulation,
        "sync_batchnorm": has_batchnorm(approach.model.family, params),
        # samples per optimizer step: per-device batch x devices x nodes x accumulation
        "effective_batch_size": training.batch_size
        * d.devices
        * d.num_nodes
        * d.gradient_accumulation,
        "timeout_s": COLLECTIVE_TIMEOUT_S,
        "fsdp_wrap_min_params": FSDP_WRAP_MIN_PARAMS,
        "fsdp_families": list(FSDP_FAMILIES),
    }


def project_config(
    blueprint: Blueprint, approach: Approach, source: str, policy: EngineerPolicy, rendered_on: str
) -> dict[str, Any]:
    """config.yaml: every value the generated code reads, from the blueprint and the policy."""
    task, model, training = blueprint.requirements.task, approach.model, approach.training
    shape = list(model.input.shape)
    kind = "series" if task == "forecasting" else ("image" if len(shape) == 3 else "tabular")
    profile = blueprint.data_profile
    target = blueprint.requirements.target or (profile.target if profile else None)
    monitor = training.early_stopping.monitor
    if monitor not in VAL_METRICS[task]:
        monitor = "val_loss"
    ckpt_monitor = approach.infrastructure.checkpointing.monitor
    if ckpt_monitor not in VAL_METRICS[task]:
        ckpt_monitor = monitor
    sequence = family_spec(model.family).sequence
    clip = training.gradient_clip_val or (
        policy.gradient_clip_sequence if sequence else policy.gradient_clip_default
    )
    tbptt = training.tbptt
    stopping = training.early_stopping
    defaults = (TrainingSpec.model_fields, EarlyStoppingSpec.model_fields)
    # the ml-engineer policy fills in what the blueprint leaves at the schema's default (a
    # blueprint file always spells every field out, so "set" means "not the default")
    seed = training.seed if training.seed != defaults[0]["seed"].default else policy.seed
    patience = stopping.patience
    if patience == defaults[1]["patience"].default:
        patience = policy.early_stopping_patience
    gpu_precision = policy.precision_gpu if training.precision == "auto" else training.precision
    return {
        "project": {
            "blueprint_id": blueprint.provenance.blueprint_id,
            "approach": approach.name,
            "title": approach.title,
            "rendered_on": rendered_on,
        },
        "task": task,
        "data": {
            "source": source,
            "kind": kind,
            "target": target,
            "lookback": model.input.lookback or (shape[0] if kind == "series" else None),
            "horizon": model.output.dim if kind == "series" else None,
            "device_resident": policy.device_resident_data,
            "seasonal_period": profile.seasonal_period if profile else None,
        },
        "model": {
            "family": model.family,
            "input_shape": shape,
            "output_dim": model.output.dim,
            "params": model.params.model_dump(mode="json"),
            "parameter_count": model.parameter_count,
        },
        "training": {
            "loss": training.loss.model_dump(mode="json"),
            "optimizer": training.optimizer.model_dump(mode="json"),
            "schedule": training.schedule.model_dump(mode="json"),
            "batch_size": training.batch_size,
            "max_epochs": training.max_epochs,
            "early_stopping": {
                "enabled": training.early_stopping.enabled,
                "monitor": monitor,
                "mode": metrics.mode(monitor),
                "patience": patience,
                "min_delta": training.early_stopping.min_delta,
            },
            "precision": training.precision,
            "precision_gpu": gpu_precision,
            "precision_cpu": "32-true" if policy.precision_cpu == "auto" else policy.precision_cpu,
            "gradient_clip_val": clip,
            "gradient_clip_algorithm": training.gradient_clip_algorithm,
            "tbptt": {"enabled": tbptt.enabled, "chunk_length": tbptt.chunk_length},
            "seed": seed,
            "cpu_threads": cpu_threads(model.flops_per_sample, training.batch_size),
            "val_fraction": training.val_fraction,
            "test_fraction": training.test_fraction,
            "distributed": distributed_config(approach),
            # torch.compile on the network: GPU only (the CPU default is eager), eager on failure
            "compile": {"enabled": training.compile, "on_cpu": False},
        },
        "checkpointing": {
            "monitor": ckpt_monitor,
            "mode": metrics.mode(ckpt_monitor),
        },
        "deterministic": policy.deterministic,
        "evaluation": evaluation_config(blueprint, approach),
    }


def evaluation_config(blueprint: Blueprint, approach: Approach) -> dict[str, Any]:
    """What evaluate.py needs for the gate: baselines, the positive class, the val gate metric."""
    from mlflowctl.blueprint.infra import default_baselines

    gate = approach.infrastructure.registry.gate
    metric = gate.metric
    task = blueprint.requirements.task
    return {
        "baselines": list(approach.infrastructure.baselines or default_baselines(task)),
        "positive_class": blueprint.requirements.constraints.positive_class,
        "gate_metric": "val_" + metric[5:] if metric.startswith("test_") else metric,
        "gate_direction": gate.direction,
    }


def context(
    blueprint: Blueprint,
    approach: str | None = None,
    *,
    data: str | None = None,
    policy: EngineerPolicy | None = None,
    rendered_on: str | None = None,
) -> RenderContext:
    source = data_source(blueprint, data)
    chosen = data_shaped(blueprint, blueprint.approach(approach), source)
    policy = policy or EngineerPolicy()
    day = rendered_on or date.today().isoformat()
    family = chosen.model.family
    return RenderContext(
        blueprint_id=blueprint.provenance.blueprint_id,
        approach=chosen.name,
        family=family,
        template_kind=family_spec(family).template_kind,
        task=blueprint.requirements.task,
        parameter_count=chosen.model.parameter_count,
        max_epochs=chosen.training.max_epochs,
        rendered_on=day,
        extra_requirements=_requirements(source),
        config=project_config(blueprint, chosen, source, policy, day),
    )


def placeholder_context(ctx: RenderContext) -> RenderContext:
    """The same template kind with fixed placeholder values: the golden shape to compare with."""
    return RenderContext(
        blueprint_id="bp-000000000000",
        approach="placeholder",
        family=ctx.family,
        template_kind=ctx.template_kind,
        task="classification",
        parameter_count=1,
        max_epochs=1,
        rendered_on="2000-01-01",
        extra_requirements=ctx.extra_requirements,
        config=ctx.config,
    )


# --------------------------------------------------------------------------- rendering


def _check_plain(value: object, where: str) -> None:
    """config.yaml may only hold plain, finite data."""
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CodegenError(f"non-finite number in config at {where}")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CodegenError(f"non-string key in config at {where}")
            _check_plain(item, f"{where}.{key}")
        return
    raise CodegenError(f"unsupported {type(value).__name__} in config at {where}")


def render_config(config: dict[str, Any]) -> str:
    import yaml

    _check_plain(config, "config")
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=False, width=100)
    if yaml.safe_load(text) != config:
        raise CodegenError("config.yaml does not read back as written")
    return (
        "# Every value the project's code reads. Edit freely; train.py reads it at start.\n" + text
    )


def render_files(ctx: RenderContext) -> dict[str, str]:
    env = environment()
    variables = ctx.variables()
    files = {
        path: env.get_template(name.format(kind=ctx.template_kind)).render(**variables)
        for path, name in TEMPLATE_FILES.items()
    }
    files["config.yaml"] = render_config(ctx.config)
    return files


def render(
    blueprint: Blueprint,
    approach: str | None = None,
    *,
    data: str | None = None,
    policy: EngineerPolicy | None = None,
) -> dict[str, str]:
    """``{relative path: text}`` of the project for one approach (the recommended by default)."""
    return render_files(context(blueprint, approach, data=data, policy=policy))
