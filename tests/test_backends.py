"""The LLM designer's validate -> re-ask -> retry loop against a loopback server (B15-B19, B24).

Every test talks real HTTP to ``tests/llm_server.py`` on 127.0.0.1 through pydantic-ai and the
official SDK, in both wire formats where the behaviour could differ.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from llm_server import LLMServer, Reply, approach, valid_draft

from mlflowctl.design.draft import DesignDraft
from mlflowctl.design.llm.llm import ask_structured
from mlflowctl.design.llm.providers import Connection, parse_backend
from mlflowctl.errors import EXIT_LLM_INVALID, BlueprintError, LLMOutputError

pytestmark = pytest.mark.unit

KEY = "sk-canary-7c1d9e"


@pytest.fixture
def server() -> Any:
    with LLMServer() as srv:
        yield srv


def _conn(srv: LLMServer, provider: str = "openai", **kw: Any) -> Connection:
    url = srv.base_url if provider == "openai" else srv.anthropic_base_url
    kw.setdefault("timeout_s", 5.0)
    kw.setdefault("http_retries", 2)
    return Connection(parse_backend(f"{provider}:loop-model"), KEY, url, **kw)


def _ask(conn: Connection, tmp_path: Path, *, check: Any = None, retries: int = 2) -> Any:
    return ask_structured(
        conn,
        system="You are the ml-architect.",
        user="classify digits",
        output_type=DesignDraft,
        check=check or (lambda d: d),
        max_retries=retries,
        failures_dir=tmp_path / "failures",
    )


def _user_texts(body: dict[str, Any]) -> str:
    """All user-side text of a request, in either wire format."""
    return json.dumps([m for m in body["messages"] if m["role"] in ("user", "tool")])


def _attempts(tmp_path: Path) -> list[dict[str, Any]]:
    folders = list((tmp_path / "failures").iterdir())
    assert len(folders) == 1
    files = sorted(folders[0].glob("attempt-*.json"))
    return [json.loads(f.read_text()) for f in files]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_valid_answer_becomes_a_draft(server: LLMServer, tmp_path: Path, provider: str) -> None:
    server.queue(Reply.tool(valid_draft()))
    out = _ask(_conn(server, provider), tmp_path)
    assert isinstance(out.value, DesignDraft)
    assert out.value.recommended == "mlp_small"
    assert out.attempts == 1
    (req,) = server.requests
    assert req.path.endswith("/chat/completions" if provider == "openai" else "/messages")
    system = req.body["messages"][0]["content"] if provider == "openai" else req.body["system"]
    assert "You are the ml-architect." in system  # the spec body is the system prompt
    assert "classify digits" in _user_texts(req.body)
    assert req.body["tools"], "the answer is asked for as a structured tool call"


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_prose_is_reasked_then_accepted(server: LLMServer, tmp_path: Path, provider: str) -> None:
    server.queue(
        Reply.prose("Sure! I would use an MLP with two layers."), Reply.tool(valid_draft())
    )
    out = _ask(_conn(server, provider), tmp_path)
    assert out.value.approaches[1].name == "mlp_wide"
    assert len(server.requests) == 2
    again = json.dumps(server.requests[1].body["messages"][1:])
    assert "Sure! I would use an MLP" in again  # the model sees its own answer ...
    assert "in a tool call" in again  # ... and why it was not accepted


def test_prose_forever_fails_with_every_attempt_kept(server: LLMServer, tmp_path: Path) -> None:
    server.queue(*[Reply.prose(f"prose {i}") for i in range(3)])
    with pytest.raises(LLMOutputError) as info:
        _ask(_conn(server), tmp_path, retries=2)
    assert info.value.exit_code == EXIT_LLM_INVALID == 3
    assert "after 3 attempt(s), last one prose" in str(info.value)
    attempts = _attempts(tmp_path)
    assert [a["classification"] for a in attempts] == ["prose"] * 3
    assert "prose 2" in json.dumps(attempts[2]["response_parts"])
    assert len(server.requests) == 3  # max_retries=2 re-asks, no more


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_truncated_json_is_incomplete_and_reasked_once_with_a_hint(
    server: LLMServer, tmp_path: Path, provider: str
) -> None:
    cut = json.dumps(valid_draft())[:300]  # finish_reason=length / stop_reason=max_tokens
    server.queue(Reply.tool(cut, finish="length"), Reply.tool(valid_draft()))
    out = _ask(_conn(server, provider), tmp_path)
    assert out.value.recommended == "mlp_small"
    assert "cut off at the output token limit" in _user_texts(server.requests[1].body)


def test_truncated_twice_fails_as_incomplete(server: LLMServer, tmp_path: Path) -> None:
    cut = json.dumps(valid_draft())[:300]
    server.queue(Reply.tool(cut, finish="length"), Reply.tool(cut, finish="length"))
    with pytest.raises(LLMOutputError) as info:
        _ask(_conn(server), tmp_path)
    assert info.value.details["classification"] == "incomplete"
    assert len(server.requests) == 2  # one hinted re-ask, not the whole budget
    assert [a["classification"] for a in _attempts(tmp_path)] == ["incomplete", "incomplete"]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_extra_fields_are_rejected_and_reasked(
    server: LLMServer, tmp_path: Path, provider: str
) -> None:
    sneaky = valid_draft()
    sneaky["tracking_uri"] = "http://attacker.example/mlflow"
    sneaky["approaches"][0]["infrastructure"]["registry"] = {"champion_alias": "pwned"}
    server.queue(Reply.tool(sneaky), Reply.tool(valid_draft()))
    out = _ask(_conn(server, provider), tmp_path)
    assert not hasattr(out.value, "tracking_uri")
    feedback = _user_texts(server.requests[1].body)
    assert "tracking_uri" in feedback and "extra" in feedback.lower()


BAD_NUMBERS = {
    "nan": '"lr": NaN',
    "infinity_string": '"lr": "Infinity"',
    "overflow": '"lr": 1e309',
    "number_as_string": '"lr": "0.001"',
}


@pytest.mark.parametrize("bad", sorted(BAD_NUMBERS))
def test_non_finite_and_string_numbers_never_pass(
    server: LLMServer, tmp_path: Path, bad: str
) -> None:
    raw = json.dumps(valid_draft()).replace('"lr": 0.001', BAD_NUMBERS[bad], 1)
    assert BAD_NUMBERS[bad] in raw
    server.queue(Reply.tool(raw), Reply.tool(raw))
    with pytest.raises(LLMOutputError) as info:
        _ask(_conn(server), tmp_path, retries=1)
    assert "approaches.0.training.optimizer.lr" in json.dumps(_attempts(tmp_path)[-1]["feedback"])
    assert info.value.exit_code == 3


HOSTILE = ["../../etc/passwd", "x; rm -rf /", "__import__('os').system('id')", "Name With Spaces"]


def test_hostile_identifiers_are_rejected(server: LLMServer, tmp_path: Path) -> None:
    for name in HOSTILE:
        draft = valid_draft()
        draft["approaches"][0]["name"] = name
        draft["recommended"] = name
        server.queue(Reply.tool(draft))
    server.queue(Reply.tool(valid_draft()))
    out = _ask(_conn(server), tmp_path, retries=len(HOSTILE))
    assert out.value.recommended == "mlp_small"
    for req, name in zip(server.requests[1:], HOSTILE, strict=True):
        assert "should match pattern" in _user_texts(req.body), name


@pytest.mark.parametrize(
    ("path", "value", "bound"),
    [
        (("training", "max_epochs"), 10**9, "less than or equal to 10000"),
        (("training", "batch_size"), 0, "greater than or equal to 1"),
        (("training", "optimizer", "lr"), -1, "greater than 0"),
        (("model", "params", "hidden"), [10**7], "less than or equal to 65536"),
    ],
)
def test_out_of_range_values_name_the_bound(
    server: LLMServer, tmp_path: Path, path: tuple[str, ...], value: Any, bound: str
) -> None:
    draft = valid_draft()
    node = draft["approaches"][0]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    server.queue(Reply.tool(draft))
    with pytest.raises(LLMOutputError) as info:
        _ask(_conn(server), tmp_path, retries=0)
    assert len(server.requests) == 1
    feedback = json.dumps(_attempts(tmp_path)[0]["feedback"])
    assert bound in feedback, feedback[:500]
    assert info.value.details["attempts"] == 1


def test_critic_problems_are_fed_back_verbatim(server: LLMServer, tmp_path: Path) -> None:
    """What the critic rejects goes back to the model as the re-ask, every problem listed."""
    seen: list[int] = []

    def critic(draft: DesignDraft) -> str:
        seen.append(len(draft.approaches))
        if draft.approaches[0].model.params.family == "mlp" and len(seen) == 1:
            raise BlueprintError(
                "2 problems",
                details={"errors": ["approaches.0: over the parameter budget", "recommended: no"]},
            )
        return "assembled"

    server.queue(Reply.tool(valid_draft()), Reply.tool(valid_draft()))
    out = _ask(_conn(server), tmp_path, check=critic)
    assert out.value == "assembled"
    feedback = _user_texts(server.requests[1].body)
    assert "over the parameter budget" in feedback and "recommended: no" in feedback


@pytest.mark.fault
def test_429_with_retry_after_is_honoured(server: LLMServer, tmp_path: Path) -> None:
    server.queue(Reply.error(429, headers={"Retry-After": "1"}), Reply.tool(valid_draft()))
    t0 = time.monotonic()
    out = _ask(_conn(server), tmp_path)
    assert out.value.recommended == "mlp_small"
    gap = server.requests[1].at - server.requests[0].at
    assert 0.95 <= gap < 3.0, gap  # waited as told, not longer
    assert time.monotonic() - t0 < 10


@pytest.mark.fault
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_persistent_500_gives_up_with_provider_and_status(
    server: LLMServer, tmp_path: Path, provider: str
) -> None:
    server.queue(*[Reply.error(500) for _ in range(10)])
    conn = _conn(server, provider, http_retries=2, record_dir=tmp_path / "rec")
    t0 = time.monotonic()
    with pytest.raises(LLMOutputError) as info:
        _ask(conn, tmp_path)
    elapsed = time.monotonic() - t0
    assert info.value.exit_code == 3
    assert "HTTP 500" in str(info.value) and f"backend {provider}:loop-model" in str(info.value)
    assert len(server.requests) == 3  # 1 + 2 bounded retries
    assert elapsed < 8, elapsed
    assert not (tmp_path / "rec").exists() and not (tmp_path / "failures").exists()


@pytest.mark.fault
def test_retry_after_beyond_the_cap_fails_fast(server: LLMServer, tmp_path: Path) -> None:
    server.queue(Reply.error(429, headers={"Retry-After": "3600"}))
    t0 = time.monotonic()
    with pytest.raises(LLMOutputError, match="HTTP 429"):
        _ask(_conn(server), tmp_path)
    assert time.monotonic() - t0 < 5 and len(server.requests) == 1


@pytest.mark.fault
def test_timeout_is_bounded(server: LLMServer, tmp_path: Path) -> None:
    server.queue(Reply.slow(4), Reply.slow(4))
    t0 = time.monotonic()
    with pytest.raises(LLMOutputError) as info:
        _ask(_conn(server, timeout_s=0.5, http_retries=1), tmp_path)
    elapsed = time.monotonic() - t0
    assert "Timeout" in str(info.value) and info.value.exit_code == 3
    assert elapsed < 3.5, elapsed


@pytest.mark.fault
def test_connection_refused_is_exit_3(tmp_path: Path) -> None:
    with LLMServer() as srv:
        url = srv.base_url
    conn = Connection(parse_backend("openai:m"), KEY, url, timeout_s=1.0, http_retries=1)
    with pytest.raises(LLMOutputError, match="ConnectError"):
        _ask(conn, tmp_path)


def test_more_approaches_than_allowed_is_a_schema_error(server: LLMServer, tmp_path: Path) -> None:
    draft = valid_draft()
    draft["approaches"] = [approach(f"a{i}") for i in range(4)]
    server.queue(Reply.tool(draft))
    with pytest.raises(LLMOutputError):
        _ask(_conn(server), tmp_path, retries=0)
    assert "at most 3 items" in json.dumps(_attempts(tmp_path)[0]["feedback"])
