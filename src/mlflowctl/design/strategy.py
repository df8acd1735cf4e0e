"""The training strategy of one approach: loss, optimizer, schedule, batch and epochs, TBPTT,
distributed strategy and search space.

Split from the planner so each module has one reason to change: this one changes when the
training recipe does, the planner when the choice of families and sizes does. Defaults come from
the ml-architect policy.
"""

from __future__ import annotations

import math
import re
from typing import Any

from mlflowctl.blueprint.checks import FSDP_FAMILIES
from mlflowctl.blueprint.model import DataProfile, Requirements
from mlflowctl.design.asymmetry import quantile
from mlflowctl.design.critic import MAXIMIZE, tracked_metrics
from mlflowctl.design.phrases import runs_in
from mlflowctl.families import IO, AnyParams, count_params, families
from mlflowctl.families import family as catalog_family
from mlflowctl.specs.policy import ArchitectPolicy

#: a device's memory when the prompt states none (a 16 GB GPU, the smallest common training card)
DEFAULT_DEVICE_GB = 16.0
#: FSDP once weights + gradients + Adam state exceed this share of one device: the rest is left
#: for activations, so the model no longer trains replicated on each device
FSDP_STATE_SHARE = 0.5
#: torch.compile pays back its compile time (tens of seconds) only from about this many
#: parameters, and only on GPUs; recurrent layers already run as one cuDNN kernel
COMPILE_MIN_PARAMS = 10_000_000


def rows_of(profile: DataProfile | None) -> int | None:
    """Samples to learn from: the series length or the row count."""
    if profile is None:
        return None
    return profile.series_length or profile.n_rows or None


def selection_metric(req: Requirements, profile: DataProfile | None) -> tuple[str, str]:
    """The validation metric early stopping and checkpointing follow, with its mode.

    Validation loss, except for small binary sets: there the validation split is often perfectly
    separable, so its loss keeps falling while the model overfits (breast_cancer: test accuracy
    0.942 selected by val_loss, 0.965 by val_accuracy). On small multi-class sets accuracy
    saturates early and picks an undertrained epoch (iris 0.78 vs 0.96, wine 0.96 vs 1.00 by
    val_loss), so they stay on the loss. Measured with `mlflowctl build --no-track` on the
    sklearn sets, seed 42.
    """
    rows = rows_of(profile)
    binary = profile is not None and profile.n_classes == 2
    if req.task == "classification" and binary and rows is not None and rows < 1000:
        return "val_accuracy", "max"
    return "val_loss", "min"


