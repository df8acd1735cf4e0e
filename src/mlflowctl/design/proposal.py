"""Blueprint -> the markdown "Architecture Proposal" a person reads (``design --format md``).

Pure text formatting: every value comes from the validated Blueprint; table cells are escaped so
free text (which may come from an LLM) cannot break the table or inject markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from mlflowctl.blueprint.model import Approach, Blueprint
from mlflowctl.mlops.gate import val_metric


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return " ".join(text.replace("|", "\\|").replace("`", "'").split())


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in r) + " |" for r in rows]
    return [*lines, ""]


def _model(a: Approach) -> list[str]:
    m = a.model
    params = ", ".join(f"{k}={v}" for k, v in m.params.model_dump().items() if k != "family")
    out = [
        f"- family: **{m.family}** (template `{m.template_kind}`): {_cell(params)}",
        f"- input: {m.input.shape} {_cell(m.input.description)}",
        f"- output: {m.output.kind}, {m.output.dim} ({_cell(m.output.description)})",
        f"- parameters: **{m.parameter_count:,}** (exact); FLOPs per sample: "
        f"{m.flops_per_sample:,}",
        "",
    ]
    return out + _table(
        ["layer", "kind", "shape", "params"],
        ((r.name, r.kind, r.shape, f"{r.params:,}") for r in m.layers),
    )


def _training(a: Approach) -> list[str]:
    t = a.training
    loss = t.loss.name + (
        f", {t.loss.class_weighting} class weights" if t.loss.class_weighting != "none" else ""
    )
    if t.loss.focal_gamma is not None:
        loss += f", gamma {t.loss.focal_gamma:g}"
    if t.loss.quantile is not None:
        loss += f" at quantile {t.loss.quantile:g}"
    sched = t.schedule.name + (
        f" (warmup {t.schedule.warmup_fraction:.0%})" if t.schedule.warmup_fraction else ""
    )
    rows: list[tuple[str, object]] = [
        ("loss", loss),
        ("optimizer", f"{t.optimizer.name}, lr {t.optimizer.lr:g}, "
                      f"weight decay {t.optimizer.weight_decay:g}"),
        ("schedule", sched),
        ("batch size / epochs", f"{t.batch_size} / up to {t.max_epochs}"
         + (f", stopped after {t.max_time_s} s of fitting (the requirement's limit; the best "
            "checkpoint so far is tested)" if t.max_time_s else "")),
        ("early stopping", f"{t.early_stopping.monitor}, patience {t.early_stopping.patience}"
         if t.early_stopping.enabled else "off"),
        ("precision", t.precision),
        ("gradient clipping", f"{t.gradient_clip_val:g} ({t.gradient_clip_algorithm})"
         if t.gradient_clip_val else "none"),
        ("truncated BPTT", f"chunks of {t.tbptt.chunk_length} steps; detach: "
         + "; ".join(t.tbptt.detach_points) if t.tbptt.enabled else "off"),
        ("distributed", f"{t.distributed.strategy} x{t.distributed.devices}, accumulate "
         f"{t.distributed.gradient_accumulation} ({t.distributed.reason})"
         if t.distributed.strategy != "none" else "single device"),
    ]  # fmt: skip
    s = t.search_space
    if s.enabled:
        names = ", ".join(p.name for p in s.params)
        rows.append(("search", f"{s.method}, {s.n_trials} trials on {s.metric}: {names}"))
    return _table(["setting", "value"], rows)


def _infrastructure(a: Approach) -> list[str]:
    i = a.infrastructure
    g = i.registry.gate
    threshold = f", reaches {g.threshold:g}" if g.threshold is not None else ""
    threshold += "".join(f", {val_metric(r.metric)} {r.op} {r.value:g}" for r in g.requires)
    return [
        f"- experiment: `{i.tracking.experiment_name}`; metrics (val_ per epoch, test_ once "
        "on the best checkpoint): " + ", ".join(i.tracking.metrics),
        f"- checkpoints: best by {i.checkpointing.monitor} ({i.checkpointing.mode}), "
        f"top {i.checkpointing.save_top_k}, last kept: {i.checkpointing.save_last}",
        f"- registry: `{i.registry.model_name}`, new versions @{i.registry.challenger_alias}, "
        f"promoted to @{i.registry.champion_alias} when {val_metric(g.metric)} (validation "
        f"split, {g.direction}) beats the best classical baseline{threshold} and beats the "
        f"current @{i.registry.champion_alias} by at least {g.min_improvement:g}; "
        f"{g.metric} is reported, never used to choose",
        f"- monitoring: {i.monitoring.drift_metric} drift > {i.monitoring.drift_threshold:g} on "
        + _cell(", ".join(i.monitoring.features[:10]))
        + f"; live {i.monitoring.performance_metric}",
        "",
    ]


def render(bp: Blueprint) -> str:
    """The Architecture Proposal as markdown."""
    rec = bp.approach()
    req = bp.requirements
    c = req.constraints.model_dump(exclude_defaults=True)
    lines = [
        "# Architecture Proposal",
        "",
        f"> {_cell(bp.provenance.prompt)}",
        "",
        "## Overview",
        "",
        f"- blueprint `{bp.provenance.blueprint_id}` by {bp.provenance.agent.name} "
        f"({bp.provenance.backend})",
        f"- task: **{req.task}** on **{req.modality}** data; source: "
        f"{req.data_source or 'given later to `mlflowctl build --data`'}",
        "- constraints: " + (_cell(", ".join(f"{k}={v}" for k, v in c.items())) or "none stated"),
    ]
    if bp.data_profile is not None:
        p = bp.data_profile
        lines.append(
            f"- data: {p.n_rows} rows, {p.n_features} features"
            + (f", {p.n_classes} classes" if p.n_classes else "")
            + (f", image {p.image_shape}" if p.image_shape else "")
            + (f", series of {p.series_length} ({p.frequency})" if p.series_length else "")
        )
    lines += [
        f"- recommended: **{rec.name}** ({_cell(rec.title)}): {_cell(bp.recommended.reason)}",
        "",
    ]
    if bp.history_note:
        lines += [f"- history: {_cell(bp.history_note)}", ""]
    lines += ["## Model", "", _cell(rec.overview), "", *_model(rec)]
    lines += ["## Training", "", *_training(rec)]
    lines += ["## Infrastructure", "", *_infrastructure(rec)]
    lines += ["## Trade-offs", ""]
    aspects = sorted({t.aspect for a in bp.approaches for t in a.tradeoffs})
    ratings = {a.name: {t.aspect: t.rating for t in a.tradeoffs} for a in bp.approaches}
    lines += _table(
        ["approach", "family", "params", *aspects],
        (
            [a.name + (" (recommended)" if a.name == rec.name else ""), a.model.family,
             f"{a.model.parameter_count:,}", *(ratings[a.name].get(x, "-") for x in aspects)]
            for a in bp.approaches
        ),
    )  # fmt: skip
    for a in bp.approaches:
        lines.append(f"- **{a.name}**: {_cell(a.rationale)}")
    lines += ["", "## Implementation plan", ""]
    lines += [f"{s.order}. ({s.owner}) {_cell(s.action)}" for s in bp.plan.steps]
    lines += ["", "## Files", ""] + [f"- `{f}`" for f in bp.plan.files]
    e = bp.envelope
    lines += ["", "## Envelope", "", f"- confidence: {e.confidence:.2f}"]
    lines += [f"- uncertainty: {_cell(u)}" for u in e.uncertainty_factors]
    lines += [f"- verified by: {_cell(v)}" for v in e.verification]
    return "\n".join(lines) + "\n"
