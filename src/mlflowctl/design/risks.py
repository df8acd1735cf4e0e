"""What the data profile and the sizes say could go wrong, and which approach the prompt's
preferences recommend. Pure functions over the requirements, the profile and parameter counts.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlflowctl.blueprint.model import DataProfile, Requirements, SeriesTrend
from mlflowctl.families import IO

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
        out += profile_findings(profile)
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


_DROPPED_NOTES = ("dropped identifier-like columns", "dropped constant columns")


def profile_findings(profile: DataProfile) -> list[str]:
    """Risks from ``data.findings``: a level shift, a trend, leaking, identifier-like and
    constant columns, each with its figures.

    A leaking column is flagged, not dropped: the profile cannot tell a leak (the target written
    down after the fact) from a feature that legitimately determines it, and dropping it would
    silently change the inputs the user's predictions are made from; the risk names it so the
    user removes it from the file when it is a leak.
    """
    out: list[str] = []
    shift, trend = profile.level_shift, profile.trend
    if shift is not None:
        when = f" ({shift.date})" if shift.date else ""
        out.append(
            f"level shift at point {shift.index}{when}: mean {shift.before:.4g} -> "
            f"{shift.after:.4g} ({shift.sigmas:.1f} sd, t = {shift.t_stat:.1f}) in the training "
            "part: windows before it teach an old level; prefer the recent part or a differenced "
            "target"
        )
    if trend is not None and trend.significant and shift is None:
        out.append(
            f"trend in the training part: slope {trend.slope:.4g} per step (t = "
            f"{trend.t_stat:.1f}, {trend.points} points); " + _stationarity(trend)
        )
    elif trend is not None and trend.stationary is False and shift is None:
        out.append(f"no significant trend (t = {trend.t_stat:.1f}) but {_stationarity(trend)}")
    for leak in profile.leaking_columns[:5]:
        figure = (
            f"alone predicts it with held-out accuracy {leak.value:.3f}"
            if leak.measure == "accuracy"
            else f"|correlation| {leak.value:.3f} with it"
        )
        out.append(
            f"column '{leak.column}' {figure}: likely a leak of '{profile.target}' (flagged, not "
            "dropped); remove it from the file unless it is known at prediction time"
        )
    for note in profile.notes:
        if note.startswith(_DROPPED_NOTES):
            out.append(f"{note} (they carry no signal that generalises)"[:200])
    return [line[:200] for line in out]


def _stationarity(trend: SeriesTrend) -> str:
    if trend.df_stat is None or trend.stationary is None:
        return "stationarity not tested"
    if trend.stationary:
        return f"stationary (Dickey-Fuller t = {trend.df_stat:.2f} < -2.86)"
    return f"not stationary (Dickey-Fuller t = {trend.df_stat:.2f} >= -2.86): try naive_drift"
