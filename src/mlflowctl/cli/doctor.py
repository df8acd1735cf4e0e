"""``mlflowctl doctor``: what this machine has, and whether the tracking store answers.

Versions come from ``importlib.metadata`` (no heavy imports); torch is imported only to ask about
CUDA, after a status line. The tracking URI is resolved by the one rule every command uses
(``mlflowctl.settings``: flag > ``MLFLOW_TRACKING_URI`` > the mlops-architect policy > default,
relative SQLite paths made absolute against the current directory) and checked without MLflow:
an HTTP ``GET /health`` with a 5 s timeout, or for SQLite whether the file or its folder is
writable.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from mlflowctl import console
from mlflowctl.errors import EXIT_TRACKING_UNAVAILABLE
from mlflowctl.settings import Settings, current

HEALTH_TIMEOUT_S = 5.0
PACKAGES = (
    "mlflowctl", "torch", "lightning", "mlflow", "pydantic", "pydantic-ai-slim", "typer", "rich",
    "PyYAML", "Jinja2", "numpy", "scikit-learn", "statsmodels", "pandas", "safetensors",
    "filelock",
)  # fmt: skip


def doctor(
    ctx: typer.Context,
    tracking_uri: Annotated[
        str | None, typer.Option("--tracking-uri", help="MLflow tracking URI to check.")
    ] = None,
    reap: Annotated[
        bool,
        typer.Option(
            "--reap",
            help="Mark RUNNING runs of dead processes, or silent for the mlops-architect "
            "policy's stale_after_seconds, KILLED.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check the environment: Python, torch and CUDA, MLflow tracking, package versions."""
    import platform

    settings = current(ctx).with_tracking_uri(tracking_uri)
    uri, uri_source = resolve_uri(settings)
    report: dict[str, Any] = {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "platform": platform.platform(),
        "torch": torch_info(),
        "tracking": {"uri": redact(uri), "source": uri_source, **check_tracking(uri)},
        "packages": package_versions(),
    }
    from mlflowctl.mlops.store import backend_versions

    if report["tracking"]["ok"] is False and report["tracking"]["kind"] == "http":
        report["backend"] = {"kind": "http", "server_version": None, "database_version": None,
                             "error": "the server does not answer"}  # fmt: skip
    else:
        report["backend"] = backend_versions(uri)
    if reap:
        from mlflowctl.mlops.liveness import reap_stale_runs

        report["reaped_runs"] = reap_stale_runs(uri, policy=settings.mlops)
    if as_json:
        console.print_json(report)
    else:
        _print(report)
    if report["tracking"]["ok"] is False and report["tracking"]["kind"] == "http":
        raise typer.Exit(EXIT_TRACKING_UNAVAILABLE)


def resolve_uri(settings: Settings) -> tuple[str, str]:
    """The store every other command would use (``Settings.tracking``: the one rule), absolute.

    A broken mlops-architect spec must not stop the doctor (``agents validate`` reports it): the
    rule then runs without the spec's ``tracking_uri``, and the source says so.
    """
    from mlflowctl.errors import SpecError

    try:
        found = settings.tracking
    except SpecError as exc:
        found = settings.resolve_tracking(use_policy=False)
        return found.uri, f"{found.source} (mlops-architect spec unreadable: {exc.message})"
    return found.uri, found.source


def redact(uri: str) -> str:
    """The URI without a password (``https://user:secret@host`` -> ``https://user:***@host``)."""
    import urllib.parse

    parts = urllib.parse.urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def check_tracking(uri: str) -> dict[str, Any]:
    """Whether the store answers: HTTP health endpoint, or a writable SQLite file/folder."""
    import urllib.error
    import urllib.parse
    import urllib.request

    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    if scheme in ("http", "https"):
        parts = urllib.parse.urlsplit(uri)
        host = parts.hostname or ""
        netloc = host + (f":{parts.port}" if parts.port else "")
        url = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + "/health",
                                       "", ""))  # fmt: skip
        try:
            with urllib.request.urlopen(url, timeout=HEALTH_TIMEOUT_S) as resp:
                body = resp.read(200).decode("utf-8", "replace").strip()
                return {"kind": "http", "ok": resp.status == 200, "detail": f"{resp.status} {body}"}
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            return {"kind": "http", "ok": False, "detail": f"no answer from {url}: {reason}"}
    if scheme == "sqlite":
        raw = uri.split("sqlite:///", 1)[1] if uri.startswith("sqlite:///") else ""
        if not raw or raw == ":memory:":
            return {"kind": "sqlite", "ok": True, "detail": "in-memory database"}
        path = Path(raw).expanduser()
        if path.exists():
            ok = os.access(path, os.W_OK)
            return {"kind": "sqlite", "ok": ok, "detail": f"{path} exists" + (
                ", writable" if ok else ", NOT writable")}  # fmt: skip
        folder = path.parent if str(path.parent) else Path(".")
        ok = folder.is_dir() and os.access(folder, os.W_OK)
        detail = f"{path} does not exist yet; " + (
            "its folder is writable (created on first use)" if ok else f"{folder} is not writable"
        )
        return {"kind": "sqlite", "ok": ok, "detail": detail}
    from mlflowctl.mlops.store import backend_kind

    kind = backend_kind(uri)  # databricks, postgresql/mysql/mssql, file: one rule for all (X20)
    if kind == "file":
        return {"kind": kind, "ok": False, "detail": "file stores are not supported; use sqlite"}
    return {"kind": kind, "ok": None, "detail": f"not checked for {kind} stores"}


def torch_info() -> dict[str, Any]:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return {"version": None, "cuda": False, "device": None}
    console.status("importing torch to ask about CUDA ...")
    import torch

    cuda = bool(torch.cuda.is_available())
    return {
        "version": str(torch.__version__),
        "cuda": cuda,
        "cuda_version": torch.version.cuda,
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
    }


def package_versions() -> dict[str, str | None]:
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _print(report: dict[str, Any]) -> None:
    torch = report["torch"]
    tracking = report["tracking"]
    answer = {True: "ok", False: "FAILED", None: "unchecked"}[tracking["ok"]]
    console.key_values(
        "mlflowctl doctor",
        {
            "python": f"{report['python']} ({report['executable']})",
            "platform": report["platform"],
            "torch": torch["version"] or "not installed",
            "cuda": f"yes: {torch['device']}" if torch["cuda"] else "no (CPU only)",
            "tracking uri": f"{tracking['uri']} (from {tracking['source']})",
            "tracking store": f"{answer}: {tracking['detail']}",
            "backend": _backend_line(report["backend"]),
        },
    )
    console.table(
        "packages",
        ["package", "version"],
        [(k, v or "not installed") for k, v in report["packages"].items()],
    )
    if "reaped_runs" in report:
        reaped = report["reaped_runs"]
        console.result(f"marked KILLED: {', '.join(reaped)}" if reaped else "no stale runs")


def _backend_line(backend: dict[str, Any]) -> str:
    """``http (server 3.17.2)``, ``postgresql 15.18``, ``sqlite 3.40.1``; why when unknown."""
    kind = str(backend["kind"])
    if kind == "http":
        line = f"http (server {backend['server_version'] or 'version unknown'})"
    else:
        line = " ".join(p for p in (kind, backend["database_version"]) if p)
    return line + (f" ({backend['error']})" if backend.get("error") else "")
