"""What a failed LLM design leaves behind: one exit-3 error, and every attempt on disk.

Kept apart from the loop in ``llm.py`` so the loop reads as the happy path. Attempt files are
for people debugging a model or a prompt: the answer exactly as the model sent it, how it was
classified (``prose``, ``incomplete``, ``invalid``) and the feedback it got; the API key is
redacted from them like from recordings (I4).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlflowctl.design.llm.providers import Connection, redact, redact_url
from mlflowctl.errors import LLMOutputError

#: the tool the model answers through; any other tool call is a read-only tool round
OUTPUT_TOOL = "design_draft"


def http_failure(conn: Connection, exc: Exception, retrying: Any) -> LLMOutputError:
    label = conn.backend.label
    where = redact_url(conn.base_url) if conn.base_url else f"the {conn.backend.provider} API"
    status = getattr(exc, "status_code", None)
    tries = 1 + (conn.http_retries if retrying is not None else 0)
    if status is not None:
        what = f"HTTP {status}"
    elif retrying is not None and retrying.log.errors:
        what = retrying.log.errors[-1]  # ReadTimeout, ConnectError, ...
    else:
        what = type(exc).__name__
    return LLMOutputError(
        f"{what} from {where} (backend {label}, gave up after {tries} tries)",
        hint="retry later, check --base-url and the server, or design offline: --backend offline",
        location="--backend",
        details={"provider": conn.backend.provider, "status": status, "error": what},
    )


def _classify(response: dict[str, Any]) -> str:
    if response.get("finish_reason") == "length":
        return "incomplete"
    calls = [p for p in response.get("parts", []) if p.get("part_kind") == "tool-call"]
    if not calls:
        return "prose"
    if all(p.get("tool_name") != OUTPUT_TOOL for p in calls):
        return "tool_round"
    return "invalid"


_GENERIC = {
    "incomplete": "the answer was cut off at the output token limit",
    "prose": "the answer was prose, not the structured design",
    "tool_round": "the model kept calling tools without answering",
    "invalid": "the answer did not match the design schema",
}


def _first_problem(feedback: list[dict[str, Any]]) -> str | None:
    """``field.path: message`` of the first problem the last answer was told about."""
    for part in feedback:
        content = part.get("content")
        if isinstance(content, list) and content and isinstance(content[0], dict):
            loc = ".".join(str(x) for x in content[0].get("loc", [])) or "<root>"
            return f"{loc}: {content[0].get('msg', '')}"
        if isinstance(content, str) and content.strip():
            lines = [ln.strip("- ") for ln in content.splitlines() if ln.strip()]
            return lines[1] if len(lines) > 1 and lines[0].endswith(":") else lines[0]
    return None


def invalid_output(
    conn: Connection,
    messages: list[Any],
    last_errors: list[str],
    failures_dir: Path,
    reason: str,
    exc: BaseException | None,
) -> LLMOutputError:
    """Write every attempt (model answer + the feedback it got) and build the one exit-3 error."""
    from pydantic_ai.messages import ModelMessagesTypeAdapter

    dumped: list[dict[str, Any]] = ModelMessagesTypeAdapter.dump_python(messages, mode="json")
    attempts: list[dict[str, Any]] = []
    for i, msg in enumerate(dumped):
        if msg.get("kind") != "response":
            continue
        following = dumped[i + 1] if i + 1 < len(dumped) else None
        feedback = (
            following.get("parts", []) if following and following.get("kind") == "request" else []
        )
        attempts.append(
            {
                "attempt": len(attempts) + 1,
                "classification": _classify(msg),
                "finish_reason": msg.get("finish_reason"),
                "response_parts": msg.get("parts", []),
                "feedback": feedback,
            }
        )
    if attempts and not attempts[-1]["feedback"]:
        # the run ended at the last answer: its problems are in the exception, not the history
        cause = exc.__cause__ if exc is not None and exc.__cause__ is not None else exc
        retry = getattr(getattr(cause, "tool_retry", None), "content", None)
        final: Any = "\n".join(last_errors) if last_errors else (retry or str(cause or reason))
        attempts[-1]["feedback"] = [{"part_kind": "final-error", "content": final}]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    folder = failures_dir / stamp
    folder.mkdir(parents=True, exist_ok=True)
    for a in attempts:
        text = json.dumps(a, indent=2, ensure_ascii=False, default=str) + "\n"
        (folder / f"attempt-{a['attempt']}.json").write_text(
            redact(text, conn.api_key), encoding="utf-8"
        )
    last = attempts[-1]["classification"] if attempts else reason
    if reason == "incomplete":
        last = "incomplete"
    detail = _first_problem(attempts[-1]["feedback"]) if attempts and last == "invalid" else None
    detail = detail or _GENERIC[last]
    return LLMOutputError(
        f"answer still invalid after {len(attempts)} attempt(s), last one {last}: {detail} "
        f"(backend {conn.backend.label})",
        hint=f"every attempt is kept under {folder}; try another model or --backend offline",
        location="--backend",
        details={
            "classification": last,
            "attempts": len(attempts),
            "attempts_dir": str(folder),
            "errors": last_errors,
        },
    )
