"""``mlflowctl registry list | show | promote | rollback | verify``.

Cheap to import: mlflow is loaded inside the commands (through ``registry_ops``), never here.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Annotated, Any

import typer

from mlflowctl import console
from mlflowctl.cli.options import JsonOpt, TrackingUriOpt

app = typer.Typer(no_args_is_help=True)


def _uri(ctx: typer.Context, flag: str | None) -> str:
    """The store by the one rule (``Settings.tracking``), the same one build, run and doctor use."""
    from mlflowctl.settings import current

    return current(ctx).with_tracking_uri(flag).tracking.uri


def _guard(uri: str) -> AbstractContextManager[None]:
    """MLflow's exceptions as one-line mlflowctl errors (exit 6 or 7)."""
    from mlflowctl.mlops.store import mlflow_errors

    return mlflow_errors(uri)


def _aliases(aliases: dict[str, int] | list[str]) -> str:
    if isinstance(aliases, dict):
        return ", ".join(f"@{a}=v{v}" for a, v in sorted(aliases.items()))
    return ", ".join(f"@{a}" for a in aliases)


def _print_version(title: str, mv: Any, as_json: bool) -> None:
    from dataclasses import asdict

    data = asdict(mv)
    if as_json:
        console.print_json(data)
    else:
        console.key_values(title, {**data, "aliases": _aliases(list(mv.aliases)) or "none"})


@app.command("list")
def list_(
    ctx: typer.Context, tracking_uri: TrackingUriOpt = None, as_json: JsonOpt = False
) -> None:
    """Registered models with their latest version and aliases."""
    from mlflowctl.mlops.registry_query import list_models

    uri = _uri(ctx, tracking_uri)
    with _guard(uri):
        models = list_models(uri)
    if as_json:
        console.print_json(models)
        return
    rows = [(m["name"], m["latest_version"], _aliases(m["aliases"])) for m in models]
    console.table("registered models", ["name", "latest", "aliases"], rows)


@app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    tracking_uri: TrackingUriOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every version of NAME: aliases, metrics, promotion audit tags, weights hash."""
    from mlflowctl.mlops.registry_query import show as show_model

    uri = _uri(ctx, tracking_uri)
    with _guard(uri):
        data = show_model(uri, name)
    if as_json:
        console.print_json(data)
        return
    rows = [
        (
            f"{v['version']} (baseline {v['baseline']})" if v.get("baseline") else v["version"],
            _aliases(v["aliases"]),
            " ".join(f"{k}={val:.4g}" for k, val in v["metrics"].items()),
            v["previous_champion"] or "",
            v["promoted_at"] or "",
            (v["weights_sha256"] or "")[:12],
            v["promotion_reason"] or "",
        )
        for v in data["versions"]
    ]
    cols = ["version", "aliases", "metrics", "prev champion", "promoted at", "sha256", "reason"]
    console.table(f"{name}  {_aliases(data['aliases'])}", cols, rows)


@app.command("promote")
def promote(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    version: Annotated[int, typer.Argument(help="Version to make @champion.", min=1)],
    force: Annotated[bool, typer.Option("--force", help="Skip the promotion gate.")] = False,
    tracking_uri: TrackingUriOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Move @champion to VERSION if it passes the model's gate (exit 8 if not)."""
    from mlflowctl.mlops.registry import promote as promote_version

    uri = _uri(ctx, tracking_uri)
    with _guard(uri):
        mv = promote_version(uri, name, version, force=force)
    _print_version(f"{name} v{mv.version} is @champion", mv, as_json)


@app.command("rollback")
def rollback(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    tracking_uri: TrackingUriOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Move @champion back to the recorded previous champion (never deletes a version)."""
    from mlflowctl.mlops.registry import rollback as rollback_model

    uri = _uri(ctx, tracking_uri)
    with _guard(uri):
        mv = rollback_model(uri, name)
    _print_version(f"{name} rolled back to v{mv.version}", mv, as_json)


@app.command("verify")
def verify(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    version: Annotated[
        int | None, typer.Argument(help="Version (default: @champion).", min=1)
    ] = None,
    tracking_uri: TrackingUriOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Recompute the sha256 of the version's weights and compare with its tag (exit 7)."""
    from mlflowctl.mlops.registry_query import verify as verify_version

    uri = _uri(ctx, tracking_uri)
    with _guard(uri):
        result = verify_version(uri, name, version)
    if as_json:
        console.print_json(result)
    else:
        console.result(f"ok: {name} v{result['version']} {result['of']} sha256 {result['sha256']}")
