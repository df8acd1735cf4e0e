"""What the data profile and the sizes say could go wrong, and which approach the prompt's
preferences recommend. Pure functions over the requirements, the profile and parameter counts.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlflowctl.blueprint.model import DataProfile, Requirements
from mlflowctl.design.catalog import IO

#: below this many rows (or points of a series) the data is called small
FEW_ROWS = 200
#: below this many test rows a test metric is too coarse to compare models
FEW_TEST_ROWS = 30
#: largest/smallest class count at or above which the imbalance is reported
IMBALANCE = 1.5
#: parameters per training sample above which an approach is reported as oversized
OVERSIZED = 10
#: the rendered project's default test share (``training.test_fraction``)
TEST_FRACTION = 0.15


def data_risks(
    req: Requirements,
    profile: DataProfile | None,
    io: IO,
    samples: int | None,
    sized: Sequence[tuple[int, str]],
) -> list[str]:
    """Risks the profile and the approach sizes show, most important first."""
    out: list[str] = []
    if profile is not None:
        series = profile.kind == "series"
        n = (profile.series_length or profile.n_rows) if series else profile.n_rows
        what = "points" if series else "rows"
        if n < FEW_ROWS:
            out.append(
                f"only {n} {what} to learn from: expect high variance between seeds; prefer "
                "the smallest approach and strong regularisation"
            )
        if series:
            n_test = max(req.constraints.horizon or 1, round(n * TEST_FRACTION))
        else:
            n_test = round(n * TEST_FRACTION)
        if n_test < FEW_TEST_ROWS:
            out.append(
                f"the test split holds about {n_test} {what}: one sample moves a test metric by "
                f"{1 / max(n_test, 1):.0%}; compare models over several seeds"
            )
        ratio = profile.imbalance_ratio
        if ratio is not None and ratio >= IMBALANCE:
            smallest = min(profile.class_counts, key=lambda k: k.count, default=None)
            which = f" (smallest class '{smallest.label}', {smallest.count})" if smallest else ""
            out.append(
                f"class imbalance {ratio:.1f}:1 largest to smallest{which}: accuracy flatters; "
                "watch F1 or recall"
            )
        if profile.missing_values:
            out.append(f"{profile.missing_values} missing values in the data")
    for params, name in sized:
        if samples and params > OVERSIZED * samples:
            out.append(
                f"{name}: {params:,} parameters for ~{samples:,} training samples "
                f"({params / samples:.0f}x): far above what the data supports"
            )
        elif samples is None and params >= 1_000_000:
            elements = 1
            for d in io.shape:
                elements *= d
            if params > 1000 * elements:
                shape = "x".join(map(str, io.shape))
                out.append(
                    f"{name}: {params:,} parameters on a {shape} input: it needs millions of "
                    "samples to train; check the data size before building"
                )
    return out


def preference(
    req: Requirements, names: Sequence[str], counts: Sequence[int], why: str
) -> tuple[str, str]:
    """The approach to recommend and why: the smallest when the prompt asks for small, fast,
    edge or explainable; the largest when it asks for large; else the planner's first."""
    c = req.constraints
    small = c.size_preference in ("tiny", "small") or c.prefer_fast or c.edge
    if small or (c.interpretability and c.size_preference != "large"):
        i = min(range(len(counts)), key=lambda k: (counts[k], k))
        asked = (
            f"a {c.size_preference} model"
            if c.size_preference
            else "an edge device"
            if c.edge
            else "fast inference"
            if c.prefer_fast
            else "an explainable model"
        )
        return names[i], f"the prompt asks for {asked}: the smallest approach ({counts[i]:,} " \
                         f"parameters) is recommended; {why}"  # fmt: skip
    if c.size_preference == "large":
        i = max(range(len(counts)), key=lambda k: (counts[k], -k))
        return names[i], f"the prompt asks for a large model: the largest approach; {why}"
    return names[0], why
