"""LLM backends for the architect: OpenAI-compatible servers and Anthropic.

Cheap to import: pydantic-ai, openai and anthropic load only inside the functions that run
when an LLM backend was chosen (``mlflowctl --help`` imports none of them).
"""

from mlflowctl.design.llm.design import design_with_llm, preflight
from mlflowctl.design.llm.providers import BackendRef, parse_backend, recorded_backend

__all__ = ["BackendRef", "design_with_llm", "parse_backend", "preflight", "recorded_backend"]
