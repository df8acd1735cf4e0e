"""A classifier's goal stated as a bare percentage ("must hit 98 percent or better", "right 97 %
of the time"): read as accuracy (or as the one metric named without a value), a gate threshold,
and said so in the blueprint; a share of the data ("only 5 % of the rows are fraud") is not a
goal, and other tasks keep the clause as "not understood" rather than guess."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlflowctl.design.wishes import read_bare_goal

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("must hit 98 percent or better", 0.98),
        ("at least 95 %", 0.95),
        ("we need it right 97% of the time", 0.97),
        ("it should be 90% correct", 0.90),
        ("95% or higher please", 0.95),
        ("reach 99.5%", 0.995),
        ("get 80 percent of the cases right", 0.80),
        ("classify 90 % of them correctly", 0.90),
        ("must be right at least 9 times out of 10", 0.9),
        ("correct 19 times in 20", 0.95),
        ("only 5 % of the rows are fraud", None),
        ("at least 20% of the data is missing", None),
        ("use 80 percent for training", None),
        ("no percentages here", None),
    ],
)
def test_bare_goals_and_shares(text: str, value: float | None) -> None:
    assert read_bare_goal(text) == (pytest.approx(value) if value is not None else None)


def test_the_reader_turns_the_goal_into_a_threshold_only_for_a_classifier() -> None:
    from mlflowctl.design.requirements import read_requirements

    clf = read_requirements("sort emails, must hit 98 percent or better")
    assert [(t.metric, t.op, t.value) for t in clf.constraints.metric_targets] == [
        ("accuracy", ">=", 0.98)
    ]
    named = read_requirements("flag malignant tumours; recall matters, at least 95 %")
    assert [(t.metric, t.value) for t in named.constraints.metric_targets] == [("recall", 0.95)]
    stated = read_requirements("classify iris, accuracy above 0.9, and hit 99 percent")
    assert [(t.metric, t.value) for t in stated.constraints.metric_targets] == [("accuracy", 0.9)]
    reg = read_requirements("estimate house prices, must hit 98 percent or better")
    assert reg.task == "regression" and reg.constraints.metric_targets == []


@pytest.mark.integration
def test_from_the_cli_the_goal_gates_and_is_stated(cli: Any) -> None:
    """Worded without a metric, the goal becomes the gate's threshold and an uncertainty line
    says how it was read; it is no longer listed as not understood."""
    out = cli(
        "design", "tell apart handwritten digits, must hit 98 percent or better",
        "--data", "sklearn:digits", "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    bp = json.loads(out.stdout)
    gate = bp["approaches"][0]["infrastructure"]["registry"]["gate"]
    assert gate["metric"] == "test_accuracy" and gate["threshold"] == 0.98
    lines = bp["envelope"]["uncertainty_factors"]
    assert any("read as accuracy >= 0.98" in line for line in lines), lines
    assert not any(line.startswith("not understood") for line in lines), lines
    assert not any("names no task" in line for line in lines), lines  # "tell apart" is a task
    reg = cli(
        "design", "predict disease progression, must hit 98 percent or better",
        "--data", "sklearn:diabetes", "--json",
    )  # fmt: skip
    assert reg.returncode == 0, reg.stderr
    lines = json.loads(reg.stdout)["envelope"]["uncertainty_factors"]
    assert "not understood: 'must hit 98 percent or better'" in lines, lines
