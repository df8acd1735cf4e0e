"""The command line: ``app.py`` holds the typer app and the one place errors become exit codes.

Each command module stays cheap to import (typer, stdlib and light mlflowctl modules only): heavy
work is imported inside the command.
"""
