"""Training overhead: the rendered Lightning project against a hand-written PyTorch loop (T3).

Renders a real project (``mlflowctl design`` + ``mlflowctl build --no-train``; digits, the
recommended CNN by default) and trains it two ways, alternating, in one invocation:

* **lightning**: ``python train.py --max-epochs N --accelerator cpu`` in the project folder, as a
  user runs it. Early stopping is switched off in the copy's ``config.yaml`` so both sides take
  the same number of steps. Timed two ways, both without interpreter start-up, imports and data
  loading: *fit* = ``wall_time_s`` of ``outputs/metrics.json`` (``trainer.fit`` only: trainer
  set-up, every epoch, validation and checkpoints); *steady* = the median interval between the
  project's per-epoch lines (one per epoch, printed as ``events.jsonl`` gets its ``epoch`` event),
  stamped here as they arrive, first epoch excluded.
* **raw**: in this process, the same network (``build_model(cfg)`` of the rendered ``model.py``),
  loss, optimizer and per-step LR schedule (its ``make_loss``/``make_optimizer``/``LRFactor``),
  the same split (its ``data.py`` ``load_splits(cfg)``) as in-memory tensors, the same batch size,
  shuffling and batches per epoch, the same thread count, and one validation pass per epoch.
  No Lightning objects. Timed the same two ways (whole loop; median epoch after the first).

Ratio = lightning steps/s / raw steps/s (1.0 = no overhead; target >= 0.9 for runs of a minute
or more, T3). Rounds alternate which side goes first; figures are medians over rounds.

    python benchmarks/training_overhead.py [--seconds 5] [--rounds 3] [--approach mlp] [--json]
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

TARGET_RATIO = 0.95  # issue 18 item 2: steps/s against the hand-written loop, runs >= 1 min
TARGET_PER_STEP = 1.3  # ms per step, Lightning / raw
PROMPT, SOURCE = "classify handwritten digits", "sklearn:digits"


def _mlflowctl(args: list[str], cwd: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mlflowctl", *args], cwd=cwd, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(f"mlflowctl {args[0]} failed (exit {proc.returncode}): {proc.stderr}")


def render(workdir: Path, approach: str | None) -> Path:
    """Design + render (no training) a digits project; early stopping off for a fixed length."""
    import yaml

    _mlflowctl(["design", PROMPT, "--data", SOURCE, "-o", "bp.yaml"], workdir)
    extra = ["--approach", approach] if approach else []
    _mlflowctl(["build", "bp.yaml", "--no-train", "--out", "proj", *extra], workdir)
    project = workdir / "proj"
    config = project / "config.yaml"
    cfg = yaml.safe_load(config.read_text())
    cfg["training"]["early_stopping"]["enabled"] = False
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return project


def _import(project: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", project / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(project))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(project))
    return module


class RawLoop:
    """The hand-written equivalent of the project's training, built from its own modules."""

    def __init__(self, project: Path) -> None:
        import torch
        import yaml

        self.cfg = yaml.safe_load((project / "config.yaml").read_text())
        self.model_py, data_py = _import(project, "model"), _import(project, "data")
        training = self.cfg["training"]
        if self.cfg["task"] != "classification" or training["tbptt"]["enabled"]:
            raise SystemExit("training_overhead: only plain classification projects are compared")
        if training["loss"]["class_weighting"] == "balanced":
            raise SystemExit("training_overhead: class-weighted losses are not mirrored")
        if training["cpu_threads"]:
            torch.set_num_threads(int(training["cpu_threads"]))  # what train.py does on a CPU
        splits = data_py.load_splits(self.cfg)
        self.x = torch.as_tensor(splits["x_train"], dtype=torch.float32)
        self.y = torch.as_tensor(splits["y_train"], dtype=torch.long)
        self.xv = torch.as_tensor(splits["x_val"], dtype=torch.float32)
        self.yv = torch.as_tensor(splits["y_val"], dtype=torch.long)
        self.bs, self.seed = int(training["batch_size"]), int(training["seed"])
        n = len(self.x)
        # the project's DeviceBatches rule: a lone last sample is folded into the epoch's end
        self.steps_per_epoch = math.ceil(n / self.bs)
        if n % self.bs == 1 and self.steps_per_epoch > 1:
            self.steps_per_epoch -= 1

    def run(self, epochs: int, *, sections: bool = False) -> dict[str, Any]:
        """The loop; ``sections``: also time forward+loss, backward, optimizer and validation
        (a separate run: the extra clock reads are not part of the measured rounds)."""
        import torch

        clock = time.perf_counter if sections else (lambda: 0.0)
        spent = dict.fromkeys(("forward", "backward", "optimizer", "validation"), 0.0)
        torch.manual_seed(self.seed)
        m, training = self.model_py, self.cfg["training"]
        start = time.perf_counter()
        net = m.build_model(self.cfg)
        loss_fn = m.make_loss(training["loss"], None)
        opt = m.make_optimizer(net.parameters(), training["optimizer"])
        total = self.steps_per_epoch * epochs
        factor = m.LRFactor(training["schedule"], total, self.steps_per_epoch)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        epoch_s: list[float] = []
        for epoch in range(epochs):
            t0 = time.perf_counter()
            net.train()
            order = torch.randperm(
                len(self.x), generator=torch.Generator().manual_seed(self.seed + epoch)
            )
            seen = 0.0
            for b in range(self.steps_per_epoch):
                idx = order[b * self.bs : (b + 1) * self.bs]
                xb, yb = self.x[idx], self.y[idx]
                t1 = clock()
                loss = loss_fn(net(xb), yb)
                t2 = clock()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                t3 = clock()
                opt.step()
                sched.step()
                t4 = clock()
                spent["forward"] += t2 - t1
                spent["backward"] += t3 - t2
                spent["optimizer"] += t4 - t3
                seen += loss.item() * len(xb)
            t5 = clock()
            net.eval()
            with torch.no_grad():
                preds = torch.cat(
                    [net(self.xv[i : i + self.bs]) for i in range(0, len(self.xv), self.bs)]
                )
                val_loss = float(loss_fn(preds, self.yv))
                val_acc = float((preds.argmax(1) == self.yv).float().mean())
            spent["validation"] += clock() - t5
            epoch_s.append(time.perf_counter() - t0)
        wall = time.perf_counter() - start
        return {
            "wall_s": wall,
            "epoch_s": epoch_s,
            "val_loss": val_loss,
            "val_accuracy": val_acc,
            "sections_s": spent,
        }


