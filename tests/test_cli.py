"""The CLI root: usage errors are exit 2 with one message, never a traceback."""

from __future__ import annotations

import os

import pytest

from mlflowctl.cli.app import main

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--no-such-flag"], "No such option: --no-such-flag"),
        (["design"], "Missing argument"),
        (["build", "bp.yaml", "--max-epochs", "zero"], "--max-epochs"),
    ],
)
def test_usage_errors_exit_2_without_traceback(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert "Traceback" not in err and "internal error" not in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from mlflowctl import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"mlflowctl {__version__}"


def test_agents_flag_does_not_leak_into_the_next_command(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    before = os.environ.get("MLFLOWCTL_AGENTS_DIR")
    main(["--agents", str(tmp_path), "agents", "list"])
    assert os.environ.get("MLFLOWCTL_AGENTS_DIR") == before
