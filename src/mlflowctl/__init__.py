"""mlflowctl: a plain-language ML requirement to a designed, trained, tracked, registered model."""

__version__ = "0.1.0"
