"""config.yaml of a rendered project: the checked dict of every value its code reads, and its text.

``project_config`` builds that dict from the blueprint's approach and the ml-engineer policy (data,
model, training, checkpointing, evaluation), with ``distributed_config`` for the Trainer's scale
settings, ``evaluation_config`` for what evaluate.py needs for the gate and ``cpu_threads`` for
small models; ``VAL_METRICS`` is what each task may monitor. ``render_config`` turns the dict into
YAML (``yaml.safe_dump``) after checking that it holds only plain, finite data and reads back as
written. Pure: nothing is written here.
"""

from __future__ import annotations

import math
from typing import Any

from mlflowctl.blueprint import metrics
from mlflowctl.blueprint.checks import FSDP_FAMILIES
from mlflowctl.blueprint.model import Approach, Blueprint, EarlyStoppingSpec, TrainingSpec
from mlflowctl.errors import CodegenError
from mlflowctl.families import family as family_spec
from mlflowctl.specs.policy import EngineerPolicy

#: validation metrics each task logs (the metrics table); a monitor outside these -> val_loss
VAL_METRICS: dict[str, tuple[str, ...]] = {
    task: tuple(metrics.names(task, stage="val")) for task in metrics.TASKS
}


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
    return bool(family_spec(family).uses_batchnorm(params))


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
            # extra numeric columns of a series file: input channels after the target
            "covariates": list(profile.feature_names[1:]) if profile and kind == "series" else [],
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
            "max_time_s": training.max_time_s,
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
    from mlflowctl.mlops.gate import threshold_rule

    gate = approach.infrastructure.registry.gate
    metric = gate.metric
    return {
        # as the blueprint says: `design` always names some; an empty list trains none (warned)
        "baselines": list(approach.infrastructure.baselines),
        "positive_class": blueprint.requirements.constraints.positive_class,
        "gate_metric": "val_" + metric[5:] if metric.startswith("test_") else metric,
        "gate_direction": gate.direction,
        # "explainable": each input column's permutation importance on validation (tables)
        "importance": blueprint.requirements.constraints.interpretability,
        # the positive class's decision threshold, tuned on validation (mlops.gate.threshold_rule)
        "decision_threshold": threshold_rule(
            blueprint.requirements.task,
            approach.model.output.dim,
            blueprint.requirements.constraints.metric_targets,
            # a gate on the expected cost: the cost of a missed positive over a false alarm
            blueprint.requirements.constraints.under_cost_ratio if metric == "test_cost" else None,
        ),
    }


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
