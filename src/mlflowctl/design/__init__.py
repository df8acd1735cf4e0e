"""The ml-architect: a requirement in plain language -> a validated Blueprint.

``design()`` reads the data (read-only, only when given), the prompt and the agent specs' policies,
then either runs the offline planner or hands the same inputs to an LLM backend; both paths end in
``critic.assemble()``. The offline path imports nothing heavy, so it answers in well under a second.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlflowctl.blueprint.model import AgentRef, Blueprint, DataProfile
from mlflowctl.errors import InvalidInputError
from mlflowctl.specs.policy import ArchitectPolicy, MlopsPolicy

__all__ = ["design", "load_policies"]


def load_policies(
    agents_dir: str | Path | None = None,
) -> tuple[ArchitectPolicy, AgentRef, MlopsPolicy, Any]:
    """The ml-architect policy and reference, the mlops policy, and the architect spec itself.

    The specs ship with mlflowctl, so a missing one is a broken install or a broken override:
    that is an error (``SpecError``), never a silent fall-back to defaults.
    """
    from mlflowctl.specs.loader import load_agent

    spec = load_agent("ml-architect", agents_dir)
    mlops = load_agent("mlops-architect", agents_dir)
    policy = spec.policy if isinstance(spec.policy, ArchitectPolicy) else ArchitectPolicy()
    mlops_policy = mlops.policy if isinstance(mlops.policy, MlopsPolicy) else MlopsPolicy()
    return policy, spec.ref(), mlops_policy, spec


def _from_history(
    history: list[dict[str, Any]] | None, source: str | None, families: Sequence[str]
) -> str | None:
    """The family of the latest promoted run on the same data that this design also offers."""
    if not history or source is None:
        return None
    for record in reversed(history):
        if (
            isinstance(record, dict)
            and record.get("data") == source
            and record.get("outcome") == "promoted"
            and record.get("family") in families
        ):
            return str(record["family"])
    return None


def design(
    prompt: str,
    *,
    data: str | None = None,
    target: str | None = None,
    backend: str = "offline",
    history: list[dict[str, Any]] | None = None,
    agents_dir: str | Path | None = None,
    record_dir: str | Path | None = None,
    replay_dir: str | Path | None = None,
    assume: bool = False,
) -> Blueprint:
    """Design a blueprint for ``prompt``; raises an ``MlflowctlError`` on bad input, and
    ``needs_info``/``unsupported`` for a prompt that is no servable modelling task unless
    ``assume`` (then the assumptions are listed in the blueprint's uncertainties)."""
    from mlflowctl.design.requirements import check_prompt, read_requirements

    if not prompt or not prompt.strip():
        read_requirements(prompt)  # raises the empty-prompt error
    check_prompt(prompt, has_data=data is not None, assume=assume)
    profile: DataProfile | None = None
    if data is not None:
        from mlflowctl.data import profile as profile_data

        profile = profile_data(data, target)
        if profile.source_kind == "file" and profile.kind == "tabular" and profile.target is None:
            from mlflowctl.data.file_checks import columns_line

            columns = columns_line(list(profile.dtypes))
            raise InvalidInputError(
                f"a table needs the column to predict; columns: {columns}",
                hint="pass the column to predict with --target COLUMN",
                location="--target",
            )
    requirements = read_requirements(prompt, profile, data=data, target=target)
    season = requirements.constraints.season
    if season is not None and profile is not None and profile.kind == "series":
        from mlflowctl.design.seasons import with_season

        profile, said = with_season(profile, season)  # the prompt's season, at the data's step
        profile = profile.model_copy(update={"notes": [*profile.notes, said]})
    policy, agent, mlops, spec = load_policies(agents_dir)
    if backend != "offline":
        if spec is None:
            raise InvalidInputError(
                "no ml-architect agent spec found for the LLM backend's instructions",
                hint="use --backend offline, or pass --agents DIR holding ml-architect.md",
                location="--backend",
            )
        try:
            from mlflowctl.design.llm import design_with_llm
        except ImportError as exc:
            raise InvalidInputError(
                f"the LLM backend {backend!r} is not available ({exc})",
                hint="use --backend offline",
                location="--backend",
            ) from None
        return design_with_llm(
            backend=backend,
            prompt=prompt,
            requirements=requirements,
            profile=profile,
            spec=spec,
            mlops_policy=mlops,
            record_dir=record_dir,
            replay_dir=replay_dir,
        )
    from pydantic import ValidationError

    from mlflowctl.design import critic, planner
    from mlflowctl.errors import BlueprintError

    try:
        draft = planner.plan(requirements, profile, policy, mlops, prompt=prompt)
    except ValidationError as exc:  # a size the prompt implies is out of the Blueprint's bounds
        raise BlueprintError.from_validation(exc, source="PROMPT") from None
    note = None
    families = [a.model.params.family for a in draft.approaches]
    preferred = (
        _from_history(history, requirements.data_source, families)
        if policy.prefer_history
        else None
    )
    if preferred is not None:
        chosen = next(a for a in draft.approaches if a.model.params.family == preferred)
        if chosen.name != draft.recommended:
            note = (
                f"recommended {chosen.name}: a {preferred} model on {requirements.data_source} "
                f"was promoted in an earlier run"
            )
            draft = draft.model_copy(
                update={
                    "recommended": chosen.name,
                    "reason": f"{note}; the planner's first choice was {draft.recommended}",
                }
            )
    bp = critic.assemble(
        draft,
        prompt=prompt,
        requirements=requirements,
        profile=profile,
        backend="offline",
        agent=agent,
        mlops_policy=mlops,
        history_note=note,
        policy=policy,
    )
    return bp


def blueprint_digest(bp: Blueprint) -> str:
    """sha256 of a blueprint without its creation time (what determinism is checked against)."""
    data = bp.model_dump(mode="json")
    data["provenance"].pop("created_at", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
