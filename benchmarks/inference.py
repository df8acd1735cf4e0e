"""Inference figures on bundled data: pyfunc, served endpoint and ONNX Runtime, side by side.

One run: builds a tiny iris MLP (``mlflowctl build --max-epochs N``) into a fresh SQLite store,
logs an sklearn LogisticRegression on the same data into the same store (the yardstick), then
measures for each path single-row latency p50/p99 (``--calls`` sequential calls) and batch
throughput (rows/s on ``--batch`` rows):

* ``pyfunc``: the mlflowctl model through ``mlops.inference`` (checks + ``pyfunc.predict``),
* ``served``: ``mlflowctl serve`` over HTTP (``/invocations``, ``dataframe_split``),
* ``onnxruntime``: ``mlflowctl export``'s ONNX file on onnxruntime (CPU, scaling folded in),
* ``sklearn pyfunc`` and ``sklearn served``: the yardstick, on the same MLflow scoring server app.

Usage: ``python benchmarks/inference.py [--calls 200] [--batch 10000] [--epochs 2] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
FEATURES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


def _stats(fn: Callable[[], Any], calls: int) -> dict[str, float]:
    fn()  # warm-up
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    times.sort()
    return {
        "p50_ms": times[len(times) // 2],
        "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))],
    }


def _throughput(fn: Callable[[], Any], rows: int, repeats: int = 3) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return rows / best


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post(url: str, frame: Any) -> bytes:
    body = {"dataframe_split": {"columns": list(frame.columns), "data": frame.values.tolist()}}
    req = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=120) as resp:
        return bytes(resp.read())


def _start(argv: list[str], cwd: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.monotonic() + 300
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {argv}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("server did not start")


def _measure_served(url: str, one: Any, batch: Any, calls: int) -> dict[str, float]:
    out = _stats(lambda: _post(url, one), calls)
    out["rows_per_s"] = _throughput(lambda: _post(url, batch), len(batch), repeats=2)
    return out


def run(calls: int, batch_rows: int, epochs: int) -> dict[str, Any]:
    import numpy as np
    from blueprints import make_blueprint
    from sklearn.datasets import load_iris

    work = Path(tempfile.mkdtemp(prefix="mlflowctl-bench-inference-"))
    uri = f"sqlite:///{work / 'mlflow.db'}"
    (work / "bp.json").write_text(make_blueprint("mlp", "iris").model_dump_json())
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    build = [sys.executable, "-m", "mlflowctl", "build", "bp.json", "--out", "b"]
    done = subprocess.run([*build, "--max-epochs", str(epochs)], cwd=work, env=env,
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode == 8:  # a short training may not beat the baselines: measure it anyway
        promote = [sys.executable, "-m", "mlflowctl", "registry", "promote", "test-model", "1"]
        subprocess.run([*promote, "--force"], cwd=work, env=env, check=True, capture_output=True)
    elif done.returncode != 0:
        raise RuntimeError(f"build exited {done.returncode}: {done.stderr.strip()[-300:]}")

    iris = load_iris(as_frame=True)
    x = iris.data[FEATURES]
    rng = np.random.default_rng(0)
    big = x.iloc[rng.integers(0, len(x), batch_rows)].reset_index(drop=True)
    one = x.iloc[:1]

    import mlflow
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(uri)
    # artifacts beside the temporary store: never ./mlruns in the folder the benchmark runs from
    artifacts = (work / "mlartifacts").as_uri()
    mlflow.MlflowClient(uri).create_experiment("yardstick", artifact_location=artifacts)
    mlflow.set_experiment("yardstick")
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            LogisticRegression(max_iter=500).fit(x, iris.target),
            name="model",
            input_example=x.head(2),
            registered_model_name="sklearn-yardstick",
        )
    sk_uri = info.model_uri

    from mlflowctl.mlops.inference import load
    from mlflowctl.mlops.onnx_export import export_onnx

    results: dict[str, dict[str, float]] = {}
    model = load(uri, "test-model@champion")

    def ours(frame: Any) -> Any:
        return model.predict(model.check(frame))

    results["mlflowctl pyfunc"] = {
        **_stats(lambda: ours(one), calls),
        "rows_per_s": _throughput(lambda: ours(big), len(big)),
    }
    sk = mlflow.pyfunc.load_model(sk_uri)
    results["sklearn pyfunc"] = {
        **_stats(lambda: sk.predict(one), calls),
        "rows_per_s": _throughput(lambda: sk.predict(big), len(big)),
    }

    import onnxruntime as ort

    manifest = export_onnx(model, work / "onnx", tracking_uri=None)
    session = ort.InferenceSession(manifest["file"], providers=["CPUExecutionProvider"])
    x1 = one.to_numpy(np.float32)
    xb = big.to_numpy(np.float32)
    results["mlflowctl onnxruntime"] = {
        **_stats(lambda: session.run(None, {"input": x1}), calls),
        "rows_per_s": _throughput(lambda: session.run(None, {"input": xb}), len(xb)),
    }

    port = _port()
    ours_srv = _start(
        [sys.executable, "-m", "mlflowctl", "serve", "test-model@champion", "--port", str(port),
         "--tracking-uri", uri], work, port,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/invocations"
        results["mlflowctl served"] = _measure_served(url, one, big, calls)
    finally:
        ours_srv.terminate()
        ours_srv.wait(30)
    port = _port()
    code = (
        "import sys, uvicorn, mlflow; from mlflow.pyfunc import scoring_server, load_model; "
        "mlflow.set_tracking_uri(sys.argv[1]); "
        "uvicorn.run(scoring_server.init(load_model(sys.argv[2])), host='127.0.0.1', "
        "port=int(sys.argv[3]), log_level='warning')"
    )
    sk_srv = _start([sys.executable, "-c", code, uri, sk_uri, str(port)], work, port)
    try:
        url = f"http://127.0.0.1:{port}/invocations"
        results["sklearn served"] = _measure_served(url, one, big, calls)
    finally:
        sk_srv.terminate()
        sk_srv.wait(30)
    return {
        "benchmark": "inference",
        "data": "sklearn:iris (features resampled to the batch size)",
        "calls": calls,
        "batch_rows": batch_rows,
        "epochs": epochs,
        "onnx_max_abs_diff": manifest["parity"]["max_abs_diff"],
        "results": results,
        "workdir": str(work),
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"Inference on iris ({report['calls']} single-row calls, batch {report['batch_rows']} "
        f"rows; ONNX parity max |diff| {report['onnx_max_abs_diff']:.3g})",
        "",
        "| path | single row p50 (ms) | p99 (ms) | batch rows/s |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, r in report["results"].items():
        lines.append(f"| {name} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} | {r['rows_per_s']:,.0f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = run(args.calls, args.batch, args.epochs)
    print(json.dumps(report, indent=2) if args.json else markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
