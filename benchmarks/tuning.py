"""Tuned against default configuration (issue 16): does ``mlflowctl tune`` help?

For each bundled data set: ``mlflowctl design`` writes one blueprint; ``mlflowctl build`` trains
its default configuration and ``mlflowctl tune`` searches it (``--trials N``, the same
``--max-epochs`` cap, the same seed and so the same split, each in its own SQLite store). The
registered model of each side is compared on the gate's validation metric (what the search and
the gate optimise; target: tuning never worse) and on the test split (target: better on at least
half of the sets), with the trials and the wall time of each side.

    python benchmarks/tuning.py [--trials 8] [--max-epochs 20] [--datasets wine,iris,...]
        [--results benchmarks/RESULTS.md]   # also (re)writes the tuning section there

Prints one JSON object last (``benchmarks/all.py`` part ``tune`` reads it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bundled_sets import DATASETS  # noqa: E402

SECTION = "## 8. Hyper-parameter tuning: tuned vs default configuration (issue 16)"


def _cli(
    args: list[str], cwd: Path, timeout: float = 1800
) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{cwd / 'mlflow.db'}"}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "mlflowctl", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    return proc, round(time.perf_counter() - t0, 1)


def _metrics(build_dir: Path) -> dict[str, float]:
    doc = json.loads((build_dir / "outputs" / "metrics.json").read_text(encoding="utf-8"))
    return {k: float(v) for k, v in doc["metrics"].items()}


def one(name: str, trials: int, max_epochs: int, work: Path) -> dict[str, Any]:
    source, prompt = DATASETS[name]
    row: dict[str, Any] = {"dataset": name, "source": source}
    base, tuned = work / name / "default", work / name / "tuned"
    base.mkdir(parents=True)
    tuned.mkdir(parents=True)
    proc, _ = _cli(["design", prompt, "--data", source, "-o", "bp.yaml"], base)
    if proc.returncode:
        return {**row, "error": f"design exited {proc.returncode}: {proc.stderr[-300:]}"}
    (tuned / "bp.yaml").write_text((base / "bp.yaml").read_text())
    cap = ["--max-epochs", str(max_epochs)]
    proc, row["default_wall_s"] = _cli(["build", "bp.yaml", "--out", "build", *cap, "--json"], base)
    if proc.returncode not in (0, 8):
        return {**row, "error": f"build exited {proc.returncode}: {proc.stderr[-300:]}"}
    proc, row["tuned_wall_s"] = _cli(
        ["tune", "bp.yaml", "--trials", str(trials), *cap, "--out", "tune", "--json"], tuned
    )
    if proc.returncode not in (0, 8):
        return {**row, "error": f"tune exited {proc.returncode}: {proc.stderr[-300:]}"}
    summary = json.loads(proc.stdout)
    objective = summary["objective"]
    val, direction = objective["metric"], objective["direction"]
    test = "test_" + val.removeprefix("val_")
    default_m = _metrics(base / "build")
    tuned_m = _metrics(Path(summary["best_build_dir"]))
    sign = 1.0 if direction == "maximize" else -1.0
    row.update(
        metric=val.removeprefix("val_"),
        direction=direction,
        trials=summary["trials"],
        best_trial=summary["best"]["number"],
        best_params=summary["best"]["params"],
        default_val=default_m.get(val),
        tuned_val=tuned_m.get(val),
        default_test=default_m.get(test),
        tuned_test=tuned_m.get(test),
        tuned_version_aliases=summary.get("aliases"),
    )
    if row["default_val"] is not None and row["tuned_val"] is not None:
        row["val_worse"] = sign * (row["tuned_val"] - row["default_val"]) < -1e-9
    if row["default_test"] is not None and row["tuned_test"] is not None:
        row["test_better"] = sign * (row["tuned_test"] - row["default_test"]) > 1e-9
    return row


def markdown(res: dict[str, Any]) -> list[str]:
    lines = [
        SECTION,
        "",
        f"Run {res['date']}: `{res['command']}` ({res['cores']} cores, load "
        f"{res['load_avg_1m_at_start']} at start; wall {res['wall_s']} s). Each side trains with "
        f"`--max-epochs {res['max_epochs']}` on the same split; tuned = `mlflowctl tune "
        f"--trials {res['trials']}` (TPE, median pruner, trial 0 = the designed configuration), "
        "its best configuration retrained with the test split and registered through the gate. "
        "Validation is the gate's metric (what the search optimises); test is seen only by the "
        "two registered models.",
        "",
        "| set | metric | default val | tuned val | default test | tuned test | trials "
        "(complete/pruned/fail) | default s | tune s | val not worse | test better |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in res["rows"]:
        if "error" in r:
            lines.append(f"| {r['dataset']} | **error**: {r['error'][:200]} |")
            continue
        t = r["trials"]

        def f(v: Any) -> str:
            return "n/a" if v is None else f"{v:.4f}"

        lines.append(
            f"| {r['dataset']} | {r['metric']} ({r['direction'][:3]}) | {f(r['default_val'])} | "
            f"{f(r['tuned_val'])} | {f(r['default_test'])} | {f(r['tuned_test'])} | "
            f"{t.get('complete', 0)}/{t.get('pruned', 0)}/{t.get('fail', 0)} | "
            f"{r['default_wall_s']} | {r['tuned_wall_s']} | "
            f"{'yes' if not r.get('val_worse') else '**no**'} | "
            f"{'yes' if r.get('test_better') else 'no'} |"
        )
    s = res["score"]
    lines += [
        "",
        f"Targets: tuning never worse on validation: {s['val_not_worse']}/{s['sets']} "
        f"({'met' if s['val_not_worse'] == s['sets'] else '**missed**'}); test better on at "
        f"least half: {s['test_better']}/{s['sets']} "
        f"({'met' if 2 * s['test_better'] >= s['sets'] else '**missed**'}).",
    ]
    return lines


def write_section(results: Path, lines: list[str]) -> None:
    """Replace (or append) this benchmark's section of RESULTS.md, leaving the others alone."""
    text = results.read_text(encoding="utf-8") if results.exists() else ""
    block = "\n".join(lines) + "\n"
    pattern = re.compile(re.escape(SECTION) + r".*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block + "\n", text).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + block
    results.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--results", type=Path, default=None, help="write the section here")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    unknown = sorted(set(names) - set(DATASETS))
    if unknown:
        parser.error(f"--datasets: unknown {', '.join(unknown)}; known: {', '.join(DATASETS)}")
    command = "python benchmarks/tuning.py " + " ".join(argv if argv is not None else sys.argv[1:])
    res: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command.strip(),
        "cores": os.cpu_count(),
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
        "trials": args.trials,
        "max_epochs": args.max_epochs,
        "rows": [],
    }
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mlflowctl-tunebench-") as tmp:
        for name in names:
            print(f"[tune] {name} ...", file=sys.stderr, flush=True)
            try:
                row = one(name, args.trials, args.max_epochs, Path(tmp))
            except (subprocess.TimeoutExpired, OSError, ValueError, KeyError) as exc:
                row = {"dataset": name, "error": f"{type(exc).__name__}: {exc}"}
            print(f"[tune] {name}: {json.dumps(row, default=str)}", file=sys.stderr, flush=True)
            res["rows"].append(row)
    res["wall_s"] = round(time.perf_counter() - t0, 1)
    ok = [r for r in res["rows"] if "error" not in r]
    res["score"] = {
        "sets": len(res["rows"]),
        "val_not_worse": sum(1 for r in ok if not r.get("val_worse")),
        "test_better": sum(1 for r in ok if r.get("test_better")),
    }
    if args.results is not None:
        write_section(args.results, markdown(res))
    print(json.dumps(res, default=str))
    return 0 if len(ok) == len(res["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
