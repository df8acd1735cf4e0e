"""A training-time wish ("training must finish within 3 seconds") is read, designed as the
blueprint's ``training.max_time_s``, rendered as Lightning's ``max_time`` and said when it ends
the fit; a time said of training is never read as an inference latency."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlflowctl.design.phrases import not_understood
from mlflowctl.design.requirements import KNOWN_PATTERNS, prompt_hints


@pytest.mark.unit
@pytest.mark.parametrize(
    ("prompt", "seconds"),
    [
        ("classify iris; training must finish in under 30 seconds", 30),
        ("we retrain every night in under five minutes", 300),
        ("keep training under 10 minutes on a single GPU", 600),
        ("a training budget of 2 hours", 7200),
        ("10 minutes of training is all we get", 600),
        ("fit it within 1.5 h", 5400),
        ("train within an hour", 3600),
    ],
)
def test_training_time_in_words(prompt: str, seconds: float) -> None:
    c = prompt_hints(prompt).constraints
    assert c.train_time_s == seconds
    assert c.latency_ms is None  # before: "finish in under 30 seconds" was a 30,000 ms latency
    assert not_understood(prompt, KNOWN_PATTERNS) == []


@pytest.mark.unit
def test_latency_and_training_time_side_by_side() -> None:
    c = prompt_hints("respond within 20 ms per request, and train in 5 minutes").constraints
    assert (c.latency_ms, c.train_time_s) == (20.0, 300.0)
    assert prompt_hints("train on 500 rows").constraints.train_time_s is None


@pytest.mark.integration
@pytest.mark.heavy
def test_the_limit_stops_the_fit_and_is_said(tmp_path: Path, cli: Callable[..., Any]) -> None:
    """From outside: the installed CLI, digits, a 3 s training budget on a 60-epoch design."""
    r = cli(
        "run", "classify handwritten digits; training must finish within 3 seconds",
        "--data", "sklearn:digits", "--workdir", "w", "--json", timeout=600,
    )  # fmt: skip
    assert r.returncode in (0, 8), r.stderr[-2000:]
    bp = next(tmp_path.glob("w/**/blueprint.yaml")).read_text()
    assert "max_time_s: 3\n" in bp
    fitted = [
        json.loads(line)
        for events in tmp_path.glob("w/**/events.jsonl")
        for line in events.read_text().splitlines()
        if '"fitted"' in line
    ]
    assert fitted and fitted[-1]["stopped"] == "time_limit", fitted
    assert 1 <= fitted[-1]["epochs"] < 60
    assert 3.0 <= fitted[-1]["wall_time_s"] < 10
    assert "(stopped by the 3 s training-time limit)" in r.stderr
