"""DesignDraft -> Blueprint: the only way a design, offline or from an LLM, becomes a Blueprint.

Whatever the designer wrote about sizes, names or counts is not trusted: the input and output
specs come from the requirements and the data profile, layer tables, parameter counts and FLOPs
from the catalog, the experiment and registered model names and the aliases from the task, the
data and the mlops policy (a prompt cannot rename the production model). Every problem found is
collected, and one ``BlueprintError`` lists them all as ``field.path: message`` lines, which an
LLM backend sends back as its re-ask.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

from mlflowctl import __version__
from mlflowctl.blueprint import metrics as metrics_table
from mlflowctl.blueprint.infra import BASELINES_FOR_TASK, default_baselines
from mlflowctl.blueprint.model import (
    AgentRef,
    Blueprint,
    DataProfile,
    InputSpec,
    OutputSpec,
    Requirements,
    validation_errors,
)
from mlflowctl.design.draft import ApproachDraft, DesignDraft
from mlflowctl.design.reading_notes import reading_notes
from mlflowctl.design.requirements import prompt_hints
from mlflowctl.design.windows import default_window
from mlflowctl.errors import BlueprintError
from mlflowctl.families import (
    FAMILIES_FOR_MODALITY,
    IO,
    count_params,
    family,
    flops_per_sample,
    layer_table,
    template_kind,
)
from mlflowctl.mlops.gate import val_metric
from mlflowctl.specs.policy import ArchitectPolicy, MlopsPolicy

#: metrics the templates log per task (from the one metrics table); gates and monitors pick these
TASK_METRICS: dict[str, list[str]] = {
    task: metrics_table.names(task) for task in metrics_table.TASKS
}
MAXIMIZE = metrics_table.MAXIMIZE
#: rough sustained throughput for the latency estimate (FLOP/s, batch of one)
_DEVICE_FLOPS = {"cpu": 2e9, "gpu": 2e11}
_STOP = frozenset(
    re.findall(
        r"[a-z]+",
        "a an the and or of for to with from in on by at as is be that this it its my our your "
        "design build create make train model models system systems ml complete full using use "
        "strategy architecture infrastructure training predict prediction classify forecast "
        "data set dataset based whether tell apart must stay under over parameter parameters "
        "ahead years year weeks week days day one two three into which",
    )
)


def tracked_metrics(task: str, n_outputs: int, wanted: tuple[str, ...] = ()) -> list[str]:
    """What the templates log for this task; ROC AUC only for two classes; declared-only
    metrics when the blueprint asks for them (``wanted``)."""
    return metrics_table.names(task, n_outputs=n_outputs, wanted=wanted)


def input_output(
    req: Requirements, profile: DataProfile | None, prompt: str, lookback: int | None = None
) -> tuple[InputSpec, OutputSpec]:
    """What one sample looks like, from the data when there is some, else from the prompt."""
    hints = prompt_hints(prompt)
    if req.modality == "image":
        shape = (profile.image_shape if profile else None) or hints.image_shape or (1, 28, 28)
        inp = InputSpec(shape=list(shape), description="image: channels x height x width")
    elif req.modality in ("sequence", "text"):
        window = default_window(req, profile)
        steps = lookback or window.steps
        n = max(1, profile.n_features) if profile is not None and profile.kind == "series" else 1
        why = f" ({window.why})" if steps == window.steps else ""  # the default explains itself
        described = f"{steps} past steps x {n} series{why}"
        inp = InputSpec(shape=[steps, n], lookback=steps, description=described)
    else:
        n = (profile.n_features if profile else None) or hints.n_features or 16
        inp = InputSpec(shape=[n], description=f"{n} numeric features, standardized on train")
    if req.task == "classification":
        k = (profile.n_classes if profile else None) or hints.n_classes or 2
        out = OutputSpec(kind="class_logits", dim=k, description=f"logits over {k} classes")
    elif req.task == "regression":
        out = OutputSpec(kind="regression", dim=1, description="one standardized target value")
    else:
        h = req.constraints.horizon or 12
        out = OutputSpec(kind="forecast", dim=h, description=f"the next {h} steps of the target")
    return inp, out


def slug(req: Requirements, prompt: str) -> str:
    """A registered-model-safe name: the data set (or the prompt's key words) and the task."""
    if req.data_source:
        src = req.data_source
        if re.match(r"^(sklearn|statsmodels):", src):
            base = src.split(":", 1)[1].replace(":", "-")
        else:
            base = re.split(r"[\\/]", src)[-1].rsplit(".", 1)[0]
    else:
        words = [
            w
            for w in re.findall(r"[a-z0-9]+", prompt.lower())
            if w not in _STOP and not w.isdigit()
        ]
        base = "-".join(words[:3]) or "model"
    base = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")[:80] or "model"
    if not base[0].isalnum():
        base = "m" + base
    suffix = {"classification": "classifier", "regression": "regressor"}.get(req.task, "forecaster")
    return f"{base}-{suffix}"


def blueprint_id(prompt: str, source: str | None, spec_sha: str, target: str | None = None) -> str:
    """Prompt, data source, spec and version; the target column too when one is named."""
    parts = [prompt, source or "", spec_sha, __version__]
    if target:
        parts.append(f"target={target}")
    key = "\x1f".join(parts)
    return "bp-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


def _check_approach(
    i: int,
    a: ApproachDraft,
    req: Requirements,
    io: IO,
    count: int,
    flops: int,
    metrics: list[str],
    policy: ArchitectPolicy,
    series_length: int | None = None,
) -> list[str]:
    at = f"approaches.{i}"
    errors = []
    fam = a.model.params.family
    c = req.constraints
    if fam not in FAMILIES_FOR_MODALITY[req.modality]:
        ok = ", ".join(FAMILIES_FOR_MODALITY[req.modality])
        errors.append(f"{at}.model.params.family: {fam} does not fit {req.modality} data ({ok})")
    if c.param_budget is not None:
        if c.param_budget_kind == "max" and count > c.param_budget:
            errors.append(
                f"{at}.model.parameter_count: {count} exceeds the budget of {c.param_budget}"
            )
        if c.param_budget_kind == "target":
            tol = policy.param_budget_tolerance
            if abs(count - c.param_budget) > tol * c.param_budget:
                errors.append(
                    f"{at}.model.parameter_count: {count} is not within {tol:.0%} of the "
                    f"target {c.param_budget}"
                )
    if c.latency_ms is not None:
        est = 1000.0 * flops / _DEVICE_FLOPS[c.latency_device or "cpu"]
        if est > c.latency_ms:
            errors.append(
                f"{at}.model.flops_per_sample: {flops} FLOPs take about {est:.1f} ms, over the "
                f"{c.latency_ms:g} ms latency budget"
            )
    t = a.training
    if t.tbptt.enabled:
        memory = getattr(a.model.params, "memory_tokens", 0)
        if not (family(fam).recurrent or memory > 0):
            errors.append(
                f"{at}.training.tbptt.enabled: truncated BPTT needs a recurrent state "
                f"(lstm, gru, or a transformer with memory_tokens > 0), not {fam}"
            )
        if t.tbptt.chunk_length is not None and t.tbptt.chunk_length > io.steps:
            errors.append(
                f"{at}.training.tbptt.chunk_length: {t.tbptt.chunk_length} is longer than the "
                f"{io.steps}-step window"
            )
    if req.task == "forecasting" and io.output_dim != c.horizon:
        errors.append(f"{at}.model.output.dim: {io.output_dim} != horizon {c.horizon}")
    if req.task == "forecasting" and series_length is not None:
        windows = series_length - io.steps - io.output_dim + 1
        if windows < 10:
            errors.append(
                f"{at}.model.lookback: {io.steps} past + {io.output_dim} future steps leave "
                f"{max(0, windows)} training windows in a series of {series_length}"
            )
    errors.extend(f"{at}.model.params.{why}" for why in family(fam).problems(a.model.params, io))
    gate = a.infrastructure.gate
    if gate.metric not in metrics:
        errors.append(
            f"{at}.infrastructure.gate.metric: {gate.metric} is not logged for {req.task} "
            f"(one of {', '.join(m for m in metrics if m.startswith('test_'))})"
        )
    want = "maximize" if gate.metric in MAXIMIZE else "minimize"
    if gate.direction != want:
        errors.append(f"{at}.infrastructure.gate.direction: {gate.metric} must {want}")
    for j, need in enumerate(gate.requires):
        if need.metric not in metrics:
            errors.append(
                f"{at}.infrastructure.gate.requires.{j}.metric: {need.metric} is not logged for "
                f"{req.task}"
            )
    errors += _loss_problems(at, t.loss, req.task, metrics)
    if "test_cost" in metrics and req.constraints.under_cost_ratio is None:
        errors.append(f"{at}: test_cost needs requirements.constraints.under_cost_ratio")
    fitting = BASELINES_FOR_TASK.get(req.task, ())
    for j, base in enumerate(a.infrastructure.baselines):
        if base not in fitting:
            errors.append(
                f"{at}.infrastructure.baselines.{j}: {base} is not a {req.task} baseline "
                f"(one of {', '.join(fitting)})"
            )
    for name, metric in (
        ("monitoring.performance_metric", a.infrastructure.monitoring.performance_metric),
        ("checkpointing.monitor", a.infrastructure.checkpointing.monitor),
        ("training.early_stopping.monitor", t.early_stopping.monitor),
        ("training.search_space.metric", t.search_space.metric),
    ):
        if metric not in metrics:
            errors.append(f"{at}.{name}: {metric} is not logged for {req.task}")
    return errors


def _loss_problems(at: str, loss: Any, task: str, metrics: list[str]) -> list[str]:
    """The loss fits the task; the pinball loss and metric come together, with a quantile."""
    numeric = task != "classification"
    if (loss.name in ("cross_entropy", "focal")) == numeric:
        return [f"{at}.training.loss.name: {loss.name} does not train a {task} model"]
    if (loss.name == "pinball") != (loss.quantile is not None):
        return [f"{at}.training.loss.quantile: set with the pinball loss, and only with it"]
    if "test_pinball" in metrics and loss.name != "pinball":
        return [f"{at}.training.loss.name: test_pinball is computed with the pinball loss only"]
    return []


def assemble(
    draft: DesignDraft,
    *,
    prompt: str,
    requirements: Requirements,
    profile: DataProfile | None,
    backend: str,
    agent: AgentRef,
    mlops_policy: MlopsPolicy,
    history_note: str | None = None,
    policy: ArchitectPolicy | None = None,
) -> Blueprint:
    """Check a draft and complete it into a Blueprint, or raise one error listing every problem."""
    policy = policy or ArchitectPolicy()
    req = requirements
    errors: list[str] = []
    name = slug(req, prompt)
    approaches: list[dict[str, Any]] = []
    for i, a in enumerate(draft.approaches):
        inp, out = input_output(req, profile, prompt, a.model.lookback)
        io = IO(tuple(inp.shape), out.dim)
        gate = a.infrastructure.gate
        wanted = (gate.metric, *(r.metric for r in gate.requires))
        metrics = tracked_metrics(req.task, out.dim, wanted)
        p = a.model.params
        layers = layer_table(p, io)
        count = sum(r.params for r in layers)
        flops = flops_per_sample(p, io)
        length = profile.series_length if profile is not None else None
        errors += _check_approach(i, a, req, io, count, flops, metrics, policy, length)
        infra = a.infrastructure
        tags = {"mlflowctl.task": req.task, "mlflowctl.family": p.family, **infra.tags}
        approaches.append(
            {
                "name": a.name,
                "title": a.title,
                "overview": a.overview,
                "model": {
                    "family": p.family,
                    "template_kind": template_kind(p.family),
                    "input": inp.model_dump(),
                    "output": out.model_dump(),
                    "params": p.model_dump(),
                    "layers": [r.model_dump() for r in layers],
                    "parameter_count": max(1, count_params(p, io)),
                    "flops_per_sample": max(1, flops),
                },
                "training": a.training.model_dump(),
                "infrastructure": {
                    "tracking": {"experiment_name": name, "tags": tags, "metrics": metrics},
                    "checkpointing": infra.checkpointing.model_dump(),
                    "registry": {
                        "model_name": name,
                        "challenger_alias": mlops_policy.challenger_alias,
                        "champion_alias": mlops_policy.champion_alias,
                        "gate": infra.gate.model_dump(),
                    },
                    "monitoring": infra.monitoring.model_dump(),
                    "baselines": list(infra.baselines or default_baselines(req.task)),
                },
                "tradeoffs": [t.model_dump() for t in a.tradeoffs],
                "rationale": a.rationale,
            }
        )
    names = [a.name for a in draft.approaches]
    if draft.recommended not in names:
        errors.append(f"recommended: {draft.recommended!r} is not one of {names}")
    factors = list(dict.fromkeys(reading_notes(prompt, req, profile) + draft.uncertainty_factors))
    rec = next((a for a in approaches if a["name"] == draft.recommended), approaches[0])
    data = {
        "provenance": {
            "blueprint_id": blueprint_id(
                prompt,
                req.data_source,
                agent.sha256,
                req.target or (profile.target if profile else None),
            ),
            "prompt": prompt,
            "created_at": datetime.now(UTC).isoformat(),
            "tool_version": __version__,
            "agent": agent.model_dump(),
            "backend": backend,
        },
        "requirements": req.model_dump(),
        "data_profile": profile.model_dump() if profile is not None else None,
        "approaches": approaches,
        "recommended": {"approach": draft.recommended, "reason": draft.reason},
        "plan": _plan(req, rec),
        "envelope": {
            "confidence": max(0.05, draft.confidence - 0.05 * len(factors)),
            "uncertainty_factors": factors[:30],
            "verification": _verification(rec, req),
        },
        "history_note": history_note,
    }
    from pydantic import ValidationError

    try:
        bp = Blueprint.model_validate(data)
    except ValidationError as exc:
        errors += validation_errors(exc)
        bp = None
    if errors or bp is None:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise BlueprintError(
            f"{errors[0]}{more}",
            hint="fix the listed fields; `mlflowctl schema blueprint` shows the allowed values",
            location="design",
            details={"errors": errors},
        )
    return bp


def _plan(req: Requirements, rec: dict[str, Any]) -> dict[str, Any]:
    code = ["config.yaml", "model.py", "data.py", "train.py", "README.md", "requirements.txt"]
    outputs = ["checkpoints/best.ckpt", "outputs/metrics.json", "outputs/weights.safetensors"]
    report = ["outputs/report.md", "outputs/plots/learning_curves.png"]
    source = req.data_source or "the data given to `mlflowctl build --data`"
    steps = [
        ("ml-engineer", f"render the {rec['model']['family']} project for {source}", code),
        ("ml-engineer", "train with early stopping and checkpoints on a leak-free split", outputs),
        ("ml-engineer", "evaluate on the held-out test split; plot curves and errors", report),
        ("mlops-engineer", "log params, per-epoch metrics and artifacts to the experiment", []),
        ("mlops-engineer", "register the model as @challenger; promote through the gate", []),
        ("mlops-engineer", "watch input drift and the live metric against the thresholds", []),
    ]
    if rec["training"]["search_space"]["enabled"]:
        n = rec["training"]["search_space"]["n_trials"]
        steps.insert(2, ("ml-engineer", f"run {n} search trials, one nested run each", []))
    return {
        "steps": [
            {"order": i, "owner": o, "action": act, "files": f}
            for i, (o, act, f) in enumerate(steps, 1)
        ],
        "files": code + outputs + report + [".claude/tasks/ml-engineer-tasks.md"],
    }


def _verification(rec: dict[str, Any], req: Requirements) -> list[str]:
    gate = rec["infrastructure"]["registry"]["gate"]
    out = [
        f"parameter count {rec['model']['parameter_count']} recomputed from the catalog formula",
        "the rendered project compiles, passes ruff and trains standalone (python train.py)",
        f"{val_metric(gate['metric'])} on the validation split decides promotion "
        f"({gate['direction']}) against the best baseline and @champion; the test split is "
        "only reported",
        "the registered weights' sha256 matches the trained checkpoint",
    ]
    if req.constraints.latency_ms is not None:
        out.append(
            f"inference latency against {req.constraints.latency_ms:g} ms: estimated from FLOPs, "
            "not measured; `mlflowctl export`/benchmarks/inference.py measure it"
        )
    return out
