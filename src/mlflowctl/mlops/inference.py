"""A registered model, loaded for inference, behind one adapter (``LoadedModel``).

``predict``, ``forecast``, ``serve``, ``export`` and the inference benchmark all go through here,
so the logged model's contract (docs/CONTRACTS.md, "The logged model") is read in one place:

* a model logged with ``preprocessing.json`` takes raw rows (training column names, strings for
  categories) and returns ``prediction`` + ``proba_<class>`` (or ``step``/``forecast``);
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
            out = check_series(frame, self.series_column(frame), self.lookback, source)
            for covariate in ((self.prep or {}).get("series") or {}).get("covariates") or []:
                name = str(covariate["name"])
                if name not in frame.columns:
                    raise InvalidInputError(
                        f"missing covariate column {name!r}: the model reads its past values",
                        hint=f"give the history with a column named {name!r} beside the series",
                        location=source,
                    )
                out = check_series(out, name, self.lookback, source)
            return out
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
            if "label" in out.columns and "prediction" not in out.columns:  # logged before 12-02
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
        s = (self.prep or {}).get("series") or {}
        # the columns the model reads (MLflow warns of any other, e.g. a year the model ignores)
        wanted = {name, s.get("time_column"), *(str(c["name"]) for c in s.get("covariates") or [])}
        history = frame[[c for c in frame.columns if c in wanted]].copy()
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
