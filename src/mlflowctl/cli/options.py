"""Options several commands share, declared once so their flag, help and default agree."""

from __future__ import annotations

from typing import Annotated

import typer

#: the store; resolved by ``Settings`` (flag, then MLFLOW_TRACKING_URI, then the mlops policy)
TrackingUriOpt = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        help="MLflow tracking URI [default: MLFLOW_TRACKING_URI, else the mlops-architect "
        "policy's tracking_uri, else sqlite:///mlflow.db in the current directory].",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document for scripts.")]

#: scale flags of ``build`` and ``run`` over the blueprint's ``training.distributed``
DevicesOpt = Annotated[
    int | None,
    typer.Option("--devices", help="Devices (processes) per node [default: the blueprint's]."),
]
NumNodesOpt = Annotated[
    int | None, typer.Option("--num-nodes", help="Machines [default: the blueprint's].")
]
StrategyOpt = Annotated[
    str | None,
    typer.Option("--strategy", help="auto, ddp or fsdp [default: the blueprint's]."),
]
AccumulateOpt = Annotated[
    int | None,
    typer.Option("--accumulate", help="Batches per optimizer step [default: the blueprint's]."),
]

#: ``build`` and ``run``: the best classical baseline may become champion in the network's place
AllowBaselineOpt = Annotated[
    bool,
    typer.Option(
        "--allow-baseline-champion",
        help="When the network loses the gate to the best classical baseline, register that "
        "baseline (same preprocessing, same output columns) and gate it in the network's place.",
    ),
]
