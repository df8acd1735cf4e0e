"""The gate's reason says what happened: a tie with the best baseline (margin 0) passes and is
called a tie, a win is called a win, a loss names both figures (``mlops.gate.gate_decision``)."""

from __future__ import annotations

import pytest

from mlflowctl.blueprint.infra import PromotionGate
from mlflowctl.mlops.gate import gate_decision

pytestmark = pytest.mark.unit

GATE = PromotionGate(metric="test_accuracy", direction="maximize")


def test_a_tie_with_the_baseline_passes_and_is_called_a_tie() -> None:
    ok, reason = gate_decision(GATE, 1.0, None, ("logistic_regression", 1.0))
    assert ok and "ties baseline logistic_regression 1" in reason and "beats" not in reason


def test_a_win_over_the_baseline_is_called_a_win() -> None:
    ok, reason = gate_decision(GATE, 0.98, None, ("logistic_regression", 0.95))
    assert ok and "beats baseline logistic_regression 0.95" in reason


def test_a_loss_names_both_figures() -> None:
    ok, reason = gate_decision(GATE, 0.93, None, ("logistic_regression", 0.95))
    assert not ok and reason == "val_accuracy 0.93 < baseline logistic_regression 0.95 + margin 0"
