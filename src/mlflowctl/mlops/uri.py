"""Tracking URIs as text: the one resolution rule, backend kinds, syntax checks, SQLite paths,
and redaction of credentials and secrets before anything is printed or stored. No mlflow here.
"""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from mlflowctl import environ_snapshot
from mlflowctl.errors import (
    InvalidInputError,
)

_CRED_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<cred>[^/@\s]+)@")
_SECRET_ENV_RE = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.IGNORECASE)
_extra_secrets: set[str] = set()


def redact(text: str) -> str:
    """Text safe to print or store: URI credentials and secret env values become ``***``."""
    text = _CRED_RE.sub(lambda m: f"{m.group('scheme')}***@", text)
    secrets = set(_extra_secrets)
    for name, value in environ_snapshot().items():  # never the live mapping (X9)
        if _SECRET_ENV_RE.search(name) and len(value) >= 6:
            secrets.add(value)
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _strip_credentials(uri: str) -> str:
    """Move ``user:pass@`` of an http(s) URI into MLflow's auth env vars (B25)."""
    parts = urllib.parse.urlsplit(uri)
    if not parts.username and not parts.password:
        return uri
    user = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password or "")
    for secret in (user, password, f"{user}:{password}"):
        if secret:
            _extra_secrets.add(secret)
    os.environ["MLFLOW_TRACKING_USERNAME"] = user
    os.environ["MLFLOW_TRACKING_PASSWORD"] = password
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def resolve_tracking_uri(
    flag: str | None = None,
    policy_uri: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> str:
    """``locate_tracking_store`` without the source."""
    return locate_tracking_store(flag, policy_uri, env=env, cwd=cwd)[0]


def locate_tracking_store(
    flag: str | None,
    policy_uri: str | None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> tuple[str, str]:
    """THE tracking-URI rule, as ``(uri, source)``: the ``--tracking-uri`` flag, else
    ``MLFLOW_TRACKING_URI`` (from ``env``, default ``os.environ``), else the mlops policy's
    ``tracking_uri``, else ``sqlite:///mlflow.db``. A relative SQLite path is made absolute
    against ``cwd`` (default: the process's working directory). ``mlflowctl.settings.Settings``
    is how commands call it.

    The answer has no credentials in it: they moved to ``MLFLOW_TRACKING_USERNAME/PASSWORD``.
    """
    source = "--tracking-uri"
    uri = flag
    if not uri:
        value = (os.environ if env is None else env).get("MLFLOW_TRACKING_URI")
        uri, source = value or None, "MLFLOW_TRACKING_URI"
    if not uri and policy_uri:
        uri, source = policy_uri, "mlops-architect policy"
    if not uri:
        uri, source = "sqlite:///mlflow.db", "default"
    uri = uri.strip()
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    if backend_kind(uri) == "databricks":
        return uri, source
    if scheme in {"", "file"}:
        raise InvalidInputError(
            f"file-store tracking URI {redact(uri)!r} is not supported",
            hint="use a database store, e.g. --tracking-uri sqlite:///mlflow.db",
            location=source,
        )
    if scheme == "sqlite":
        path = sqlite_path(uri)
        if path is None:
            raise InvalidInputError(
                f"sqlite URI {uri!r} names no file",
                hint="e.g. sqlite:///mlflow.db",
                location=source,
            )
        base = cwd if cwd is not None else Path.cwd()
        return f"sqlite:///{(base / path.expanduser()).resolve()}", source
    if scheme in {"http", "https"}:
        check_uri_syntax(uri, source)
        return _strip_credentials(uri), source
    if scheme in {"postgresql", "mysql", "mssql", "databricks"} or "+" in scheme:
        return uri, source
    raise InvalidInputError(
        f"unsupported tracking URI scheme {scheme!r}",
        hint="use sqlite:///mlflow.db or http(s)://host:port",
        location=source,
    )


_SQLALCHEMY_BACKENDS = {"postgresql": "postgresql", "postgres": "postgresql", "mysql": "mysql",
                        "mssql": "mssql", "sqlite": "sqlite"}  # fmt: skip


def backend_kind(uri: str) -> str:
    """What kind of store ``uri`` names: sqlite, file, http, https, postgresql, mysql, mssql,
    databricks, or unknown. Purely syntactic (no I/O, no MLflow import): ``doctor`` and the
    error messages classify backends with this one rule."""
    text = uri.strip()
    low = text.lower()
    if low == "databricks" or low.startswith(("databricks://", "databricks-uc")):
        return "databricks"
    scheme = low.split(":", 1)[0] if ":" in low else ""
    if not scheme or len(scheme) == 1 or scheme == "file":  # a path (C:\... too) or file:
        return "file"
    if scheme in ("http", "https"):
        return scheme
    return _SQLALCHEMY_BACKENDS.get(scheme.split("+", 1)[0], "unknown")


def check_uri_syntax(uri: str, source: str = "--tracking-uri") -> None:
    """Refuse (exit 2) an http(s) URI that names no host or a bad port, before any network
    call: ``http://`` alone must not cost the probe's 10 s deadline and then exit 6."""
    try:
        parts = urllib.parse.urlsplit(uri)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise InvalidInputError(
            f"tracking URI {redact(uri)!r} is malformed: {exc}",
            hint="e.g. http://127.0.0.1:5000",
            location=source,
        ) from None
    if not host:
        raise InvalidInputError(
            f"tracking URI {redact(uri)!r} names no host",
            hint="e.g. http://127.0.0.1:5000",
            location=source,
        )


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (relative to the cwd when relative)."""
    if not uri.lower().startswith("sqlite:///"):
        return None
    rest = uri[len("sqlite:///") :].split("?", 1)[0]
    if not rest or rest == ":memory:":
        return None
    return Path(rest)


def artifact_root(uri: str) -> str | None:
    """``mlartifacts`` beside the SQLite file, as a file URI; None for remote stores."""
    path = sqlite_path(uri)
    if path is None:
        return None
    return (path.resolve().parent / "mlartifacts").as_uri()
