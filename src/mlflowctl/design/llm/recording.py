"""The HTTP layers under pydantic-ai: bounded retries, record, replay.

They are httpx2 transports given to the SDK client, so a replayed answer goes through exactly
the same SDK and pydantic-ai parsing as a live one. The stack is

    SDK (its own retries off) -> Recorder -> Retrying -> the network
    SDK                       -> Replayer                 (no network, no key)

The recorder sits above the retries, so a recording holds the answers the model run saw (not
the 429s on the way) and a replay never sleeps. Recordings hold request bodies and response
bodies only: headers (where the key travels) are never written, and the key's text is
redacted from everything as a second line of defence (I4).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
import random
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2

from mlflowctl.design.llm.providers import redact
from mlflowctl.errors import InvalidInputError

log = logging.getLogger("mlflowctl.design.llm")

RECORDING_FORMAT = 1
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})
_RERECORD = "the prompt, data, spec or model changed since recording: re-record with --record DIR"


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass
class RetryLog:
    """What the retry layer went through, for the final error line."""

    statuses: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class RetryingTransport(httpx2.AsyncBaseTransport):
    """Retries 429/5xx/timeouts a bounded number of times, honouring ``Retry-After``.

    A ``Retry-After`` longer than ``max_retry_after_s`` is not waited for: the answer goes back
    to the SDK, which raises, so a rate-limited run fails fast instead of hanging.
    """

    def __init__(
        self,
        inner: httpx2.AsyncBaseTransport,
        *,
        retries: int,
        max_retry_after_s: float,
        base_delay_s: float = 0.5,
    ) -> None:
        self.inner = inner
        self.retries = retries
        self.max_retry_after_s = max_retry_after_s
        self.base_delay_s = base_delay_s
        self.log = RetryLog()

    def _backoff(self, attempt: int) -> float:
        return float(min(self.base_delay_s * 2**attempt, 8.0) * (0.75 + random.random() / 2))

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        attempt = 0
        while True:
            try:
                response = await self.inner.handle_async_request(request)
            except (httpx2.TimeoutException, httpx2.NetworkError) as exc:
                self.log.errors.append(type(exc).__name__)
                if attempt >= self.retries:
                    raise
                delay = self._backoff(attempt)
                log.info(
                    "LLM request %s: %s; retry in %.1fs",
                    request.url.path,
                    type(exc).__name__,
                    delay,
                )
            else:
                status = response.status_code
                if status not in RETRY_STATUSES:
                    return response
                self.log.statuses.append(status)
                wait = _retry_after(response.headers.get("retry-after"))
                if attempt >= self.retries or (wait is not None and wait > self.max_retry_after_s):
                    return response
                delay = wait if wait is not None else self._backoff(attempt)
                await response.aclose()
                log.info("LLM request %s: HTTP %d; retry in %.1fs", request.url.path, status, delay)
            attempt += 1
            await asyncio.sleep(delay)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _request_record(request: httpx2.Request) -> dict[str, Any]:
    raw = request.content
    try:
        body: Any = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        body = raw.decode("utf-8", "replace")
    return {"method": request.method, "path": request.url.path, "body": body}


def _canonical(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, ensure_ascii=False)


class RecordingTransport(httpx2.AsyncBaseTransport):
    """Keeps every request/response pair in memory; ``save()`` writes them once, at the end."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, *, secret: str) -> None:
        self.inner = inner
        self.secret = secret
        self.exchanges: list[dict[str, Any]] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        await response.aclose()
        try:
            body: Any = json.loads(content) if content else None
        except json.JSONDecodeError:
            body = content.decode("utf-8", "replace")
        self.exchanges.append(
            {
                "request": _request_record(request),
                "response": {"status": response.status_code, "body": body},
            }
        )
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-encoding"]
        return httpx2.Response(
            response.status_code, headers=headers, content=content, request=request
        )

    async def aclose(self) -> None:
        await self.inner.aclose()

    def save(self, directory: Path, *, backend: str, created_at: datetime) -> None:
        """Write ``manifest.json`` + ``exchange-NNNN.json`` atomically (a temp dir, then rename)."""
        if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
            raise InvalidInputError(
                f"{directory} exists and is not empty",
                hint="record into a new folder",
                location="--record",
            )
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
        try:
            manifest = {
                "format": RECORDING_FORMAT,
                "backend": backend,
                "created_at": created_at.isoformat(),
                "exchanges": len(self.exchanges),
            }
            files = {"manifest.json": manifest}
            for i, ex in enumerate(self.exchanges, start=1):
                files[f"exchange-{i:04d}.json"] = ex
            for name, data in files.items():
                text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
                (tmp / name).write_text(redact(text, self.secret), encoding="utf-8")
            if directory.exists():
                directory.rmdir()
            os.replace(tmp, directory)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


@dataclass(frozen=True)
class Recording:
    backend: str
    created_at: datetime
    exchanges: list[dict[str, Any]]


def load_recording(directory: Path) -> Recording:
    """Read a ``--record`` folder; every problem is one exit-2 line naming ``--replay``."""

    def bad(msg: str) -> InvalidInputError:
        return InvalidInputError(
            f"{directory}: {msg}", hint="re-record it with --record DIR", location="--replay"
        )

    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("format") != RECORDING_FORMAT:
            raise bad(f"unsupported recording format {manifest.get('format')!r}")
        n = int(manifest["exchanges"])
        created = datetime.fromisoformat(str(manifest["created_at"]))
        exchanges = [
            json.loads((directory / f"exchange-{i:04d}.json").read_text(encoding="utf-8"))
            for i in range(1, n + 1)
        ]
    except InvalidInputError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise bad(f"not a readable recording ({type(exc).__name__}: {exc})") from None
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return Recording(str(manifest.get("backend", "")), created, exchanges)


class ReplayTransport(httpx2.AsyncBaseTransport):
    """Answers from a recording, in order; a request that differs from the recorded one fails."""

    def __init__(self, recording: Recording, *, directory: Path) -> None:
        self.recording = recording
        self.directory = directory
        self.served = 0
        #: the SDK wraps transport errors; the caller re-raises this one instead
        self.failure: InvalidInputError | None = None

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        exchanges = self.recording.exchanges
        n = self.served + 1
        if self.served >= len(exchanges):
            self.failure = InvalidInputError(
                f"{self.directory}: request {n} asked for, the recording has {len(exchanges)}",
                hint=_RERECORD,
                location="--replay",
            )
            raise self.failure
        recorded = exchanges[self.served]
        if _canonical(_request_record(request)) != _canonical(recorded["request"]):
            self.failure = InvalidInputError(
                f"{self.directory}: request {n} differs from the recorded one",
                hint=_RERECORD,
                location="--replay",
            )
            raise self.failure
        self.served += 1
        body = recorded["response"]["body"]
        content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        return httpx2.Response(
            int(recorded["response"]["status"]),
            headers={"content-type": "application/json"},
            content=content,
            request=request,
        )


def make_http_client(
    *,
    timeout_s: float,
    transport: httpx2.AsyncBaseTransport,
) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        timeout=httpx2.Timeout(timeout_s, connect=min(timeout_s, 10.0)), transport=transport
    )
