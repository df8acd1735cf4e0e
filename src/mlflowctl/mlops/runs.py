"""One MLflow run per training, with a status that tells the truth.

MLflow's fluent API leaves a run RUNNING after SIGTERM or SIGKILL and marks it FINISHED after an
exception outside a ``with`` block; ``Tracker`` uses the client API only, sets the terminal status
itself (FINISHED / FAILED / KILLED), keeps a heartbeat tag fresh so ``reap_stale_runs`` can close
runs of processes that died without a word, and logs metrics once per epoch in one batch.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import tempfile
import threading
import time
import traceback
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from mlflowctl import __version__
from mlflowctl.blueprint.model import Blueprint
from mlflowctl.blueprint.results import RenderedProject, TrainingRun
from mlflowctl.errors import InterruptedRunError, TrackingUnavailableError
from mlflowctl.mlops.gate import baseline_tag
from mlflowctl.mlops.liveness import (
    TAG_HEARTBEAT,
    liveness_tags,
    reap_stale_runs,
    utc_now,
)
from mlflowctl.mlops.run_params import (
    _batches,
    _git_commit,
    flatten,
    metric_batch,
    recorded_epoch_metrics,
)
from mlflowctl.mlops.store import (
    client,
    get_or_create_experiment,
    redact,
    set_tags,
    tracking_errors,
)
from mlflowctl.specs.policy import MlopsPolicy
from mlflowctl.train.checkpoints import sha256_file

#: epochs finishing within this many seconds share one store write
_COALESCE_S = 1.0

TAG_BUILD = "mlflowctl.build_id"
TAG_MODEL_URI = "mlflowctl.model_uri"
TAG_WEIGHTS = "mlflowctl.weights_sha256"


class Tracker:
    """Context manager around one training's MLflow run (the only run it creates)."""

    def __init__(
        self,
        tracking_uri: str,
        blueprint: Blueprint,
        approach_name: str | None,
        *,
        build_id: str,
        agent_digests: dict[str, str],
        parent_run_id: str | None = None,
        policy: MlopsPolicy | None = None,
        extra_tags: dict[str, str] | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.uri = tracking_uri
        self.blueprint = blueprint
        self.approach = blueprint.approach(approach_name)
        self.build_id = build_id
        self.agent_digests = dict(agent_digests)
        self.parent_run_id = parent_run_id
        self.policy = policy or MlopsPolicy()
        self.extra_tags = dict(extra_tags or {})
        #: the effective config.yaml of the project that trains (see ``effective_config``)
        self.config = config
        self.run_id: str | None = None
        self.model_uri: str | None = None
        self._client: Any = None
        self._stop = threading.Event()
        #: epoch batches go through a writer thread so a slow store never blocks training
        self._metrics: queue.Queue[list[Any] | None] = queue.Queue()
        self._writer: threading.Thread | None = None
        self.metric_errors: list[str] = []
        #: (key, step) of every metric the store accepted from this run
        self._sent: set[tuple[str, int]] = set()
        #: set once a write found the store gone: later writes are not retried (X13)
        self._store_down = False
        self._project_logged = False
        self._beat: threading.Thread | None = None
        self._old_sigterm: Any = None

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Tracker:
        with tracking_errors(self.uri):
            return self._start()

    def _start(self) -> Tracker:
        self._client = client(self.uri)
        if self.parent_run_id:  # this process now keeps the parent alive (a resumed pipeline)
            set_tags(self._client, self.parent_run_id, liveness_tags())
        reap_stale_runs(self.uri, policy=self.policy)
        exp_id = get_or_create_experiment(
            self.uri, self.approach.infrastructure.tracking.experiment_name
        )
        tags = self._tags()
        run = self._client.create_run(
            exp_id, tags=tags, run_name=f"{self.approach.name}-{self.build_id}"[:250]
        )
        self.run_id, self.experiment_id = str(run.info.run_id), str(exp_id)
        try:
            self._log_params()
        except BaseException:
            # the store may be failing: then the heartbeat lets the reaper close the run
            with contextlib.suppress(Exception):
                self._client.set_terminated(self.run_id, status="FAILED")
            raise
        self._beat = threading.Thread(
            target=self._heartbeat, name="mlflowctl-heartbeat", daemon=True
        )
        self._beat.start()
        self._writer = threading.Thread(target=self._write, name="mlflowctl-metrics", daemon=True)
        self._writer.start()
        self.install_sigterm()
        return self

    def install_sigterm(self) -> None:
        """SIGTERM ends the run as KILLED; only from the main thread (a Tracker opened in a
        background thread, alongside the training, calls this once it is back in the main one)."""
        if threading.current_thread() is not threading.main_thread():
            return
        if self._old_sigterm is not None:
            return
        current = signal.getsignal(signal.SIGTERM)
        if current == signal.SIG_DFL:  # never replace a handler someone else installed
            self._old_sigterm = current
            signal.signal(signal.SIGTERM, self._on_sigterm)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        restore, self._old_sigterm = self._old_sigterm, None
        if restore is not None:  # a second SIGTERM must not cut the status write short
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            self._close(exc_type, exc, tb)
        finally:
            if restore is not None:
                signal.signal(signal.SIGTERM, restore)

    def _close(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._flush()
        if self._beat is not None:
            self._beat.join(timeout=5)
        if self.run_id is None:
            return
        if exc is None:
            status = "FINISHED"
        elif isinstance(exc, (InterruptedRunError, KeyboardInterrupt)):
            status = "KILLED"
        else:
            status = "FAILED"
            if not self._store_down:
                self._log_traceback(exc_type, exc, tb)
        try:
            with tracking_errors(self.uri):
                self._client.set_terminated(self.run_id, status=status)
        except Exception:
            if exc is None:
                raise
            # the original error matters more than a failed status write; reap fixes it later

    @staticmethod
    def _on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise InterruptedRunError.for_signal(signum, phase="train")

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.policy.heartbeat_seconds):
            try:
                for run_id in filter(None, (self.run_id, self.parent_run_id)):
                    self._client.set_tag(run_id, TAG_HEARTBEAT, utc_now())
            except Exception:
                continue

    # ------------------------------------------------------------------ what is logged

    def _tags(self) -> dict[str, str]:
        bp = self.blueprint
        # the blueprint's descriptive tags first: every system tag below overrides them (X5)
        tags: dict[str, str] = dict(self.approach.infrastructure.tracking.tags)
        tags |= {
            "mlflowctl.blueprint_id": bp.provenance.blueprint_id,
            TAG_BUILD: self.build_id,
            "mlflowctl.version": __version__,
            "mlflowctl.approach": self.approach.name,
            "mlflowctl.family": self.approach.model.family,
            **liveness_tags(),
        }
        for name, digest in self.agent_digests.items():
            tags[f"mlflowctl.agent.{name}.sha256"] = digest
        commit = _git_commit(Path.cwd())
        if commit:
            tags["mlflow.source.git.commit"] = commit
        if self.parent_run_id:
            tags["mlflow.parentRunId"] = self.parent_run_id
        tags.update(self.extra_tags)
        return {k: redact(v) for k, v in tags.items()}

    def _log_params(self) -> None:
        from mlflow.entities import Param

        params = self.params()
        items = [Param(k[:250], v) for k, v in sorted(params.items())]
        for batch in _batches(items, self.policy.log_batch_size):
            self._client.log_batch(self.run_id, params=batch)

    def params(self) -> dict[str, str]:
        """What trained: the effective config.yaml flattened, plus the blueprint id.

        Without a config (a run opened before any project exists) the approach stands in, and
        a search space that was not searched is left out rather than logged as if it had been.
        """
        if self.config is not None:
            params = flatten(self.config)
        else:
            exclude: dict[str, Any] = {"overview": True, "rationale": True}
            if not self.approach.training.search_space.enabled:
                exclude["training"] = {"search_space"}
            params = flatten(self.approach.model_dump(mode="json", exclude=exclude))
        params["blueprint_id"] = self.blueprint.provenance.blueprint_id
        return params

    def _log_started(self, event: dict[str, Any]) -> None:
        """The device and precision train.py actually chose (config.yaml may say ``auto``)."""
        from mlflow.entities import Param

        chosen = {k: event.get(k) for k in ("accelerator", "precision")}
        items = [Param(f"trained.{k}", str(v)) for k, v in chosen.items() if v is not None]
        try:
            self._client.log_batch(self.run_id, params=items)
        except Exception as exc:  # a resumed run logs the same values again: never fatal
            self.metric_errors.append(redact(str(exc))[:500])

    def on_event(self, event: dict[str, Any]) -> None:
        """Per-epoch (and test) metrics from the training subprocess: one batch per event."""
        kind = event.get("event")
        if kind == "start" and self.run_id is not None:
            self._log_started(event)
            return
        if kind not in ("epoch", "test"):
            return
        step = int(event.get("epoch", 0)) if kind == "epoch" else 0
        batch = metric_batch(event.get("metrics", {}), step)
        if self._writer is not None and self._writer.is_alive():
            self._metrics.put(batch)
        elif not self._store_down:
            try:
                self._log_now(batch)
            except Exception as exc:  # kept in events.jsonl; log_training sends it again
                self.metric_errors.append(redact(str(exc))[:500])

    def _log_now(self, batch: list[Any]) -> None:
        for chunk in _batches(batch, self.policy.log_batch_size):
            self._client.log_batch(self.run_id, metrics=chunk)
            self._sent.update((str(m.key), int(m.step)) for m in chunk)

    def _write(self) -> None:
        """The writer thread: epochs queued within ``_COALESCE_S`` of each other go in one
        ``log_batch`` (each metric keeps its epoch as its step), so fast epochs cost at most about
        one store write per ``_COALESCE_S`` instead of one per epoch."""
        done = False
        while not done:
            first = self._metrics.get()
            if first is None:
                break
            pending = list(first)
            deadline = time.monotonic() + _COALESCE_S
            while (remaining := deadline - time.monotonic()) > 0:
                try:
                    more = self._metrics.get(timeout=remaining)
                except queue.Empty:
                    break
                if more is None:
                    done = True
                    break
                pending.extend(more)
            self._write_with_retries(pending)

    def _write_with_retries(self, batch: list[Any]) -> None:
        """A batch the store refuses three times is dropped here, not lost: the build folder's
        ``events.jsonl`` keeps it and ``log_training`` (of this run or of ``--resume``) sends
        what the store never got. Once the store is down, later batches wait for that."""
        for attempt in range(3):
            if self._store_down:
                return
            try:
                self._log_now(batch)
                return
            except Exception as exc:
                if attempt == 2:
                    self.metric_errors.append(redact(str(exc))[:500])
                    self._store_down = True
                time.sleep(1.0)

    def _flush(self) -> None:
        """Wait until every queued epoch is written (end of training, or the run's exit)."""
        if self._writer is not None and self._writer.is_alive():
            self._metrics.put(None)
            self._writer.join(timeout=120)
        self._writer = None

    def _log_traceback(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        text = redact("".join(traceback.format_exception(exc_type, exc, tb)))
        try:
            self._client.log_text(self.run_id, text, "traceback.txt")
            self._client.set_tag(self.run_id, "mlflowctl.failure", type(exc).__name__)
        except Exception:
            pass

    def log_training(self, run: TrainingRun) -> str:
        """Final metrics, the project's files and the pickle-free model; returns the model URI."""
        assert self.run_id is not None, "use Tracker as a context manager"
        try:
            with tracking_errors(self.uri):
                return self._log_training(run)
        except TrackingUnavailableError:
            self._store_down = True
            raise

    def _backfill(self, root: Path) -> None:
        """Send the epoch metrics the store has not got from this run, from the build folder's
        local record ``events.jsonl``: batches a failing store refused, and on ``--resume`` the
        epochs of the earlier attempt (its run may never have received them, X13)."""
        latest = recorded_epoch_metrics(root)
        missing = [m for key, m in latest.items() if key not in self._sent]
        if missing:
            self._log_now(missing)

    def log_project(self, project: RenderedProject) -> None:
        """The blueprint and the rendered files (known before training: logged while it runs)."""
        assert self.run_id is not None and not self._project_logged
        self._client.log_text(self.run_id, redact(self.blueprint.to_yaml()), "blueprint.yaml")
        with tempfile.TemporaryDirectory(prefix="mlflowctl-project-") as tmp:
            for rel, text in project.files.items():
                dest = Path(tmp, rel)
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_text(redact(text), encoding="utf-8")
            if project.files:
                self._client.log_artifacts(self.run_id, tmp, "project")
        self._project_logged = True

    def _log_training(self, run: TrainingRun) -> str:
        assert self.run_id is not None
        c = self._client
        self._flush()
        self._backfill(run.project.root)
        self._log_now(metric_batch(run.metrics, max(run.epochs_completed - 1, 0)))
        if not self._project_logged:
            self.log_project(run.project)
        root = run.project.root
        for path, where in [(run.metrics_path, "outputs"), (run.report_path, "outputs")]:
            if path is not None and Path(path).is_file():
                c.log_artifact(self.run_id, str(path), where)
        for plot in run.plots:
            if Path(plot).is_file():
                c.log_artifact(self.run_id, str(plot), "outputs/plots")
        weights = Path(run.weights_path or root / "outputs" / "weights.safetensors")
        digest = run.weights_sha256 or sha256_file(weights)
        run.weights_sha256 = digest
        from mlflowctl.mlops.model_logging import log_pickle_free_model

        self.model_uri = log_pickle_free_model(c, self.experiment_id, self.run_id, root, weights)
        tags = baseline_tag(run.metrics, self.approach.infrastructure.registry.gate)
        set_tags(c, self.run_id, {TAG_MODEL_URI: self.model_uri, TAG_WEIGHTS: digest, **tags})
        run.extra["model_uri"] = self.model_uri
        run.extra["run_id"] = self.run_id
        return self.model_uri
