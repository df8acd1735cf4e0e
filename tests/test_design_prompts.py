"""Every prompt of ``tests/fixtures/prompts/design-prompts.yaml`` (and our own rewordings of the
same asks) must yield a blueprint meeting its ``expect``; one test case per prompt.

"Filled" for a section means the part a person or the next phase relies on is there, not a
default left empty:

- ``infrastructure.tracking``: an experiment name, task and family tags, per-epoch metrics that
  include the gate metric;
- ``infrastructure.checkpointing``: monitors a logged metric, keeps at least one checkpoint;
- ``infrastructure.registry``: a model name, distinct challenger/champion aliases, a gate on a
  logged test metric with a direction;
- ``infrastructure.monitoring``: at least one feature to watch, a positive drift threshold, the
  gate metric as the live performance metric;
- ``training.search_space``: enabled, at least two parameters, at least 10 trials, on a logged
  metric.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlflowctl.blueprint.model import Approach, Blueprint
from mlflowctl.design import design
from mlflowctl.errors import InvalidInputError

pytestmark = pytest.mark.unit


def _tracking(a: Approach) -> bool:
    t = a.infrastructure.tracking
    gate = a.infrastructure.registry.gate.metric
    tags = set(t.tags)
    return (
        bool(t.experiment_name)
        and gate in t.metrics
        and {"mlflowctl.task", "mlflowctl.family"} <= tags
    )


def _checkpointing(a: Approach) -> bool:
    c = a.infrastructure.checkpointing
    return c.monitor in a.infrastructure.tracking.metrics and c.save_top_k >= 1


def _registry(a: Approach) -> bool:
    r = a.infrastructure.registry
    return (
        bool(r.model_name)
        and r.challenger_alias != r.champion_alias
        and r.gate.metric.startswith("test_")
        and r.gate.metric in a.infrastructure.tracking.metrics
    )


def _monitoring(a: Approach) -> bool:
    m = a.infrastructure.monitoring
    return (
        len(m.features) >= 1
        and m.drift_threshold > 0
        and m.performance_metric == a.infrastructure.registry.gate.metric
    )


def _search_space(a: Approach) -> bool:
    s = a.training.search_space
    return (
        s.enabled
        and len(s.params) >= 2
        and s.n_trials >= 10
        and s.metric in a.infrastructure.tracking.metrics
    )


FILLED: dict[str, Callable[[Approach], bool]] = {
    "infrastructure.tracking": _tracking,
    "infrastructure.checkpointing": _checkpointing,
    "infrastructure.registry": _registry,
    "infrastructure.monitoring": _monitoring,
    "training.search_space": _search_space,
}


def check_expect(bp: Blueprint, expect: dict[str, Any]) -> None:
    rec = bp.approach()
    req = bp.requirements
    handled = set()
    for key, want in expect.items():
        handled.add(key)
        if key == "task":
            assert req.task == want
        elif key == "modality":
            assert req.modality == want
        elif key == "family_any":
            assert rec.model.family in want
        elif key == "approaches_min":
            assert len(bp.approaches) >= want
        elif key == "params_max":
            assert rec.model.parameter_count <= want
        elif key == "params_range":
            assert want[0] <= rec.model.parameter_count <= want[1]
        elif key == "horizon":
            assert req.constraints.horizon == want and rec.model.output.dim == want
        elif key == "tbptt":
            t = rec.training.tbptt
            assert t.enabled == want
            if want:
                assert t.chunk_length and t.detach_points
        elif key == "distributed_any":
            assert rec.training.distributed.strategy in want
        elif key == "metric_any":
            gate = rec.infrastructure.registry.gate.metric
            assert gate.removeprefix("test_").removesuffix("_macro") in want, gate
            wished = {t.metric for t in req.constraints.metric_targets}
            assert wished & set(want), f"the wish is not recorded: {wished}"
        elif key == "positive_class":
            assert req.constraints.positive_class == want
        elif key == "threshold":
            assert rec.infrastructure.registry.gate.threshold == pytest.approx(want)
        elif key == "smallest_recommended":
            smallest = min(a.model.parameter_count for a in bp.approaches)
            assert (rec.model.parameter_count == smallest) == want
        elif key == "not_understood_any":
            reported = [u for u in bp.envelope.uncertainty_factors if "not understood" in u]
            assert any(w in u for w in want for u in reported), reported
        elif key == "sections":
            for section in want:
                assert section in FILLED, f"no definition of 'filled' for {section}"
                assert FILLED[section](rec), f"{section} is not filled in"
        else:
            handled.discard(key)
    assert handled == set(expect), f"unknown expect keys: {set(expect) - handled}"
    assert len(bp.approaches) >= 2
    assert rec.name == bp.recommended.approach and bp.recommended.reason


PROMPTS_FILE = Path(__file__).parent / "fixtures" / "prompts" / "design-prompts.yaml"

#: ``expect`` keys the product does not support yet: a prompt using one is a strict xfail, so it
#: flags (XPASS fails the run) once the key is handled above; then drop the key from this set.
NOT_YET_SUPPORTED: dict[str, str] = {}


#: prompts of the file's "worded the way people write them" section (issue 14 too) that use only
#: supported keys but whose wording the requirements reader does not understand yet, and which
#: test fails on them; strict, so each flags once the wording is understood
WORDING_GAPS: dict[str, tuple[str, set[str]]] = {}


def _cases() -> list[dict[str, Any]]:
    cases = yaml.safe_load(PROMPTS_FILE.read_text(encoding="utf-8"))
    assert isinstance(cases, list) and len(cases) >= 10
    return cases


def _params(cases: list[dict[str, Any]], test: str) -> list[Any]:
    params = []
    for i, case in enumerate(cases):
        reasons = [
            f"{NOT_YET_SUPPORTED[k]}: {k} not supported yet"
            for k in sorted(case["expect"])
            if k in NOT_YET_SUPPORTED and test == "with_data"
        ]
        gap = WORDING_GAPS.get(case["prompt"])
        if gap and test in gap[1]:
            reasons.append(gap[0])
        marks = [pytest.mark.xfail(strict=True, reason="; ".join(reasons))] if reasons else []
        params.append(pytest.param(case, id=f"{i:02d}-{case['prompt'][:40]}", marks=marks))
    return params


CASES = _cases()


@pytest.mark.parametrize("case", _params(CASES, "with_data"))
def test_every_shared_prompt_meets_its_expectations(case: dict[str, Any]) -> None:
    if "status" in case["expect"]:  # no blueprint: the questions or the reason instead
        with pytest.raises(InvalidInputError) as err:
            design(case["prompt"], data=case.get("data"))
        got = err.value.to_dict()
        assert got["status"] == case["expect"]["status"] and err.value.exit_code == 2
        assert got["questions"] if got["status"] == "needs_info" else got["reason"]
        return
    bp = design(case["prompt"], data=case.get("data"))
    if case.get("data") is None:
        assert bp.requirements.data_source is None
    try:
        check_expect(bp, case["expect"])
    except AssertionError as exc:
        raise AssertionError(f"{case['prompt']!r}: {exc}") from None


#: a prompt expected to give no blueprint at all (``status``) is no case for "still designs"
_DESIGNABLE = [c for c in CASES if "status" not in c["expect"]]


@pytest.mark.parametrize("case", _params(_DESIGNABLE, "without_data"))
def test_shared_prompts_without_their_data_still_design(case: dict[str, Any]) -> None:
    """Prompt-only: the same asks still give complete blueprints with the data left open."""
    bp = design(case["prompt"])
    expect = {k: v for k, v in case["expect"].items() if k in ("task", "family_any", "sections")}
    check_expect(bp, expect)
    assert bp.plan.steps and bp.envelope.verification
    text = bp.to_yaml()
    assert Blueprint.from_yaml(text).to_yaml() == text  # what -o writes reads back exactly


def test_every_prompt_file_key_is_known() -> None:
    """A new ``expect`` key in the prompts file must be handled or listed as not yet supported."""
    supported = {"task", "modality", "family_any", "approaches_min", "params_max", "params_range",
                 "horizon", "tbptt", "distributed_any", "sections", "metric_any",
                 "positive_class", "threshold", "smallest_recommended", "not_understood_any",
                 "status"}  # fmt: skip
    known = supported | set(NOT_YET_SUPPORTED)
    used = {k for c in CASES for k in c["expect"]}
    assert used <= known, f"unknown expect keys: {used - known}"


#: other wordings of the same kinds of asks
PARAPHRASES: list[tuple[str, str | None, dict[str, Any]]] = [
    ("Recognise which digit 0-9 is written in small 8x8 greyscale scans", None,
     {"task": "classification", "modality": "image", "family_any": ["cnn"], "approaches_min": 2}),
    ("Build a classifier for the digits data", "sklearn:digits",
     {"task": "classification", "modality": "image", "family_any": ["cnn"]}),
    ("Is this tumour benign or malignant? Use the cell nucleus measurements",
     "sklearn:breast_cancer",
     {"task": "classification", "modality": "tabular", "family_any": ["mlp"], "approaches_min": 2}),
    ("Estimate how much the disease progresses within a year", "sklearn:diabetes",
     {"task": "regression", "modality": "tabular", "family_any": ["mlp"]}),
    ("Using an LSTM with truncated backprop through time, predict sunspot numbers for the "
     "next 11 years", "statsmodels:sunspots",
     {"task": "forecasting", "horizon": 11, "family_any": ["lstm"], "tbptt": True}),
    ("Predict CO2 levels a year ahead; each prediction must run in less than 10 ms on CPU",
     "statsmodels:co2", {"task": "forecasting", "modality": "sequence", "horizon": 52}),
    ("Separate the 3 grape cultivars with fewer than 5000 parameters", "sklearn:wine",
     {"task": "classification", "params_max": 5000}),
    ("Sort iris flowers into their three species", "sklearn:iris",
     {"task": "classification", "modality": "tabular", "family_any": ["mlp"]}),
    ("Trajectory forecasting 63 days out, trained with TBPTT", None,
     {"task": "forecasting", "horizon": 63, "tbptt": True, "family_any": ["lstm", "gru"]}),
    ("Set up training, checkpoints, registry and drift monitoring for a transformer with memory "
     "tokens", None,
     {"family_any": ["transformer"], "sections": ["infrastructure.tracking",
      "infrastructure.checkpointing", "infrastructure.registry", "infrastructure.monitoring"]}),
    ("Track a hyper-parameter search with MLflow", None,
     {"sections": ["infrastructure.tracking", "training.search_space"]}),
    ("Multi-GPU training plan for a model of about 14 million parameters", None,
     {"params_range": [12_600_000, 15_400_000], "distributed_any": ["ddp", "fsdp", "deepspeed"]}),
    ("End-to-end system to forecast penny stock prices", None,
     {"task": "forecasting", "modality": "sequence",
      "sections": ["infrastructure.registry", "infrastructure.monitoring"]}),
]  # fmt: skip


@pytest.mark.parametrize(("prompt", "data", "expect"), PARAPHRASES)
def test_reworded_prompts_meet_the_same_expectations(
    prompt: str, data: str | None, expect: dict[str, Any]
) -> None:
    check_expect(design(prompt, data=data), expect)


def test_an_unfilled_section_is_caught() -> None:
    """The 'filled' checks can fail: the default, empty search space is not filled in."""
    rec = design("Classify handwritten digits").approach()
    assert not FILLED["training.search_space"](rec)
    empty = rec.model_copy(deep=True)
    empty.infrastructure.monitoring.features = []
    assert not FILLED["infrastructure.monitoring"](empty)
