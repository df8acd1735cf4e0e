"""A registered model, loaded for inference, behind one adapter (``LoadedModel``).

``predict``, ``forecast``, ``serve``, ``export`` and the inference benchmark all go through here,
so the logged model's contract (docs/CONTRACTS.md, "The logged model") is read in one place:

* a model logged with ``preprocessing.json`` takes raw rows (training column names, strings for
  categories) and returns ``label``/``prediction`` + ``proba_<class>`` (or ``step``/``forecast``);
* a model logged before that (``legacy``) takes model-ready float features and returns raw network
  outputs; the adapter turns those into the same columns (class indices, softmax probabilities).

Raw input is checked against what training saw before the model runs, so a wrong column, type,
unseen category, missing value, image size or short series is one ``InvalidInputError`` naming the
row, column or shape and what was expected (exit 2 on the CLI, HTTP 400 from ``serve``); those
checks are in ``mlops.input_checks``.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflowctl.errors import InvalidInputError
from mlflowctl.mlops.input_checks import (
    check_image,
    check_legacy,
    check_series,
    check_tabular,
    series_column,
)

_VERSION_RE = re.compile(r"^(?P<name>[^@/]+)/(?P<version>\d+)$")
_ALIAS_RE = re.compile(r"^(?P<name>[^@/]+)@(?P<alias>[A-Za-z0-9_\-]+)$")
MODEL_HELP = "NAME@ALIAS (e.g. iris-classifier@champion), NAME/VERSION or a models:/ URI"


@dataclass(frozen=True)
class ModelRef:
    """A model reference resolved against the store: the URI to load and the version it names."""

    text: str
    uri: str
    name: str | None = None
    version: int | None = None
    run_id: str | None = None


def parse_ref(text: str) -> tuple[str, str | None, str | None, str | None]:
    """``(models_uri, name, version, alias)`` from what the user typed; no store access."""
    ref = text.strip()
    body = ref[len("models:/") :] if ref.startswith("models:/") else ref
    if m := _VERSION_RE.match(body):
        return f"models:/{body}", m["name"], m["version"], None
    if m := _ALIAS_RE.match(body):
        return f"models:/{body}", m["name"], None, m["alias"]
    if ref.startswith("models:/") and body:
        return ref, None, None, None  # models:/<model_id> and other forms MLflow resolves
    raise InvalidInputError(
        f"{text!r} is not a model reference",
        hint=f"use {MODEL_HELP}",
        location="MODEL",
    )


def resolve(tracking_uri: str, text: str) -> ModelRef:
    """Check that MODEL exists in the store; unknown names, versions and aliases are exit 2."""
    from mlflowctl.mlops.store import client

    uri, name, version, alias = parse_ref(text)
    if name is None:
        return ModelRef(text, uri)
    c = client(tracking_uri)
    hint = "see `mlflowctl registry list` and `mlflowctl registry show NAME`"
    try:
        mv = (
            c.get_model_version(name, version)
            if version
            else c.get_model_version_by_alias(name, str(alias))
        )
    except Exception as exc:  # MLflow says RESOURCE_DOES_NOT_EXIST in several ways
        if "RESOURCE_DOES_NOT_EXIST" not in str(exc) and "not found" not in str(exc).lower():
            raise
        what = f"version {version}" if version else f"alias @{alias}"
        raise InvalidInputError(
            f"no registered model {name!r} with {what} in {_safe(tracking_uri)}",
            hint=hint,
            location="MODEL",
        ) from None
    return ModelRef(text, uri, name, int(mv.version), mv.run_id)


def _safe(uri: str) -> str:
    from mlflowctl.mlops.store import redact

    return redact(uri)


@dataclass
class LoadedModel:
    """The pyfunc model with its config.yaml and, when logged, its preprocessing.json."""

    ref: ModelRef
    local: Path
    cfg: dict[str, Any]
    prep: dict[str, Any] | None
    pyfunc: Any
    notes: list[str] = field(default_factory=list)

    @property
    def task(self) -> str:
        return str(self.cfg.get("task", "classification"))

    @property
    def kind(self) -> str:
        return str((self.prep or {}).get("kind") or self.cfg.get("data", {}).get("kind", "tabular"))

    @property
    def legacy(self) -> bool:
        return self.prep is None

    @property
    def input_shape(self) -> list[int]:
        return [int(d) for d in self.cfg["model"]["input_shape"]]

    @property
    def lookback(self) -> int:
        s = (self.prep or {}).get("series") or {}
        return int(s.get("lookback") or self.cfg["data"].get("lookback") or self.input_shape[0])

    @property
    def horizon(self) -> int:
        s = (self.prep or {}).get("series") or {}
        return int(s.get("horizon") or self.cfg["data"].get("horizon") or 1)

    @property
    def classes(self) -> list[str]:
        target = (self.prep or {}).get("target") or {}
        if target.get("classes"):
            return [str(c) for c in target["classes"]]
        return [str(i) for i in range(int(self.cfg["model"]["output_dim"]))]

    def identifier_columns(self) -> list[str]:
        return [d["name"] for d in (self.prep or {}).get("dropped", []) if d.get("reason") in {
            "identifier", "id"}]  # fmt: skip

    def categorical_columns(self) -> list[str]:
        cols = (self.prep or {}).get("columns") or []
        return [c["name"] for c in cols if c.get("role") == "categorical"]

    # ---- checks -------------------------------------------------------------------------------

    def check(self, frame: Any, *, first_row: int = 1, source: str = "input") -> Any:
        """The frame with numeric columns as numbers, or one error naming row/column/shape."""
        if self.task == "forecasting":
            return check_series(frame, self.series_column(frame), self.lookback, source)
        if self.legacy:
            return check_legacy(frame, self.input_shape, self.kind, source)
        assert self.prep is not None
        columns = self.prep.get("columns") or []
        if self.kind == "image":
            return check_image(frame, [c["name"] for c in columns], self.input_shape, source)
        return check_tabular(frame, columns, first_row, source)

    def series_column(self, frame: Any) -> str:
        """The column holding the series to forecast (see ``input_checks.series_column``)."""
        return series_column(frame, self.prep, self.cfg)

    # ---- prediction ---------------------------------------------------------------------------

    def predict(self, frame: Any) -> Any:
        """Checked frame -> ``prediction`` (+ ``proba_<class>``) columns, one row per input row."""
        import numpy as np
        import pandas as pd

        if not self.legacy:
            out = self.pyfunc.predict(frame)
            out = out if isinstance(out, pd.DataFrame) else pd.DataFrame(out)
            if "label" in out.columns and "prediction" not in out.columns:
                out = out.rename(columns={"label": "prediction"})
            return out.reset_index(drop=True)
        x = frame.to_numpy(dtype=np.float32).reshape(-1, *self.input_shape)
        raw = np.asarray(self.pyfunc.predict(x), dtype=np.float64)
        if self.task == "classification":
            z = np.exp(raw - raw.max(axis=1, keepdims=True))
            proba = z / z.sum(axis=1, keepdims=True)
            classes = self.classes
            out = pd.DataFrame({"prediction": [classes[i] for i in proba.argmax(axis=1)]})
            for i, c in enumerate(classes):
                out[f"proba_{c}"] = proba[:, i]
            return out
        return pd.DataFrame({"prediction": raw.reshape(len(raw), -1)[:, 0]})

    def forecast(self, frame: Any, horizon: int | None = None) -> Any:
        """The next ``horizon`` values after the last row (rolled forward past the model's own)."""
        import numpy as np
        import pandas as pd

        want = horizon or self.horizon
        name = self.series_column(frame)
        history = frame.copy()
        steps: list[float] = []
        times: list[Any] = []
        while len(steps) < want:
            if self.legacy:
                window = history[name].to_numpy(dtype=np.float32)[-self.lookback :]
                x = window.reshape(1, *self.input_shape)
                raw = np.asarray(self.pyfunc.predict(x), dtype=np.float64).reshape(-1)
                new, new_times = [float(v) for v in raw], None
            else:
                out = self.pyfunc.predict(history)
                new = [float(v) for v in out["forecast"]]
                new_times = list(out["time"]) if "time" in out.columns else None
            steps.extend(new)
            if new_times:
                times.extend(new_times)
            extra = pd.DataFrame({name: new})
            time_col = ((self.prep or {}).get("series") or {}).get("time_column")
            if new_times and time_col and time_col in history.columns:
                extra[time_col] = new_times
            history = pd.concat([history, extra], ignore_index=True)
        result = pd.DataFrame({"step": range(1, want + 1), "forecast": steps[:want]})
        if times:
            result["time"] = times[:want]
        return result


def load(tracking_uri: str, text: str, workdir: Path | None = None) -> LoadedModel:
    """Resolve MODEL, download it once into ``workdir`` (a temp dir by default) and load it."""
    import os
    import warnings

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow.artifacts
    import mlflow.pyfunc
    import yaml

    from mlflowctl.mlops.store import mlflow_errors

    with mlflow_errors(tracking_uri):
        ref = resolve(tracking_uri, text)
        dst = workdir or Path(tempfile.mkdtemp(prefix="mlflowctl-model-"))
        local = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=ref.uri, dst_path=str(dst), tracking_uri=tracking_uri
            )
        )
    meta = yaml.safe_load((local / "MLmodel").read_text(encoding="utf-8"))
    arts = (meta.get("flavors", {}).get("python_function", {}) or {}).get("artifacts") or {}

    def art(key: str) -> Path | None:
        rel = (arts.get(key) or {}).get("path")
        return local / rel if rel and (local / rel).is_file() else None

    cfg_path = art("config")
    if cfg_path is None:
        raise InvalidInputError(
            f"{text} was not logged by mlflowctl (no config.yaml artifact)",
            hint="predict/serve/export work on models that mlflowctl build registered",
            location="MODEL",
        )
    cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
    prep_path = art("preprocessing")
    prep = json.loads(prep_path.read_text(encoding="utf-8")) if prep_path else None
    # "add type hints to predict": deliberately absent in the logged model (MLflow would read them
    # as a schema); MLflow warns on load and on each predict, so say it once here, not per chunk
    warnings.filterwarnings("ignore", message=".*type hints.*", category=UserWarning)
    pyfunc = mlflow.pyfunc.load_model(str(local))
    model = LoadedModel(ref, local, cfg, prep, pyfunc)
    if prep is None:
        model.notes.append(
            "this model was logged before preprocessing.json: it takes model-ready (scaled) "
            "features and its regression/forecast outputs are in scaled units"
        )
    return model


def artifact_path(model: LoadedModel, key: str) -> Path | None:
    """The local file of one logged artifact (``model_py``, ``config``, ``weights`` ...)."""
    import yaml

    meta = yaml.safe_load((model.local / "MLmodel").read_text(encoding="utf-8"))
    arts = (meta.get("flavors", {}).get("python_function", {}) or {}).get("artifacts") or {}
    rel = (arts.get(key) or {}).get("path")
    return model.local / rel if rel else None


# ---- the forecast as a picture (``mlflowctl forecast --plot``) ----------------------------------


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
