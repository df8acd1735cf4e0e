"""The gate's reason says what happened: a tie with the best baseline (margin 0) passes and is
called a tie, a win is called a win, a loss names both figures (``mlops.gate.gate_decision``)."""

from __future__ import annotations

from typing import Any

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


def test_a_tie_goes_to_the_lower_validation_log_loss_when_the_finer_scores_are_given() -> None:
    """Under --allow-baseline-champion the finer scores are passed: a network that only ties the
    baseline and has the higher validation log loss fails, naming both; one with the lower (or
    equal) log loss passes; a win on the gate metric needs no tie-break."""
    base = ("logistic_regression", 1.0)
    ok, reason = gate_decision(GATE, 1.0, None, base, (0.0575, 0.0264))
    assert not ok and reason == (
        "val_accuracy 1 ties baseline logistic_regression 1 and the baseline's val_log_loss "
        "0.0264 is below the network's 0.0575"
    )
    assert gate_decision(GATE, 1.0, None, base, (0.0264, 0.0575))[0]
    assert gate_decision(GATE, 1.0, None, base, (0.03, 0.03))[0]
    assert gate_decision(GATE, 0.98, None, ("svc", 0.95), (0.9, 0.1))[0]


def test_the_best_baseline_breaks_a_tie_on_validation_log_loss() -> None:
    from mlflowctl.mlops.gate import best_baseline, finer_scores

    metrics = {
        "val_log_loss": 0.0072,
        "baseline.logistic_regression.val_accuracy": 1.0,
        "baseline.logistic_regression.val_log_loss": 0.046,
        "baseline.hist_gradient_boosting.val_accuracy": 1.0,
        "baseline.hist_gradient_boosting.val_log_loss": 0.0049,
        "baseline.svc.val_accuracy": 0.96,
        "baseline.svc.val_log_loss": 0.001,
    }
    best = best_baseline(metrics, "val_accuracy", "maximize")
    assert best == ("hist_gradient_boosting", 1.0)
    assert finer_scores(metrics, best) == (0.0072, 0.0049)
    del metrics["val_log_loss"]  # a regressor, or a run from before log loss was logged
    assert finer_scores(metrics, best) is None


def test_the_run_is_read_for_the_tie_break_only_on_an_exact_tie() -> None:
    """``tie_scores`` reads the version's run (one store call) only when the gate metric ties."""
    from types import SimpleNamespace

    from mlflowctl.mlops.gate import tie_scores

    reads: list[str] = []
    metrics = {"val_log_loss": 0.05, "baseline.logistic_regression.val_log_loss": 0.02}

    def get_run(run_id: str) -> SimpleNamespace:
        reads.append(run_id)
        return SimpleNamespace(data=SimpleNamespace(metrics=metrics))

    store, mv = SimpleNamespace(get_run=get_run), SimpleNamespace(run_id="r1")
    base = ("logistic_regression", 1.0)
    assert tie_scores(store, mv, base, 0.98) is None and reads == []
    assert tie_scores(store, mv, None, 1.0) is None and reads == []
    assert tie_scores(store, mv, base, 1.0) == (0.05, 0.02) and reads == ["r1"]


@pytest.mark.integration
def test_the_design_says_the_validation_split_decides_promotion(cli: Any) -> None:
    """No paper claim: the blueprint's verification names the split the gate really reads
    (``val_metric``), not the test split, which is only reported."""
    import json

    out = cli("design", "tell iris species apart", "--data", "sklearn:iris", "--json")
    assert out.returncode == 0, out.stderr
    checks = json.loads(out.stdout)["envelope"]["verification"]
    promotion = [c for c in checks if "decides promotion" in c]
    assert promotion and promotion[0].startswith("val_accuracy on the validation split"), checks
    assert not any("test split decides" in c for c in checks), checks


@pytest.mark.integration
def test_the_proposal_states_the_gate_the_registry_applies(cli: Any) -> None:
    """The Architecture Proposal's registry line names the validation metric, the baseline, the
    prompt's threshold and the champion, and that the test metric is only reported."""
    out = cli("design", "classify iris species, at least 90 % accuracy", "--data", "sklearn:iris",
              "--format", "md")  # fmt: skip
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith("- registry:"))
    assert "when val_accuracy (validation split, maximize) beats the best classical" in line
    assert "reaches 0.9 and beats the current @champion" in line, line
    assert "test_accuracy is reported, never used to choose" in line, line
