"""``python -m mlflowctl``."""

from mlflowctl.cli.app import run

run()
