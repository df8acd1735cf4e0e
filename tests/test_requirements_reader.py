"""The requirement reader's pattern table, one test per concept, in wordings the shared prompts
do not use (issue 14 items 1, 2 and 6)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlflowctl.blueprint.model import DataProfile
from mlflowctl.design import design
from mlflowctl.design.phrases import not_understood
from mlflowctl.design.requirements import prompt_hints, read_requirements
from mlflowctl.errors import InvalidInputError

pytestmark = pytest.mark.unit


def _series(freq: str, length: int = 500) -> DataProfile:
    return DataProfile(
        source="statsmodels:co2",
        source_kind="builtin",
        kind="series",
        n_rows=length,
        n_features=1,
        series_length=length,
        frequency=freq,
    )


@pytest.mark.parametrize(
    ("prompt", "budget", "kind"),
    [
        ("a digit recogniser with fewer than 1000 weights", 1000, "max"),
        ("keep it at 3k trainable weights or fewer", 3000, "max"),
        ("a 1.5M-weight forecaster", 1_500_000, "target"),
        ("cap the network at 800 coefficients", 800, "max"),
        ("something around twenty thousand parameters", 20_000, "target"),
    ],
)
def test_budget_in_weights_and_parameters(prompt: str, budget: int, kind: str) -> None:
    c = prompt_hints(prompt).constraints
    assert (c.param_budget, c.param_budget_kind) == (budget, kind)


@pytest.mark.parametrize(
    ("prompt", "freq", "horizon"),
    [
        ("next-step forecasting of electricity load", None, 1),
        ("predict the value one step ahead", None, 1),
        ("forecast sales a quarter ahead", "MS", 3),
        ("forecast GDP eight quarters out", "Q", 8),
        ("how will the river flow over the coming year", "A", 1),
        ("forecast the index five years into the future", "A", 5),
        ("project demand 63 days ahead", "D", 63),
        ("forecast tomorrow's temperature", "D", 1),
        ("forecast the upcoming two weeks of traffic", "D", 14),
        ("anticipate call volumes for the next 10 business days", "B", 10),
        ("forecast 20 trading days ahead", "B", 20),
        ("the number of bikes rented each hour, for the next two days", None, 48),
    ],
)
def test_horizon_in_words(prompt: str, freq: str | None, horizon: int) -> None:
    req = read_requirements(prompt, _series(freq) if freq else None)
    assert req.task == "forecasting" and req.constraints.horizon == horizon


@pytest.mark.parametrize(
    ("prompt", "hardware", "edge", "devices"),
    [
        ("it must run on a laptop without a GPU", "cpu", False, None),
        ("deploy it to an edge device", "cpu", True, None),
        ("ship it on a Raspberry Pi", "cpu", True, None),
        ("train across 8 GPUs", "multi_gpu", False, 8),
        ("we have four GPUs for training", "multi_gpu", False, 4),
        ("a single CUDA card is available", "gpu", False, None),
        ("we have 4 A100s", "multi_gpu", False, 4),
        ("two RTX 4090s in one box", "multi_gpu", False, 2),
    ],
)
def test_hardware(prompt: str, hardware: str, edge: bool, devices: int | None) -> None:
    c = prompt_hints(prompt).constraints
    assert (c.hardware, c.edge, c.devices) == (hardware, edge, devices)


@pytest.mark.parametrize(
    ("prompt", "fast"),
    [
        ("it needs to be fast on CPU", True),
        ("real-time scoring of transactions", True),
        ("quick inference matters", True),
        ("a careful, thorough model", False),
    ],
)
def test_speed(prompt: str, fast: bool) -> None:
    assert prompt_hints(prompt).constraints.prefer_fast is fast


@pytest.mark.parametrize(
    ("prompt", "size"),
    [
        ("a really tiny network for the sensor", "tiny"),
        ("a lightweight classifier", "small"),
        ("keep the model small please", "small"),
        ("make it as small as possible", "small"),
        ("a quick model, nothing fancy", "small"),
        ("a large model is fine, we have compute", "large"),
        ("classify small 8x8 scans of digits", None),
    ],
)
def test_size_words(prompt: str, size: str | None) -> None:
    assert prompt_hints(prompt).constraints.size_preference == size


@pytest.mark.parametrize(
    ("prompt", "metric", "op", "value"),
    [
        ("optimise recall above all", "recall", "max", None),
        ("sensitivity must be at least 90%", "recall", ">=", 0.9),
        ("we care about precision: false alarms are costly", "precision", "max", None),
        ("an F1 of 0.8 or more", "f1", ">=", 0.8),
        ("reach ROC AUC > 0.9", "roc_auc", ">=", 0.9),
        ("report the area under the precision-recall curve", "pr_auc", "max", None),
        ("at least 0.97 accuracy", "accuracy", ">=", 0.97),
        ("95 percent accuracy or better", "accuracy", ">=", 0.95),
        ("keep the mean absolute error below 5", "mae", "<=", 5.0),
        ("RMSE under 2.5", "rmse", "<=", 2.5),
        ("an R-squared of at least 0.8", "r2", ">=", 0.8),
        ("MASE below 1", "mase", "<=", 1.0),
        ("misclassifying a fraud costs us far more than a false alarm", "recall", "max", None),
        (
            "losing one we could have kept hurts more than a wasted retention call",
            "recall",
            "max",
            None,
        ),
        ("a wasted inspection costs more than a false negative", "precision", "max", None),
        # a cost said in other words: which side is cheap, which one the user would rather pay
        (
            "we'd rather bother a loyal one than lose one who walks",
            "recall",
            "max",
            None,
        ),
        ("missing one is a disaster", "recall", "max", None),
        ("we'd rather miss a few frauds than annoy honest customers", "precision", "max", None),
        ("better to check a few extra parts than to let a crack slip", "recall", "max", None),
        # a bound on the error in the target's units
        ("errors within 10k dollars", "mae", "<=", 10_000.0),
        ("mistakes under $5,000 are fine", "mae", "<=", 5_000.0),
        ("misses of at most 2.5 degrees", "mae", "<=", 2.5),
        ("being off by more than 200 euros a month is useless", "mae", "<=", 200.0),
        # a recall stated as a rate of misses or catches
        ("it must not miss more than 1 in 20 cancers", "recall", ">=", 0.95),
        ("we must catch at least 9 out of 10 frauds", "recall", ">=", 0.9),
        ("miss at most 2% of the frauds", "recall", ">=", 0.98),
        ("letting through fewer than 5 in every 100 defects", "recall", ">=", 0.95),
        ("no more than one false alarm in ten flagged invoices", "precision", ">=", 0.9),
        # a false-positive budget is a specificity
        ("at most 2% false positives", "specificity", ">=", 0.98),
        ("a false positive rate under 1 %", "specificity", ">=", 0.99),
        ("flag at most 0.5 percent of legitimate transactions", "specificity", ">=", 0.995),
        ("a specificity of at least 0.9", "specificity", ">=", 0.9),
        # a relative error, in percent like sMAPE
        ("the error should stay within 5 percent", "smape", "<=", 5.0),
        ("within 5% of the actual sales", "smape", "<=", 5.0),
        ("be within 3 years on average", "mae", "<=", 3.0),
        ("within $20,000 of the true price", "mae", "<=", 20_000.0),
        ("at most 2 false positives per 100 alerts", "precision", ">=", 0.98),
        ("maximise balanced accuracy", "balanced_accuracy", "max", None),
        ("a balanced accuracy of at least 85%", "balanced_accuracy", ">=", 0.85),
        ("keep the mean per-class recall high", "balanced_accuracy", "max", None),
        ("minimise log loss", "log_loss", "min", None),
        ("a logloss under 0.3", "log_loss", "<=", 0.3),
        ("we need well calibrated probabilities", "log_loss", "min", None),
        ("negative log-likelihood below 0.25", "log_loss", "<=", 0.25),
    ],
)
def test_metric_wishes_and_thresholds(
    prompt: str, metric: str, op: str, value: float | None
) -> None:
    targets = prompt_hints(prompt).constraints.metric_targets
    assert targets, prompt
    t = targets[0]
    assert (t.metric, t.op) == (metric, op)
    assert t.value == (pytest.approx(value) if value is not None else None)


@pytest.mark.parametrize(
    ("prompt", "positive"),
    [
        ("high recall for the fraud class", "fraud"),
        ("treat churners as the positive class", "churners"),
        ("positive class: spam", "spam"),
        ("defective is the positive label", "defective"),
    ],
)
def test_positive_class(prompt: str, positive: str) -> None:
    assert prompt_hints(prompt).constraints.positive_class == positive


@pytest.mark.parametrize(
    ("prompt", "imbalance"),
    [
        ("the labels are heavily skewed classes", "severe"),
        ("fraud is rare: about 1 in 1000 transactions", "severe"),
        ("the data is somewhat imbalanced", "mild"),
        ("balanced classes", None),
        ("classes are very uneven", "severe"),
        ("positives are about 10 percent", "mild"),
        ("frauds make up 0.5 % of the rows", "severe"),
        ("churners are roughly 45 percent", None),
        ("there are 30x more good loans", "severe"),
        ("we have 10 times more data than last year", None),
        ("about 2% of sensors are faulty", "severe"),
        ("12 % of customers churn", "mild"),
        ("at least 20% of the data is missing", None),
        ("about 4 times as many negatives", "mild"),
        ("the labels are uneven", "mild"),
        # a miss rate is a recall wish, not a class ratio
        ("it must not miss more than 1 in 20 cancers", None),
    ],
)
def test_imbalance(prompt: str, imbalance: str | None) -> None:
    assert prompt_hints(prompt).constraints.imbalance == imbalance


@pytest.mark.parametrize(
    ("prompt", "wanted"),
    [
        ("the doctors must understand why it decides", True),  # understood since the unseen round
        ("it has to be interpretable", True),
        ("show feature importance to the auditors", True),
        ("a transparent model for the regulator", True),
        ("the account managers must be able to explain it", True),
    ],
)
def test_interpretability(prompt: str, wanted: bool) -> None:
    assert prompt_hints(prompt).constraints.interpretability is wanted


@pytest.mark.parametrize(
    ("prompt", "ms"),
    [
        ("each prediction within 5 ms", 5.0),
        ("inference latency under 0.2 s", 200.0),
        ("respond in 50 milliseconds", 50.0),
        ("it has to run in under a millisecond per row", 1.0),
        ("answer each request within half a second", 500.0),
    ],
)
def test_latency(prompt: str, ms: float) -> None:
    assert prompt_hints(prompt).constraints.latency_ms == ms


@pytest.mark.parametrize(
    ("prompt", "word"),
    [
        ("Classify iris flowers, painted in corporate blue", "corporate blue"),
        ("Forecast CO2 weekly and print the report on recycled paper", "recycled paper"),
        ("Predict house prices; the office dog approves", "office dog"),
    ],
)
def test_leftover_wishes_are_reported(prompt: str, word: str) -> None:
    assert any(word in part for part in not_understood(prompt)), not_understood(prompt)
    bp = design(prompt)
    assert any(
        u.startswith("not understood:") and word in u for u in bp.envelope.uncertainty_factors
    )


@pytest.mark.parametrize(
    "prompt",
    [
        "Classify handwritten digits from 8x8 grayscale images",
        "Forecast yearly sunspot activity 11 years ahead with an LSTM trained with truncated BPTT",
        "Tell the three wine cultivars apart; the model must stay under 5,000 parameters",
    ],
)
def test_understood_prompts_report_nothing(prompt: str) -> None:
    assert not_understood(prompt) == []


@pytest.mark.parametrize(
    ("prompt", "status"),
    [
        ("hello there", "needs_info"),
        ("why does my training accuracy drop when I add dropout?", "needs_info"),
        ("our model's loss isn't converging, what should we try", "needs_info"),
        ("summarise news articles into one sentence", "unsupported"),
        ("train an agent with reinforcement learning to play chess", "unsupported"),
        ("classify 2048x2048 satellite images", "unsupported"),
        ("generate new images of faces", "unsupported"),
        ("cluster our customers into segments", "unsupported"),
        ("detect anomalies in server metrics, there are no labels", "unsupported"),
        ("group our users into personas", "unsupported"),
        ("segment tumours in MRI images", "unsupported"),
    ],
)
def test_not_a_task_or_not_servable(prompt: str, status: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        design(prompt)
    assert err.value.to_dict()["status"] == status and err.value.exit_code == 2
    bp = design(prompt, assume=True)  # --assume: designed, the assumptions listed
    assert any(u.startswith("assumed") for u in bp.envelope.uncertainty_factors)


def test_the_gate_follows_the_wish() -> None:
    bp = design(
        "catch as many malignant tumours as possible: recall on the malignant class, "
        "with at least 0.9 recall",
        data="sklearn:breast_cancer",
    )
    gate = bp.approach().infrastructure.registry.gate
    assert (gate.metric, gate.threshold, gate.direction) == ("test_recall", 0.9, "maximize")
    assert "test_recall" in bp.approach().infrastructure.tracking.metrics
    assert bp.requirements.constraints.positive_class == "malignant"
    gate = design("estimate diabetes progression with MAE below 50", data="sklearn:diabetes")
    g = gate.approach().infrastructure.registry.gate
    assert (g.metric, g.threshold, g.direction) == ("test_mae", 50.0, "minimize")
    g = design("severely imbalanced fraud classes", data="sklearn:breast_cancer").approach()
    # binary and imbalanced: the positive class's PR-AUC (issue 14 item 3)
    assert g.infrastructure.registry.gate.metric == "test_pr_auc"


@pytest.mark.parametrize(
    "prompt",
    [
        "a small, fast forecaster of CO2",
        "a lightweight wine classifier for a phone",
        "classify iris flowers quickly on CPU",
    ],
)
def test_small_or_fast_recommends_the_smallest(prompt: str) -> None:
    bp = design(prompt)
    counts = [a.model.parameter_count for a in bp.approaches]
    assert bp.approach().model.parameter_count == min(counts)


def test_sizes_differ_and_say_why() -> None:
    bp = design("Tell the wine cultivars apart", data="sklearn:wine")
    ratings = [tuple((t.aspect, t.rating) for t in a.tradeoffs) for a in bp.approaches]
    assert len(set(ratings)) == len(ratings)
    assert len({a.rationale for a in bp.approaches}) == len(bp.approaches)
    assert all("parameters" in a.rationale for a in bp.approaches)


@pytest.mark.parametrize(
    "prompt",
    [
        "A wine classifier with fewer than 1000 weights",
        "Design distributed training architecture for a 120M parameter transformer_small",
        "an iris model with at most 300 parameters",
    ],
)
def test_a_budget_never_gives_two_identical_approaches(prompt: str) -> None:
    bp = design(prompt, data="sklearn:wine" if "wine" in prompt else None)
    configs = [a.model.params.model_dump_json() for a in bp.approaches]
    assert len(set(configs)) == len(configs)


def test_risks_from_the_profile() -> None:
    factors = design("forecast the Nile flow", data="statsmodels:nile").envelope.uncertainty_factors
    text = " ".join(factors)
    assert "only 100 points" in text and "test split holds about 15" in text
    assert "far above what the data supports" in text
    factors = design(
        "Design distributed training architecture for a 120M parameter model"
    ).envelope.uncertainty_factors
    assert any("36x1 input" in f for f in factors)


@pytest.mark.integration
def test_cli_needs_info_and_unsupported(tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mlflowctl", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    r = cli("design", "hello", "--json")
    assert r.returncode == 2
    out = json.loads(r.stdout)
    assert out["status"] == "needs_info" and out["questions"]
    assert [ln for ln in r.stderr.splitlines() if ln.startswith("error:")].__len__() == 1
    r = cli("design", "Fine-tune a pretrained BERT for tweet sentiment", "--json")
    assert r.returncode == 2 and json.loads(r.stdout)["status"] == "unsupported"
    r = cli("design", "hello", "--assume", "--format", "md")
    assert r.returncode == 0 and "assumed" in r.stdout
    r = cli("run", "what is my loss doing?", "--workdir", "w")
    assert r.returncode == 2 and not (tmp_path / "w").exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("prompt", "task", "horizon"),
    [
        (
            "I have a spreadsheet of house sales and want a number for what a new listing "
            "will go for",
            "regression",
            None,
        ),
        ("what is each used car worth?", "regression", None),
        ("how much will this series be next quarter? it's monthly", "forecasting", 3),
        ("how many visitors will the site get next week? daily counts", "forecasting", 7),
        ("flag fraudulent card transactions", "classification", None),
        ("spot which machines will fail this month from their logs", "classification", None),
        ("screen out risky loan applications", "classification", None),
        ("predict churn for each customer segment", "classification", None),
        ("predict insurance claim amounts", "regression", None),
        ("predict the wine quality score from the chemistry", "regression", None),
        (
            "we want to know three months in advance how many tourists arrive each month",
            "forecasting",
            3,
        ),
        (
            "predict a building's energy use from sensors every 15 minutes, 96 steps ahead",
            "forecasting",
            96,
        ),
    ],
)
def test_task_from_everyday_wording(prompt: str, task: str, horizon: int | None) -> None:
    """Found from outside: "a number for", "worth" and a horizon on a series were misread."""
    req = read_requirements(prompt)
    assert req.task == task
    assert req.constraints.horizon == horizon
    factors = design(prompt).envelope.uncertainty_factors
    assert not any(u.startswith("not understood") for u in factors)
