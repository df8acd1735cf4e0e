"""``run --tune``: the tune phase, between design and build."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlflowctl.orchestrate.context import PipelineContext as Pipeline
from mlflowctl.orchestrate.journal import atomic_write_text
from mlflowctl.orchestrate.phase_support import BLUEPRINT_FILE, load_blueprint, tracking_uri_of

#: the design's blueprint, kept by the tune phase (blueprint.yaml becomes the tuned one)
UNTUNED_FILE = "tune/blueprint.untuned.yaml"


def phase_tune(p: Pipeline) -> dict[str, Any]:
    """``run --tune``: the Optuna search over the design's blueprint (``mlflowctl tune``'s,
    its study in ``tune/`` so a resumed pipeline continues it); the best configuration becomes
    ``blueprint.yaml``, which the next phases build, train (with its test split), register as
    @challenger and gate like any build."""
    import shutil

    from mlflowctl.orchestrate.tune import TuneOptions, tune

    untuned = p.opts.workdir / UNTUNED_FILE
    if not untuned.exists():  # a resumed tune phase searches the design, never its own result
        load_blueprint(p)  # exit 2 when the design phase has not written one
        untuned.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p.opts.workdir / BLUEPRINT_FILE, untuned)
    knobs = p.opts.tune or {}
    summary = tune(
        TuneOptions(
            blueprint=untuned,
            approach=p.opts.approach,
            trials=knobs.get("trials"),
            timeout=knobs.get("timeout"),
            workers=int(knobs.get("workers") or 1),
            max_epochs=p.opts.max_epochs,
            data=p.opts.data,
            out=untuned.parent,
            tracking_uri=tracking_uri_of(p),
            register=False,
        )
    )
    tuned = Path(summary["best_blueprint"])
    atomic_write_text(p.opts.workdir / BLUEPRINT_FILE, tuned.read_text(encoding="utf-8"))
    best = summary["best"]
    info = {
        "study": summary["study"],
        "trials": summary["trials"],
        "metric": best["metric"],
        "best_value": best["value"],
        "best_trial": best["number"],
        "best_params": best["params"],
        "study_run_id": summary["parent_run_id"],
    }
    p.progress("tune", "best", info)
    return {**info, "blueprint": BLUEPRINT_FILE, "untuned_blueprint": UNTUNED_FILE,
            "wall_time_s": summary["wall_time_s"], "summary": {"tune": info}}  # fmt: skip