def training(
    family: str,
    params: AnyParams,
    io: IO,
    req: Requirements,
    profile: DataProfile | None,
    policy: ArchitectPolicy,
    prompt_low: str,
) -> dict[str, Any]:
    c = req.constraints
    rows = rows_of(profile)
    n_params = count_params(params, io)
    sequence = catalog_family(family).sequence
    # loss
    loss: dict[str, Any] = {"name": "cross_entropy"}
    ratio = profile.imbalance_ratio if profile is not None else None
    if ratio is None and "imbalanc" in prompt_low:
        ratio = policy.imbalance_ratio_for_focal if "highly" in prompt_low else 5.0
    if req.task == "classification" and ratio is not None:
        if ratio >= policy.imbalance_ratio_for_focal:
            loss = {"name": "focal", "focal_gamma": 2.0, "class_weighting": "balanced"}
        elif ratio >= policy.imbalance_ratio_for_weighting:
            loss = {"name": "cross_entropy", "class_weighting": "balanced"}
    if req.task == "regression":
        loss = {"name": "mse"}
    if req.task == "forecasting":
        loss = {"name": "huber", "huber_delta": 1.0}
    if req.task != "classification" and c.under_cost_ratio is not None:
        # asymmetric error costs: the cost-minimising prediction is a quantile, not the mean
        loss = {"name": "pinball", "quantile": quantile(c.under_cost_ratio)}
    # optimizer and schedule
    opt = policy.default_optimizer
    lr = 0.05 if opt == "sgd" else (3e-4 if n_params >= 5_000_000 else 1e-3)
    cap = catalog_family(family).lr_cap
    if cap is not None and opt != "sgd":
        lr = min(lr, cap)
    short_series = req.task == "forecasting" and rows is not None and rows < 1000
    if family in families(recurrent=True) and short_series and opt != "sgd":
        lr = 3e-3  # the planner's one-layer net for short series learns faster at this rate
    weight_decay = policy.weight_decay
    if req.task == "regression" and (rows or 0) < 2000:
        weight_decay = max(weight_decay, 1e-3)
    schedule: dict[str, Any] = {"name": policy.default_schedule, "min_lr_ratio": 0.05}
    if policy.default_schedule in ("warmup_cosine", "onecycle"):
        schedule["warmup_fraction"] = policy.warmup_fraction
    if policy.default_schedule == "step":
        schedule.update(step_size_epochs=20, gamma=0.5)
    # batch, epochs
    if rows is None:
        batch = 32 if n_params >= 5_000_000 else 64
    elif req.task == "forecasting" and rows >= 1000:
        # long series are many overlapping windows: halving the steps per epoch halved co2's
        # training time (train.py 184 s -> 86 s) at the same test MASE
        batch = 128 if rows < 50_000 else 256
    else:
        batch = 32 if rows < 1000 else (64 if rows < 5000 else (128 if rows < 50_000 else 256))
    if rows is None:
        epochs = 50
    elif req.task == "forecasting":
        epochs = 100 if rows < 1000 else 50
    else:
        epochs = 100 if rows < 1000 else 60
    # TBPTT
    tbptt: dict[str, Any] = {"enabled": False}
    memory = int(getattr(params, "memory_tokens", 0)) > 0
    if (family in families(recurrent=True) or memory) and (c.tbptt or io.steps >= 128):
        chunk = max(4, math.ceil(io.steps / 3))
        point = catalog_family(family).tbptt_carry
        tbptt = {
            "enabled": True,
            "chunk_length": chunk,
            "detach_points": [point, "optimizer step after every chunk's loss"],
        }
    # distributed
    distributed = _distributed(n_params, batch, c, prompt_low, family)
    compile_model = (
        c.hardware != "cpu"
        and n_params >= COMPILE_MIN_PARAMS
        and family not in families(recurrent=True)
    )
    metric = tracked_metrics(req.task, io.output_dim)
    search = _search(family, req, metric, io=io, profile=profile, params=params)
    return {
        "loss": loss,
        "optimizer": {"name": opt, "lr": lr, "weight_decay": weight_decay},
        "schedule": schedule,
        "batch_size": batch,
        "max_epochs": epochs,
        "max_time_s": None if c.train_time_s is None else max(1, round(c.train_time_s)),
        "early_stopping": {
            "enabled": True,
            "monitor": selection_metric(req, profile)[0],
            "mode": selection_metric(req, profile)[1],
            "patience": 10 if epochs <= 60 else 15,
        },
        "precision": "32-true" if c.hardware == "cpu" else "auto",
        "gradient_clip_val": 1.0 if sequence else None,
        "tbptt": tbptt,
        "distributed": distributed,
        "search_space": search,
        "compile": compile_model,
    }


def _device_count(prompt_low: str) -> int:
    """GPUs named in the prompt ("8 GPUs", "four GPUs"), else 4."""
    m = re.search(r"\b(\d{1,4}|two|four|eight|sixteen)\s*(?:x\s*)?(?:\w+\s)?gpus\b", prompt_low)
    if not m:
        return 4
    words = {"two": 2, "four": 4, "eight": 8, "sixteen": 16}
    return max(1, min(4096, words.get(m.group(1)) or int(m.group(1))))


