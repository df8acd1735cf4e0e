"""``mlflowctl design`` and ``mlflowctl schema`` (placeholder until the architect lands)."""

import typer

schema_app = typer.Typer(no_args_is_help=True)


def design(prompt: str) -> None:
    """Design a blueprint from a requirement (not yet implemented)."""
    raise typer.Exit(2)
