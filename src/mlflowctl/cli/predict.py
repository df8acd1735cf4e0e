"""``mlflowctl predict`` and ``mlflowctl forecast``: batch inference with a registered model.

Cheap to import: pandas, mlflow and torch are loaded inside the commands (``mlops.inference``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mlflowctl import console
from mlflowctl.cli.options import JsonOpt, TrackingUriOpt

MODEL_ARG_HELP = "NAME@ALIAS (e.g. iris-classifier@champion), NAME/VERSION or a models:/ URI."

InputOpt = Annotated[
    Path,
    typer.Option(
        "--input",
        "-i",
        help="CSV or Parquet file (.parquet) of raw rows; for image models also a .npy array of "
        "images (N, H, W) or (N, H*W) in their original value range.",
    ),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", help="Write here (CSV, or Parquet by suffix); default: CSV on stdout."
    ),
]


def tracking_uri_of(ctx: typer.Context, flag: str | None) -> str:
    """The project's one tracking-URI rule (the command's Settings): flag, env, mlops policy,
    sqlite:///mlflow.db in the current directory."""
    from mlflowctl.settings import current

    return current(ctx).with_tracking_uri(flag).tracking.uri


def _load(model: str, uri: str) -> Any:
    from mlflowctl.mlops.inference import load

    console.status(f"loading {model}")
    loaded = load(uri, model)
    for note in loaded.notes:
        console.warn(note)
    return loaded


def _finish(sink: Any, output: Path | None, as_json: bool, summary: dict[str, Any]) -> None:
    if output is None and as_json:
        import pandas as pd

        data = pd.read_csv(sink.tmp) if sink.rows else pd.DataFrame()
        sink.abort()
        console.print_json({**summary, "predictions": data.to_dict(orient="records")})
        return
    sink.commit()
    if as_json:
        console.print_json({**summary, "output": str(output)})
    elif output is not None:
        console.status(f"wrote {sink.rows} rows to {output}")


