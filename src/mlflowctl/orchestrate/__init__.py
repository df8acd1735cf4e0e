"""orchestrate package."""