def _distributed(
    n_params: int, batch: int, c: Any, prompt_low: str, family: str = "transformer"
) -> dict[str, Any]:
    """none, DDP or FSDP from the model size, the stated memory and what the prompt asked.

    FSDP when weights + optimizer state exceed ``FSDP_STATE_SHARE`` of one device (the stated
    ``memory_gb``, else ``DEFAULT_DEVICE_GB``), unless the family cannot be sharded (LSTM, GRU):
    those stay on DDP, with the reason saying so.
    """
    state_gb = n_params * 16 / 1e9  # fp32 weights + grads + two Adam moments
    # a memory where the model runs (an edge device) is not the training device
    memory = None if runs_in(c.memory_gb, c.edge, c.hardware) else c.memory_gb
    device_gb = memory if memory is not None else DEFAULT_DEVICE_GB
    too_big = state_gb > FSDP_STATE_SHARE * device_gb
    if not (c.distributed or c.hardware == "multi_gpu" or n_params >= 50_000_000 or too_big):
        return {"strategy": "none"}
    devices = _device_count(prompt_low)
    if too_big and family in FSDP_FAMILIES:
        strategy = "fsdp"
        reason = (
            f"weights + optimizer state ({state_gb:.2f} GB) exceed half of {device_gb:g} GB: shard"
        )
    elif too_big:
        strategy = "ddp"
        reason = (
            f"weights + optimizer state ({state_gb:.2f} GB) exceed half of {device_gb:g} GB, "
            f"but FSDP cannot shard a {family}: replicate"
        )
    else:
        strategy = "ddp"
        reason = f"weights + optimizer state ({state_gb:.2f} GB) fit on one device: replicate"
    accumulation = max(1, 256 // (batch * devices))
    return {
        "strategy": strategy,
        "devices": devices,
        "num_nodes": 1,
        "gradient_accumulation": accumulation,
        "reason": f"{reason}; effective batch {batch * devices * accumulation}",
    }


def _search(
    family: str,
    req: Requirements,
    metrics: list[str],
    *,
    io: Any = None,
    profile: DataProfile | None = None,
    params: Any = None,
) -> dict[str, Any]:
    """The search space: optimizer knobs, the family's width, and for a forecaster the window
    length (``lookback``), bounded by the horizon and what the training split allows."""
    found = _knobs(family, req)
    if req.task == "forecasting" and io is not None and len(io.shape) == 2:
        from mlflowctl.blueprint.training import lookback_bounds

        bounds = lookback_bounds(
            io.steps,
            io.output_dim,
            series_length=profile.series_length if profile is not None else None,
            max_len=getattr(params, "max_len", None),
        )
        if bounds is not None:
            found.append({"name": "lookback", "kind": "int", "low": bounds[0], "high": bounds[1]})
    on = req.constraints.hyperparameter_search
    metric = "val_accuracy" if req.task == "classification" else "val_loss"
    return {
        "enabled": on,
        "method": "tpe" if on else "random",
        "n_trials": 30 if on else 20,
        "metric": metric if metric in metrics else "val_loss",
        "direction": "maximize" if metric in MAXIMIZE else "minimize",
        "params": found,
    }


def _knobs(family: str, req: Requirements) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": "lr", "kind": "log_uniform", "low": 1e-4, "high": 3e-2},
        {"name": "weight_decay", "kind": "log_uniform", "low": 1e-6, "high": 1e-1},
        {"name": "dropout", "kind": "uniform", "low": 0.0, "high": 0.5},
        {"name": "batch_size", "kind": "choice", "choices": [32, 64, 128]},
    ]
    knobs = catalog_family(family).tune_knobs
    for knob in ("hidden", "d_model"):
        if knob in knobs:
            params.append({"name": knob, "kind": "choice", "choices": [32, 64, 128]})
    if family in families(recurrent=True) and req.constraints.tbptt:
        params.append({"name": "chunk_length", "kind": "int", "low": 4, "high": 64})
    return params
