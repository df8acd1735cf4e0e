"""``mlflowctl agents ...`` (placeholder until the spec loader lands)."""

import typer

app = typer.Typer(no_args_is_help=True)
