"""``mlflowctl serve``: MLflow's scoring protocol on a free loopback port, 400 on bad input.

A tiny iris build registered in a real SQLite store; the server runs as a real subprocess and is
driven over HTTP with the standard ``dataframe_split`` payload, like any MLflow client would.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from test_predict import build_registered, iris_frame

FEATURES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, payload: dict[str, Any]) -> tuple[int, str]:
    req = urllib.request.Request(
        url, json.dumps(payload).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return int(resp.status), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode()


def wait_ping(base: str, proc: subprocess.Popen[str], deadline_s: float = 240) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            with urllib.request.urlopen(f"{base}/ping", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise AssertionError("server did not answer /ping in time")


@pytest.mark.integration
def test_serve_ping_invocations_400_and_keeps_serving(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = build_registered(tmp_path_factory.mktemp("serve"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflowctl", "serve", "test-model@champion", "--port", str(port)],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ping(base, proc)
        rows = iris_frame()[FEATURES].head(3)
        good = {"dataframe_split": {"columns": FEATURES, "data": rows.values.tolist()}}
        status, body = post(f"{base}/invocations", good)
        assert status == 200, body
        predictions = json.loads(body)["predictions"]
        assert len(predictions) == 3 and "prediction" in predictions[0]
        assert any(k.startswith("proba_") for k in predictions[0])

        bad = {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.0]]}}
        status, body = post(f"{base}/invocations", bad)
        assert status == 400, body
        message = json.loads(body)["message"]
        assert message.startswith("error: request:")
        assert "expected 4" in message or "missing column" in message

        status, body = post(f"{base}/invocations", good)  # still serving after the bad request
        assert status == 200, body
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert rc in (0, 130), proc.stderr.read() if proc.stderr else ""
