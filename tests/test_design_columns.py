"""Issue 14 review: words of the prompt that name the data's columns are understood.

The matching rule is in ``design/columns.py``: case, underscore, camelCase and plural tolerant; a
trailing unit word may be left out ("age" names ``age_years``); nothing else is guessed. Each test
uses a CSV written here and a wording the reader's tables were not written against.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli

pytestmark = pytest.mark.integration


@pytest.fixture
def cars(tmp_path: Path) -> Path:
    rows = ["mileage,age_years,brand,SalePrice"] + [
        f"{(i * 7919) % 200000},{i % 15},{'abc'[i % 3]},{20000 - (i * 37) % 9000}"
        for i in range(80)
    ]
    (tmp_path / "cars.csv").write_text("\n".join(rows) + "\n")
    return tmp_path


def _design(cwd: Path, prompt: str, *args: str) -> dict[str, Any]:
    proc = run_cli(cwd, "design", prompt, *args, "--json")
    assert proc.returncode == 0, proc.stderr
    bp: dict[str, Any] = json.loads(proc.stdout)
    return bp


def _notes(bp: dict[str, Any]) -> list[str]:
    return list(bp["envelope"]["uncertainty_factors"])


def test_given_its_mileage_and_age_is_understood(cars: Path) -> None:
    bp = _design(
        cars, "estimate what a used car sells for, given its mileage and age",
        "--data", "cars.csv", "--target", "SalePrice",
    )  # fmt: skip
    c = bp["requirements"]["constraints"]
    assert c["features_named"] == ["mileage", "age_years"] and c["target_named"] is None
    assert not [n for n in _notes(bp) if n.startswith("not understood")], _notes(bp)
    assert any("'mileage', 'age_years'" in n for n in _notes(bp))


def test_the_target_named_in_camel_case_and_a_missing_column(cars: Path) -> None:
    bp = _design(
        cars, "Predict the sale price from mileage, colour and age.",
        "--data", "cars.csv", "--target", "SalePrice",
    )  # fmt: skip
    c = bp["requirements"]["constraints"]
    assert c["target_named"] == "SalePrice"
    assert c["features_named"] == ["mileage", "age_years"]
    warning = next(n for n in _notes(bp) if "'colour'" in n)
    assert "no such column" in warning and "SalePrice" in warning
    assert not [n for n in _notes(bp) if "conflict" in n]


def test_a_prompt_target_other_than_target_flag_is_a_conflict(cars: Path) -> None:
    bp = _design(
        cars, "we want to forecast the mileages knowing the brands",
        "--data", "cars.csv", "--target", "SalePrice",
    )  # fmt: skip
    c = bp["requirements"]["constraints"]
    assert c["target_named"] == "mileage" and c["features_named"] == ["brand"]
    conflict = next(n for n in _notes(bp) if n.startswith("conflict"))
    assert "'mileage'" in conflict and "'SalePrice'" in conflict
    assert bp["requirements"]["target"] == "SalePrice"  # --target stays what decides


def test_a_unit_suffix_of_a_builtin_column_may_be_left_out(tmp_path: Path) -> None:
    bp = _design(
        tmp_path, "tell the species apart using petal width and sepal lengths",
        "--data", "sklearn:iris",
    )  # fmt: skip
    assert bp["requirements"]["constraints"]["features_named"] == [
        "petal width (cm)",
        "sepal length (cm)",
    ]


def test_words_that_only_contain_a_column_name_do_not_match(cars: Path) -> None:
    bp = _design(
        cars, "predict the price; the brandnew models and aged stock matter",
        "--data", "cars.csv", "--target", "SalePrice",
    )  # fmt: skip
    c = bp["requirements"]["constraints"]
    assert c["features_named"] == [] and c["target_named"] is None


def test_without_data_no_columns_are_read(tmp_path: Path) -> None:
    bp = _design(tmp_path, "predict a house price given its size and age")
    c = bp["requirements"]["constraints"]
    assert c["features_named"] == [] and c["target_named"] is None


def test_a_named_input_the_model_would_not_see_is_said_at_design_and_build(tmp_path: Path) -> None:
    """features_named is executed: build checks each named input reaches the model, and says
    which one does not (dropped as identifier-like, or absent from the data given to build)."""
    rows = ["customer_id,plan,zip,charge,churned"] + [
        f"{i},{'basic' if i % 3 else 'pro'},Z{i:04d},{5 + (i * 7) % 30},{'yes' if i % 4 else 'no'}"
        for i in range(80)
    ]
    (tmp_path / "customers.csv").write_text("\n".join(rows) + "\n")
    without_charge = [",".join(r.split(",")[:3] + r.split(",")[4:]) for r in rows]
    assert without_charge[0] == "customer_id,plan,zip,churned"
    (tmp_path / "later.csv").write_text("\n".join(without_charge) + "\n")
    prompt = "will the customer leave? decide it given the plan, zip and charge"
    args = ("--data", "customers.csv", "--target", "churned")
    bp = _design(tmp_path, prompt, *args)
    assert bp["requirements"]["constraints"]["features_named"] == ["plan", "zip", "charge"]
    assert any("dropped by the preprocessing: 'zip'" in n for n in _notes(bp)), _notes(bp)
    (tmp_path / "bp.json").write_text(json.dumps(bp))
    proc = run_cli(tmp_path, "build", "bp.json", "--no-train", "--json", "--out", "b1")
    assert proc.returncode == 0, proc.stderr
    unhonoured = json.loads(proc.stdout)["unhonoured"]
    assert [u for u in unhonoured if "features_named" in u] == [
        "requirements.constraints.features_named: 'zip' is dropped by the preprocessing "
        "(identifier-like or constant in this data): the model does not see it"
    ]
    proc = run_cli(tmp_path, "build", "bp.json", "--data", "later.csv", "--no-train", "--out", "b2")
    assert proc.returncode == 0, proc.stderr
    assert "names 'charge' as an input, but later.csv has no such input column" in proc.stderr
    assert "'zip' is dropped by the preprocessing" in proc.stderr
