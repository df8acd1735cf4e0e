"""Per-row reasons (issue 14: "the account managers must be able to explain it"):
``mlflowctl predict --explain`` adds, to each row's answer, the input columns that moved it
most, with the size and direction of the move.

From outside: a rents CSV and a fraud CSV as people have them (an id, a text column, blanks),
the installed CLI, a real SQLite store, new raw rows."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from cli_helpers import run_cli
from fraud_data import fraud_csv
from test_relative_error import rents_csv

pytestmark = pytest.mark.integration
WHY = re.compile(r"^(?P<col>[a-z_0-9]+)=(?P<value>\S+) \((?P<effect>[+-][0-9.e+-]+)\)$")


def _reasons(row: dict[str, str]) -> dict[str, tuple[str, float]]:
    out = {}
    for k in ("why_1", "why_2", "why_3"):
        if row[k]:
            m = WHY.match(row[k])
            assert m is not None, row[k]
            out[m["col"]] = (m["value"], float(m["effect"]))
    return out


def test_a_regression_says_which_columns_raised_each_answer(tmp_path: Path) -> None:
    rents_csv(tmp_path / "rents.csv", 600)
    proc = run_cli(
        tmp_path, "run", "estimate each flat's monthly rent", "--data", "rents.csv",
        "--target", "rent", "--workdir", "w", "--max-epochs", "40",
    )  # fmt: skip
    assert proc.returncode in (0, 8), proc.stderr[-2000:]
    rents_csv(tmp_path / "new.csv", 120, seed=5)
    proc = run_cli(
        tmp_path, "predict", "rents-regressor/1", "--input", "new.csv", "--explain",
        "--output", "scored.csv",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = list(csv.DictReader((tmp_path / "scored.csv").open()))
    assert list(rows[0]) == ["flat_id", "prediction", "why_1", "why_2", "why_3"]
    raw = {r["flat_id"]: r for r in csv.DictReader((tmp_path / "new.csv").open())}
    size = {k: float(r["size_m2"]) for k, r in raw.items() if r["size_m2"]}
    big = [r for r in rows if size.get(r["flat_id"], 0.0) > 125]
    assert big
    for r in big:  # a large flat: its size raises the rent, and says so
        reasons = _reasons(r)
        assert "size_m2" in reasons and reasons["size_m2"][1] > 0, r
    blank = [r for r in rows if not raw[r["flat_id"]]["size_m2"]]
    assert any(_reasons(r).get("size_m2", ("missing",))[0] == "missing" for r in blank)
    central = [r for r in rows if raw[r["flat_id"]]["area"] == "centre"]
    assert sum(_reasons(r).get("area", ("", 0.0))[1] > 0 for r in central) >= 0.8 * len(central)


@pytest.mark.heavy
def test_a_classifier_names_the_columns_behind_each_flag(tmp_path: Path) -> None:
    fraud_csv(tmp_path / "tx.csv", 600, seed=1, share=0.15, ids=True)
    proc = run_cli(
        tmp_path, "run", "flag fraudulent transactions", "--data", "tx.csv", "--target",
        "label", "--workdir", "w", "--max-epochs", "30",
    )  # fmt: skip
    assert proc.returncode in (0, 8), proc.stderr[-2000:]
    fraud_csv(tmp_path / "new.csv", 200, seed=9, share=0.15, ids=True)
    proc = run_cli(
        tmp_path, "predict", "tx-classifier/1", "--input", "new.csv", "--explain", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(proc.stdout)["predictions"]
    flagged = [r for r in rows if r["prediction"] == "fraud"]
    assert flagged
    # the label follows 1.5 * amount + hour + noise; distance is noise: rarely the main reason
    first = [WHY.match(r["why_1"])["col"] for r in flagged]
    assert sum(c in ("amount", "hour") for c in first) >= 0.9 * len(first), first
    # the main reason raises the probability of the class the row was given
    raised = [_reasons(r)[first[i]][1] > 0 for i, r in enumerate(flagged)]
    assert sum(raised) >= 0.9 * len(raised)
