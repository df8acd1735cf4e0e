"""Shared fixtures. ``tests/fixtures/`` holds the inputs tests read (see its README)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("MLFLOWCTL_SHARED", REPO / "tests" / "fixtures"))

# Keep MLflow's HTTP retries short in tests (defaults make one dead call take ~4 minutes).
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """``seeds/``, ``corpus/agent-specs/``, ``prompts/design-prompts.yaml``: in the repository."""
    assert FIXTURES.is_dir(), f"test fixtures not found at {FIXTURES}"
    return FIXTURES


@pytest.fixture(scope="session")
def shared_dir(fixtures_dir: Path) -> Path:
    """The old name of ``fixtures_dir`` (these files used to live in ``../shared``)."""
    return fixtures_dir


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if not gpu_items:
        return
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except Exception:
        has_gpu = False
    if not has_gpu:
        skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in gpu_items:
            item.add_marker(skip_gpu)
