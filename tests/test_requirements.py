"""Prompt -> Requirements: the shared prompts and other wordings of the same asks."""

from __future__ import annotations

import pytest

from mlflowctl.blueprint.model import DataProfile
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
    ("prompt", "task", "modality"),
    [
        ("Classify handwritten digits from 8x8 grayscale images", "classification", "image"),
        ("Which digit is drawn in this 28x28 picture?", "classification", "image"),
        ("Predict whether a breast tumour is malignant or benign", "classification", "tabular"),
        ("Detect fraudulent transactions from 12 numeric columns", "classification", "tabular"),
        ("Predict diabetes disease progression one year after baseline", "regression", "tabular"),
        ("Estimate house prices from a table of measurements", "regression", "tabular"),
        ("Forecast yearly sunspot activity 11 years ahead", "forecasting", "sequence"),
        ("What will the weekly CO2 level be over the next 52 weeks?", "forecasting", "sequence"),
        ("Design the complete ML system for penny stock prediction", "forecasting", "sequence"),
        ("Sort the sentiment of product reviews", "classification", "text"),
        ("Which members are going to cancel?", "classification", "tabular"),
        ("who is likely to churn from a table of accounts", "classification", "tabular"),
        ("which customers will renew their subscription", "classification", "tabular"),
        ("predict attrition of employees", "classification", "tabular"),
    ],
)
def test_task_and_modality(prompt: str, task: str, modality: str) -> None:
    req = read_requirements(prompt)
    assert (req.task, req.modality) == (task, modality)


@pytest.mark.parametrize(
    ("prompt", "freq", "horizon"),
    [
        ("Design a time series forecasting model for 63-day trajectory prediction", None, 63),
        ("forecast 63 days ahead", "D", 63),
        ("Forecast yearly sunspot activity 11 years ahead", "A", 11),
        ("forecast eleven years ahead", None, 11),
        ("Forecast weekly CO2 one year ahead", "W-SAT", 52),
        ("forecast sales one year ahead", "MS", 12),
        ("forecast demand one year ahead", "D", 365),
        ("forecast the load a year ahead", "M", 12),
        ("forecast the next 24 hours", "H", 24),
        ("predict the next 30 steps of the signal", None, 30),
        ("forecast 63 days ahead on weekly data", "W", 9),
    ],
)
def test_horizon_in_steps_of_the_data(prompt: str, freq: str | None, horizon: int) -> None:
    profile = _series(freq) if freq else None
    req = read_requirements(prompt, profile)
    assert req.task == "forecasting"
    assert req.constraints.horizon == horizon


@pytest.mark.parametrize(
    ("prompt", "budget", "kind"),
    [
        (
            "Design distributed training architecture for a 14M parameter model",
            14_000_000,
            "target",
        ),
        ("the model must stay under 5,000 parameters", 5_000, "max"),
        ("keep it below 1.5k parameters", 1_500, "max"),
        ("a 2 million parameter forecaster", 2_000_000, "target"),
        ("no more than 300 parameters please", 300, "max"),
        ("train a 50k-parameter classifier", 50_000, "target"),
    ],
)
def test_parameter_budget(prompt: str, budget: int, kind: str) -> None:
    c = prompt_hints(prompt).constraints
    assert (c.param_budget, c.param_budget_kind) == (budget, kind)


def test_latency_flags_and_named_architectures() -> None:
    c = prompt_hints("Forecast CO2; inference must take under 10 ms on a CPU").constraints
    assert (c.latency_ms, c.latency_device, c.hardware) == (10.0, "cpu", "cpu")
    c = prompt_hints("answer within 0.5 s on a GPU").constraints
    assert (c.latency_ms, c.latency_device) == (500.0, "gpu")
    c = prompt_hints(
        "Compare a ResNet, an LSTM, a GRU, a TCN, an MLP and a transformer, with TBPTT, "
        "trained with DDP on 8 GPUs with 40 GB of memory, plus a hyperparameter sweep"
    ).constraints
    # in the order the prompt names them
    assert c.named_architectures == ["cnn", "lstm", "gru", "tcn", "mlp", "transformer"]
    assert c.tbptt and c.distributed and c.hyperparameter_search
    assert (c.hardware, c.memory_gb) == ("multi_gpu", 40.0)
    c = prompt_hints("forecast with a memory-augmented transformer and truncated BPTT").constraints
    assert c.memory_based and c.tbptt
    assert prompt_hints(
        "Design experiment tracking for hyper-parameter tuning"
    ).constraints.hyperparameter_search
    assert prompt_hints("a plain forecaster").constraints == prompt_hints("a plain one").constraints


def test_hints_for_shapes_and_classes() -> None:
    assert prompt_hints("Classify handwritten digits from 8x8 grayscale images").image_shape == (
        1,
        8,
        8,
    )
    h = prompt_hints("classify ImageNet-size 224x224 images")
    assert (h.image_shape, h.n_classes) == ((3, 224, 224), 1000)
    assert prompt_hints("Tell the three wine cultivars apart").n_classes == 3
    assert prompt_hints("Predict whether a tumour is malignant or benign").n_classes == 2
    assert prompt_hints("from the 30 cell measurements").n_features == 30


def test_data_wins_over_the_prompt() -> None:
    tabular = DataProfile(
        source="sklearn:wine",
        source_kind="builtin",
        kind="tabular",
        n_rows=178,
        n_features=13,
        target="target",
        target_dtype="int64",
        n_classes=3,
    )
    req = read_requirements("classify these images", tabular)
    assert (req.task, req.modality, req.data_source) == (
        "classification",
        "tabular",
        "sklearn:wine",
    )
    req = read_requirements("forecast the next 12 months", tabular)
    assert (req.task, req.modality, req.constraints.horizon) == ("classification", "tabular", None)


def test_without_data_the_source_stays_empty() -> None:
    req = read_requirements("Classify handwritten digits")
    assert req.data_source is None and req.target is None


@pytest.mark.parametrize("prompt", ["", "   \n\t "])
def test_empty_prompt_is_one_clear_error(prompt: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        read_requirements(prompt)
    assert err.value.location == "PROMPT" and "empty" in err.value.message
    assert err.value.exit_code == 2
