"""``mlflowctl serve MODEL``: MLflow's scoring server on loopback, no environment creation.

Cheap to import: mlflow and uvicorn are loaded inside the command (``mlops.serving``).
"""

from __future__ import annotations

from typing import Annotated

import typer

from mlflowctl import console
from mlflowctl.cli.options import TrackingUriOpt
from mlflowctl.cli.predict import MODEL_ARG_HELP


def serve(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help=MODEL_ARG_HELP)],
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (loopback unless told otherwise).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 5001,
    tracking_uri: TrackingUriOpt = None,
) -> None:
    """Serve MODEL with MLflow's scoring protocol (/ping, /invocations) until Ctrl-C."""
    from mlflowctl.cli.predict import _load, tracking_uri_of
    from mlflowctl.mlops.serving import serve as run_server

    loaded = _load(model, tracking_uri_of(ctx, tracking_uri))
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.warn(f"serving on {host}: reachable from other machines, with no authentication")
    console.status(
        f"serving {model} (version {loaded.ref.version}) on http://{host}:{port} "
        "(/ping, /invocations); Ctrl-C stops"
    )
    run_server(loaded, host, port)
