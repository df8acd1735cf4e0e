"""Run liveness: heartbeat tags, reaping runs of dead processes, the orchestrator's parent run.

MLflow leaves a run RUNNING forever when its process dies by SIGKILL. mlflowctl runs carry a
heartbeat (time, host, pid) so the next mlflowctl invocation, or ``mlflowctl doctor --reap``,
can tell a live run from an orphan and mark the orphan KILLED (reliability plan I1).
"""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime, timezone
from typing import Any

from mlflowctl import __version__
from mlflowctl.errors import TrackingUnavailableError
from mlflowctl.mlops.store import client, get_or_create_experiment, redact, tracking_errors
from mlflowctl.specs.policy import MlopsPolicy

TAG_HEARTBEAT = "mlflowctl.heartbeat"
TAG_HOST = "mlflowctl.host"
TAG_PID = "mlflowctl.pid"


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def liveness_tags() -> dict[str, str]:
    return {TAG_HEARTBEAT: utc_now(), TAG_HOST: socket.gethostname(), TAG_PID: str(os.getpid())}


def start_parent_run(
    tracking_uri: str, experiment_name: str, *, pipeline_id: str, prompt: str
) -> str:
    """The orchestrator's parent run; build runs nest under it and keep its heartbeat fresh."""
    with tracking_errors(tracking_uri):  # a store fault is one line and exit 6 (X13)
        c = client(tracking_uri)
        exp_id = get_or_create_experiment(tracking_uri, experiment_name)
        tags = {
            "mlflowctl.pipeline_id": pipeline_id,
            "mlflowctl.prompt": redact(prompt)[:5000],
            "mlflowctl.version": __version__,
            **liveness_tags(),
        }
        run = c.create_run(exp_id, tags=tags, run_name=f"pipeline-{pipeline_id}"[:250])
        return str(run.info.run_id)


def end_parent_run(
    tracking_uri: str,
    run_id: str,
    *,
    report_md: str | None = None,
    report: dict[str, Any] | None = None,
    status: str = "FINISHED",
) -> None:
    """Attach the pipeline report to the parent run and close it with a terminal status."""
    with tracking_errors(tracking_uri):  # a store fault is one line and exit 6 (X13)
        c = client(tracking_uri)
        if report_md is not None:
            c.log_text(run_id, redact(report_md), "report.md")
        if report is not None:
            c.log_text(run_id, redact(json.dumps(report, indent=2, default=str)), "report.json")
        c.set_terminated(run_id, status=status)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_stale_runs(tracking_uri: str, *, policy: MlopsPolicy | None = None) -> list[str]:
    """Mark RUNNING mlflowctl runs of dead processes KILLED (I1); returns their run ids.

    A run is stale when its heartbeat is older than ``stale_after_seconds``, or when it was
    started on this host by a process that no longer exists.
    """
    policy = policy or MlopsPolicy()
    try:
        c = client(tracking_uri)
        exps = c.search_experiments()
    except TrackingUnavailableError:
        raise
    if not exps:
        return []
    from mlflow.entities import ViewType

    runs = c.search_runs(
        [e.experiment_id for e in exps],
        filter_string="attributes.status = 'RUNNING'",
        run_view_type=ViewType.ACTIVE_ONLY,
        max_results=1000,
    )
    host = socket.gethostname()
    now = datetime.now(timezone.utc)
    reaped: list[str] = []
    for r in runs:
        tags = r.data.tags
        beat = tags.get(TAG_HEARTBEAT)
        if beat is None:
            continue  # not an mlflowctl run: leave it alone
        try:
            age = (now - datetime.fromisoformat(beat)).total_seconds()
        except ValueError:
            age = float("inf")
        dead = False
        if tags.get(TAG_HOST) == host and tags.get(TAG_PID, "").isdigit():
            dead = not _pid_alive(int(tags[TAG_PID]))
        if dead or age > policy.stale_after_seconds:
            c.set_tag(r.info.run_id, "mlflowctl.reaped", utc_now())
            c.set_terminated(r.info.run_id, status="KILLED")
            reaped.append(str(r.info.run_id))
    return reaped
