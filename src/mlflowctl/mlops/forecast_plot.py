"""The forecast as a picture (``mlflowctl forecast --plot``): the history's tail and the next
horizon on the data's own time axis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlflowctl.mlops.inference import LoadedModel


def history_times(model: LoadedModel, frame: Any) -> Any:
    """The history's time index (a DatetimeIndex) or None: the column training used, else a
    column named like time (``year``, ``date``, ``month`` ...); integer years become 1 January."""
    import pandas as pd

    from mlflowctl.mlops.input_checks import _TIME_RE

    wanted = ((model.prep or {}).get("series") or {}).get("time_column")
    candidates = [wanted] if wanted in frame.columns else []
    candidates += [c for c in frame.columns if _TIME_RE.match(str(c)) and c not in candidates]
    for name in candidates:
        col = frame[name]
        try:
            if pd.api.types.is_numeric_dtype(col):
                if str(name).lower() != "year":
                    continue
                years = col.astype(int).astype(str)
                return pd.DatetimeIndex(pd.to_datetime(years + "-01-01"))
            return pd.DatetimeIndex(pd.to_datetime(col, format="mixed"))
        except (ValueError, TypeError, OverflowError):
            continue
    return None


def future_times(times: Any, n: int) -> Any:
    """The ``n`` time stamps after the last of ``times``, at their frequency."""
    import pandas as pd

    freq = pd.infer_freq(times[-min(len(times), 50) :]) if len(times) >= 3 else None
    if freq is not None:
        return pd.date_range(times[-1], periods=n + 1, freq=freq)[1:]
    step = pd.Series(times).diff().median()
    return pd.DatetimeIndex([times[-1] + step * (i + 1) for i in range(n)])


def plot_forecast(model: LoadedModel, history: Any, result: Any, path: Path) -> dict[str, Any]:
    """PNG of the history's tail and the next-H forecast on the real time axis when the data has
    one (the forecast's ``time``, else the history's time column); written atomically.

    Returns what was drawn (x axis, tick labels read back from the figure, the forecast's times).
    """
    import os

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    name = model.series_column(history)
    values = pd.to_numeric(history[name]).to_numpy(dtype=np.float64)
    times = history_times(model, history)
    if times is not None:
        order = np.argsort(times.to_numpy(), kind="stable")
        times, values = times[order], values[order]
    horizon = len(result)
    tail = min(len(values), max(4 * horizon, model.lookback))
    x_hist: Any = times[-tail:] if times is not None else np.arange(len(values) - tail, len(values))
    if "time" in result.columns:
        x_next: Any = pd.DatetimeIndex(pd.to_datetime(result["time"]))
    elif times is not None:
        x_next = future_times(times, horizon)
    else:
        x_next = np.arange(len(values), len(values) + horizon)
    on_time = isinstance(x_next, pd.DatetimeIndex)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.plot(x_hist, values[-tail:], color="0.25", lw=1.3, marker=".", ms=3, label="history")
    ax.plot(
        [x_hist[-1], *list(x_next)],
        [values[-1], *result["forecast"].to_list()],
        color="tab:red",
        lw=1.8,
        marker="o",
        ms=3,
        label=f"forecast, next {horizon} steps",
    )
    ax.axvline(x_hist[-1], color="0.5", ls=":", lw=1)
    first, last = (str(x_next[0].date()), str(x_next[-1].date())) if on_time else ("", "")
    span = f" ({first} to {last})" if on_time else ""
    title = f"{model.ref.text}: {name}, next {horizon} steps{span}"
    ax.set(xlabel="time" if on_time else "step", ylabel=name, title=title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.canvas.draw()
    drawn = {
        "file": str(path),
        "title": title,
        "xlabel": "time" if on_time else "step",
        "xticklabels": [t.get_text() for t in ax.get_xticklabels() if t.get_text()],
        "history_points": int(tail),
        "forecast_times": [str(t.date()) for t in x_next] if on_time else [],
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.png")
    try:
        fig.savefig(tmp, dpi=100)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return drawn
