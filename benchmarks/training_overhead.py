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

TARGET_RATIO = 0.9
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

    def run(self, epochs: int) -> dict[str, Any]:
        import torch

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
                loss = loss_fn(net(xb), yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                seen += loss.item() * len(xb)
            net.eval()
            with torch.no_grad():
                preds = torch.cat(
                    [net(self.xv[i : i + self.bs]) for i in range(0, len(self.xv), self.bs)]
                )
                val_loss = float(loss_fn(preds, self.yv))
                val_acc = float((preds.argmax(1) == self.yv).float().mean())
            epoch_s.append(time.perf_counter() - t0)
        wall = time.perf_counter() - start
        return {"wall_s": wall, "epoch_s": epoch_s, "val_loss": val_loss, "val_accuracy": val_acc}


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


def _rates(run: dict[str, Any], steps: int, epochs: int, *, skip_first: bool) -> dict[str, float]:
    epoch_s = run["epoch_s"][1:] if skip_first and len(run["epoch_s"]) > 1 else run["epoch_s"]
    return {
        "wall_s": run["wall_s"],
        "fit_steps_per_s": steps * epochs / run["wall_s"],
        "steady_steps_per_s": steps / statistics.median(epoch_s),
    }


def measure(
    seconds: float, rounds: int, approach: str | None, epochs: int | None
) -> dict[str, Any]:
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
        med = {
            side: {k: statistics.median(s[k] for s in rows) for k in rows[0]}
            for side, rows in samples.items()
        }
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
            "val_accuracy": {
                "lightning": round(last["lightning"]["val_accuracy"], 4),
                "raw": round(last["raw"]["val_accuracy"], 4),
            },
            "samples": samples,
            "target_ratio": TARGET_RATIO,
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
    args = parser.parse_args(argv)
    result = measure(args.seconds, max(1, args.rounds), args.approach, args.epochs)
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
        print(f"ratio lightning/raw: fit {result['ratio_fit']}, steady {result['ratio_steady']} "
              f"(target >= {TARGET_RATIO} for runs >= 1 min)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
