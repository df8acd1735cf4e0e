"""``mlflowctl doctor`` (placeholder)."""


def doctor() -> None:
    """Check the environment."""
