"""Which LLM answers, where it lives, and how we reach it.

``parse_backend`` and ``resolve_connection`` are cheap and run before anything is written, so a
bad ``--backend`` or a missing key fails with exit 2 before any side effect (B27). Only
``build_model`` imports pydantic-ai and an SDK, and only when an LLM backend was chosen.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from mlflowctl.errors import InvalidInputError

if TYPE_CHECKING:
    import httpx2

Provider = Literal["offline", "openai", "anthropic"]
PROVIDERS: tuple[Provider, ...] = ("offline", "openai", "anthropic")

#: where each provider reads its key and base URL from
KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
BASE_URL_ENV = {"openai": "OPENAI_BASE_URL", "anthropic": "ANTHROPIC_BASE_URL"}

#: Claude Code spec files name models by alias; the Anthropic API wants a model id
_CLAUDE_ALIASES = {
    "opus": "claude-opus-4-1",
    "sonnet": "claude-sonnet-4-5",
    "haiku": "claude-haiku-4-5",
}
_NOT_A_MODEL = {"", "inherit"}
_FLAG_HINT = "use --backend offline, openai:MODEL or anthropic:MODEL"


@dataclass(frozen=True)
class BackendRef:
    """A parsed ``--backend`` value: ``offline`` or a provider with its model."""

    provider: Provider
    model: str | None = None

    @property
    def is_offline(self) -> bool:
        return self.provider == "offline"

    @property
    def label(self) -> str:
        """What the blueprint's provenance records: ``offline`` or ``openai:MODEL``."""
        return self.provider if self.model is None else f"{self.provider}:{self.model}"

    def __str__(self) -> str:
        return self.label


def _model_from_spec(provider: Provider, spec_model: str | None) -> str | None:
    name = (spec_model or "").strip()
    if name.lower() in _NOT_A_MODEL:
        return None
    if "/" in name:  # "anthropic/claude-sonnet-4-5" style
        prefix, _, rest = name.partition("/")
        if prefix != provider:
            return None
        name = rest
    if provider == "anthropic":
        return _CLAUDE_ALIASES.get(name.lower(), name if name.startswith("claude") else None)
    return None if name.lower() in _CLAUDE_ALIASES or name.startswith("claude") else name


def parse_backend(text: str, *, default_model: str | None = None) -> BackendRef:
    """``offline`` | ``openai[:MODEL]`` | ``anthropic[:MODEL]``; a bare one takes the spec's."""
    raw = (text or "").strip()
    provider, sep, model = raw.partition(":")
    if provider not in PROVIDERS:
        raise InvalidInputError(f"unknown backend {raw!r}", hint=_FLAG_HINT, location="--backend")
    if provider == "offline":
        if sep:
            raise InvalidInputError(
                "the offline backend takes no model", hint=_FLAG_HINT, location="--backend"
            )
        return BackendRef("offline")
    model = model.strip() if sep else (_model_from_spec(provider, default_model) or "")
    if not model:
        raise InvalidInputError(
            f"no model for backend {provider!r} (the agent spec names none usable)",
            hint=f"name one: --backend {provider}:MODEL",
            location="--backend",
        )
    if len(model) > 100 or not all(c.isalnum() or c in "_.:-/" for c in model):
        raise InvalidInputError(
            f"model name {model!r} has characters outside [A-Za-z0-9_.:-/]",
            hint=f"--backend {provider}:MODEL with a plain model id",
            location="--backend",
        )
    return BackendRef(provider, model)


@dataclass(frozen=True)
class Connection:
    """Everything needed to talk to one provider, checked before any side effect."""

    backend: BackendRef
    api_key: str
    base_url: str | None
    timeout_s: float = 120.0
    #: HTTP-level retries for 429/5xx/timeouts (the SDK's own retries are off)
    http_retries: int = 3
    #: the longest ``Retry-After`` we honour; longer waits fail instead of hanging
    max_retry_after_s: float = 30.0
    record_dir: Path | None = None
    replay_dir: Path | None = None

    def __repr__(self) -> str:  # never show the key, even in a traceback
        return f"Connection(backend={self.backend.label!r}, base_url={self.base_url!r})"


