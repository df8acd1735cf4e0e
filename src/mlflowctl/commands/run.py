"""``mlflowctl run`` (placeholder until the orchestrator lands)."""

import typer


def run(prompt: str) -> None:
    """Run every phase headlessly (not yet implemented)."""
    raise typer.Exit(2)
