"""build package."""
