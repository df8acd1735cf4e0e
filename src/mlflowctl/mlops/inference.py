"""A registered model, loaded for inference, behind one adapter (``LoadedModel``).

``predict``, ``forecast``, ``serve``, ``export`` and the inference benchmark all go through here,
so the logged model's contract (docs/CONTRACTS.md, "The logged model") is read in one place:

* a model logged with ``preprocessing.json`` takes raw rows (training column names, strings for
  categories) and returns ``label``/``prediction`` + ``proba_<class>`` (or ``step``/``forecast``);
* a model logged before that (``legacy``) takes model-ready float features and returns raw network
  outputs; the adapter turns those into the same columns (class indices, softmax probabilities).

Raw input is checked against what training saw before the model runs, so a wrong column, type,
unseen category, missing value, image size or short series is one ``InvalidInputError`` naming the
row, column or shape and what was expected (exit 2 on the CLI, HTTP 400 from ``serve``).
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflowctl.errors import InvalidInputError

_VERSION_RE = re.compile(r"^(?P<name>[^@/]+)/(?P<version>\d+)$")
_ALIAS_RE = re.compile(r"^(?P<name>[^@/]+)@(?P<alias>[A-Za-z0-9_\-]+)$")
_TIME_RE = re.compile(r"^(year|date|time|timestamp|ds|t|month|day)$", re.IGNORECASE)
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
            return self._check_series(frame, source)
        if self.legacy:
            return self._check_legacy(frame, source)
        if self.kind == "image":
            return self._check_image(frame, source)
        return self._check_tabular(frame, first_row, source)

    def _check_tabular(self, frame: Any, first_row: int, source: str) -> Any:
        import pandas as pd

        assert self.prep is not None
        columns = self.prep.get("columns") or []
        missing = [c["name"] for c in columns if c["name"] not in frame.columns]
        if missing:
            expected = ", ".join(c["name"] for c in columns)
            raise InvalidInputError(
                f"missing column(s) {', '.join(map(repr, missing))}; the model was trained on "
                f"{expected}",
                hint="name the columns as in the training file (extra columns are ignored)",
                location=source,
            )
        out = frame.copy()
        for c in columns:
            name, col = c["name"], frame[c["name"]]
            if c.get("role") == "categorical":
                known = [str(k) for k in c.get("categories", [])]
                text = col.astype("string")
                bad = col.notna() & ~text.isin(known)
                if bad.any():
                    row = int(bad.to_numpy().nonzero()[0][0])
                    shown = ", ".join(known[:10]) + (" ..." if len(known) > 10 else "")
                    raise InvalidInputError(
                        f"row {first_row + row}, column {name!r}: unseen category "
                        f"{str(text.iloc[row])!r} (training saw: {shown})",
                        hint="use a category the model was trained on",
                        location=source,
                    )
                out[name] = col.astype(object).where(col.notna(), None)
                continue
            values = pd.to_numeric(col, errors="coerce")
            wrong = col.notna() & values.isna()
            if wrong.any():
                row = int(wrong.to_numpy().nonzero()[0][0])
                raise InvalidInputError(
                    f"row {first_row + row}, column {name!r}: {str(col.iloc[row])!r} is not a "
                    f"number (trained as {c.get('dtype', 'float64')})",
                    hint="fix the value or drop the row",
                    location=source,
                )
            if values.isna().any() and not c.get("indicator"):
                row = int(values.isna().to_numpy().nonzero()[0][0])
                raise InvalidInputError(
                    f"row {first_row + row}, column {name!r}: missing value (NaN), but the "
                    "training data had none in this column",
                    hint="fill the value or drop the row",
                    location=source,
                )
            out[name] = values.astype("float64")  # the signature reads numbers as double
        return out

    def _check_image(self, frame: Any, source: str) -> Any:
        assert self.prep is not None
        names = [c["name"] for c in self.prep.get("columns") or []]
        shape = "x".join(str(d) for d in self.input_shape)
        missing = [n for n in names if n not in frame.columns]
        if missing:
            raise InvalidInputError(
                f"image of the wrong size: {len(names)} pixel columns expected ({shape}: "
                f"{names[0]} ... {names[-1]}), input has {len(frame.columns)} columns, "
                f"missing {missing[0]!r}",
                hint="send one row per image with every pixel column",
                location=source,
            )
        return frame

    def _check_legacy(self, frame: Any, source: str) -> Any:
        numeric = frame.select_dtypes("number")
        need = math.prod(self.input_shape)
        if numeric.shape[1] != need:
            what = "pixels" if self.kind == "image" else "numeric feature columns"
            raise InvalidInputError(
                f"expected {need} {what} (input shape {self.input_shape}), the input has "
                f"{numeric.shape[1]}: {', '.join(map(str, numeric.columns[:8]))}",
                hint="pass exactly the model's features (mark key columns with --key)",
                location=source,
            )
        if numeric.isna().to_numpy().any():
            rows, cols = numeric.isna().to_numpy().nonzero()
            raise InvalidInputError(
                f"row {int(rows[0]) + 1}, column {numeric.columns[cols[0]]!r}: missing value (NaN)",
                hint="fill the value or drop the row",
                location=source,
            )
        return numeric

    def series_column(self, frame: Any) -> str:
        s = (self.prep or {}).get("series") or {}
        name = s.get("column") or self.cfg["data"].get("target")
        if name:
            return str(name)
        source = str(self.cfg["data"].get("source") or "")
        if source.count(":") == 2:  # statsmodels:<set>:<column>
            return source.rsplit(":", 1)[1]
        numeric = [c for c in frame.select_dtypes("number").columns if not _TIME_RE.match(str(c))]
        if len(numeric) != 1:
            raise InvalidInputError(
                f"cannot tell the series column among {len(numeric)} numeric columns",
                hint="give the history as one numeric column",
                location="input",
            )
        return str(numeric[0])

    def _check_series(self, frame: Any, source: str) -> Any:
        import pandas as pd

        name = self.series_column(frame)
        if name not in frame.columns:
            raise InvalidInputError(
                f"missing column {name!r}: the model forecasts that series",
                hint=f"give the history as a column named {name!r}, oldest first",
                location=source,
            )
        values = pd.to_numeric(frame[name], errors="coerce")
        wrong = frame[name].notna() & values.isna()
        if wrong.any():
            row = int(wrong.to_numpy().nonzero()[0][0])
            raise InvalidInputError(
                f"row {row + 1}, column {name!r}: {str(frame[name].iloc[row])!r} is not a number",
                location=source,
            )
        if values.isna().any():
            row = int(values.isna().to_numpy().nonzero()[0][0])
            raise InvalidInputError(
                f"row {row + 1}, column {name!r}: missing value (NaN) in the history",
                hint="fill the gap (e.g. interpolate) first",
                location=source,
            )
        if len(values) < self.lookback:
            raise InvalidInputError(
                f"series of {len(values)} values is shorter than the model's window "
                f"(lookback {self.lookback})",
                hint=f"give at least the last {self.lookback} observations, oldest first",
                location=source,
            )
        out = frame.copy()
        out[name] = values.astype("float64")
        return out

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
