"""``mlflowctl export MODEL --format onnx --out DIR``: ONNX with the scaling folded in, checked.

Cheap to import: torch, onnx and mlflow are loaded inside the command (``mlops.onnx_export``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlflowctl import console
from mlflowctl.cli.options import JsonOpt, TrackingUriOpt
from mlflowctl.cli.predict import MODEL_ARG_HELP


def export(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help=MODEL_ARG_HELP)],
    out: Annotated[Path, typer.Option("--out", help="Folder for model.onnx and onnx.json.")],
    fmt: Annotated[str, typer.Option("--format", help="Export format: onnx.")] = "onnx",
    no_log: Annotated[
        bool, typer.Option("--no-log", help="Do not log the file to the version's run.")
    ] = False,
    tracking_uri: TrackingUriOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """ONNX of the network with numeric scaling folded in; parity vs PyTorch <= 1e-4.

    Categorical one-hot encoding and missing-value filling stay outside the ONNX graph: its input
    is the `features` vector of preprocessing.json in raw units (listed in DIR/onnx.json).
    """
    from mlflowctl.errors import InvalidInputError

    if fmt != "onnx":
        raise InvalidInputError(
            f"unknown export format {fmt!r}", hint="--format onnx", location="--format"
        )
    if out.exists() and not out.is_dir():
        raise InvalidInputError("not a folder", hint="give a folder for --out", location=str(out))
    if (out / "model.onnx").exists():
        raise InvalidInputError(
            "model.onnx already exists here; mlflowctl does not overwrite files",
            hint="choose another --out folder or remove the file",
            location=str(out / "model.onnx"),
        )
    from mlflowctl.cli.predict import _load, tracking_uri_of
    from mlflowctl.mlops.onnx_export import export_onnx

    uri = tracking_uri_of(ctx, tracking_uri)
    loaded = _load(model, uri)
    console.status(f"exporting {model} to ONNX")
    manifest = export_onnx(loaded, out, tracking_uri=None if no_log else uri)
    if as_json:
        console.print_json(manifest)
        return
    parity = manifest["parity"]
    console.status(
        f"parity: max |onnx - torch| = {parity['max_abs_diff']:.3g} on "
        f"{parity.get('source') or str(parity['inputs']) + ' inputs'} "
        f"(<= {parity['tolerance']:g}); onnxruntime single row p50 "
        f"{manifest['onnxruntime_single_row_ms_p50']:.3f} ms"
    )
    for item in manifest["outside_onnx"]:
        console.status(f"outside ONNX: {item}")
    if manifest.get("logged"):
        console.status(f"logged: {manifest['logged']}")
    console.result(manifest["file"])
