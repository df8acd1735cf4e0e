"""The offline planner: Requirements + DataProfile + ArchitectPolicy -> DesignDraft.

Deterministic rules, no model calls. Sizes are chosen so the recommended approach of every demo
task trains on a 2-core CPU in a few minutes; budgets stated in the prompt are met with the
catalog's sizing; optimizer, schedule, warmup, weight decay and the imbalance thresholds come from
the ml-architect spec's policy, so editing the spec changes the design.
"""

from __future__ import annotations

import re
from typing import Any

from mlflowctl.blueprint.infra import default_baselines
from mlflowctl.blueprint.model import (
    DataProfile,
    Requirements,
)
from mlflowctl.design.critic import (
    MAXIMIZE,
    input_output,
)
from mlflowctl.design.draft import ApproachDraft, DesignDraft
from mlflowctl.design.gate_choice import gate_of, requirements_of
from mlflowctl.design.risks import data_risks, preference
from mlflowctl.design.strategy import rows_of, selection_metric, training
from mlflowctl.design.tradeoffs import (
    Sizing,
    grounded_rationale,
    grounded_tradeoffs,
)
from mlflowctl.design.windows import default_lookback
from mlflowctl.errors import InvalidInputError
from mlflowctl.families import (
    FAMILIES_FOR_MODALITY,
    IO,
    AnyParams,
    Hints,
    count_params,
    families,
    flops_per_sample,
    size_for_budget,
)
from mlflowctl.families import family as family_spec
from mlflowctl.specs.policy import ArchitectPolicy, MlopsPolicy

#: a market price ("forecast the stock price", "bitcoin"), not stock on a shelf ("stockouts")
FINANCIAL = (
    r"\b(stock|share|equity|crypto\w*|bitcoin|btc|forex|fx|exchange)[- ](price|market|return|"
    r"rate|index)s?\b|\bbitcoin\b|\bcrypto|(?<!of )(?<!in )\bstocks?\b(?![- ]?(outs?|levels?)\b)"
)