def lightning_run(project: Path, epochs: int) -> dict[str, Any]:
    """``python train.py`` in the project; epoch lines are stamped on arrival."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "train.py", "--max-epochs", str(epochs), "--accelerator", "cpu"]
    stamps: list[float] = []
    with subprocess.Popen(
        cmd, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    ) as child:
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("epoch "):
                stamps.append(time.perf_counter())
        rc = child.wait()
    if rc != 0:
        raise RuntimeError(f"{project}/train.py exited {rc}")
    summary = json.loads((project / "outputs" / "metrics.json").read_text())
    events = [json.loads(ln) for ln in (project / "events.jsonl").read_text().splitlines() if ln]
    done = [e for e in events if e.get("event") == "epoch"]
    if len(done) != epochs or len(stamps) != epochs:
        raise RuntimeError(f"expected {epochs} epochs, events.jsonl has {len(done)}")
    intervals = [b - a for a, b in itertools.pairwise(stamps)]
    return {
        "wall_s": float(summary["wall_time_s"]),
        "epoch_s": intervals,
        "val_loss": done[-1]["metrics"]["val_loss"],
        "val_accuracy": done[-1]["metrics"]["val_accuracy"],
    }


# Run in the project folder: its own ``train.main`` with clocks around the parts of a fit
# (inclusive seconds, one JSON line on stdout). The wrappers add ~1 us per call.
_SECTIONS_DRIVER = r"""
import collections, contextlib, io, json, sys, time
sys.path.insert(0, ".")
spent, calls = collections.defaultdict(float), collections.Counter()
def clocked(owner, name, key):
    inner = getattr(owner, name)
    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[key] += time.perf_counter() - t0
            calls[key] += 1
    setattr(owner, name, timed)
import torch, lightning, model, train
from lightning.pytorch.core.optimizer import LightningOptimizer
from lightning.pytorch.loops.evaluation_loop import _EvaluationLoop
from lightning.pytorch.callbacks import ModelCheckpoint
clocked(lightning.Trainer, "fit", "fit")
clocked(LightningOptimizer, "step", "optimizer_step_with_closure")
clocked(model.LitModel, "training_step", "forward")
clocked(torch.Tensor, "backward", "backward")
clocked(_EvaluationLoop, "run", "validation")
clocked(ModelCheckpoint, "on_train_epoch_end", "checkpoints")
clocked(ModelCheckpoint, "on_validation_end", "checkpoints")
clocked(train.EventLog, "on_validation_end", "events")
with contextlib.redirect_stdout(io.StringIO()):
    rc = train.main(["--max-epochs", sys.argv[1], "--accelerator", "cpu"])
