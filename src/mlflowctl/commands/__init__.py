"""CLI command modules. Each stays cheap to import: heavy work is imported inside the command."""