def _sized(
    fam: str,
    io: IO,
    req: Requirements,
    default: AnyParams,
    tol: float,
    scale: str = "base",
    **opts: Any,
) -> AnyParams:
    """The default configuration, or the catalog's fit to the prompt's parameter budget.

    Raises when the family cannot meet the budget at this input and output size: the prompt's
    constraints contradict each other (a 1,000-parameter model for 224x224 images).
    """
    c = req.constraints
    if c.param_budget is None:
        return default
    kind = c.param_budget_kind or "target"
    budget = c.param_budget
    if kind == "max" and scale in _BUDGET_SHARE:
        # under a cap the size variants take a share of it, so they stay distinct (issue 14.6)
        budget = max(1, budget // _BUDGET_SHARE[scale])
    if kind == "max" and count_params(default, io) <= budget:
        return default
    sized = size_for_budget(fam, io, budget, kind, **opts)
    got = count_params(sized, io) if sized is not None else None
    if sized is None or got is None or (kind == "target" and abs(got - budget) > tol * budget):
        shape = "x".join(map(str, io.shape))
        if got is not None and got < budget:
            raise InvalidInputError(
                f"the largest {fam} in the catalog for a {shape} input has {got:,} parameters; "
                f"the budget is {budget:,}",
                hint="ask for a smaller model; mlflowctl's families stop short of that size",
                location="PROMPT",
            )
        low = min(count_params(p, io) for p in _first_candidates(fam, io, **opts))
        raise InvalidInputError(
            f"contradictory constraints: the smallest {fam} for a {shape} input and "
            f"{io.output_dim} outputs has {low:,} parameters; the budget is {budget:,}",
            hint="raise the parameter budget or describe a smaller input",
            location="PROMPT",
        )
    return sized


#: under a parameter cap, the share of it each smaller variant is sized to
_BUDGET_SHARE = {"small": 4, "compact": 2}


def _first_candidates(fam: str, io: IO, **opts: Any) -> list[AnyParams]:
    from mlflowctl.families import candidates

    out: list[AnyParams] = []
    for p in candidates(fam, io, **opts):
        out.append(p)
        if len(out) == 3:
            break
    return out


def _family_params(
    family: str, io: IO, req: Requirements, rows: int | None, scale: str, tol: float
) -> AnyParams:
    """Default hyper-parameters of a family (its catalog module's ``defaults``), fitted to the
    prompt's parameter budget; ``scale`` is ``small``, ``compact``, ``base`` or ``large``."""
    hints = Hints(
        scale=scale,
        small=scale in ("small", "compact") or req.constraints.latency_ms is not None,
        rows=rows,
        memory=8 if req.constraints.memory_based else 0,
        short_series=req.task == "forecasting" and rows is not None and rows < 1000,
    )
    spec = family_spec(family)
    opts: dict[str, Any] = {}
    if spec.defaults is None:
        default = next(iter(spec.candidates(io)))
    else:
        default, opts = spec.defaults(io, hints)
    return _sized(family, io, req, default, tol, scale, **opts)


def _choices(req: Requirements) -> tuple[list[str], str]:
    """The families to offer, first one recommended, and why."""
    c = req.constraints
    named = [f for f in c.named_architectures]
    if req.modality == "tabular":
        return ["mlp"], "tabular features: an MLP is the catalog's family for tables"
    if req.modality == "image":
        order = ["cnn", "mlp"]
        if named and named[0] in order:
            order.remove(named[0])
            order.insert(0, named[0])
        return order, "convolutions share weights across the image and need few parameters"
    if c.memory_based:
        return ["transformer", "lstm", "tcn"], "a memory-augmented transformer was asked for"
    if named and named[0] == "transformer":
        return ["transformer", "lstm", "tcn"], "a transformer was asked for"
    if c.param_budget and c.param_budget_kind == "target" and c.param_budget >= 1_000_000:
        return ["transformer", "lstm", "tcn"], "transformers scale best to millions of parameters"
    first = next((f for f in named if f in families(sequence=True)), None)
    if first is None:
        first = "lstm" if c.tbptt else "gru"
    why = {
        "lstm": "an LSTM carries state across chunks, which truncated BPTT needs"
        if c.tbptt
        else "an LSTM was asked for; its gated cell state keeps long memory",
        "gru": "a GRU is a small, fast recurrent forecaster that suits short series",
        "tcn": "a TCN was asked for; its dilations cover the window in parallel",
        "transformer": "a transformer was asked for",
    }[first]
    rest = [f for f in families(sequence=True) if f != first]
    if first in families(recurrent=True):
        rest = [f for f in rest if f not in families(recurrent=True)]
    return [first, *rest], why


def _approaches(req: Requirements) -> list[tuple[str, str, str]]:
    """(name, family, scale) in order of preference: other families first, then other sizes."""
    families, _ = _choices(req)
    first = families[0]
    compact = (f"{first}_compact", first, "compact")  # when a budget makes sizes coincide
    if len(families) == 1:
        f = families[0]
        return [
            (f"{f}_base", f, "base"),
            (f"{f}_small", f, "small"),
            (f"{f}_wide", f, "large"),
            compact,
        ]
    return [(f, f, "base") for f in families] + [(f"{first}_small", first, "small"), compact]


def _infrastructure(
    req: Requirements, profile: DataProfile | None, mlops: MlopsPolicy, n_outputs: int
) -> dict[str, Any]:
    ratio = profile.imbalance_ratio if profile is not None else None
    metric, threshold, _ = gate_of(req, n_outputs, mlops, ratio)
    requires = requirements_of(req, n_outputs, metric)
    direction = "maximize" if metric in MAXIMIZE else "minimize"
    # real column names (what `mlflowctl monitor` compares), else "all_input_features"
    if profile is not None and profile.kind == "tabular" and 0 < len(profile.feature_names) <= 30:
        features = list(profile.feature_names)
    elif req.modality == "sequence" and profile is not None and profile.target:
        features = [profile.target]
    else:
        features = ["all_input_features"]
    tags = {"data": req.data_source or "unspecified"}
    return {
        "tags": tags,
        "checkpointing": dict(
            zip(("monitor", "mode"), selection_metric(req, profile), strict=True), save_top_k=1
        ),
        "gate": {
            "metric": metric,
            "direction": direction,
            "min_improvement": mlops.min_improvement,
            "threshold": threshold,
            "requires": requires,
        },
        "baselines": default_baselines(req.task),
        "monitoring": {
            "features": features,
            "drift_metric": "psi",
            "drift_threshold": mlops.drift_psi_threshold,
            "performance_metric": metric,
            "performance_threshold": threshold,
        },
    }


def plan(
    req: Requirements,
    profile: DataProfile | None,
    policy: ArchitectPolicy,
    mlops: MlopsPolicy,
    *,
    prompt: str,
) -> DesignDraft:
    """A complete draft; the critic turns it into a Blueprint."""
    rows = rows_of(profile)
    low = prompt.lower()
    lookback = default_lookback(req, profile) if req.modality in ("sequence", "text") else None
    inp, out = input_output(req, profile, prompt, lookback)
    io = IO(tuple(inp.shape), out.dim)
    _, why = _choices(req)
    infra = _infrastructure(req, profile, mlops, io.output_dim)
    drafts: list[dict[str, Any]] = []
    seen: set[str] = set()
    skipped: list[InvalidInputError] = []
    for name, family, scale in _approaches(req):
        if len(drafts) == policy.max_approaches:
            break
        try:
            params = _family_params(family, io, req, rows, scale, policy.param_budget_tolerance)
        except InvalidInputError as exc:
            if not drafts:  # the preferred family cannot meet the constraints
                raise
            skipped.append(exc)
            continue
        key = params.model_dump_json()
        if key in seen:  # distinct names mean distinct configurations
            continue
        seen.add(key)
        n = count_params(params, io)
        train = training(family, params, io, req, profile, policy, low)
        chunk = train["tbptt"].get("chunk_length") if train["tbptt"].get("enabled") else None
        memory = int(getattr(params, "memory_tokens", 0))
        drafts.append(
            {
                "name": name,
                "title": family_spec(family).title + ("" if scale == "base" else f" ({scale})"),
                "overview": f"{family_spec(family).title} with {n:,} parameters for {req.task} on "
                f"{req.modality} data.",
                "model": {"params": params.model_dump(), "lookback": lookback},
                "training": train,
                "infrastructure": infra,
                "_sizing": (family, scale, n, flops_per_sample(params, io), chunk, memory),
            }
        )
    if len(drafts) < 2:
        if drafts and skipped:  # name what fits, and why the alternatives do not
            only = drafts[0]
            raise InvalidInputError(
                f"only {only['name']} ({only['_sizing'][2]:,} parameters) meets the constraints "
                f"and a blueprint offers at least two approaches; {skipped[0].message}",
                hint="loosen the parameter budget, or ask for a size the other families reach",
                location="PROMPT",
            )
        if skipped:
            raise skipped[0]
        raise InvalidInputError(
            "the constraints leave only one distinct configuration to offer",
            hint="loosen the parameter budget so smaller and larger variants fit",
            location="PROMPT",
        )
    samples = _train_samples(req, profile, io)
    order = sorted(range(len(drafts)), key=lambda i: drafts[i]["_sizing"][2])
    for rank, i in enumerate(order):
        family, scale, n, flops, chunk, memory = drafts[i].pop("_sizing")
        sizing = Sizing(family, scale, n, flops, samples, rank, len(drafts))
        drafts[i]["tradeoffs"] = grounded_tradeoffs(sizing, tbptt_chunk=chunk)
        drafts[i]["rationale"] = grounded_rationale(sizing, tbptt_chunk=chunk, memory_tokens=memory)
        drafts[i]["_params"] = n
    counts = [d.pop("_params") for d in drafts]
    chosen, why = preference(req, [d["name"] for d in drafts], counts, why)
    approaches = [ApproachDraft.model_validate(d) for d in drafts]
    first = next(a for a in approaches if a.name == chosen)
    sized = list(zip(counts, [d["name"] for d in drafts], strict=True))
    notes = data_risks(req, profile, io, samples, sized)
    notes += gate_of(req, io.output_dim, mlops, profile.imbalance_ratio if profile else None)[2]
    if req.task == "forecasting" and re.search(FINANCIAL, low):
        notes.append("financial series are close to a random walk: expect a weak signal")
    if req.constraints.distributed and req.constraints.hardware is None:
        notes.append("no device count stated; designed for 4 GPUs on one node")
    for named in req.constraints.named_architectures:
        if named not in FAMILIES_FOR_MODALITY[req.modality]:
            notes.append(f"{named} was named but does not fit {req.modality} data; not used")
    confidence = 0.85 if profile is not None else 0.7
    return DesignDraft(
        approaches=approaches,
        recommended=chosen,
        reason=f"{why}; {first.title.lower()} is the best fit for the stated requirements",
        confidence=confidence,
        uncertainty_factors=[n[:200] for n in notes][:30],
    )


def _train_samples(req: Requirements, profile: DataProfile | None, io: IO) -> int | None:
    """Training samples: rows (or windows of a series) less the validation and test splits."""
    rows = rows_of(profile)
    if rows is None:
        return None
    if req.task == "forecasting":
        rows = max(1, rows - io.steps - io.output_dim + 1)
    return max(1, round(rows * 0.7))
