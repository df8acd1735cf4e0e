"""Issue 14 item 1, second round: 22 wordings the reader's tables were not written against, one
per line, across horizons in words, budgets, hardware, metric targets, imbalance,
interpretability, latency and size. Each is honoured and leaves nothing "not understood"."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from mlflowctl.blueprint.model import DataProfile
from mlflowctl.design.phrases import not_understood
from mlflowctl.design.requirements import KNOWN_PATTERNS, prompt_hints, read_requirements

pytestmark = pytest.mark.unit


def _series(freq: str) -> DataProfile:
    return DataProfile(
        source="statsmodels:co2", source_kind="builtin", kind="series", n_rows=500,
        n_features=1, series_length=500, frequency=freq,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("prompt", "freq", "steps"),
    [
        ("predict the coming fortnight of daily demand", "D", 14),
        ("give me a forecast six months out", "M", 6),
        ("what will the monthly value be two years from now", "M", 24),
        ("forecast 90 days into the future", "D", 90),
        ("project the weekly series half a year ahead", "W", 26),
        ("forecast the yearly flow over the next decade", "Y", 10),
        ("forecast the monthly series a season in advance", "M", 3),
        ("plan the annual series two decades ahead", "Y", 20),
    ],
)
def test_horizons_in_words(prompt: str, freq: str, steps: int) -> None:
    assert read_requirements(prompt, _series(freq)).constraints.horizon == steps
    assert not_understood(prompt, KNOWN_PATTERNS) == []


CASES: list[tuple[str, dict[str, Any]]] = [
    ("a classifier that stays below 2,000 trainable parameters",
     {"param_budget": 2000, "param_budget_kind": "max"}),
    ("no bigger than 50k weights please", {"param_budget": 50_000, "param_budget_kind": "max"}),
    ("a model of roughly 2 million parameters",
     {"param_budget": 2_000_000, "param_budget_kind": "target"}),
    ("it has to run on a raspberry pi", {"hardware": "cpu", "edge": True}),
    ("train it across 4 GPUs", {"hardware": "multi_gpu", "devices": 4}),
    ("it must run on a laptop CPU", {"hardware": "cpu"}),
    ("the F1 must reach 0.85", {"metric_targets": [("f1", ">=", 0.85)]}),
    ("keep the mean absolute error under 3.5", {"metric_targets": [("mae", "<=", 3.5)]}),
    ("we need an AUC of 0.9 or better", {"metric_targets": [("roc_auc", ">=", 0.9)]}),
    ("aim for 95 percent accuracy or more", {"metric_targets": [("accuracy", ">=", 0.95)]}),
    ("only 2% of the transactions are fraudulent", {"imbalance": "severe"}),
    ("positives are rare compared with negatives", {"imbalance": "severe"}),
    ("doctors must be able to understand why it decides", {"interpretability": True}),
    ("it should be transparent to the auditors", {"interpretability": True}),
    ("the loan officer has to be able to say why", {"interpretability": True}),
    ("we need the reasons behind each rejection", {"interpretability": True}),
    ("tell us which factors drove each prediction", {"interpretability": True}),
    ("responses within 20 milliseconds", {"latency_ms": 20.0}),
    ("each prediction has to come back in under 0.1 seconds", {"latency_ms": 100.0}),
    ("a lightweight network is enough", {"size_preference": "small"}),
    ("the AUC has to stay above .95", {"metric_targets": [("roc_auc", ">=", 0.95)]}),
    ("I care about big misses more than small ones", {"metric_targets": [("rmse", "min", None)]}),
    ("large errors are costly for us", {"metric_targets": [("rmse", "min", None)]}),
    ("keep it simple", {"size_preference": "small"}),
    ("keep the MAE below 10k", {"metric_targets": [("mae", "<=", 10_000.0)]}),
    ("the RMSE must stay under 1,500", {"metric_targets": [("rmse", "<=", 1_500.0)]}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("prompt", "missed"),
    [
        ("forecast co2; the little bumps in summer matter", []),  # read as the yearly season
        ("forecast co2 with heavy rain days in mind", ["heavy rain days in mind"]),
    ],
)
def test_a_size_word_alone_does_not_claim_a_clause(prompt: str, missed: list[str]) -> None:
    # "little" and "heavy" are size synonyms, but no model size is read from these clauses:
    # they are reported, not dropped
    assert prompt_hints(prompt).constraints.size_preference is None
    assert not_understood(prompt, KNOWN_PATTERNS) == missed


@pytest.mark.parametrize(("prompt", "expected"), CASES)
def test_unseen_wishes_are_honoured(prompt: str, expected: dict[str, Any]) -> None:
    c = prompt_hints(prompt).constraints
    for key, want in expected.items():
        got = getattr(c, key)
        if key == "metric_targets":
            got = [(t.metric, t.op, t.value) for t in got]
        assert got == want, (prompt, key, got)
    assert not_understood(prompt, KNOWN_PATTERNS) == []


def test_a_horizon_of_half_a_unit_is_not_refused() -> None:
    # "half a year" on yearly data is still one step, not "horizon 0"
    assert read_requirements("forecast half a year ahead", _series("A")).constraints.horizon == 1


def test_only_a_large_share_is_no_imbalance() -> None:
    assert prompt_hints("only 45 % of the customers are active").constraints.imbalance is None


@pytest.mark.integration
def test_cli_reads_a_decade_and_reports_the_size_word_it_cannot_use(
    cli: Callable[..., Any],
) -> None:
    """From outside: the installed CLI on the bundled Nile series (yearly)."""
    r = cli(
        "design", "forecast the Nile flow over the next decade; the little bumps in spring matter",
        "--data", "statsmodels:nile", "--json", timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    bp = json.loads(r.stdout)
    assert bp["requirements"]["constraints"]["horizon"] == 10
    assert bp["requirements"]["constraints"]["size_preference"] is None
    # "spring" names the yearly season, which a yearly series cannot carry: said so
    assert (
        "a yearly pattern was named, but a series at step 'A' cannot carry it as a season; "
        "seasonal period kept at 1" in bp["envelope"]["uncertainty_factors"]
    )


@pytest.mark.parametrize(
    ("prompt", "kb", "budget"),
    [
        ("the model has to fit on a microcontroller with 256 KB of RAM", 256, 32_000),
        ("it must fit in 2 MB on a phone", 2_000, 250_000),
        ("a tiny model in 64 KB, under 5000 parameters", 64, 5_000),  # the stated budget wins
    ],
)
def test_a_small_memory_is_a_parameter_budget(prompt: str, kb: int, budget: int) -> None:
    c = prompt_hints(prompt).constraints
    assert c.memory_gb == pytest.approx(kb * 1e-6)
    assert (c.param_budget, c.param_budget_kind) == (budget, "max")
    assert not_understood(prompt, KNOWN_PATTERNS) == []


def test_an_edge_memory_never_asks_for_sharding() -> None:
    """256 KB is where the model runs: it must not read as a training device that FSDP shards
    for (a 30k-parameter model's Adam state is 0.5 MB)."""
    from mlflowctl.design import design

    bp = design("classify digits on a microcontroller with 256 KB of RAM", data="sklearn:digits")
    assert all(a.training.distributed.strategy == "none" for a in bp.approaches)
    assert all(a.model.parameter_count <= 32_000 for a in bp.approaches)
    notes = bp.envelope.uncertainty_factors
    assert "256 KB of memory where the model runs: fp32 weights kept to half of it, at most " \
        "32,000 parameters" in notes  # fmt: skip