print(json.dumps({"rc": rc, "spent": spent, "steps": calls["forward"]}))
"""


def explain_gap(project: Path, raw: RawLoop, epochs: int) -> dict[str, Any]:
    """Where the Lightning fit's extra time per step goes: one clocked run of each side.

    Lightning: ``optimizer`` = LightningOptimizer.step less the training_step and backward it
    runs through its closure (the optimizer's own math plus Lightning's closure, hooks and
    precision plumbing); ``loop`` = the fit less everything clocked (batch fetching, per-batch
    hooks and progress counters, the LR scheduler call, epoch bookkeeping). Raw: the same
    parts clocked around its own statements.
    """
    proc = subprocess.run(
        [sys.executable, "-c", _SECTIONS_DRIVER, str(epochs)],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"clocked train.py failed: {proc.stderr[-2000:]}")
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    spent, steps = got["spent"], max(1, int(got["steps"]))
    ms = {k: 1000 * v / steps for k, v in spent.items()}
    light = {
        "forward": ms["forward"],
        "backward": ms["backward"],
        "optimizer": ms["optimizer_step_with_closure"] - ms["forward"] - ms["backward"],
        "validation": ms["validation"],
        "checkpoints": ms.get("checkpoints", 0.0),
        "events": ms.get("events", 0.0),
    }
    light["loop"] = (
        ms["fit"]
        - ms["optimizer_step_with_closure"]
        - sum(light[k] for k in ("validation", "checkpoints", "events"))
    )
    run = raw.run(epochs, sections=True)
    raw_steps = raw.steps_per_epoch * epochs
    raw_ms = {k: 1000 * v / raw_steps for k, v in run["sections_s"].items()}
    raw_ms.update(checkpoints=0.0, events=0.0)
    raw_ms["loop"] = 1000 * run["wall_s"] / raw_steps - sum(raw_ms.values())
    parts = list(light)
    return {
        "epochs": epochs,
        "ms_per_step": {
            k: {
                "lightning": round(light[k], 3),
                "raw": round(raw_ms[k], 3),
                "extra": round(light[k] - raw_ms[k], 3),
            }
            for k in parts
        },
        "total_ms_per_step": {
            "lightning": round(ms["fit"], 3),
            "raw": round(1000 * run["wall_s"] / raw_steps, 3),
        },
    }


def _span(values: list[float], digits: int) -> list[float]:
    """[min, max] of the rounds: the spread that goes with a median."""
    return [round(min(values), digits), round(max(values), digits)]


def _rates(run: dict[str, Any], steps: int, epochs: int, *, skip_first: bool) -> dict[str, float]:
    epoch_s = run["epoch_s"][1:] if skip_first and len(run["epoch_s"]) > 1 else run["epoch_s"]
    return {
        "wall_s": run["wall_s"],
        "fit_steps_per_s": steps * epochs / run["wall_s"],
        "steady_steps_per_s": steps / statistics.median(epoch_s),
    }


def measure(
    seconds: float, rounds: int, approach: str | None, epochs: int | None, explain: bool = True
) -> dict[str, Any]:
    load_start = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="mlflowctl-bench-overhead-"))
    try:
        project = render(workdir, approach)
        raw = RawLoop(project)
        warm = raw.run(2)  # warm-up, and the epoch time that sizes the run
        per_epoch = statistics.median(warm["epoch_s"])
        n_epochs = epochs or max(3, round(seconds / per_epoch))
        steps = raw.steps_per_epoch
        samples: dict[str, list[dict[str, float]]] = {"lightning": [], "raw": []}
        last: dict[str, dict[str, Any]] = {}
        for r in range(rounds):
            order = ("lightning", "raw") if r % 2 == 0 else ("raw", "lightning")  # drift cancels
            for side in order:
                run = lightning_run(project, n_epochs) if side == "lightning" else raw.run(n_epochs)
                # lightning's intervals start at epoch 2 already; raw's first epoch is dropped
                samples[side].append(_rates(run, steps, n_epochs, skip_first=side == "raw"))
                last[side] = run
        load_end = os.getloadavg()
        med = {
            side: {k: statistics.median(s[k] for s in rows) for k in rows[0]}
            for side, rows in samples.items()
        }
        # per round: the two sides ran back to back under the same load
        paired = {
            k: [lt[k] / rw[k] for lt, rw in zip(samples["lightning"], samples["raw"], strict=True)]
            for k in ("fit_steps_per_s", "steady_steps_per_s")
        }
        gap = explain_gap(project, raw, min(n_epochs, 40)) if explain else None
        fit_ratio = med["lightning"]["fit_steps_per_s"] / med["raw"]["fit_steps_per_s"]
        steady = med["lightning"]["steady_steps_per_s"] / med["raw"]["steady_steps_per_s"]
        return {
            "approach": raw.cfg["project"]["approach"],
            "family": raw.cfg["model"]["family"],
            "parameter_count": raw.cfg["model"]["parameter_count"],
            "batch_size": raw.bs,
            "cpu_threads": raw.cfg["training"]["cpu_threads"],
            "epochs": n_epochs,
            "steps_per_epoch": steps,
            "total_steps": steps * n_epochs,
            "rounds": rounds,
            "lightning": {k: round(v, 2) for k, v in med["lightning"].items()},
            "raw": {k: round(v, 2) for k, v in med["raw"].items()},
            "ratio_fit": round(fit_ratio, 3),
            "ratio_steady": round(steady, 3),
            "ms_per_step_lightning": round(1000 / med["lightning"]["steady_steps_per_s"], 3),
            "ms_per_step_raw": round(1000 / med["raw"]["steady_steps_per_s"], 3),
            "per_step_ratio": round(
                med["raw"]["steady_steps_per_s"] / med["lightning"]["steady_steps_per_s"], 3
            ),
            "spread": {
                "ratio_fit_min_max": _span(paired["fit_steps_per_s"], 3),
                "ratio_steady_min_max": _span(paired["steady_steps_per_s"], 3),
                **{
                    f"{side}_{k}_min_max": _span([r[k] for r in rows], 2)
                    for side, rows in samples.items()
                    for k in ("fit_steps_per_s", "steady_steps_per_s")
                },
            },
            "load_average": {
                "start": [round(v, 2) for v in load_start],
                "end": [round(v, 2) for v in load_end],
            },
            "gap": gap,
            "val_accuracy": {
                "lightning": round(last["lightning"]["val_accuracy"], 4),
                "raw": round(last["raw"]["val_accuracy"], 4),
            },
            "samples": samples,
            "target_ratio": TARGET_RATIO,
            "target_per_step": TARGET_PER_STEP,
            "timing": "fit = trainer.fit wall from outputs/metrics.json vs the whole raw loop; "
            "steady = median epoch (train steps + validation + per-epoch callbacks), first epoch "
            "excluded; neither includes interpreter start-up, imports or data loading",
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one run (approx.)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (median)")
    parser.add_argument("--epochs", type=int, default=None, help="fix the epochs (no sizing)")
    parser.add_argument("--approach", default=None, help="approach to build (default: recommended)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--no-explain", action="store_true", help="skip the clocked runs that explain the gap"
    )
    args = parser.parse_args(argv)
    result = measure(
        args.seconds, max(1, args.rounds), args.approach, args.epochs, not args.no_explain
    )
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['approach']} ({result['parameter_count']:,} params), "
            f"{result['total_steps']} steps x {result['rounds']} rounds"
        )
        for side in ("lightning", "raw"):
            r = result[side]
            print(f"{side:>10}: fit {r['fit_steps_per_s']:8.1f} steps/s  "
                  f"steady {r['steady_steps_per_s']:8.1f} steps/s")  # fmt: skip
        spread = result["spread"]
        print(f"ratio lightning/raw: fit {result['ratio_fit']} "
              f"(rounds {spread['ratio_fit_min_max']}), steady {result['ratio_steady']} "
              f"(rounds {spread['ratio_steady_min_max']}); target >= {TARGET_RATIO} "
              f"for runs >= 1 min")  # fmt: skip
        print(f"per step: {result['per_step_ratio']}x (target <= {TARGET_PER_STEP}x); "
              f"load average {result['load_average']['start']} -> "
              f"{result['load_average']['end']}")  # fmt: skip
        if result["gap"]:
            print(f"where the time goes, ms per step ({result['gap']['epochs']} epochs, clocked):")
            for part, row in result["gap"]["ms_per_step"].items():
                print(f"  {part:>11}: lightning {row['lightning']:7.3f}  raw {row['raw']:7.3f}"
                      f"  extra {row['extra']:+7.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
