"""A messy CSV end to end: text categories, missing values, an id and a constant column.

Writes the CSV, runs ``mlflowctl run ... --target churn`` on it (SQLite store in a temporary
folder), then compares the run's reported test accuracy with scikit-learn's
``HistGradientBoostingClassifier`` fitted on the same non-test rows (train + validation, found
through ``outputs/preprocessing.json``'s ``split.test_index``) with native categorical support.

    python benchmarks/messy_csv.py [--max-epochs 40] [--rows 1200] [--json]

Target: mlflowctl's test accuracy >= HGB's - 0.02.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlflowctl import environ_snapshot

TARGET = "churn"


def messy_frame(n: int = 1200, seed: int = 0) -> pd.DataFrame:
    """Customers: ``plan``/``region`` text, ~10 % missing ``tenure``, ~5 % missing ``region``."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "plus", "pro", "team"], n)
    region = rng.choice(["north", "south", "east", "west", "centre"], n)
    tenure = rng.integers(1, 72, n).astype(float)
    spend = rng.gamma(2.0, 30.0, n)
    calls = rng.poisson(2.0, n)
    score = (
        0.04 * tenure
        - 0.02 * spend
        + 0.6 * calls
        + np.select([plan == "basic", plan == "pro"], [1.2, -1.0], 0.0)
        + np.where(region == "south", 0.8, 0.0)
        + rng.normal(0, 0.7, n)
    )
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(100_000, 100_000 + n),
            "plan": plan,
            "region": region,
            "tenure": tenure,
            "spend": spend,
            "calls": calls,
            "country": "NL",
            TARGET: np.where(score > np.median(score), "yes", "no"),
        }
    )
    frame.loc[rng.random(n) < 0.10, "tenure"] = np.nan
    frame.loc[rng.random(n) < 0.05, "region"] = np.nan
    return frame


def hgb_accuracy(frame: pd.DataFrame, test_index: list[int]) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = frame.drop(columns=[TARGET, "customer_id", "country"])
    for name in ("plan", "region"):
        x[name] = x[name].astype("category")
    test = np.zeros(len(frame), dtype=bool)
    test[test_index] = True
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    model.fit(x[~test], frame[TARGET][~test])
    return float((model.predict(x[test]) == frame[TARGET][test]).mean())


def run(max_epochs: int, rows: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mlflowctl-messy-") as tmp:
        work = Path(tmp)
        frame = messy_frame(rows)
        frame.to_csv(work / "customers.csv", index=False)
        env = {k: v for k, v in environ_snapshot().items() if k != "MLFLOW_TRACKING_URI"}
        proc = subprocess.run(
            [
                *(sys.executable, "-m", "mlflowctl", "run", "predict customer churn"),
                *("--data", "customers.csv", "--target", TARGET, "--workdir", "wd"),
                *("--max-epochs", str(max_epochs), "--json"),
            ],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"mlflowctl run failed ({proc.returncode}): {proc.stderr[-2000:]}")
        summary = json.loads(proc.stdout)
        spec = json.loads(next(work.glob("wd/**/outputs/preprocessing.json")).read_text())
        test_index = spec["split"]["test_index"]
        return {
            "rows": rows,
            "max_epochs": max_epochs,
            "test_rows": len(test_index),
            "mlflowctl_test_accuracy": summary["metrics"]["test_accuracy"],
            "hgb_test_accuracy": hgb_accuracy(frame, test_index),
            "dropped": [d["name"] for d in spec["dropped"]],
            "features": len(spec["features"]),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-epochs", type=int, default=40)
    parser.add_argument("--rows", type=int, default=1200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.max_epochs, args.rows)
    result["gap"] = result["mlflowctl_test_accuracy"] - result["hgb_test_accuracy"]
    result["meets_target"] = result["gap"] >= -0.02
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>26}: {value}")
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
