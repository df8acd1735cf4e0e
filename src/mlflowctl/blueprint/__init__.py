"""blueprint package."""
