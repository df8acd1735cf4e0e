"""What the reader says back: the blueprint's uncertainty lines for the prompt it read.

Where the requirements rest on a guess or on the data overruling the prompt, what the prompt
said that the reader did not understand, columns it named, and assumptions made under
``--assume`` (``critic.py`` puts them in the blueprint's uncertainty factors).
"""

from __future__ import annotations

from mlflowctl.blueprint.model import DataProfile, Requirements
from mlflowctl.data.loaded import feeds
from mlflowctl.design import phrases, wishes
from mlflowctl.design.requirements import (
    KNOWN_PATTERNS,
    Hints,
    bare_goal,
    data_columns,
    frequency_unit,
    positive_of_data,
    prompt_hints,
    read_columns_of,
    rest_of_steps,
    triage_prompt,
)


def _fit(head: str, tail: str, limit: int = 200) -> str:
    """``head + tail`` within the blueprint's note length, the head cut when it must be."""
    room = limit - len(tail)
    return (head if len(head) <= room else head[: room - 3] + "...") + tail


def _column_notes(prompt: str, req: Requirements, profile: DataProfile | None) -> list[str]:
    if profile is None:
        return []
    named = read_columns_of(prompt, profile)
    notes = []
    target = req.target or profile.target
    if named.target is not None and target is not None and named.target != target:
        notes.append(
            f"conflict: the prompt asks to predict '{named.target}' but the target is "
            f"'{target}' (--target); designed for '{target}'"
        )
    if named.features:
        dropped = [f for f in named.features if not feeds(f, profile.feature_names)]
        names = ", ".join(f"'{f}'" for f in named.features)
        notes.append(
            _fit(
                f"the prompt names the input columns {names}", " (features_named, checked by build)"
            )
        )
        if dropped:
            names = ", ".join(f"'{f}'" for f in dropped)
            notes.append(
                _fit(
                    f"named as input but dropped by the preprocessing: {names}",
                    " (identifier-like or constant): the model will not see it",
                )
            )
    if named.missing:
        from mlflowctl.data.file_checks import columns_line

        notes.append(
            "the prompt names "
            + ", ".join(f"'{m}'" for m in named.missing)
            + " as input, but the data has no such column (columns: "
            + columns_line(data_columns(profile))[:80]
            + ")"
        )
    return notes


def _wish_notes(
    hints: Hints, req: Requirements, profile: DataProfile | None, prompt: str = ""
) -> list[str]:
    c = req.constraints
    notes = []
    stated = hints.constraints.positive_class
    if c.positive_class and not stated and profile is not None:
        why = positive_of_data(prompt, profile)[1]
        if why:
            notes.append(
                f"positive class '{c.positive_class}': {why}; recall, precision, PR-AUC and "
                "the decision threshold are for it"
            )
    elif c.positive_class and profile is not None and profile.class_counts:
        labels = [k.label.lower() for k in profile.class_counts]
        if c.positive_class.lower() in labels:
            notes.append(
                f"positive class '{c.positive_class}' is label "
                f"{labels.index(c.positive_class.lower())} of the data: recall and precision "
                "are computed for it"
            )
        else:
            notes.append(
                f"positive class '{c.positive_class}' is not a class of the data "
                f"({', '.join(labels[:6])}); check which label is meant"
            )
    if c.memory_gb and phrases.runs_in(c.memory_gb, c.edge, c.hardware):
        gb = c.memory_gb
        size = f"{gb * 1e6:g} KB" if gb < 1e-3 else f"{gb * 1e3:g} MB" if gb < 1 else f"{gb:g} GB"
        notes.append(
            f"{size} of memory where the model runs: "
            + (
                f"fp32 weights kept to half of it, at most {c.param_budget:,} parameters"
                if not phrases.read_budget(prompt.lower())
                else "the stated parameter budget applies; not used to choose sharding"
            )
        )
    if c.train_time_s:
        notes.append(
            f"training limited to {c.train_time_s:g} s: the fit stops there (Lightning max_time, "
            "training.max_time_s) and the best checkpoint so far is tested"
        )
    if c.size_preference or c.prefer_fast or c.edge:
        why = c.size_preference or ("edge device" if c.edge else "fast inference")
        article = "an" if why[0] in "aeiou" else "a"
        notes.append(
            f"the prompt asks for {article} {why} model: the smallest approach is recommended"
        )
    if c.season:
        said = [n for n in (profile.notes if profile else []) if n.startswith(f"a {c.season}ly")]
        notes += said or [
            f"a {c.season}ly pattern was named: it sets a series' seasonal period; "
            + (
                "no data given yet"
                if profile is None
                else "this data is a table: give the model a column for it (e.g. day of week)"
            )
        ]
    if c.interpretability:
        notes.append(
            "explainability asked: smallest approach recommended; a table's build reports each "
            "input column's permutation importance on validation (report.md); per-row reasons: "
            "mlflowctl predict --explain"
        )
    return notes


def reading_notes(prompt: str, req: Requirements, profile: DataProfile | None) -> list[str]:
    """Where the requirements rest on a guess or on the data overruling the prompt; what the
    prompt said that the reader did not understand; assumptions made under ``--assume``."""
    hints = prompt_hints(prompt)
    named = tuple(read_columns_of(prompt, profile).phrases) if profile is not None else ()
    goal = bare_goal(prompt, req.task, hints.constraints.metric_targets)
    known = KNOWN_PATTERNS + named + ((wishes.BARE_GOAL.pattern,) if goal else ())
    leftovers = phrases.not_understood(prompt, known)
    notes = [f"not understood: '{part}'" for part in leftovers]
    if goal is not None:
        said = "names no metric" if goal.metric == "accuracy" else f"next to {goal.metric}"
        notes.append(
            f"a goal of {goal.value:.1%} {said}: read as {goal.metric} >= {goal.value:g}, "
            "a gate threshold on validation"
        )
    notes += _column_notes(prompt, req, profile)
    reading = triage_prompt(prompt, has_data=profile is not None, hints=hints)
    if reading.status != "ok":
        notes += reading.assumptions
    notes += _wish_notes(hints, req, profile, prompt)
    if hints.modality and hints.modality != req.modality:
        notes.append(
            f"the prompt suggests {hints.modality} data but the data is {req.modality}; "
            f"designed for {req.modality}"
        )
    if hints.task and hints.task != req.task:
        notes.append(
            f"the prompt suggests {hints.task} but the data fits {req.task}; used {req.task}"
        )
    if hints.task is None and not req.constraints.target_named:
        notes.append(f"the prompt names no task; assumed {req.task} on {req.modality} data")
    if req.task == "forecasting" and hints.horizon is None:
        steps, said = rest_of_steps(hints, profile, frequency_unit(profile, hints))
        if steps is not None:
            notes.append(said)
        elif said:
            notes.append(f"{said}; assumed {req.constraints.horizon} steps")
        else:
            notes.append(f"no forecast horizon stated; assumed {req.constraints.horizon} steps")
    if profile is None:
        notes.append("no data given: input and output sizes are assumptions until build --data")
    return notes
