"""Drift monitoring: compare new rows with a model's reference profile (pure statistics).

``outputs/reference_profile.json`` is written by the rendered project's ``reference.py`` and
logged with the model; :func:`compare` turns it and a DataFrame of new rows (plus the model's
predictions on them) into a :class:`MonitorReport`. numpy, pandas and scipy only: no mlflow here
(``mlops/monitoring.py`` is the MLflow side, ``cli/monitor.py`` the command).
"""

from mlflowctl.monitor.compare import (
    FeatureDrift,
    MonitorReport,
    Thresholds,
    compare,
    profile_problem,
)

__all__ = ["FeatureDrift", "MonitorReport", "Thresholds", "compare", "profile_problem"]
