"""mlflowctl: a plain-language ML requirement to a designed, trained, tracked, registered model."""

__version__ = "0.1.0"

import os as _os


def environ_snapshot() -> dict[str, str]:
    """A copy of ``os.environ`` that another thread changing it cannot break.

    ``dict(os.environ)`` iterates the live mapping and raises ``KeyError`` when a variable goes
    away half-way (MLflow's telemetry thread sets and removes some); this copies the key list
    first (atomic) and skips keys gone by the time they are read.
    """
    out: dict[str, str] = {}
    for key in list(_os.environ):
        value = _os.environ.get(key)
        if value is not None:
            out[key] = value
    return out


__all__ = ["__version__", "environ_snapshot"]
