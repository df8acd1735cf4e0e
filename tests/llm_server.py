"""A loopback LLM server for the backend tests: real HTTP, scripted answers, no network.

It speaks two wire formats, chosen by the path the client posts to:

* ``POST /v1/chat/completions``: OpenAI chat completions; a structured answer is a
  ``tool_calls`` entry whose ``function.arguments`` is a JSON *string* (as the API sends it).
* ``POST /v1/messages``: Anthropic messages; a structured answer is a ``tool_use`` block whose
  ``input`` is a JSON object.

Each test queues ``Reply`` objects; every request pops the next one. The tool name is taken
from the request's tool list, so the answers follow whatever name pydantic-ai gives its output
tool. Every request (path, headers, JSON body) is kept in ``server.requests``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer: a tool call, prose, or an HTTP error; optionally after a delay."""

    kind: str  # "tool" | "text" | "status"
    #: for "tool": the raw arguments text (OpenAI) or parsed object (Anthropic) of the tool call
    arguments: str = ""
    text: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    #: "stop" or "length" (OpenAI) / mapped to "max_tokens" (Anthropic)
    finish: str = "stop"
    delay_s: float = 0.0
    #: the tool a "tool" reply calls; None: the output tool
    name: str | None = None

    @classmethod
    def tool(
        cls, arguments: str | dict[str, Any], *, finish: str = "stop", name: str | None = None
    ) -> Reply:
        raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
        return cls(kind="tool", arguments=raw, finish=finish, name=name)

    @classmethod
    def prose(cls, text: str) -> Reply:
        return cls(kind="text", text=text)

    @classmethod
    def error(cls, status: int, *, headers: dict[str, str] | None = None) -> Reply:
        return cls(kind="status", status=status, headers=headers or {})

    @classmethod
    def slow(cls, seconds: float) -> Reply:
        """An answer that comes after ``seconds``: longer than the client's timeout in tests."""
        return cls(kind="text", text="too late", delay_s=seconds)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float


class LLMServer:
    """Run with ``with LLMServer() as srv: srv.queue(...)``; ``srv.base_url`` ends in ``/v1``."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """The Anthropic SDK appends ``/v1/messages`` itself."""
        return self.base_url.removesuffix("/v1")

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def __enter__(self) -> LLMServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # ------------------------------------------------------------------ request handling

    def _next(self, seen: Seen) -> Reply:
        with self._lock:
            self.requests.append(seen)
            if not self.replies:
                return Reply.error(599)
            return self.replies.popleft()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                body = json.loads(raw) if raw else {}
                seen = Seen(
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    time.monotonic(),
                )
                reply = server._next(seen)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.kind == "status":
                    payload = {
                        "error": {"message": f"scripted {reply.status}", "type": "server_error"}
                    }
                    self._send(reply.status, payload, reply.headers)
                elif self.path.endswith("/chat/completions"):
                    self._send(200, _openai_answer(reply, body), {})
                elif self.path.endswith("/messages"):
                    self._send(200, _anthropic_answer(reply, body), {})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}}, {})

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

        return Handler


def _tool_name(reply: Reply, body: dict[str, Any]) -> str:
    """The tool a scripted call names: the reply's own choice, else the output tool."""
    if reply.name:
        return reply.name
    names = [str(t.get("function", t).get("name")) for t in body.get("tools") or []]
    for output in ("design_draft", "final_result"):
        if output in names:
            return output
    return names[0] if names else "final_result"


def _openai_answer(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None}
    finish = reply.finish
    if reply.kind == "tool":
        message["tool_calls"] = [
            {
                "id": f"call_{len(body.get('messages', []))}",
                "type": "function",
                "function": {"name": _tool_name(reply, body), "arguments": reply.arguments},
            }
        ]
        finish = "tool_calls" if reply.finish == "stop" else reply.finish
    else:
        message["content"] = reply.text
    return {
        "id": "chatcmpl-loopback",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": body.get("model", "loopback"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
    }


def _anthropic_answer(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    stop = "max_tokens" if reply.finish == "length" else "end_turn"
    if reply.kind == "tool":
        try:
            parsed: Any = json.loads(reply.arguments)
        except json.JSONDecodeError:
            parsed = {}  # a cut-off tool_use block arrives with whatever input was complete
        content: list[dict[str, Any]] = [
            {
                "type": "tool_use",
                "id": f"toolu_{len(body.get('messages', []))}",
                "name": _tool_name(reply, body),
                "input": parsed,
            }
        ]
        if reply.finish == "stop":
            stop = "tool_use"
    else:
        content = [{"type": "text", "text": reply.text}]
    return {
        "id": "msg_loopback",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "loopback"),
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 100, "output_tokens": 50},
    }


# --------------------------------------------------------------------------- sample answers


def approach(name: str, *, hidden: int = 32, epochs: int = 5) -> dict[str, Any]:
    """One valid ``ApproachDraft`` for tabular classification, as an LLM would send it."""
    return {
        "name": name,
        "title": f"MLP {name}",
        "overview": "A small MLP on the standardized features.",
        "model": {"params": {"family": "mlp", "hidden": [hidden, hidden], "dropout": 0.1}},
        "training": {
            "loss": {"name": "cross_entropy"},
            "optimizer": {"name": "adamw", "lr": 0.001, "weight_decay": 0.01},
            "schedule": {"name": "warmup_cosine", "warmup_fraction": 0.05},
            "batch_size": 64,
            "max_epochs": epochs,
        },
        "infrastructure": {
            "tags": {"team": "ml"},
            "gate": {"metric": "test_accuracy", "direction": "maximize"},
            "monitoring": {"performance_metric": "test_accuracy"},
        },
        "tradeoffs": [{"aspect": "accuracy", "rating": "medium", "note": "baseline"}],
        "rationale": "Tabular data with few features: an MLP is enough.",
    }


def valid_draft() -> dict[str, Any]:
    """A valid ``DesignDraft``: two approaches, the first recommended."""
    return {
        "approaches": [approach("mlp_small", hidden=32), approach("mlp_wide", hidden=64)],
        "recommended": "mlp_small",
        "reason": "Fewer parameters for the same expected accuracy.",
        "confidence": 0.8,
        "uncertainty_factors": ["small data set"],
    }
