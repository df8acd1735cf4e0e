"""``mlflowctl build`` (placeholder until the engineer lands)."""

import typer


def build(blueprint: str) -> None:
    """Render and train a blueprint (not yet implemented)."""
    raise typer.Exit(2)
