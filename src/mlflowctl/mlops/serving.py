"""``mlflowctl serve``: MLflow's own scoring server (``/ping``, ``/invocations``), local env.

The app is ``mlflow.pyfunc.scoring_server.init`` (the one ``mlflow models serve --env-manager
local`` runs), started in this process with uvicorn, so every MLflow client and payload format
(``dataframe_split``, ``dataframe_records``, ``inputs``, CSV) works. The model it wraps is the
``LoadedModel`` adapter: each request is checked like ``mlflowctl predict`` checks a file, and a
bad one is answered HTTP 400 with the same one-line message, after which the server keeps serving.
"""

from __future__ import annotations

from typing import Any

from mlflowctl.errors import InvalidInputError
from mlflowctl.mlops.inference import LoadedModel


class CheckedModel:
    """What the scoring server calls: ``metadata`` and ``predict(data, params=None)``."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.metadata = loaded.pyfunc.metadata

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import pandas as pd

        frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
        try:
            if len(frame) == 0:
                raise InvalidInputError("the request has no rows", location="request")
            checked = self.loaded.check(frame, source="request")
            if self.loaded.task == "forecasting":
                horizon = int((params or {}).get("horizon") or 0) or None
                return self.loaded.forecast(checked, horizon)
            return self.loaded.predict(checked)
        except InvalidInputError as exc:
            message = f"error: {exc.line()}" + (f" (hint: {exc.hint})" if exc.hint else "")
            raise _bad_request(message) from None


def _bad_request(message: str) -> Exception:
    """An HTTP 400 whose message stays our one line.

    MLflow's scoring server rewrites ``e.message`` to prepend the whole request payload; this
    exception keeps the message it was made with (the payload can be large, or sensitive).
    """
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    class BadRequest(MlflowException):
        @property
        def message(self) -> str:
            return message

        @message.setter
        def message(self, value: str) -> None:
            pass

    return BadRequest(message, error_code=INVALID_PARAMETER_VALUE)


def app(loaded: LoadedModel) -> Any:
    """The FastAPI app of MLflow's scoring server around the checked model."""
    from mlflow.pyfunc import scoring_server

    return scoring_server.init(CheckedModel(loaded))  # type: ignore[arg-type]


def serve(loaded: LoadedModel, host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn shuts down cleanly on either)."""
    import uvicorn

    uvicorn.run(app(loaded), host=host, port=port, log_level="warning", access_log=False)
