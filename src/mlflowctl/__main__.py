"""``python -m mlflowctl``."""

from mlflowctl.cli import run

run()
