"""The scale flags of a training (``--devices``, ``--num-nodes``, ``--strategy``, ``--accumulate``).

``Scale`` holds the flags that override config.yaml's ``training.distributed`` and turns them
into ``train.py`` arguments; ``check_scale`` refuses, before anything is written, what cannot run
on this machine (exit 2, naming the flag), counting GPUs with ``nvidia-smi`` (``gpu_count``) so
that no torch import is needed.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlflowctl.errors import InvalidInputError

if TYPE_CHECKING:
    from mlflowctl.blueprint.model import Approach

#: strategies ``--strategy`` accepts (what the rendered train.py understands)
STRATEGIES = ("auto", "ddp", "fsdp")


@dataclass(frozen=True)
class Scale:
    """Flags over config.yaml's ``training.distributed`` (None: keep the blueprint's value)."""

    devices: int | None = None
    num_nodes: int | None = None
    strategy: str | None = None
    accumulate: int | None = None

    def args(self) -> list[str]:
        """The matching ``train.py`` flags."""
        out: list[str] = []
        for flag, value in (
            ("--devices", self.devices),
            ("--num-nodes", self.num_nodes),
            ("--strategy", self.strategy),
            ("--accumulate", self.accumulate),
        ):
            if value is not None:
                out += [flag, str(value)]
        return out


def check_scale_for(approach: Approach, scale: Scale, accelerator: str) -> None:
    """``check_scale``, and FSDP asked (by ``--strategy`` or the blueprint) for a family it cannot
    wrap: exit 2 before anything trains (``build`` and ``run`` both call this)."""
    from mlflowctl.blueprint.checks import FSDP_FAMILIES, fsdp_problem

    problem = fsdp_problem(approach, scale.strategy)
    if problem:
        raise InvalidInputError(
            problem,
            hint=f"use --strategy ddp (or a family FSDP can wrap: {', '.join(FSDP_FAMILIES)})",
            location="--strategy" if scale.strategy else "training.distributed.strategy",
        )
    check_scale(scale, accelerator)


def check_scale(scale: Scale, accelerator: str) -> None:
    """Refuse what cannot run here before anything is written (exit 2, naming the flag).

    Lightning runs any number of CPU processes (gloo); more than twice the cores only thrashes.
    GPUs are counted with ``nvidia-smi`` so that no torch import is needed here.
    """
    for flag, value in (
        ("--devices", scale.devices),
        ("--num-nodes", scale.num_nodes),
        ("--accumulate", scale.accumulate),
    ):
        if value is not None and value < 1:
            raise InvalidInputError(f"must be at least 1 (got {value})", location=flag)
    if scale.strategy is not None and scale.strategy not in STRATEGIES:
        raise InvalidInputError(
            f"unknown strategy {scale.strategy!r}", hint="auto, ddp or fsdp", location="--strategy"
        )
    gpus = gpu_count() if accelerator != "cpu" else 0
    if scale.strategy == "fsdp" and not gpus:
        raise InvalidInputError(
            "FSDP needs CUDA GPUs and none was found (torch has no FSDP on CPU)",
            hint="use --strategy ddp on CPU",
            location="--strategy",
        )
    if scale.devices is None:
        return
    if gpus:
        if scale.devices > gpus:
            raise InvalidInputError(
                f"{scale.devices} devices requested but only {gpus} GPU(s) found",
                hint=f"use --devices {gpus} or fewer, or --accelerator cpu",
                location="--devices",
            )
        return
    cpus = os.cpu_count() or 1
    if scale.devices > 2 * cpus:
        raise InvalidInputError(
            f"{scale.devices} devices requested but only {cpus} CPU cores found (at most "
            f"{2 * cpus} CPU processes)",
            hint=f"use --devices {2 * cpus} or fewer",
            location="--devices",
        )


def gpu_count() -> int:
    """CUDA devices ``nvidia-smi -L`` lists (0 without the tool or a driver)."""
    import shutil

    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))