def predict(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help=MODEL_ARG_HELP)],
    input: InputOpt,
    output: OutputOpt = None,
    key: Annotated[
        list[str] | None,
        typer.Option(
            "--key",
            help="Input column to copy into the output (repeatable; default: the identifier "
            "columns training dropped, else a 'row' number).",
        ),
    ] = None,
    chunk_rows: Annotated[
        int, typer.Option("--chunk-rows", min=1, help="Rows per chunk (bounds memory).")
    ] = 10_000,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Add why_1..why_3: the input columns that moved each row's answer most, as "
            "column=value (effect), the effect being the change in the predicted class's "
            "probability (or the predicted value) against a typical training value of that "
            "column (tables only).",
        ),
    ] = False,
    tracking_uri: TrackingUriOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Batch inference on a CSV or Parquet file: key columns + prediction (+ proba_<class>).

    Forecasting models: use `mlflowctl forecast` (the next H values after the history).
    """
    from mlflowctl.errors import InvalidInputError
    from mlflowctl.mlops.batch_io import AtomicTable, precheck

    precheck(input)  # an empty file is said before seconds of loading the model
    loaded = _load(model, tracking_uri_of(ctx, tracking_uri))
    if loaded.task == "forecasting":
        raise InvalidInputError(
            f"{model} is a forecaster",
            hint=f"use `mlflowctl forecast {model} --input FILE --horizon H`",
            location="MODEL",
        )
    typical = None
    if explain:  # a model it cannot explain is refused before any row is read
        from mlflowctl.mlops.explain import reasons, typical_values

        typical = typical_values(loaded)
    sink = AtomicTable(output)
    try:
        for first, frame in _frames(loaded, input, chunk_rows):
            keys = _keys(frame, key, loaded.identifier_columns(), str(input))
            features = frame.drop(columns=[k for k in key or [] if k in frame.columns])
            checked = loaded.check(features, first_row=first, source=str(input))
            result = loaded.predict(checked)
            if typical is not None:
                result = result.join(reasons(loaded, checked, result, typical, top=3))
            if keys is None:
                result.insert(0, "row", range(first, first + len(frame)))
            else:
                for i, name in enumerate(keys):
                    result.insert(i, name, frame[name].to_numpy())
            sink.write(result)
    except BaseException:
        sink.abort()
        raise
    summary = {"model": model, "version": loaded.ref.version, "rows": sink.rows}
    _finish(sink, output, as_json, summary)


def _frames(loaded: Any, input: Path, chunk_rows: int) -> Any:
    """Chunks of the input as frames: CSV/Parquet rows, or a .npy of images (image models)."""
    from mlflowctl.errors import InvalidInputError
    from mlflowctl.mlops.batch_io import is_array_file, iter_frames, iter_image_arrays

    if not is_array_file(input):
        return iter_frames(input, chunk_rows=chunk_rows, text_columns=loaded.categorical_columns())
    if loaded.kind != "image" or loaded.legacy:
        raise InvalidInputError(
            f"a .npy array is input for image models; {loaded.ref.text} takes table rows",
            hint="give a CSV or Parquet file with the training columns",
            location=str(input),
        )
    names = [c["name"] for c in (loaded.prep or {}).get("columns") or []]
    return iter_image_arrays(input, names, loaded.input_shape, chunk_rows=chunk_rows)


def _keys(frame: Any, asked: list[str] | None, ids: list[str], source: str) -> list[str] | None:
    from mlflowctl.errors import InvalidInputError

    if asked:
        missing = [k for k in asked if k not in frame.columns]
        if missing:
            raise InvalidInputError(
                f"--key column {missing[0]!r} is not in the input",
                hint=f"input columns: {', '.join(map(str, frame.columns[:12]))}",
                location="--key",
            )
        return list(asked)
    present = [k for k in ids if k in frame.columns]
    return present or None


def forecast(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help=MODEL_ARG_HELP)],
    input: Annotated[
        Path,
        typer.Option("--input", "-i", help="CSV or Parquet: the series' history, oldest first."),
    ],
    horizon: Annotated[
        int | None,
        typer.Option(
            "--horizon",
            "-H",
            min=1,
            max=10_000,
            help="Steps ahead (default: the "
            "model's horizon; longer ones roll the model forward on its forecasts).",
        ),
    ] = None,
    output: OutputOpt = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="Also write a PNG: the history's tail and the next-H forecast, on the data's "
            "time axis (dates or years) when the input or the model has one.",
        ),
    ] = None,
    tracking_uri: TrackingUriOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The next H values after the input's last observation: step, forecast (, time)."""
    import pandas as pd

    from mlflowctl.errors import InvalidInputError
    from mlflowctl.mlops.batch_io import AtomicTable, iter_frames, precheck

    precheck(input)
    loaded = _load(model, tracking_uri_of(ctx, tracking_uri))
    if loaded.task != "forecasting":
        raise InvalidInputError(
            f"{model} is a {loaded.task} model, not a forecaster",
            hint=f"use `mlflowctl predict {model} --input FILE`",
            location="MODEL",
        )
    if plot is not None and not plot.parent.is_dir():
        raise InvalidInputError(
            "the plot's folder does not exist", hint="create it first", location="--plot"
        )
    history = pd.concat([f for _, f in iter_frames(input)], ignore_index=True)
    checked = loaded.check(history, source=str(input))
    result = loaded.forecast(checked, horizon)
    drawn = None
    if plot is not None:
        from mlflowctl.mlops.forecast_plot import plot_forecast

        drawn = plot_forecast(loaded, checked, result, plot)
    sink = AtomicTable(output)
    try:
        sink.write(result)
    except BaseException:
        sink.abort()
        raise
    summary = {
        "model": model,
        "version": loaded.ref.version,
        "horizon": len(result),
        "history": len(history),
    }
    if drawn is not None:
        summary["plot"] = drawn
        if not as_json:
            console.status(f"wrote the forecast plot to {plot}")
    _finish(sink, output, as_json, summary)
