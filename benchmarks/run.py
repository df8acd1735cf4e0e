"""Quality benchmark: mlflowctl's recommended model against classic baselines on the same split.

For each data set: ``mlflowctl design`` + ``mlflowctl build`` in a temporary workdir (subprocesses,
the way a user runs them), the test metrics the build wrote to ``outputs/metrics.json``, then the
classic baselines of ``baselines.py`` on the identical split, obtained by importing the rendered
project's own ``data.py``. Writes ``benchmarks/out/quality.{md,json}``.

    python benchmarks/run.py --datasets digits,iris --quick

When a build fails (or the rendered project has no ``load_splits``), the baselines still run on a
stand-alone split rebuilt from the blueprint (``split_standalone``); the row says so, and its
mlflowctl columns say why they are empty.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import baselines as bl  # noqa: E402
from bundled_sets import DATASETS  # noqa: E402

#: issue 4 item 8: floors mlflowctl must reach on the held-out test split
FLOORS: dict[str, tuple[str, float]] = {
    "digits": ("test_accuracy", 0.97),
    "breast_cancer": ("test_accuracy", 0.95),
    "wine": ("test_accuracy", 0.95),
    "diabetes": ("test_r2", 0.40),
    "sunspots": ("test_mase", 1.0),
}


@dataclass
class Split:
    """One data set's split: arrays for tabular/image tasks, series + origins for forecasting."""

    task: str
    origin: str  # "project" (the rendered data.py) or "standalone"
    x_train: Any = None
    y_train: Any = None
    x_test: Any = None
    y_test: Any = None
    series: Any = None
    origins: Any = None
    horizon: int = 0
    period: int = 1
    seed: int = 42


@dataclass
class Row:
    dataset: str
    task: str = ""
    metric: str = ""
    ours: float | None = None
    ours_wall_s: float | None = None
    ours_metrics: dict[str, float] = field(default_factory=dict)  # every test metric of the build
    family: str | None = None
    baselines: list[dict[str, Any]] = field(default_factory=list)
    best: str | None = None
    best_value: float | None = None
    ratio: float | None = None
    split: str = ""
    floor: float | None = None
    meets_floor: bool | None = None
    ahead: bool | None = None  # the neural model strictly better than the best baseline
    champion: str | None = None  # "model" or the baseline --allow-baseline-champion would pick
    champion_value: float | None = None
    registered: str | None = None  # what `build --allow-baseline-champion` made @champion
    registered_value: float | None = None
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- mlflowctl