_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def resolve_connection(
    backend: BackendRef,
    *,
    base_url: str | None = None,
    timeout_s: float | None = None,
    http_retries: int | None = None,
    record_dir: Path | None = None,
    replay_dir: Path | None = None,
) -> Connection:
    """Key, base URL and limits for ``backend``; raises exit-2 errors, writes nothing."""
    if backend.is_offline:
        raise InvalidInputError("the offline backend has no LLM connection", location="--backend")
    provider = backend.provider
    url = base_url or os.environ.get(BASE_URL_ENV[provider]) or None
    if replay_dir is not None:
        if record_dir is not None:
            raise InvalidInputError(
                "--record and --replay cannot be used together", location="--replay"
            )
        if not replay_dir.is_dir():
            raise InvalidInputError(
                f"no recording at {replay_dir}",
                hint="record one with --record DIR",
                location="--replay",
            )
        return Connection(
            backend, api_key="replay-needs-no-key", base_url=None, replay_dir=replay_dir
        )
    if record_dir is not None and record_dir.exists() and not _empty_dir(record_dir):
        raise InvalidInputError(
            f"{record_dir} exists and is not empty",
            hint="record into a new folder",
            location="--record",
        )
    key = os.environ.get(KEY_ENV[provider], "").strip()
    if not key:
        raise InvalidInputError(
            f"{KEY_ENV[provider]} is not set (needed by --backend {backend.label})",
            hint=(
                f"export {KEY_ENV[provider]}=... (any value for a local server), "
                "or design without an LLM: --backend offline"
            ),
            location="--backend",
        )
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInputError(
                f"base URL {redact_url(url)!r} is not an http(s) URL",
                hint=f"e.g. http://127.0.0.1:8000/v1 (flag or {BASE_URL_ENV[provider]})",
                location="--base-url",
            )
    host = urlsplit(url).hostname if url is not None else None
    if _ci_forbids(host):
        where = repr(redact_url(url)) if url is not None else f"the default {provider} API"
        raise InvalidInputError(
            f"refusing non-loopback LLM endpoint {where} under CI=true",
            hint="replay a recording (--replay DIR) or set MLFLOWCTL_ALLOW_REMOTE_LLM=1",
            location="--base-url",
        )
    timeout = timeout_s if timeout_s is not None else _env_float("MLFLOWCTL_LLM_TIMEOUT", 120.0)
    retries = http_retries if http_retries is not None else 3
    return Connection(backend, key, url, timeout, retries, record_dir=record_dir)


def _ci_forbids(host: str | None) -> bool:
    """Under ``CI=true`` only loopback servers are reached, unless explicitly allowed."""
    if os.environ.get("CI", "").lower() != "true" or os.environ.get("MLFLOWCTL_ALLOW_REMOTE_LLM"):
        return False
    return host not in _LOOPBACK


def _empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInputError(f"{name}={raw!r} is not a number", location=name) from None
    if not 0 < value <= 3600:
        raise InvalidInputError(f"{name} must be in (0, 3600] seconds", location=name)
    return value


def recorded_backend(replay_dir: str | Path) -> str:
    """The ``--backend`` a recording was made with, so ``--replay DIR`` alone is enough."""
    import json

    manifest = Path(replay_dir) / "manifest.json"
    try:
        backend = json.loads(manifest.read_text(encoding="utf-8"))["backend"]
    except (OSError, ValueError, KeyError, TypeError):
        raise InvalidInputError(
            f"{manifest} is missing or unreadable",
            hint="record one with --record DIR",
            location="--replay",
        ) from None
    return str(parse_backend(str(backend)).label)


REDACTED = "<redacted>"


def redact(text: str, secret: str | None) -> str:
    """``text`` with every copy of ``secret`` replaced (a second line of defence, I4)."""
    return text.replace(secret, REDACTED) if secret and len(secret) >= 4 else text


def redact_url(url: str) -> str:
    """``scheme://host:port/path`` without any ``user:password@``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def build_model(conn: Connection, http_client: httpx2.AsyncClient) -> Any:
    """The pydantic-ai model for ``conn``; SDK retries off (``recording`` does them)."""
    model = conn.backend.model or ""
    base_url = conn.base_url
    if conn.replay_dir is not None:  # never reached: the replay transport answers first
        base_url = (
            "http://replay.invalid/v1"
            if conn.backend.provider == "openai"
            else "http://replay.invalid"
        )
    if conn.backend.provider == "openai":
        from openai import AsyncOpenAI
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        openai_client = AsyncOpenAI(
            api_key=conn.api_key,
            base_url=base_url,
            http_client=http_client,
            max_retries=0,
            timeout=conn.timeout_s,
        )
        return OpenAIChatModel(model, provider=OpenAIProvider(openai_client=openai_client))
    from anthropic import AsyncAnthropic
    from pydantic_ai.models.anthropic import AnthropicModel
    from pydantic_ai.providers.anthropic import AnthropicProvider

    anthropic_client = AsyncAnthropic(
        api_key=conn.api_key,
        base_url=base_url,
        http_client=http_client,
        max_retries=0,
        timeout=conn.timeout_s,
    )
    return AnthropicModel(model, provider=AnthropicProvider(anthropic_client=anthropic_client))
