"""The static checks behind the audit rules: each takes the parsed project, returns hits.

Every heuristic is written down next to its check (and in README's audit section) so a reader can
tell why a line was flagged, and why a similar one was not. Checks look at one scope (a module
body or one function body) unless they say otherwise; nothing is imported or executed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

from mlflowctl.audit.project import (
    Project,
    Scope,
    SourceFile,
    arguments,
    assignments,
    call_name,
    calls_in,
    dotted,
    identifiers,
    is_const,
    kwarg,
    pos,
    receiver,
    walk_scope,
    word_set,
)


@dataclass(frozen=True)
class Hit:
    """One place a check flags: file (relative), line, and what exactly is wrong there."""

    file: str
    line: int
    message: str


def _hit(src: SourceFile, node: ast.AST, message: str) -> Hit:
    return Hit(src.rel, getattr(node, "lineno", 1), message)


# --- parse-error


def check_parse_error(project: Project) -> Iterator[Hit]:
    """A file that cannot be read or parsed: nothing else in it was checked."""
    for src in project.files:
        if src.error is not None:
            yield Hit(src.rel, src.error_line, f"{src.rel} {src.error}; it was not audited")


# --- fit-before-split

#: train/test splitting calls (function names) and splitter classes (name suffixes)
SPLIT_FUNCS = frozenset({"train_test_split", "random_split"})
SPLITTER_CLASS = re.compile(r"(KFold|ShuffleSplit|TimeSeriesSplit|GroupSplit)$")
#: classes whose .fit learns statistics of the data (scalers, encoders, imputers, projections)
PREPROCESSOR = re.compile(
    r"(Scaler|Encoder|Normalizer|Imputer|PCA|Discretizer|Binarizer|Vectorizer|"
    r"QuantileTransformer|PowerTransformer|ColumnTransformer|FunctionTransformer)$"
)
STAT_METHODS = frozenset({"mean", "std", "var", "min", "max", "median", "quantile", "nanmean"})


def _ctor_name(expr: ast.expr | None, values: dict[str, list[ast.expr]]) -> str:
    """The class a receiver was built from: ``StandardScaler`` for ``s = StandardScaler()``."""
    if isinstance(expr, ast.Call):
        return call_name(expr)
    if isinstance(expr, (ast.Name, ast.Attribute)):
        for value in values.get(dotted(expr), []):
            if isinstance(value, ast.Call):
                return call_name(value)
    return ""


def _split_calls(scope: Scope, values: dict[str, list[ast.expr]]) -> list[ast.Call]:
    out = []
    for call in calls_in(scope):
        name = call_name(call)
        splitter = name == "split" and SPLITTER_CLASS.search(_ctor_name(receiver(call), values))
        if name in SPLIT_FUNCS or splitter:
            out.append(call)
    return out


def check_fit_before_split(project: Project) -> Iterator[Hit]:
    """A scaler/encoder fitted, or mean/std taken, on data that is split only afterwards.

    Within one scope: a ``.fit``/``.fit_transform`` of a preprocessor class (any
    ``.fit_transform``), or ``X.mean()``/``np.std(X)`` on a bare name later passed to
    ``train_test_split``/``random_split``/a splitter's ``.split``, placed before that split.
    """
    for src in project.parsed():
        for scope in src.scopes():
            values = assignments(scope)
            splits = _split_calls(scope, values)
            if not splits:
                continue
            first = min(splits, key=pos)
            split_names = {
                dotted(a)
                for s in splits
                for a in s.args
                if isinstance(a, (ast.Name, ast.Attribute))
            }
            for call in calls_in(scope):
                if pos(call) >= pos(first):
                    continue
                name = call_name(call)
                rec = receiver(call)
                ctor = _ctor_name(rec, values)
                if name == "fit_transform" or (name == "fit" and PREPROCESSOR.search(ctor)):
                    what = ctor or dotted(call.func)
                    yield _hit(
                        src,
                        call,
                        f"`{what}.{name}` runs on the data before it is split (line "
                        f"{first.lineno}), so its statistics include the validation/test rows",
                    )
                    continue
                stat_of = None
                if name in STAT_METHODS and isinstance(rec, (ast.Name, ast.Attribute)):
                    if dotted(rec) not in {"np", "numpy", "torch", "statistics"}:
                        stat_of = dotted(rec)
                    elif call.args and isinstance(call.args[0], (ast.Name, ast.Attribute)):
                        stat_of = dotted(call.args[0])
                if stat_of and stat_of in split_names:
                    yield _hit(
                        src,
                        call,
                        f"`{stat_of}` is normalised with its own {name} before the split (line "
                        f"{first.lineno}), so the statistic includes the validation/test rows",
                    )


# --- random split of a time series

#: identifier words that mark time-ordered data (the heuristic, documented in README)
TIME_WORDS = frozenset(
    {
        "series", "timeseries", "horizon", "lag", "lags", "lookback", "forecast", "forecasts",
        "forecasting", "window", "windows", "windowed", "timestep", "timesteps", "date", "dates",
        "datetime", "timestamp", "timestamps",
    }
)  # fmt: skip
#: calls (last name) and keywords that build a date index or lag features
DATE_CALLS = frozenset(
    {"to_datetime", "date_range", "DatetimeIndex", "resample", "shift", "rolling", "asfreq"}
)
DATE_KWARGS = frozenset({"parse_dates"})


def _is_window_slice(node: ast.AST) -> bool:
    """``a[i : i + k]`` or ``a[t - k : t]``: a sliding window over an ordered array."""
    if not isinstance(node, ast.Slice) or node.lower is None or node.upper is None:
        return False
    lo, hi = node.lower, node.upper
    if isinstance(hi, ast.BinOp) and isinstance(hi.op, ast.Add):
        return ast.dump(hi.left) == ast.dump(lo)
    if isinstance(lo, ast.BinOp) and isinstance(lo.op, ast.Sub):
        return ast.dump(lo.left) == ast.dump(hi)
    return False


def _has_date_api(nodes: Iterator[ast.AST] | list[ast.AST]) -> bool:
    for node in nodes:
        if isinstance(node, ast.Call) and (
            call_name(node) in DATE_CALLS or any(k.arg in DATE_KWARGS for k in node.keywords)
        ):
            return True
    return False


def _builds_time_data(func: ast.AST) -> bool:
    """A project function whose body builds sliding windows or a date index."""
    nodes = list(ast.walk(func))
    return any(_is_window_slice(n) for n in nodes) or _has_date_api(nodes)


def _time_evidence(
    expr: ast.AST,
    values: dict[str, list[ast.expr]],
    funcs: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]],
    depth: int = 0,
) -> str | None:
    """Why the data in ``expr`` looks time-ordered, following assignments up to 3 steps back."""
    words = word_set(expr) & TIME_WORDS
    if words:
        return f"it uses `{sorted(words)[0]}`"
    if _has_date_api(list(ast.walk(expr))):
        return "it is built with a date index or lag features"
    for call in (n for n in ast.walk(expr) if isinstance(n, ast.Call)):
        name = call_name(call)
        if any(_builds_time_data(f) for f in funcs.get(name, [])):
            return f"it comes from `{name}`, which builds sliding windows or a date index"
    if depth >= 3:
        return None
    for name in sorted(identifiers(expr)):
        for value in values.get(name, []):
            why = _time_evidence(value, values, funcs, depth + 1)
            if why:
                return why
    return None


def _random_split_kind(call: ast.Call) -> str | None:
    name = call_name(call)
    if name == "train_test_split" and not is_const(kwarg(call, "shuffle"), False):
        return "`train_test_split` shuffles by default"
    if name == "random_split":
        return "`random_split` draws a random permutation"
    return None


def check_random_split_time_series(project: Project) -> Iterator[Hit]:
    """A shuffled split of data that is clearly time-ordered.

    Flags ``train_test_split`` without ``shuffle=False``, ``random_split``, ``ShuffleSplit`` and
    ``KFold(shuffle=True)`` when the data split (its arguments, followed back through up to three
    assignments in the scope, or the scope itself) shows time order: an identifier with one of
    ``TIME_WORDS`` (series, horizon, lag, lookback, window, date, ...), a date index or lag
    features (``to_datetime``, ``parse_dates=``, ``date_range``, ``.shift``, ``.rolling``), or
    a project function that builds sliding windows (``a[i : i + k]``).
    """
    funcs = project.function_bodies()
    for src in project.parsed():
        for scope in src.scopes():
            values = assignments(scope)
            scope_dates = _has_date_api(list(walk_scope(scope)))
            for call in calls_in(scope):
                kind = _random_split_kind(call)
                name = call_name(call)
                shuffles = "Shuffle" in name or is_const(kwarg(call, "shuffle"), True)
                if kind is None and SPLITTER_CLASS.search(name) and shuffles:
                    kind = f"`{name}` shuffles before splitting"
                if kind is None:
                    continue
                why = None
                for arg in arguments(call):
                    why = _time_evidence(arg, values, funcs)
                    if why:
                        break
                if why is None and scope_dates:
                    why = "the same code builds a date index or lag features"
                if why:
                    yield _hit(
                        src,
                        call,
                        f"{kind}, but the data is time-ordered ({why}): the model trains on the "
                        "future and is tested on the past",
                    )


# --- no seed

SEED_CALLS = frozenset(
    {"seed_everything", "manual_seed", "manual_seed_all", "seed", "set_seed", "set_random_seed"}
)
RNG_CTORS = frozenset({"default_rng", "RandomState", "Generator"})
TRAIN_CALLS = frozenset({"fit", "backward"})


def check_no_seed(project: Project) -> Iterator[Hit]:
    """The project trains (``.fit``, ``.backward()``, ``Trainer``) but seeds nothing: no
    ``seed_everything``, ``torch.manual_seed``, ``np.random.seed``, ``random.seed`` or seeded
    ``default_rng(n)`` anywhere in the project."""
    first: tuple[SourceFile, ast.Call] | None = None
    for src in project.parsed():
        assert src.tree is not None
        for node in src.nodes():
            if not isinstance(node, ast.Call):
                continue
            name = call_name(node)
            if name in SEED_CALLS or (name in RNG_CTORS and (node.args or node.keywords)):
                return
            if first is None and (name in TRAIN_CALLS or name == "Trainer"):
                first = (src, node)
    if first is not None:
        src, node = first
        yield _hit(
            src,
            node,
            "the project trains but never seeds torch, NumPy or Python's random: two runs of "
            "the same code give different models and metrics",
        )
