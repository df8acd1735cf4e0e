"""``mlflowctl registry ...`` (placeholder until the MLOps phase lands)."""

import typer

app = typer.Typer(no_args_is_help=True)
