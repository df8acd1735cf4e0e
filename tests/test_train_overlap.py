"""Logging while the training process exits (issue 18 item 1), and its exit status still counts.

The runner calls ``finished`` once the child's ``end`` event says every output is written, while
the child is still shutting down; the child's exit status is checked afterwards, so a child that
reports success and then exits non-zero still fails the training (exit 5). The stand-in
``train.py`` here is plain Python: it writes the outputs ``read_run`` reads, the events, and
then lingers as a real interpreter shutdown would.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mlflowctl.blueprint.results import RenderedProject, TrainingRun
from mlflowctl.errors import TrainingError
from mlflowctl.train import runner

pytestmark = pytest.mark.integration

TRAIN_PY = """
import json, sys, time
from pathlib import Path

args = sys.argv[1:]
events = Path(args[args.index("--events") + 1])
out = Path("outputs")
out.mkdir(exist_ok=True)
(out / "weights.safetensors").write_bytes(b"weights")
(out / "metrics.json").write_text(json.dumps({
    "metrics": {"val_accuracy": 0.9, "test_accuracy": 0.8}, "history": [], "wall_time_s": 0.1,
    "epochs": 1, "accelerator": "cpu", "precision": "32-true",
    "best_checkpoint": "checkpoints/best.ckpt",
}))
with events.open("a") as f:
    f.write(json.dumps({"event": "start", "epochs": 1}) + "\\n")
    f.write(json.dumps({"event": "end", "status": "finished", "failure": None}) + "\\n")
time.sleep({linger})  # the interpreter shutting down
sys.exit({code})
"""


def _project(tmp_path: Path, *, linger: float, code: int) -> RenderedProject:
    text = TRAIN_PY.replace("{linger}", str(linger)).replace("{code}", str(code))
    (tmp_path / "train.py").write_text(text, encoding="utf-8")
    return RenderedProject(
        root=tmp_path, blueprint_id="bp-0123456789ab", approach="a", template_kind="mlp"
    )


def test_finished_runs_while_the_child_is_still_exiting(tmp_path: Path) -> None:
    seen: list[tuple[float, TrainingRun]] = []
    t0 = time.monotonic()
    run = runner.train(
        _project(tmp_path, linger=1.5, code=0),
        accelerator="cpu",
        finished=lambda r: seen.append((time.monotonic() - t0, r)),
    )
    total = time.monotonic() - t0
    assert len(seen) == 1  # once, with the outputs already written
    at, early = seen[0]
    assert early.metrics == {"val_accuracy": 0.9, "test_accuracy": 0.8}
    assert early.weights_sha256 == run.weights_sha256 is not None
    assert total - at >= 1.0, (at, total)  # it ran while the child lingered, not after


def test_a_child_that_exits_non_zero_after_finishing_still_fails(tmp_path: Path) -> None:
    seen: list[TrainingRun] = []
    with pytest.raises(TrainingError) as info:
        runner.train(
            _project(tmp_path, linger=0.2, code=3), accelerator="cpu", finished=seen.append
        )
    assert len(seen) == 1 and info.value.exit_code == 5