def _mlflowctl(args: list[str], cwd: Path, timeout: float) -> tuple[int, str, float]:
    """Run ``python -m mlflowctl ARGS``; (exit code, last stderr/stdout line, wall seconds)."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "mlflowctl", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout:.0f} s", time.perf_counter() - start
    wall = time.perf_counter() - start
    lines = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
    errors = [ln for ln in lines if not ln.lower().startswith("hint:")]
    return proc.returncode, (errors[-1] if errors else lines[-1] if lines else ""), wall


def design_and_build(name: str, workdir: Path, *, quick: bool, timeout: float) -> dict[str, Any]:
    """Design and build one data set; returns what happened (never raises on a failed command)."""
    source, prompt = DATASETS[name]
    out: dict[str, Any] = {"blueprint": None, "build_dir": None, "metrics": None, "wall_s": 0.0}
    rc, line, wall = _mlflowctl(
        ["design", prompt, "--data", source, "-o", "blueprint.yaml"], workdir, 120
    )
    out["wall_s"] += wall
    if rc != 0:
        out["error"] = f"design failed (exit {rc}): {line}"
        return out
    out["blueprint"] = workdir / "blueprint.yaml"
    build_dir = workdir / "build"
    # a network that loses to the best in-project baseline on validation lets that baseline be
    # registered in its place: the registered champion is what a user allowing it gets
    args = ["build", "blueprint.yaml", "--out", str(build_dir), "--allow-baseline-champion"]
    if quick:
        args += ["--max-epochs", "3"]
    rc, line, wall = _mlflowctl(args, workdir, timeout)
    out["wall_s"] += wall
    if build_dir.is_dir():
        out["build_dir"] = build_dir
    if rc == 8:  # trained and evaluated; the gate kept it from @champion: still a result
        out["gate"] = line
    elif rc == 0:
        out["registered"] = line  # "build: registered NAME version N (@champion): reason"
    elif rc != 0:
        out["error"] = f"build failed (exit {rc}): {line}"
        return out
    metrics_path = build_dir / "outputs" / "metrics.json"
    try:
        out["metrics"] = json.loads(metrics_path.read_text())["metrics"]
    except (OSError, ValueError, KeyError) as exc:
        out["error"] = f"no readable {metrics_path.relative_to(workdir)}: {exc}"
    return out


# --------------------------------------------------------------------------- splits


def split_from_project(build_dir: Path) -> Split:
    """The rendered project's own split: import its ``data.py`` by path and call ``load_splits``.

    Contract relied on (templates/_common/data.py.j2): ``load_splits(cfg) -> dict`` with
    ``x_/y_{train,val,test}``; for forecasting also ``series``, ``t_test`` (window origins) and
    ``naive_test``. Raises ``NotImplementedError`` when the project predates that contract.
    """
    import yaml

    cfg = yaml.safe_load((build_dir / "config.yaml").read_text())
    spec = importlib.util.spec_from_file_location(f"_bench_data_{id(cfg)}", build_dir / "data.py")
    if spec is None or spec.loader is None:
        raise NotImplementedError(f"{build_dir / 'data.py'} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(build_dir))
    cwd = Path.cwd()
    try:
        os.chdir(build_dir)
        spec.loader.exec_module(module)
        if not hasattr(module, "load_splits"):
            raise NotImplementedError("TODO(lead): the rendered data.py has no load_splits(cfg)")
        s = module.load_splits(cfg)
    finally:
        os.chdir(cwd)
        sys.path.remove(str(build_dir))
    task = str(cfg["task"])
    seed = int(cfg.get("training", {}).get("seed", 42))
    if task == "forecasting":
        series, origins = np.asarray(s["series"]), np.asarray(s["t_test"])
        horizon = int(np.asarray(s["y_test"]).shape[1])
        period = int(cfg["data"].get("seasonal_period") or 1)
        # the MASE denominators must be the project's own: same windows, same naive forecast
        assert np.allclose(bl.windows(series, origins, horizon), s["y_test"])
        naive = np.stack([bl.seasonal_naive(series, int(t), horizon, period) for t in origins])
        assert np.allclose(naive, s["naive_test"])
        return Split(task, "project", series=series, origins=origins, horizon=horizon,
                     period=period, seed=seed)  # fmt: skip
    # classic models use the validation rows for training: they have no early stopping
    return Split(
        task,
        "project",
        x_train=np.concatenate([s["x_train"], s["x_val"]]),
        y_train=np.concatenate([s["y_train"], s["y_val"]]),
        x_test=s["x_test"],
        y_test=s["y_test"],
        seed=seed,
    )


def split_standalone(name: str, blueprint: Path | None) -> Split:
    """A split rebuilt from the blueprint's numbers when there is no rendered project to ask.

    Mirrors the rules of the generated projects (stratified seed-fixed train/val/test; for series
    a chronological test span of ``max(horizon, test_fraction * n)`` with windows starting at
    ``max(test_start, lookback, period)``); an approximation, flagged as such in the results.
    """
    from sklearn.model_selection import train_test_split

    from mlflowctl.data import load

    source = DATASETS[name][0]
    data = load(source)
    seed, test_frac, horizon, lookback = 42, 0.15, 0, 1
    if blueprint is not None:
        import yaml

        bp = yaml.safe_load(blueprint.read_text())
        chosen = bp["recommended"]["approach"]
        approach = next(a for a in bp["approaches"] if a["name"] == chosen)
        seed = int(approach["training"].get("seed", seed))
        test_frac = float(approach["training"].get("test_fraction", test_frac))
        horizon = int(bp["requirements"]["constraints"].get("horizon") or 0)
        lookback = int(approach["model"]["input"].get("lookback") or 1)
    task = data.task_hint or "classification"
    if data.kind == "series":
        assert data.series is not None
        series = data.series.astype(np.float64)
        period = int(data.seasonal_period or 1)
        horizon = horizon or period
        n = len(series)
        test_start = n - max(horizon, round(n * test_frac))
        origins = np.arange(max(test_start, lookback, period), n - horizon + 1)
        return Split(task, "standalone", series=series, origins=origins, horizon=horizon,
                     period=period, seed=seed)  # fmt: skip
    assert data.y is not None
    stratify = data.y if task == "classification" else None
    xtr, xte, ytr, yte = train_test_split(
        data.X, data.y, test_size=test_frac, random_state=seed, stratify=stratify
    )
    return Split(task, "standalone", x_train=xtr, y_train=ytr, x_test=xte, y_test=yte, seed=seed)


def run_baselines(split: Split, *, quick: bool) -> list[bl.BaselineResult]:
    if split.task == "classification":
        return bl.classification_baselines(
            split.x_train, split.y_train, split.x_test, split.y_test, seed=split.seed, quick=quick
        )
    if split.task == "regression":
        return bl.regression_baselines(
            split.x_train, split.y_train, split.x_test, split.y_test, seed=split.seed, quick=quick
        )
    return bl.forecast_baselines(split.series, split.origins, split.horizon, split.period)


# --------------------------------------------------------------------------- one data set


def bench_one(name: str, *, quick: bool, timeout: float, keep: bool, build: bool = True) -> Row:
    row = Row(name)
    workdir = Path(tempfile.mkdtemp(prefix=f"mlflowctl-bench-{name}-"))
    try:
        if build:
            built = design_and_build(name, workdir, quick=quick, timeout=timeout)
        else:
            built = {"blueprint": None, "build_dir": None, "metrics": None, "wall_s": 0.0}
            built["error"] = "--no-build: baselines only"
        if "error" in built:
            row.notes.append(built["error"])
        if "gate" in built:
            row.notes.append(f"not promoted (exit 8): {built['gate']}")
        split: Split | None = None
        if built["build_dir"] is not None and (built["build_dir"] / "data.py").is_file():
            try:
                split = split_from_project(built["build_dir"])
            except Exception as exc:  # report, then fall back: the baselines still mean something
                row.notes.append(f"project split unavailable ({type(exc).__name__}: {exc})")
        if split is None:
            split = split_standalone(name, built["blueprint"])
            if build:
                row.notes.append("baselines on a stand-alone split (no rendered project to ask)")
        row.task, row.split = split.task, split.origin
        row.metric = bl.HEADLINE[split.task][0]
        results = run_baselines(split, quick=quick)
        row.baselines = [
            {"name": r.name, "metrics": r.metrics, "wall_time_s": r.wall_time_s, **r.details}
            for r in results
        ]
        best = bl.best_baseline(results, split.task)
        row.best, row.best_value = best.name, best.metrics[row.metric]
        if built["metrics"] is not None and row.metric in built["metrics"]:
            row.ours = float(built["metrics"][row.metric])
            row.ours_wall_s = built["wall_s"]
            row.ours_metrics = {k: float(v) for k, v in built["metrics"].items()}
            row.ratio = row.ours / row.best_value if row.best_value else None
            lower = row.metric == "test_mase"
            row.ahead = row.ours < row.best_value if lower else row.ours > row.best_value
            _champion(row, built["metrics"], lower)
            _registered(row, built.get("registered"), built["metrics"])
        if built["blueprint"] is not None:
            row.family = _recommended_family(built["blueprint"])
        if name in FLOORS and row.ours is not None:
            metric, floor = FLOORS[name]
            row.floor = floor
            value = float(built["metrics"].get(metric, np.nan))
            row.meets_floor = value < floor if metric == "test_mase" else value >= floor
        if keep:
            row.notes.append(f"workdir kept: {workdir}")
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return row


def _champion(row: Row, metrics: dict[str, Any], lower: bool) -> None:
    """The champion a user allowing the baseline would get: chosen on VALIDATION, never test.

    The build's ``metrics.json`` holds the in-project baselines' validation and test figures
    (``baseline.<name>.val_*``); the neural model stays champion unless a baseline is better on
    validation, in which case that baseline's test figure is the champion's.
    """
    val_metric = "val_" + row.metric.removeprefix("test_")
    ours_val = metrics.get(val_metric)
    best_name, best_val = None, None
    for key, value in metrics.items():
        if not (key.startswith("baseline.") and key.endswith("." + val_metric)):
            continue
        if best_val is None or (value < best_val if lower else value > best_val):
            best_name, best_val = key.split(".")[1], float(value)
    better = (
        ours_val is not None
        and best_val is not None
        and (best_val < ours_val if lower else best_val > ours_val)
    )
    if better and best_name is not None:
        row.champion = f"baseline {best_name}"
        row.champion_value = float(metrics[f"baseline.{best_name}.{row.metric}"])
    else:
        row.champion, row.champion_value = "model", row.ours


def _registered(row: Row, line: str | None, metrics: dict[str, Any]) -> None:
    """What ``build --allow-baseline-champion`` registered as @champion, read off its last line;
    a disagreement with the validation-side choice (``_champion``) is noted."""
    if line is None or "@champion" not in line:
        row.registered = "none"
        return
    found = re.search(r"baseline (\w+) registered as v\d+ and promoted", line)
    row.registered = f"baseline {found.group(1)}" if found else "model"
    if found:
        row.registered_value = float(metrics[f"baseline.{found.group(1)}.{row.metric}"])
    else:
        row.registered_value = row.ours
    if row.registered != row.champion:
        row.notes.append(f"registered {row.registered}, validation choice {row.champion}")


def _recommended_family(blueprint: Path) -> str | None:
    import yaml

    try:
        bp = yaml.safe_load(blueprint.read_text())
        chosen = bp["recommended"]["approach"]
        approach = next(a for a in bp["approaches"] if a["name"] == chosen)
        model = approach["model"]
        return f"{chosen} ({model['family']}, {model['parameter_count']:,} params)"
    except (OSError, KeyError, StopIteration, TypeError):
        return None


# --------------------------------------------------------------------------- report


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        info["gpu"] = None
    return info


def _fmt(v: float | None, digits: int = 4) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.{digits}f}"


def _versus(r: Row) -> str:
    """The registered champion's test value against the best baseline's: not worse, or worse."""
    if r.registered_value is None or r.best_value is None:
        return "n/a"
    lower = r.metric == "test_mase"
    worse = r.registered_value > r.best_value if lower else r.registered_value < r.best_value
    return "**worse**" if worse else "not worse"


def markdown(rows: list[Row], info: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [
        "# Quality: mlflowctl against classic baselines",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {info['platform']}, "
        f"{info['cpu_count']} CPUs, GPU: {info.get('gpu') or 'none'}; "
        f"command: `python benchmarks/run.py --datasets {','.join(args.datasets)}"
        f"{' --quick' if args.quick else ''}{' --no-build' if args.no_build else ''}`.",
        "",
        "Ratio = mlflowctl / best baseline on the headline metric (accuracy and R² higher is "
        "better; MASE lower is better).",
        "",
        "| data set | metric | mlflowctl | wall (s) | best baseline | value | ratio | model ahead "
        "| registered @champion | its test value | champion vs best baseline | floor | met | split "
        "| mlflowctl approach |",
        "|" + " --- |" * 15,
    ]
    for r in rows:
        met = {True: "yes", False: "**no**", None: "n/a"}[r.meets_floor]
        lines.append(
            f"| {r.dataset} | {r.metric} | {_fmt(r.ours)} | {_fmt(r.ours_wall_s, 1)} | {r.best} "
            f"| {_fmt(r.best_value)} | {_fmt(r.ratio, 3)} "
            f"| {({True: 'yes', False: '**no**', None: 'n/a'})[r.ahead]} "
            f"| {r.registered or 'n/a'} | {_fmt(r.registered_value)} | {_versus(r)} "
            f"| {_fmt(r.floor, 2)} | {met} "
            f"| {r.split} | {r.family or 'n/a'} |"
        )
    lines += [
        "",
        "## Baselines",
        "",
        "| data set | baseline | metrics | wall (s) |",
        "| --- | --- | --- | --- |",
    ]
    for r in rows:
        for b in r.baselines:
            shown = ", ".join(f"{k.removeprefix('test_')}={v:.4f}" for k, v in b["metrics"].items())
            lines.append(f"| {r.dataset} | {b['name']} | {shown} | {b['wall_time_s']:.2f} |")
    ahead = sum(1 for r in rows if r.ahead)
    lines += [
        "",
        f"Neural model ahead of the best baseline (test split) on {ahead} of {len(rows)} sets. "
        "Registered @champion: what `build --allow-baseline-champion` registered (chosen on the "
        "validation split: the network unless an in-project baseline beats it there); its test "
        "value is shown and compared with the best baseline of this table (test split).",
    ]
    notes = [(r.dataset, n) for r in rows for n in r.notes]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {d}: {n}" for d, n in notes]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated names")
    parser.add_argument("--quick", action="store_true", help="3 training epochs, lighter baselines")
    parser.add_argument("--out", type=Path, default=HERE / "out", help="where to write results")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per build")
    parser.add_argument("--keep", action="store_true", help="keep each temporary workdir")
    parser.add_argument(
        "--no-build", action="store_true", help="baselines only, on the stand-alone split"
    )
    args = parser.parse_args(argv)
    args.datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    unknown = [d for d in args.datasets if d not in DATASETS]
    if unknown:
        parser.error(f"unknown data set(s) {', '.join(unknown)}; known: {', '.join(DATASETS)}")
    rows = []
    for name in args.datasets:
        print(f"[bench] {name} ...", flush=True)
        row = bench_one(
            name, quick=args.quick, timeout=args.timeout, keep=args.keep, build=not args.no_build
        )
        print(
            f"[bench] {name}: {row.metric} mlflowctl={_fmt(row.ours)} "
            f"best={row.best}:{_fmt(row.best_value)} ratio={_fmt(row.ratio, 3)}"
            + (f"  ({'; '.join(row.notes)})" if row.notes else ""),
            flush=True,
        )
        rows.append(row)
    info = machine()
    args.out.mkdir(parents=True, exist_ok=True)
    document = {"machine": info, "quick": args.quick, "rows": [r.__dict__ for r in rows]}
    (args.out / "quality.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    (args.out / "quality.md").write_text(markdown(rows, info, args))
    print(f"[bench] wrote {args.out / 'quality.md'} and quality.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
